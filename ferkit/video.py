"""Emotions over time in video files and webcams: frames, face tracks, smoothing, the
per-frame table (display.py draws and shows them)."""
import collections
import csv
import dataclasses
import pathlib
import time

import numpy as np

from ferkit import CLASS_NAMES, InputError, cli, display, faces, files
from ferkit.backend import native_stderr_silenced

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
DETECT_SIDE = 480  # frames are searched at this size at most: the cascade's cost grows with the pixels
MIN_OVERLAP = 0.3  # of two boxes' union: a face in the next frame this close is the same face
MAX_MISSED = 12  # analysed frames a track survives without its face, for blinks of the detector
BRIEF_FRAMES = 3  # a track seen in fewer analysed frames, and in under a tenth of the longest's, is a stray detection
CSV_FIELDS = ("frame", "time_s", "face_id", "x", "y", "width", "height", "emotion", *CLASS_NAMES)


def is_video(path):
    return pathlib.Path(path).suffix.lower() in VIDEO_SUFFIXES


def open_capture(source):
    """An OpenCV VideoCapture of a file path or a camera index, with its first frame read
    back into place; raises InputError for what cannot be read."""
    import cv2

    camera = isinstance(source, int)
    if not camera and not pathlib.Path(source).is_file():
        raise InputError(f"{source}: no such video file.")
    with native_stderr_silenced():  # FFmpeg and the camera drivers print their own warnings
        capture = cv2.VideoCapture(source)
        opened = capture.isOpened()
        readable = opened and (camera or capture.read()[0])
    if not opened:
        what = f"camera {source} does not open (is it connected, and free?)" if camera else \
            f"{source}: not a video OpenCV can read"
        raise InputError(f"{what}.")
    if not readable:
        capture.release()
        raise InputError(f"{source}: no frames could be read (an empty, truncated or damaged video).")
    if not camera:
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
    return capture


def frame_rate(capture):
    import cv2

    rate = capture.get(cv2.CAP_PROP_FPS)
    return rate if 0 < rate < 1000 else 30.0  # cameras and some files report none


def frame_step(every, fps, video_fps):
    """Analyse one frame in how many: --every N, or --fps F of the video's rate."""
    if fps:
        return max(1, round(video_fps / fps))
    return every or 1


@dataclasses.dataclass
class Track:
    face_id: int
    box: tuple
    missed: int = 0
    recent: collections.deque = None  # the last --smooth probabilities


def overlap(a, b):
    """Intersection over union of two (x, y, width, height) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


class Tracker:
    """Gives each face box an id that stays with it from frame to frame, by overlap."""

    def __init__(self, smooth=1):
        self.tracks, self.next_id, self.smooth = [], 1, smooth

    def assign(self, boxes):
        """The Track of each box, matched greedily by the largest overlap."""
        pairs = sorted(((overlap(box, track.box), b, t) for b, box in enumerate(boxes)
                        for t, track in enumerate(self.tracks)), reverse=True)
        matched, used = {}, set()
        for score, b, t in pairs:
            if score < MIN_OVERLAP:
                break
            if b not in matched and t not in used:
                matched[b] = self.tracks[t]
                used.add(t)
        for t, track in enumerate(self.tracks):
            if t not in used:
                track.missed += 1
        assigned = []
        for b, box in enumerate(boxes):
            track = matched.get(b)
            if track is None:
                track = Track(self.next_id, box, recent=collections.deque(maxlen=self.smooth))
                self.next_id += 1
                self.tracks.append(track)
            track.box, track.missed = box, 0
            assigned.append(track)
        self.tracks = [track for track in self.tracks if track.missed <= MAX_MISSED]
        return assigned


def detect(gray, detector):
    """Face boxes of a frame, searched at DETECT_SIDE at most, in the frame's pixels."""
    return faces.detect_faces(gray, detector, max_side=DETECT_SIDE)


