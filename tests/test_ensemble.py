"""test_ensemble_model.py on two tiny models built in a temporary folder."""
import functools
import json
import resource
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics

from conftest import PROJECT_DIR, assert_clean_error, run_in_process, run_script, synthetic_faces, write_csv
from ferkit import data, evaluation, model_files


@pytest.fixture(scope="module")
def faces_csv(tmp_path_factory):
    images, labels = synthetic_faces(70, seed=5)
    usage = ["PublicTest"] * 40 + ["PrivateTest"] * 30
    return write_csv(tmp_path_factory.mktemp("data") / "fer2013.csv", images, labels, usage)


def run_report(capsys, tmp_path, *arguments):
    report_dir = tmp_path / "reports"
    result = run_in_process("test_ensemble_model.py", *arguments, "--report-dir", report_dir, capsys=capsys)
    assert result.returncode == 0, result.stderr
    return result.stdout, json.loads((report_dir / "report.json").read_text()), report_dir


def expected_probabilities(paths, images, weights=None, tta=False):
    outputs = []
    for path in paths:
        model = model_files.load_model(path)
        probabilities = evaluation.predict(model, images, verbose=0)
        if tta:
            probabilities = (probabilities + evaluation.predict(model, images, flip=True, verbose=0)) / 2
        outputs.append(probabilities)
    return np.average(outputs, axis=0, weights=weights)


def test_figures_equal_sklearn_on_the_same_predictions(tiny_models, faces_csv, tmp_path, capsys):
    stdout, report, report_dir = run_report(capsys, tmp_path, "--models", *tiny_models, "--data", faces_csv)
    test_rows = data.select_usage(data.load_dataset(faces_csv), "PrivateTest")
    assert report["num_faces"] == 30
    predictions = expected_probabilities(tiny_models, test_rows.images).argmax(axis=1)
    ensemble = report["ensemble_plain"]
    assert ensemble["accuracy"] == pytest.approx(metrics.accuracy_score(test_rows.labels, predictions))
    assert ensemble["confusion_matrix"] == metrics.confusion_matrix(test_rows.labels, predictions, labels=range(7)).tolist()
    macro = metrics.precision_recall_fscore_support(test_rows.labels, predictions, labels=range(7), average="macro", zero_division=0)
    assert [ensemble["macro"][k] for k in ("precision", "recall", "f1")] == pytest.approx(macro[:3])
    assert f"ensemble: {ensemble['accuracy']:.4f}" in stdout
    assert "rows are true labels, columns are predictions" in stdout
    assert report["models"][0]["sha256"] == model_files.sha256(tiny_models[0])
    for picture in ("confusion_matrix.png", "class_scores.png", "mistakes.png"):
        from PIL import Image

        with Image.open(report_dir / picture) as image:
            image.verify()
            assert image.format == "PNG"


def test_a_model_ensembled_with_itself_gives_its_own_predictions(tiny_models, faces_csv, tmp_path, capsys):
    _, alone, _ = run_report(capsys, tmp_path / "a", "--models", tiny_models[0], "--data", faces_csv)
    _, twice, _ = run_report(capsys, tmp_path / "b", "--models", tiny_models[0], tiny_models[0], "--data", faces_csv)
    assert twice["ensemble_plain"] == alone["ensemble_plain"]
    assert alone["ensemble_plain"]["accuracy"] == alone["models"][0]["accuracy_plain"]


def test_num_models_takes_the_first_n(tiny_models, faces_csv, tmp_path, capsys):
    _, report, _ = run_report(capsys, tmp_path, "--models", *tiny_models, "--num-models", "1", "--data", faces_csv)
    assert [entry["path"] for entry in report["models"]] == [str(tiny_models[0])]
    stdout, report, _ = run_report(capsys, tmp_path / "more", "--models", *tiny_models, "--num-models", "5", "--data", faces_csv)
    assert "only 2 model(s)" in stdout and len(report["models"]) == 2


def test_weights_change_the_average(tiny_models, faces_csv, tmp_path, capsys):
    _, report, _ = run_report(capsys, tmp_path, "--models", *tiny_models, "--weights", "1", "0", "--data", faces_csv)
    # All weight on the first model: the ensemble is that model.
    assert report["ensemble_plain"]["accuracy"] == report["models"][0]["accuracy_plain"]
    test_rows = data.select_usage(data.load_dataset(faces_csv), "PrivateTest")
    predictions = expected_probabilities(tiny_models[:1], test_rows.images).argmax(axis=1)
    assert report["ensemble_plain"]["confusion_matrix"] == metrics.confusion_matrix(test_rows.labels, predictions, labels=range(7)).tolist()


