"""Pictures to 48x48 grayscale faces: reading, detection, cropping, resizing.

One pipeline serves preprocess/data_resize.py and predict.py, so a photo is
prepared for training exactly as it is for prediction.
"""
import collections
import contextlib
import dataclasses
import pathlib
import warnings

import numpy as np
from PIL import Image, ImageOps

from ferkit import CLASS_NAMES, IMAGE_SIZE, InputError, files

PICTURE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
MAX_SIDE = 1600  # larger pictures are downscaled before detection: faster, and the cascade needs no more
FACE_MARGIN = 0.2  # of the face box's side, added around it: FER-2013 crops include the forehead and chin
MIN_FACE = 24


class PictureError(Exception):
    """A picture that cannot be used; the scripts report it and go on with the next."""


@dataclasses.dataclass
class Face:
    box: tuple  # (x, y, width, height) in the original picture's pixels
    pixels: np.ndarray  # (48, 48) uint8


def find_pictures(source):
    """The picture files under source (a file or a folder, searched recursively), sorted."""
    source = pathlib.Path(source)
    if source.is_file():
        return [source]
    return sorted(path for path in source.rglob("*") if path.is_file() and path.suffix.lower() in PICTURE_SUFFIXES)


@contextlib.contextmanager
def quiet_about_large_pictures():
    """Pillow warns at 89 million pixels and refuses twice that (read_gray says so); a large
    photo is no threat here, and the warning's lines would bury the results."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        yield


def read_gray(path):
    """Any PIL-readable picture as a uint8 grayscale array, upright by its EXIF orientation."""
    try:
        with quiet_about_large_pictures(), Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(image, dtype=np.float64)
                return (wide / max(wide.max(), 1) * 255).astype(np.uint8)
            if image.mode in ("RGBA", "LA", "P", "PA"):
                image = image.convert("RGBA")
                background = Image.new("RGBA", image.size, "white")
                image = Image.alpha_composite(background, image)
            return np.asarray(image.convert("L"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise PictureError(f"not a readable picture ({error})") from None


def face_detector():
    import cv2

    return cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")


def detect_faces(gray, detector, max_side=MAX_SIDE):
    """Face boxes (x, y, width, height), largest first, in gray's pixels, searched in the
    picture downscaled to max_side when it is larger."""
    import cv2

    scale = min(1.0, max_side / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    boxes = detector.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_FACE, MIN_FACE))
    boxes = [tuple(int(round(value / scale)) for value in box) for box in boxes]
    return sorted(boxes, key=lambda box: box[2] * box[3], reverse=True)


def crop_face(gray, box, margin=FACE_MARGIN):
    """A square around box, grown by margin and clipped to the picture, resized to 48x48."""
    x, y, width, height = box
    side = int(max(width, height) * (1 + 2 * margin))
    center_x, center_y = x + width // 2, y + height // 2
    left, top = max(0, center_x - side // 2), max(0, center_y - side // 2)
    crop = gray[top : top + side, left : left + side]
    return resize(crop)


def resize(gray):
    import cv2

    interpolation = cv2.INTER_AREA if min(gray.shape) >= IMAGE_SIZE else cv2.INTER_CUBIC
    return cv2.resize(gray, (IMAGE_SIZE, IMAGE_SIZE), interpolation=interpolation)


def as_gray(picture):
    """A picture array, gray (H, W) or RGB(A) (H, W, 3 or 4), as uint8 gray."""
    picture = np.asarray(picture)
    if picture.ndim == 3 and picture.shape[2] in (3, 4):
        picture = picture[..., :3] @ np.array([0.299, 0.587, 0.114])  # ITU-R 601, as PIL's convert("L")
    if picture.ndim != 2:
        raise PictureError(f"an array of shape {picture.shape} is not a picture: give (H, W) gray or (H, W, 3) RGB")
    return np.clip(picture, 0, 255).astype(np.uint8)


def faces_in(path, detector=None, largest_only=False, whole_if_none=False):
    """The 48x48 faces of one picture file. detector=None takes the whole picture as one face."""
    return faces_in_gray(read_gray(path), detector, largest_only, whole_if_none)


def faces_in_gray(gray, detector=None, largest_only=False, whole_if_none=False):
    """The 48x48 faces of one uint8 gray picture."""
    whole = Face((0, 0, gray.shape[1], gray.shape[0]), resize(gray))
    if detector is None:
        return [whole]
    boxes = detect_faces(gray, detector)
    if largest_only:
        boxes = boxes[:1]
    if not boxes:
        return [whole] if whole_if_none else []
    return [Face(box, crop_face(gray, box)) for box in boxes]


def source_root(source):
    """The folder that a source (one picture or a folder of them) is read relative to."""
    return source if source.is_dir() else source.parent


def output_paths(pictures, source, folder, flag):
    """Where each picture's output goes: source's tree mirrored in folder, as PNG.

    Pictures that differ only in their suffix (me.jpg, me.png) keep it in the name
    (me.jpg.png, me.png.png), so that no output replaces another. Raises InputError where
    folder cannot be written, where an output could replace a picture, or where outputs
    would mix with the pictures and a later run would take them for pictures.
    """
    files.check_writable(folder, flag, folder=True)
    if source.is_dir() and folder.resolve().is_relative_to(source.resolve()):
        raise InputError(f"{flag} {folder} is inside {source}: pick a folder outside it, so the pictures stay as they are.")
    relative = [picture.relative_to(source_root(source)) for picture in pictures]
    # Case-blind, as on the file systems of macOS and Windows.
    stems = [str(path.with_suffix("")).casefold() for path in relative]
    sharing = collections.Counter(stems)
    targets = []
    for path, stem in zip(relative, stems):
        name = path.name if sharing[stem] > 1 else path.stem
        targets.append(folder / path.parent / f"{name}.png")
    inputs = {picture.resolve() for picture in pictures}
    for target in targets:
        if target.resolve() in inputs:
            raise InputError(f"{flag} {folder} would write over {target.resolve()}, one of the pictures: pick another folder.")
    return targets


def label_from_folders(picture, source):
    """The FER-2013 class of the nearest folder below source's root named after one, or None."""
    names = {name.lower(): index for index, name in enumerate(CLASS_NAMES)}
    for folder in reversed(pathlib.Path(picture).relative_to(source_root(source)).parent.parts):
        if folder.lower() in names:
            return names[folder.lower()]
    return None
