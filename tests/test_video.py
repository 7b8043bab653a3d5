"""Videos and the webcam in predict.py, on short clips made here from data/sample.csv's faces."""
import csv
import os

import numpy as np
import pytest
from PIL import Image

from conftest import PROJECT_DIR, assert_clean_error, run_in_process, run_script
from ferkit import CLASS_NAMES, InputError, data, display, video
from ferkit.predictor import Predictor

FPS = 10
FACE_SECONDS = 1.5  # 15 frames of each face
BLANK_SECONDS = 0.5
DETECTED_FACES = (0, 2)  # sample faces the Haar cascade finds in every frame of the clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """Two faces moving across the picture, one after the other, then frames without a face."""
    images = data.load_dataset(PROJECT_DIR / "data" / "sample.csv").images[list(DETECTED_FACES)]
    path = tmp_path_factory.mktemp("videos") / "clip.mp4"
    frames = video.write_demo_clip(path, images, FACE_SECONDS, FPS, blank_seconds=BLANK_SECONDS)
    return path, frames


@pytest.fixture(scope="module")
def analysed(clip, tiny_models, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    result = run_script("predict.py", clip[0], "--models", tiny_models[0], "--csv", out / "faces.csv",
                        "--annotate", out / "annotated")
    assert result.returncode == 0, result.stderr
    with open(out / "faces.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    return result, rows, out


def read_frames(path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames, capture.get(cv2.CAP_PROP_FPS)
        frames.append(frame)


def test_every_face_frame_is_one_row_at_its_time(analysed):
    _, rows, _ = analysed
    face_frames = round(FACE_SECONDS * FPS) * len(DETECTED_FACES)
    assert [int(row["frame"]) for row in rows] == list(range(face_frames))  # none in the blank frames
    assert all(float(row["time_s"]) == pytest.approx(int(row["frame"]) / FPS, abs=1e-3) for row in rows)
    for row in rows:
        probabilities = [float(row[name]) for name in CLASS_NAMES]
        assert sum(probabilities) == pytest.approx(1, abs=1e-3)
        assert row["emotion"] == CLASS_NAMES[int(np.argmax(probabilities))]


def test_a_moving_face_keeps_its_id_and_the_next_face_gets_a_new_one(analysed):
    _, rows, _ = analysed
    per_face = round(FACE_SECONDS * FPS)
    assert {row["face_id"] for row in rows[:per_face]} == {"1"}
    assert {row["face_id"] for row in rows[per_face:]} == {"2"}
    lefts = [int(row["x"]) for row in rows[:per_face]]
    assert lefts[-1] - lefts[0] > 100  # it did move


def test_the_annotated_video_has_every_frame_at_the_same_size_and_rate(analysed, clip):
    _, _, out = analysed
    original, original_fps = read_frames(clip[0])
    annotated, annotated_fps = read_frames(out / "annotated" / "clip.mp4")
    assert len(annotated) == len(original) == clip[1]
    assert annotated[0].shape == original[0].shape and annotated_fps == original_fps
    difference = np.abs(annotated[0].astype(int) - original[0].astype(int)).sum(axis=2)
    assert (difference > 100).sum() > 500  # the box and its label were drawn
    assert np.abs(annotated[-1].astype(int) - original[-1].astype(int)).max() < 40  # no box without a face


def test_the_summary_and_the_emotions_over_time_png(analysed):
    result, _, out = analysed
    assert "2 face(s) seen" in result.stdout and "face 1: 15 frames" in result.stdout
    picture = np.asarray(Image.open(out / "annotated" / "clip.emotions.png").convert("L"))
    assert picture.shape[0] > 300 and picture.std() > 10  # two panels of lines, not a blank page


@pytest.mark.parametrize("flags, step", [(("--every", "4"), 4), (("--fps", "2.5"), 4)])
def test_every_and_fps_analyse_a_subset_of_the_frames(clip, tiny_models, tmp_path, flags, step, capsys):
    result = run_in_process("predict.py", clip[0], "--models", tiny_models[0], "--csv", tmp_path / "f.csv", *flags, capsys=capsys)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "f.csv", newline="") as file:
        frames = [int(row["frame"]) for row in csv.DictReader(file)]
    assert frames == list(range(0, round(FACE_SECONDS * FPS) * len(DETECTED_FACES), step))


def test_smoothing_averages_a_face_over_its_last_frames(clip, tiny_models):
    predictor = Predictor([tiny_models[1]])
    plain, _, _ = video.analyse(video.open_capture(str(clip[0])), predictor)
    smooth, _, _ = video.analyse(video.open_capture(str(clip[0])), predictor, smooth=3)
    values = lambda analysis: np.array([[row[name] for name in CLASS_NAMES] for row in analysis.rows])  # noqa: E731
    raw, smoothed = values(plain), values(smooth)
    assert np.allclose(smoothed[2], raw[:3].mean(axis=0), atol=1e-3)
    assert np.allclose(smoothed[10], raw[8:11].mean(axis=0), atol=1e-3)


def test_ctrl_c_keeps_the_frames_done_and_a_playable_video(clip, tiny_models, tmp_path):
    predictor = Predictor([tiny_models[0]])
    calls = {"count": 0}
    predict_faces = predictor.predict_faces

    def interrupted_on_the_fifth(images):
        calls["count"] += 1
        if calls["count"] == 5:
            raise KeyboardInterrupt
        return predict_faces(images)

    predictor.predict_faces = interrupted_on_the_fifth
    output = display.VideoOutput(tmp_path / "out.mp4", FPS, (640, 480))
    analysis, analysed, interrupted = video.analyse(video.open_capture(str(clip[0])), predictor, output=output)
    output.close()
    assert interrupted and len(analysis.rows) == 4 and analysed == 4
    frames, _ = read_frames(tmp_path / "out.mp4")
    assert len(frames) == 4
    assert [path.name for path in tmp_path.iterdir()] == ["out.mp4"]  # no partial file left


def test_brief_stray_detections_leave_the_summary_but_not_the_csv():
    analysis = video.Analysis()
    tracker = video.Tracker()
    probabilities = np.eye(7)[3]
    for frame in range(40):
        boxes = [(10 + frame, 10, 100, 100)] + ([(400, 300, 40, 40)] if frame in (7, 8) else [])
        for track in tracker.assign(boxes):
            analysis.add(frame, frame / 25, track, probabilities)
    assert len(analysis.rows) == 42 and set(analysis.by_face()) == {1, 2}
    assert list(analysis.lasting()) == [1]
    summary = analysis.summary(40)
    assert "1 face(s) seen (1 brief detection(s)" in summary and "face 2" not in summary
    short = video.Analysis()  # where every track is short, as with --fps on a short clip, none is a stray
    for frame in range(2):
        short.add(frame, frame, tracker.assign([(10, 10, 100, 100)])[0], probabilities)
    assert len(short.lasting()) == 1


def test_tracks_match_by_overlap():
    tracker = video.Tracker()
    first = tracker.assign([(0, 0, 100, 100), (300, 0, 100, 100)])
    second = tracker.assign([(310, 5, 100, 100), (10, 5, 100, 100)])
    assert [track.face_id for track in first] == [1, 2] and [track.face_id for track in second] == [2, 1]
    assert [track.face_id for track in tracker.assign([(600, 300, 50, 50)])] == [3]


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50, "truncated"])
def test_files_that_are_not_videos_give_one_clear_error(content, clip, tiny_models, tmp_path):
    path = tmp_path / "bad.mp4"
    path.write_bytes(clip[0].read_bytes()[:2000] if content == "truncated" else content)
    result = run_script("predict.py", path, "--models", tiny_models[0])
    assert_clean_error(result, str(path))