class Analysis:
    """What a video run finds: one row per face per analysed frame."""

    def __init__(self):
        self.rows = []

    def add(self, frame, time_s, track, probabilities):
        self.rows.append({"frame": frame, "time_s": round(time_s, 3), "face_id": track.face_id,
                          **dict(zip(("x", "y", "width", "height"), map(int, track.box))),
                          "emotion": CLASS_NAMES[int(np.argmax(probabilities))],
                          **{name: round(float(p), 4) for name, p in zip(CLASS_NAMES, probabilities)}})

    def by_face(self):
        """{face id: (times, (T, 7) probabilities)}."""
        grouped = collections.defaultdict(list)
        for row in self.rows:
            grouped[row["face_id"]].append(row)
        return {face_id: (np.array([r["time_s"] for r in rows]), np.array([[r[n] for n in CLASS_NAMES] for r in rows]))
                for face_id, rows in grouped.items()}

    def lasting(self):
        """by_face without the brief tracks that stray detections (a shadow, a hand) leave."""
        tracks = self.by_face()
        longest = max((len(times) for times, _ in tracks.values()), default=0)
        return {face_id: track for face_id, track in tracks.items()
                if len(track[0]) >= min(BRIEF_FRAMES, 0.1 * longest)}

    def summary(self, frames_analysed):
        tracks = self.lasting()
        brief = len(self.by_face()) - len(tracks)
        strays = (f" ({brief} brief detection(s), under {BRIEF_FRAMES} frames, left out here and in the plot; "
                  "the CSV has them)") if brief else ""
        lines = [f"{frames_analysed} frames analysed; {len(tracks)} face(s) seen{strays}"]
        for face_id, (times, probabilities) in tracks.items():
            shares = np.bincount(probabilities.argmax(axis=1), minlength=len(CLASS_NAMES)) / len(probabilities)
            dominant = CLASS_NAMES[int(probabilities.mean(axis=0).argmax())]
            share_text = "  ".join(f"{name} {share:.0%}" for name, share in
                                   sorted(zip(CLASS_NAMES, shares), key=lambda item: -item[1]) if share > 0)
            frames = f"{len(times)} frame{'s' if len(times) != 1 else ''}"
            lines.append(f"  face {face_id}: {frames}, {times[0]:.1f}-{times[-1]:.1f} s, mostly {dominant}; "
                         f"time in each emotion: {share_text}")
        return "\n".join(lines)

    def write_csv(self, path):
        with files.atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
            writer = csv.DictWriter(file, CSV_FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)


def analyse(capture, predictor, step=1, smooth=1, output=None, window=None, total_frames=None, live=False):
    """Runs through the frames, predicting every step-th; returns the Analysis, the number
    of frames analysed, and whether Ctrl-C ended it (q in the window ends it too). Times
    are the frame's place in the video, or for a live camera the seconds since the start."""
    import cv2

    video_fps = frame_rate(capture)
    tracker, analysis = Tracker(smooth), Analysis()
    labelled, analysed, index, interrupted = [], 0, 0, False
    started = time.monotonic()
    progress = cli.Progress(total_frames, "frames", unit_rate="frames/s")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                boxes = detect(gray, predictor.detector)
                tracks = tracker.assign(boxes)
                labelled = []
                if boxes:
                    crops = np.stack([faces.crop_face(gray, box) for box in boxes])
                    for track, probabilities in zip(tracks, predictor.predict_faces(crops)):
                        track.recent.append(probabilities)
                        smoothed = np.mean(track.recent, axis=0)
                        analysis.add(index, time.monotonic() - started if live else index / video_fps, track, smoothed)
                        labelled.append((track.box, CLASS_NAMES[int(smoothed.argmax())], float(smoothed.max()),
                                         track.face_id))
                analysed += 1
            if output or window:
                display.draw(frame, labelled)
            if output:
                output.write(frame)
            if window and not window.show(frame):
                break
            index += 1
            progress.step()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    return analysis, analysed, interrupted


def run(source, predictor, every=None, fps=None, smooth=1, target=None, open_window=None):
    """Analyses a video file or camera (see analyse), drawing into a video at target and
    into the window open_window() gives, if any; returns what analyse returns. The video
    at target is kept only where a face was found."""
    import cv2

    capture = open_capture(source)
    output, analysis, window = None, None, None
    try:
        window = open_window() if open_window else None
        video_fps = frame_rate(capture)
        if target:
            size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
            output = display.VideoOutput(target, video_fps, size)
        live = isinstance(source, int)
        total = None if live else int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        analysis, analysed, interrupted = analyse(capture, predictor, frame_step(every, fps, video_fps), smooth,
                                                  output, window, total if total and total > 0 else None, live)
    finally:
        capture.release()
        if output:
            output.close(keep=bool(analysis and analysis.rows))
        if window:
            window.close()
    return analysis, analysed, interrupted


def write_demo_clip(path, face_images, seconds_per_face=2.0, fps=25, size=(640, 480), blank_seconds=0.0):
    """A clip of FER-2013 faces, each enlarged and moving left to right across a gray
    background for seconds_per_face, then blank_seconds without a face: for trying the
    video path and timing it. Returns the number of frames written."""
    import cv2

    width, height = size
    side = height // 3
    steps = round(seconds_per_face * fps)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    written = 0
    for face in face_images:
        enlarged = cv2.cvtColor(cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        for step in range(steps):
            frame = np.full((height, width, 3), 110, np.uint8)
            left = round((width - side) * step / max(1, steps - 1) * 0.5 + (width - side) * 0.25)
            top = (height - side) // 2
            frame[top : top + side, left : left + side] = enlarged
            writer.write(frame)
            written += 1
    for _ in range(round(blank_seconds * fps)):
        writer.write(np.full((height, width, 3), 110, np.uint8))
        written += 1
    writer.release()
    return written