def test_flip_averaged_figures_come_by_default_and_no_tta_leaves_them_out(tiny_models, faces_csv, tmp_path, capsys):
    stdout, report, _ = run_report(capsys, tmp_path / "a", "--models", *tiny_models, "--data", faces_csv)
    assert "with flip averaging" in stdout
    test_rows = data.select_usage(data.load_dataset(faces_csv), "PrivateTest")
    predictions = expected_probabilities(tiny_models, test_rows.images, tta=True).argmax(axis=1)
    assert report["ensemble_tta"]["accuracy"] == pytest.approx(metrics.accuracy_score(test_rows.labels, predictions))
    assert "ensemble_plain" in report
    stdout, report, _ = run_report(capsys, tmp_path / "b", "--models", *tiny_models, "--no-tta", "--data", faces_csv)
    assert "with flip averaging" not in stdout and "ensemble_tta" not in report


def test_usage_picks_the_rows(tiny_models, faces_csv, tmp_path, capsys):
    _, report, _ = run_report(capsys, tmp_path, "--models", tiny_models[0], "--usage", "PublicTest", "--data", faces_csv)
    assert report["num_faces"] == 40 and report["rows"] == "PublicTest rows"


def test_held_out_rows_of_train_csv_are_those_the_training_scripts_left_out(tiny_models, tmp_path, capsys):
    images, labels = synthetic_faces(140)
    path = write_csv(tmp_path / "train.csv", images, labels)
    _, report, _ = run_report(capsys, tmp_path, "--models", tiny_models[0], "--data", path)
    assert report["num_faces"] == len(data.split_indices(data.load_dataset(path))["test"]) == 14


def test_bad_model_files_give_one_clear_error(tiny_models, faces_csv, tmp_path, capsys):
    import h5py
    import keras

    not_a_model = tmp_path / "notes.h5"
    not_a_model.write_text("hello")
    empty = tmp_path / "empty.h5"
    empty.touch()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(tiny_models[0].read_bytes()[:5000])
    newer = tmp_path / "newer.h5"  # as a later Keras writes it: a setting this one does not know
    newer.write_bytes(tiny_models[0].read_bytes())
    with h5py.File(newer, "r+") as file:
        config = json.loads(file.attrs["model_config"])
        next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")["config"]["new"] = 1
        file.attrs["model_config"] = json.dumps(config)
        file.attrs["keras_version"] = "99.0.0"
    misnamed = tmp_path / "renamed.h5"  # a .keras archive given an .h5 name
    keras.models.load_model(tiny_models[0]).save(tmp_path / "model.keras")
    (tmp_path / "model.keras").rename(misnamed)
    inputs = keras.Input((32, 32, 3))
    wrong_shape = tmp_path / "wrong.h5"
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs))).save(wrong_shape)
    inputs = keras.Input((48, 48, 1))
    logits = tmp_path / "logits.h5"
    keras.Model(inputs, keras.layers.Dense(7)(keras.layers.Flatten()(inputs))).save(logits)
    for path, fragment in ((not_a_model, "not a Keras model file"), (empty, "empty"), (truncated, "cut short"),
                           (misnamed, "rename it to end in .keras"), (newer, "saved by Keras 99.0.0"),
                           (wrong_shape, "(None, 32, 32, 3)"), (logits, "softmax"),
                           (tmp_path / "missing.h5", "no such model file"), (tmp_path, "is a folder")):
        # HDF5's library writes its own complaints about a cut file where only a new process shows them.
        launch = run_script if path == truncated else functools.partial(run_in_process, capsys=capsys)
        result = launch("test_ensemble_model.py", "--models", path, "--data", faces_csv)
        assert_clean_error(result, str(path), fragment)


def test_a_report_the_disk_refuses_names_the_file_and_keeps_the_previous_one(tiny_models, faces_csv, tmp_path):
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    (report_dir / "confusion_matrix.png").write_bytes(b"previous picture")

    def small_file_limit():  # a write past 50 kB fails as on a full disk (EFBIG; Python ignores SIGXFSZ)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))

    result = subprocess.run([sys.executable, PROJECT_DIR / "test_ensemble_model.py", "--models", *tiny_models,
                             "--data", faces_csv, "--report-dir", report_dir],
                            capture_output=True, text=True, preexec_fn=small_file_limit)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {report_dir / 'confusion_matrix.png'}: File too large."]
    assert [path.name for path in report_dir.iterdir()] == ["confusion_matrix.png"]
    assert (report_dir / "confusion_matrix.png").read_bytes() == b"previous picture"


