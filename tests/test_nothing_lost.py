"""No flag makes a script write over one of its own inputs, and damaged caches are rebuilt."""
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import PROJECT_DIR, assert_clean_error, run_in_process, run_script, synthetic_faces, write_csv
from ferkit import InputError, data, data_cache, distillation, model_files


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_resize_never_writes_its_csv_over_a_picture(tmp_path, capsys):
    photo = tmp_path / "photos" / "happy" / "photo.jpg"
    photo.parent.mkdir(parents=True)
    Image.fromarray(synthetic_faces(1)[0][0]).save(photo)
    before = digest(photo)
    result = run_in_process("preprocess/data_resize.py", tmp_path / "photos", "--out", tmp_path / "out", "--csv", photo,
                            "--overwrite", capsys=capsys)
    assert_clean_error(result, "--csv", "one of the pictures")
    assert digest(photo) == before


def test_predict_never_writes_its_csv_over_a_model(tiny_models, tmp_path, capsys):
    model = tmp_path / "m.h5"
    shutil.copy(tiny_models[0], model)
    picture = tmp_path / "face.png"
    Image.fromarray(synthetic_faces(1)[0][0]).save(picture)
    before = digest(model)
    result = run_in_process("predict.py", picture, "--no-detect", "--models", model, "--csv", model, capsys=capsys)
    assert_clean_error(result, "--csv", "one of the models")
    assert digest(model) == before


def test_a_run_never_replaces_its_own_teacher(tiny_models, train_csv, tmp_path, capsys):
    teacher = tmp_path / "t.h5"
    shutil.copy(tiny_models[0], teacher)
    before = digest(teacher)
    result = run_in_process("train_vgg.py", "--data", train_csv, "--width", "0.125", "--epochs", "1",
                            "--teacher", teacher, "--output", teacher, capsys=capsys)
    assert_clean_error(result, "--output", "--teacher")
    assert digest(teacher) == before


def test_a_runs_history_file_never_replaces_its_data(tmp_path, capsys):
    data_file = write_csv(tmp_path / "m.history.csv", *synthetic_faces(140))  # the history m.h5's run would write
    before = digest(data_file)
    result = run_in_process("train_vgg.py", "--data", data_file, "--output", tmp_path / "m.h5", "--epochs", "1",
                            capsys=capsys)
    assert_clean_error(result, "--output", "--data")
    assert digest(data_file) == before


def test_a_damaged_data_cache_is_rebuilt_with_a_line_saying_so(tmp_path, capsys):
    images, labels = synthetic_faces(30)
    path = write_csv(tmp_path / "train.csv", images, labels)
    data.load_dataset(path)
    cache = tmp_path / "train.csv.cache.npz"
    cache.write_bytes(cache.read_bytes()[:300])  # an interrupted copy
    capsys.readouterr()
    dataset = data.load_dataset(path)
    assert np.array_equal(dataset.images, images) and np.array_equal(dataset.labels, labels)
    assert "train.csv.cache.npz: damaged" in capsys.readouterr().out
    assert data_cache.read(path) is not None  # rebuilt whole


def test_a_damaged_teachers_cache_is_predicted_again(tiny_models, train_csv, tmp_path, capsys):
    faces = data.load_dataset(train_csv)
    first = distillation.teacher_predictions(faces, tiny_models[:1], tmp_path)
    (cache,) = tmp_path.glob("teachers-*.npz")
    cache.write_bytes(cache.read_bytes()[:200])
    capsys.readouterr()
    again = distillation.teacher_predictions(faces, tiny_models[:1], tmp_path)
    assert np.allclose(first, again) and "damaged" in capsys.readouterr().out
    with np.load(cache) as rebuilt:
        assert np.allclose(rebuilt["predictions"], first)


def test_a_report_folder_is_all_old_or_all_new(tiny_models, fer2013_csv, tmp_path, capsys):
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    previous = {name: f"previous {name}".encode() for name in
                ("confusion_matrix.png", "class_scores.png", "mistakes.png", "report.json", "notes.txt")}
    for name, content in previous.items():
        (report_dir / name).write_bytes(content)

    def larger_file_limit():  # the first PNG fits, a later file fails as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (120_000, 120_000))

    command = [sys.executable, PROJECT_DIR / "test_ensemble_model.py", "--models", *tiny_models,
               "--data", fer2013_csv, "--report-dir", report_dir]
    refused = subprocess.run(command, capture_output=True, text=True, preexec_fn=larger_file_limit)
    assert refused.returncode == 1 and refused.stderr.startswith(f"error: {report_dir}"), refused.stderr
    assert {path.name: path.read_bytes() for path in report_dir.iterdir()} == previous
    assert [path.name for path in tmp_path.iterdir()] == ["fer2013.csv", "reports"] or \
        sorted(path.name for path in tmp_path.iterdir()) == ["fer2013.csv", "fer2013.csv.cache.npz", "reports"]
    written = run_in_process(*command[1:], capsys=capsys)
    assert written.returncode == 0, written.stderr
    report = json.loads((report_dir / "report.json").read_text())
    assert report["num_faces"] == 35 and (report_dir / "notes.txt").read_bytes() == previous["notes.txt"]
    assert all((report_dir / name).read_bytes() != content for name, content in previous.items() if name != "notes.txt")


