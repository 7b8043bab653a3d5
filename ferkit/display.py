"""What a person watches: boxes and labels drawn on frames, the annotated video file,
and the live window."""
import os
import pathlib

from ferkit import InputError, files

BOX_COLOUR = (40, 40, 220)  # BGR of predict.py's red


def draw(frame, labelled):
    """Boxes and labels on a BGR frame, in place: labelled is [(box, emotion, confidence, face id)]."""
    import cv2

    line = max(2, frame.shape[1] // 320)
    for (x, y, width, height), emotion, confidence, face_id in labelled:
        cv2.rectangle(frame, (x, y), (x + width, y + height), BOX_COLOUR, line)
        label = f"{face_id}: {emotion} {confidence:.0%}"
        scale = max(0.5, width / 220)
        (text_width, text_height), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = y - text_height - base - 2 * line if y >= text_height + base + 2 * line else y + height
        cv2.rectangle(frame, (x, top), (x + text_width + 2 * line, top + text_height + base + 2 * line), BOX_COLOUR, -1)
        cv2.putText(frame, label, (x + line, top + text_height + line), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return frame


class VideoOutput:
    """An annotated video written beside its final path and moved there when closed, so an
    interrupted run leaves a playable video of the frames done, never a partial file."""

    def __init__(self, path, fps, size):
        import cv2

        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = self.path.with_name(files.partial_prefix(self.path.parent, self.path.stem) + self.path.suffix)
        self.writer = cv2.VideoWriter(str(self.temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise InputError(f"--annotate {self.path.parent}: OpenCV cannot write an mp4 video there.")
        self.frames = 0

    def write(self, frame):
        self.writer.write(frame)
        self.frames += 1

    def close(self, keep=True):
        self.writer.release()
        if keep and self.frames:
            os.replace(self.temporary, self.path)
        elif self.temporary.exists():
            self.temporary.unlink()


class Window:
    """The live picture in a window; raises InputError where none can open."""

    NAME = "emotions (q to stop)"

    def __init__(self):
        import cv2

        self.cv2 = cv2
        try:
            cv2.namedWindow(self.NAME)
        except cv2.error:
            raise InputError(
                "no window can open here: this OpenCV has no window support (opencv-python-headless), or "
                "there is no display. 'pip install opencv-python' for the window, or pass --annotate DIR "
                "and --csv FILE to write the results instead.") from None

    def show(self, frame):
        """Shows frame; False once the user pressed q or closed the window."""
        self.cv2.imshow(self.NAME, frame)
        key = self.cv2.waitKey(1) & 0xFF
        return key != ord("q") and self.cv2.getWindowProperty(self.NAME, self.cv2.WND_PROP_VISIBLE) >= 1

    def close(self):
        self.cv2.destroyWindow(self.NAME)