def test_no_models_found_says_where_it_looked_and_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setattr(model_files, "MODELS_DIR", tmp_path)
    with pytest.raises(Exception, match=f"no models found in {tmp_path}.*train_vgg.py"):
        model_files.load_models(model_files.find_models(tmp_path))


def test_data_problems_and_bad_weights(tiny_models, faces_csv, tmp_path, capsys):
    assert_clean_error(run_in_process("test_ensemble_model.py", "--models", tiny_models[0], "--data", tmp_path / "none.csv", capsys=capsys),
                       "none.csv: no such file")
    assert_clean_error(run_in_process("test_ensemble_model.py", "--models", *tiny_models, "--weights", "1", "--data", faces_csv, capsys=capsys),
                       "--weights has 1 values for 2 models")
    assert_clean_error(run_in_process("test_ensemble_model.py", "--models", *tiny_models, "--data", faces_csv,
                                      "--report-dir", faces_csv, capsys=capsys), "--report-dir", "is a file")
    for weights in (("0", "0"), ("1", "-1")):
        assert_clean_error(run_in_process("test_ensemble_model.py", "--models", *tiny_models, "--weights", *weights,
                                          "--data", faces_csv, capsys=capsys), "--weights must be zero or more")
    no_private = write_csv(tmp_path / "public.csv", *synthetic_faces(7), usage=["PublicTest"] * 7)
    assert_clean_error(run_in_process("test_ensemble_model.py", "--models", tiny_models[0], "--data", no_private, capsys=capsys),
                       "no PrivateTest rows", "--usage (PublicTest or all)")


def test_without_data_it_uses_the_committed_sample_and_says_so(tiny_models, tmp_path, capsys):
    if data.default_data_path().is_file():
        pytest.skip("a FER-2013 file in data/ takes precedence over the sample")
    stdout, report, _ = run_report(capsys, tmp_path, "--models", tiny_models[0])
    assert "demo sample" in stdout
    assert report["data"] == str(PROJECT_DIR / "data" / "sample.csv") and report["num_faces"] == 245


def test_models_tested_on_the_faces_they_trained_on_are_flagged_in_any_copy_of_them(fer2013_csv, tmp_path, capsys):
    trained = tmp_path / "trained.h5"
    result = run_in_process("train_vgg.py", "--data", fer2013_csv, "--output", trained, "--epochs", "1", "--width", "0.125", capsys=capsys)
    assert result.returncode == 0, result.stderr
    # The competition's train.csv holds fer2013.csv's Training rows, decoded a grey level or two apart.
    full = data.load_dataset(fer2013_csv)
    training = full.usage == data.USAGES.index("Training")
    grain = np.random.default_rng(0).integers(-2, 3, size=full.images[training].shape)
    regrained = np.clip(full.images[training] + grain, 0, 255).astype(np.uint8)
    train_csv = write_csv(tmp_path / "train.csv", regrained, full.labels[training])
    untrained = tmp_path / "untrained.h5"
    model_files.load_model(trained).save(untrained)  # the same network, saved without a record

    stdout, report, report_dir = run_report(capsys, tmp_path, "--models", trained, untrained, "--data", train_csv)
    assert [entry["faces_learnt_from"] for entry in report["models"]] == [report["num_faces"], 0]
    assert f"warning: {trained} learnt from all of the {report['num_faces']} faces tested" in stdout
    assert report["warning"] and "overstate" in report["warning"]

    stdout, report, _ = run_report(capsys, tmp_path, "--models", trained, "--data", fer2013_csv, "--usage", "PublicTest")
    assert report["models"][0]["faces_learnt_from"] == 0 and report["warning"] is None
    assert "warning" not in stdout


def test_the_mistakes_shown_are_the_most_confident_wrong_answers_for_each_true_emotion():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    probabilities = np.full((7, 7), 0.01)
    answers = [(1, 0.6), (0, 0.9), (2, 0.9), (3, 0.7), (0, 0.5), (1, 0.8), (2, 0.4)]
    for face, (answer, confidence) in enumerate(answers):
        probabilities[face, answer] = confidence
    chosen = evaluation.confident_mistakes(labels, probabilities, per_class=2)
    assert [list(indices) for indices in chosen] == [[2, 3], [4], [], [], [], [], []]