def test_a_video_without_faces_says_so(tiny_models, tmp_path, capsys):
    path = tmp_path / "empty.mp4"
    video.write_demo_clip(path, [], blank_seconds=1, fps=FPS)
    result = run_in_process("predict.py", path, "--models", tiny_models[0], "--csv", tmp_path / "f.csv",
                            "--annotate", tmp_path / "out", capsys=capsys)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]  # after the progress lines
    assert last_line.startswith("error:") and "no face found in the 10 frames analysed" in last_line
    assert sorted(path.name for path in tmp_path.rglob("*")) == ["empty.mp4", "out"]  # nothing half-made


def test_a_camera_that_does_not_open_says_so(tiny_models, tmp_path):
    result = run_script("predict.py", "--camera", "97", "--models", tiny_models[0], "--csv", tmp_path / "f.csv")
    assert_clean_error(result, "camera 97 does not open")


@pytest.mark.skipif(bool(os.environ.get("DISPLAY")), reason="a display is there: the window would open")
def test_without_a_display_the_window_says_what_to_do_instead():
    with pytest.raises(InputError, match="no window can open here.*--annotate DIR"):
        display.Window()


def test_outputs_never_replace_the_video_or_a_model(clip, tiny_models, tmp_path, capsys):
    source = tmp_path / "clip.mp4"
    source.write_bytes(clip[0].read_bytes())
    before = source.read_bytes(), tiny_models[0].read_bytes()
    into_itself = run_in_process("predict.py", source, "--models", tiny_models[0], "--annotate", tmp_path, capsys=capsys)
    assert_clean_error(into_itself, "--annotate", "one of the videos")
    over_model = run_in_process("predict.py", source, "--models", tiny_models[0], "--csv", tiny_models[0], capsys=capsys)
    assert_clean_error(over_model, "--csv", "one of the models")
    assert (source.read_bytes(), tiny_models[0].read_bytes()) == before


def test_an_unreadable_source_raises_input_error_in_process(tmp_path):
    with pytest.raises(InputError, match="no such video file"):
        video.open_capture(str(tmp_path / "missing.mp4"))
