"""Models as single files for other runtimes: ONNX (onnxruntime) and LiteRT (.tflite),
written by Keras' own model.export, flip averaging and the ensemble's mean inside."""
import contextlib
import io
import pathlib
import shutil
import tempfile

import numpy as np

from ferkit import INPUT_SHAPE, InputError, files
from ferkit.backend import keras, native_stderr_silenced
from ferkit.predictor import ensemble_network

SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}


def exportable(predictor):
    """The predictor's members, and mirror images with tta, as one model giving (N, 7)."""
    network = ensemble_network(predictor.members, predictor.tta, averaged=True)
    network(np.zeros((1, *INPUT_SHAPE), "float32"))  # export traces a model that has been called
    return network


def export(network, path, kind):
    """Writes network to path as kind ("onnx" or "litert"), whole or not at all."""
    if keras.backend.backend() != "tensorflow" and kind == "onnx":
        raise InputError("ONNX export runs on the TensorFlow backend here: unset KERAS_BACKEND, or set it to tensorflow.")
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=pathlib.Path(path).parent, prefix=".export-") as folder:
        temporary = pathlib.Path(folder) / pathlib.Path(path).name
        # The converters print pages of graph details on both streams.
        with native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):
            try:
                network.export(str(temporary), format=kind, verbose=False)
            except ImportError as error:
                raise InputError(f"{kind} export needs a package that is missing ({error}): "
                                 "pip install -r requirements.txt") from None
        with files.atomic_path(path) as final:
            shutil.copyfile(temporary, final)


def onnx_session(path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers say nothing to a user
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(session, images):
    """(N, 7) probabilities of (N, 48, 48) uint8 faces from an ONNX session."""
    name = session.get_inputs()[0].name
    return session.run(None, {name: images[..., np.newaxis].astype("float32")})[0]


def litert_predict(path, images):
    """(N, 7) probabilities of (N, 48, 48) uint8 faces from a LiteRT file."""
    from ai_edge_litert.interpreter import Interpreter

    with native_stderr_silenced():  # its delegate announces itself on stderr
        runner = Interpreter(model_path=str(path)).get_signature_runner()
    (input_name,) = runner.get_input_details()
    (output,) = runner(**{input_name: images[..., np.newaxis].astype("float32")}).values()
    return output
