"""The predictor, its Python API as README shows it, and the exported files."""
import ast
import re

import numpy as np
import pytest
from PIL import Image

from conftest import PROJECT_DIR, assert_clean_error, run_in_process
from ferkit import data, evaluation, export, model_files
from ferkit import CLASS_NAMES, InputError
from ferkit.predictor import Predictor


@pytest.fixture(scope="module")
def sample_faces():
    return data.load_dataset(PROJECT_DIR / "data" / "sample.csv").images


def reference(paths, images, tta=True):
    """Each model called on its own, the mirrored faces apart: (models, N, 7)."""
    outputs = []
    for path in paths:
        model = model_files.load_model(path)
        plain = evaluation.predict(model, images, verbose=0)
        outputs.append((plain + evaluation.predict(model, images, flip=True, verbose=0)) / 2 if tta else plain)
    return np.stack(outputs)


@pytest.mark.parametrize("count", [1, 5, 70])
def test_one_call_gives_each_members_flip_average_for_any_number_of_faces(tiny_models, sample_faces, count):
    predictor = Predictor(tiny_models, batch_size=32)  # 70 faces: two full batches and a padded one
    faces = sample_faces[:count]
    assert np.allclose(predictor.per_member(faces), reference(tiny_models, faces), atol=1e-5)
    assert np.allclose(predictor.predict_faces(faces), reference(tiny_models, faces).mean(axis=0), atol=1e-5)


def test_without_tta_and_with_weights(tiny_models, sample_faces):
    predictor = Predictor(tiny_models, tta=False, weights=[3, 1])
    expected = np.average(reference(tiny_models, sample_faces[:9], tta=False), axis=0, weights=[3, 1])
    assert np.allclose(predictor.predict_faces(sample_faces[:9]), expected, atol=1e-5)


def test_a_picture_array_and_its_file_give_the_same_faces(tiny_models, tmp_path):
    from skimage import data as skimage_data

    picture = skimage_data.astronaut()
    path = tmp_path / "astronaut.png"
    Image.fromarray(picture).save(path)
    predictor = Predictor(tiny_models)
    from_file, from_array = predictor.predict(path), predictor.predict(picture)
    assert len(from_file) == 1 and from_file[0]["box"] == from_array[0]["box"]
    assert from_file[0]["probabilities"] == pytest.approx(from_array[0]["probabilities"], abs=0.02)
    assert from_file[0]["emotion"] == max(from_file[0]["probabilities"], key=from_file[0]["probabilities"].get)


def test_readme_python_snippet_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = (PROJECT_DIR / "README.md").read_text()
    snippet = re.search(r"```python\n(from ferkit.*?)```", readme, re.S).group(1)
    from skimage import data as skimage_data

    Image.fromarray(skimage_data.astronaut()).save(tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)  # "photo.jpg" in the snippet is the user's own file
    exec(compile(snippet, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    line = re.fullmatch(r"(\{.*?\}) (\w+) (\{.*\})\n", printed)
    assert line, printed
    box, emotion, probabilities = ast.literal_eval(line[1]), line[2], ast.literal_eval(line[3])
    assert set(box) == {"x", "y", "width", "height"} and box["width"] > 0
    assert list(probabilities) == list(CLASS_NAMES) and emotion == max(probabilities, key=probabilities.get)
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)


def test_exported_onnx_files_give_the_keras_probabilities(tiny_models, sample_faces, fer2013_csv, tmp_path, capsys):
    result = run_in_process("export_model.py", "--models", *tiny_models, "--output", tmp_path / "ensemble",
                            "--format", "onnx", "onnx-int8", "--data", fer2013_csv, capsys=capsys)
    assert result.returncode == 0, result.stderr
    expected = reference(tiny_models, sample_faces).mean(axis=0)
    session = export.onnx_session(tmp_path / "ensemble.onnx")
    assert np.abs(export.onnx_predict(session, sample_faces) - expected).max() < 1e-4
    # 8-bit integers round each layer's activations: close, not equal.
    integer = export.onnx_predict(export.onnx_session(tmp_path / "ensemble.int8.onnx"), sample_faces)
    assert np.abs(integer - expected).mean() < 0.01 and np.abs(integer - expected).max() < 0.05
    # The predictor, and so predict.py, runs an exported file as it is.
    as_predictor = Predictor([tmp_path / "ensemble.int8.onnx"], batch_size=32).predict_faces(sample_faces)
    np.testing.assert_allclose(as_predictor, integer, atol=1e-6)
    scores = re.findall(r"accuracy on (\d+) PublicTest faces of .*: ([\d.]+) \(Keras ([\d.]+)\)", result.stdout)
    assert len(scores) == 2 and all(int(count) == (data.load_dataset(fer2013_csv).usage == 1).sum()
                                    for count, _, _ in scores), result.stdout


def test_exported_litert_file_gives_the_keras_probabilities(tiny_models, sample_faces, tmp_path, capsys):
    result = run_in_process("export_model.py", "--models", *tiny_models, "--output", tmp_path / "ensemble",
                            "--format", "litert", capsys=capsys)
    assert result.returncode == 0, result.stderr
    expected = reference(tiny_models, sample_faces).mean(axis=0)
    assert np.abs(export.litert_predict(tmp_path / "ensemble.tflite", sample_faces) - expected).max() < 1e-4


def test_an_exported_file_goes_alone_and_only_where_exported_files_serve(tiny_models, tmp_path, capsys):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("not a model")
    with pytest.raises(InputError, match="garbage.onnx: cannot load it as an ONNX model"):
        Predictor([garbage])
    with pytest.raises(InputError, match="garbage.onnx: an exported file holds every member"):
        Predictor([garbage, tiny_models[0]])
    assert_clean_error(run_in_process("test_ensemble_model.py", "--models", garbage, capsys=capsys),
                       "an exported file", "export_model.py --data")
    assert_clean_error(run_in_process("export_model.py", "--models", garbage, "--output", tmp_path / "x", capsys=capsys),
                       "an exported file")