def test_header_names_are_matched_whatever_their_case(tmp_path):
    images, labels = synthetic_faces(20)
    path = write_csv(tmp_path / "fer2013.csv", images, labels, usage=["Training"] * 10 + ["PublicTest"] * 10)
    path.write_text(path.read_text().replace("emotion,pixels,Usage", "Emotion,pixels,usage", 1))
    train, val = data.load_splits(path)
    assert len(train) == 10 and len(val) == 10  # the Usage column was used, not a seeded split


def test_a_training_set_of_one_class_is_warned_about(tmp_path, capsys):
    images, _ = synthetic_faces(60)
    path = write_csv(tmp_path / "train.csv", images, [3] * 60)
    result = run_in_process("train_vgg.py", "--data", path, "--width", "0.125", "--epochs", "1",
                            "--output", tmp_path / "m.h5", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert "warning: the training faces hold no Angry, Disgust, Fear, Sad, Surprise, Neutral" in result.stderr


def test_a_model_with_a_lambda_layer_gets_one_line_saying_so(tmp_path):
    import keras

    inputs = keras.Input((48, 48, 1))
    scaled = keras.layers.Lambda(lambda x: x / 255)(inputs)
    outputs = keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(scaled))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(InputError, match="lambda.keras: it holds a Lambda layer"):
        model_files.load_model(path)


def test_a_very_large_picture_gives_no_pillow_warning(tiny_models, tmp_path):
    path = tmp_path / "large.png"
    Image.new("L", (9600, 9600), 128).save(path)  # past Pillow's 89-million-pixel warning
    result = run_script("predict.py", path, "--no-detect", "--models", tiny_models[0])
    assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr


KILLED_RUN = """
import os, runpy, sys
from ferkit import model_files
save_model = model_files.save_model
def killed(*args, **kwargs):
    if {after}:
        save_model(*args, **kwargs)
    os._exit(9)
model_files.save_model = killed
sys.argv = ["train_vgg.py", "--data", {data!r}, "--output", {output!r}, "--width", "0.125", "--epochs", "2", "--batch-size", "7"]
runpy.run_path("train_vgg.py", run_name="__main__")
"""


@pytest.mark.parametrize("after", [False, True], ids=["before-the-model-save", "after-it"])
def test_a_run_killed_around_its_first_model_save_resumes(train_csv, tmp_path, after, capsys):
    output = tmp_path / "m.h5"
    killed = run_script("-c", KILLED_RUN.format(after=after, data=str(train_csv), output=str(output)))
    assert killed.returncode == 9, killed.stderr
    resumed = run_in_process("train_vgg.py", "--output", output, "--resume", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stdout and "Epoch 2/2" in resumed.stdout
    assert model_files.load_model(output).output_shape == (None, 7)


def test_leftovers_of_a_killed_run_go_with_the_next_run_on_that_output(tmp_path):
    from ferkit import files

    ended = subprocess.Popen(["true"])
    ended.wait()
    dead, alive = tmp_path / f".m.partial-{ended.pid}-x1.h5", tmp_path / f".m.partial-{os.getpid()}-x2.h5"
    dead_folder = tmp_path / f".reports.partial-{ended.pid}-x3"
    for leftover in (dead, alive):
        leftover.write_bytes(b"half a model")
    dead_folder.mkdir()
    (dead_folder / "report.json").write_text("{")
    files.write_text(tmp_path / "m.h5", "whole")
    with files.atomic_folder(tmp_path / "reports") as folder:
        (folder / "report.json").write_text("{}")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([alive.name, "m.h5", "reports"])


def test_two_reports_at_once_leave_the_files_of_one(tiny_models, fer2013_csv, tmp_path, capsys):
    def command(model, report_dir):
        return [sys.executable, PROJECT_DIR / "test_ensemble_model.py", "--models", model, "--data", fer2013_csv,
                "--report-dir", report_dir]

    def pictures(folder):
        return {path.name: path.read_bytes() for path in folder.glob("*.png")}

    alone = []
    for index, model in enumerate(tiny_models):
        assert run_in_process(*command(model, tmp_path / f"alone_{index}")[1:], capsys=capsys).returncode == 0
        alone.append(pictures(tmp_path / f"alone_{index}"))
    assert alone[0] != alone[1]
    shared = tmp_path / "shared"
    runs = [subprocess.Popen(command(model, shared), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for model in tiny_models]
    for run in runs:
        assert run.wait() == 0, run.stderr.read()
    report = json.loads((shared / "report.json").read_text())
    winner = [str(model) for model in tiny_models].index(report["models"][0]["path"])
    assert pictures(shared) == alone[winner]
