"""Saved models work alike on every Keras backend: the same answers, the same clean errors (README, Backends)."""
import importlib.util

import numpy as np
import pytest

from conftest import PROJECT_DIR, assert_clean_error, run_script

OTHER_BACKENDS = [
    pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None, reason=f"{name} is not installed"))
    for name in ("jax", "torch")
]
# Loads each model in safe mode and writes its probabilities for the first faces of the sample.
PREDICT = """
import sys
import numpy as np
from ferkit import data, evaluation, model_files
faces = data.load_dataset("data/sample.csv").images[:48]
np.save(sys.argv[1], np.stack([evaluation.predict(model_files.load_model(path), faces) for path in sys.argv[2:]]))
"""


def probabilities_on(backend, model_paths, output):
    result = run_script("-c", PREDICT, output, *model_paths, backend=backend)
    assert result.returncode == 0, result.stderr
    return np.load(output)


@pytest.fixture(scope="module")
def model_paths(tmp_path_factory):
    """Shipped models (a VGG-16 and an Inception-v1, both begun on JAX and averaged with
    TensorFlow), and a transfer model at 96 pixels, whose resizing, gray-to-RGB and ImageNet
    normalisation layers the others lack."""
    import keras

    from ferkit import models

    keras.utils.set_random_seed(0)
    transfer = tmp_path_factory.mktemp("models") / "transfer.h5"
    models.build_vgg16_transfer(None, image_size=96, head_width=0.125).save(transfer)
    shipped = [PROJECT_DIR / "models" / f"model_{number}.h5" for number in (1, 2)]
    return shipped + [transfer]


@pytest.fixture(scope="module")
def tensorflow_probabilities(model_paths, tmp_path_factory):
    return probabilities_on("tensorflow", model_paths, tmp_path_factory.mktemp("tf") / "probabilities.npy")


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_saved_models_predict_alike_on_every_backend(backend, model_paths, tensorflow_probabilities, tmp_path):
    expected = tensorflow_probabilities
    # Faces must get different answers, or agreement would prove little.
    assert (expected.std(axis=1) > 1e-3).all()
    found = probabilities_on(backend, model_paths, tmp_path / "probabilities.npy")
    np.testing.assert_allclose(found, expected, atol=1e-4)


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_errors_after_loading_a_model_stay_one_line_on_every_backend(backend, tmp_path):
    # Loading an .h5 file imports TensorFlow on the other backends when it is installed.
    not_a_model = tmp_path / "notes.h5"
    not_a_model.write_text("not a model")
    result = run_script("test_ensemble_model.py", "--models", PROJECT_DIR / "models" / "model_1.h5", not_a_model,
                        backend=backend)
    assert_clean_error(result, "notes.h5", "not a Keras model file")
