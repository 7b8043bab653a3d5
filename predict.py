"""Finds the faces in photos and tells their emotions with the ensemble of models/model_*.h5.

    python3 predict.py photo.jpg
    python3 predict.py photos/ --annotate out/ --csv faces.csv
    python3 predict.py face.png --no-detect --json      # the picture is already a face crop
"""
import argparse
import csv
import json
import pathlib
import sys

import numpy as np

from ferkit import CLASS_NAMES, InputError, cli, evaluation, faces, files


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="a picture, or a folder searched recursively")
    parser.add_argument("--models", type=pathlib.Path, nargs="+", help="model files (default: models/model_*.h5)")
    parser.add_argument("--no-detect", action="store_true", help="take each picture as one face crop")
    parser.add_argument("--annotate", type=pathlib.Path, help="folder for copies with boxes and emotions drawn")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--csv", type=pathlib.Path, help="write one row per face: file, box, probabilities")
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True,
                        help="average each model over the faces and their mirror images; --no-tta "
                             "predicts the faces alone, in half the time (default: --tta)")
    return parser.parse_args()


def main():
    args = parse_args()
    if not args.source.exists():
        raise InputError(f"{args.source}: no such file or folder.")
    pictures = faces.find_pictures(args.source)
    if not pictures:
        raise InputError(f"{args.source}: no pictures ({', '.join(sorted(faces.PICTURE_SUFFIXES))}).")
    if args.csv:
        files.check_writable(args.csv, "--csv")
        if args.csv.resolve() in {picture.resolve() for picture in pictures}:
            raise InputError(f"--csv {args.csv} is one of the pictures to read: name another file.")
    targets = [None] * len(pictures)
    if args.annotate:
        targets = faces.output_paths(pictures, args.source, args.annotate, "--annotate")
    models = evaluation.load_models(args.models or evaluation.find_models())
    detector = None if args.no_detect else faces.face_detector()
    flips = (False, True) if args.tta else (False,)

    results, problems = [], []
    progress = faces.Progress(len(pictures), "pictures") if len(pictures) > 1 else None
    for picture, target in zip(pictures, targets):
        if progress:
            progress.step()
        try:
            found = faces.faces_in(picture, detector)
        except faces.PictureError as error:
            problems.append({"file": str(picture), "problem": str(error)})
            continue
        if not found:
            problems.append({"file": str(picture), "problem": "no face found (--no-detect takes the whole picture)"})
            continue
        crops = np.stack([face.pixels for face in found])
        probabilities = evaluation.average(
            [evaluation.predict(model, crops, flip=flip, verbose=0) for model in models for flip in flips]
        )
        faces_out = [describe(face, row) for face, row in zip(found, probabilities)]
        results.append({"file": str(picture), "faces": faces_out})
        if target:
            annotate(picture, faces_out, target)

    if args.json:
        print(json.dumps({"results": results, "problems": problems}, indent=2))
    else:
        print_text(results, problems)
    if args.csv:
        write_csv(results, args.csv)
    if not results:
        sys.exit(1)


def describe(face, probabilities):
    return {
        "box": dict(zip(("x", "y", "width", "height"), map(int, face.box))),
        "emotion": CLASS_NAMES[int(probabilities.argmax())],
        "probabilities": {name: round(float(p), 4) for name, p in zip(CLASS_NAMES, probabilities)},
    }


def print_text(results, problems):
    for result in results:
        print(result["file"])
        for face in result["faces"]:
            box = face["box"]
            ranked = sorted(face["probabilities"].items(), key=lambda item: -item[1])
            print(f"  face at x={box['x']} y={box['y']} {box['width']}x{box['height']}: {face['emotion']}  "
                  + "  ".join(f"{name} {p:.2f}" for name, p in ranked))
    for problem in problems:
        print(f"{problem['file']}: {problem['problem']}", file=sys.stderr)


def write_csv(results, path):
    with files.atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "x", "y", "width", "height", "emotion", *CLASS_NAMES])
        for result in results:
            for face in result["faces"]:
                writer.writerow([result["file"], *face["box"].values(), face["emotion"], *face["probabilities"].values()])


LABEL_COLOUR = (220, 40, 40)


def annotate(picture, faces_out, target):
    from PIL import ImageDraw, ImageOps

    with faces.Image.open(picture) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    draw = ImageDraw.Draw(image)
    line = max(2, image.width // 300)
    for face in faces_out:
        box = face["box"]
        corners = (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
        draw.rectangle(corners, outline=LABEL_COLOUR, width=line)
        label = f"{face['emotion']} {max(face['probabilities'].values()):.0%}"
        font_size = max(12, box["width"] // 6)
        # A filled tag above the box keeps the label readable on any background.
        left, top, right, bottom = draw.textbbox((0, 0), label, font_size=font_size)
        tag_height = bottom + 2 * line
        tag_top = corners[1] - tag_height if corners[1] >= tag_height else corners[3]
        draw.rectangle((corners[0], tag_top, corners[0] + right + 2 * line, tag_top + tag_height), fill=LABEL_COLOUR)
        draw.text((corners[0] + line, tag_top + line), label, fill="white", font_size=font_size)
    with files.atomic_path(target) as temporary:
        image.save(temporary)


if __name__ == "__main__":
    cli.run(main)
