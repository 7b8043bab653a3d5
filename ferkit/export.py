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

SUFFIXES = {"onnx": ".onnx", "onnx-int8": ".int8.onnx", "litert": ".tflite"}


def exportable(predictor):
    """The predictor's members, and mirror images with tta, as one model giving (N, 7)."""
    network = ensemble_network(predictor.members, predictor.tta, averaged=True)
    network(np.zeros((1, *INPUT_SHAPE), "float32"))  # export traces a model that has been called
    return network


def export(network, path, kind, calibration_faces=None, onnx_file=None):
    """Writes network to path as kind (a key of SUFFIXES), whole or not at all. onnx-int8
    sets its activation ranges on calibration_faces, (N, 48, 48) uint8, and quantizes
    onnx_file where given (the network's own ONNX file) instead of converting it again."""
    if keras.backend.backend() != "tensorflow" and kind.startswith("onnx"):
        raise InputError("ONNX export runs on the TensorFlow backend here: unset KERAS_BACKEND, or set it to tensorflow.")
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=pathlib.Path(path).parent, prefix=".export-") as folder:
        temporary = pathlib.Path(folder) / f"network{SUFFIXES[kind]}"
        converted = pathlib.Path(folder) / "network.onnx" if kind == "onnx-int8" else temporary
        if kind != "onnx-int8" or onnx_file is None:
            # The converters print pages of graph details on both streams.
            with native_stderr_silenced(), contextlib.redirect_stdout(io.StringIO()):
                try:
                    network.export(str(converted), format=kind.removesuffix("-int8"), verbose=False)
                except ImportError as error:
                    raise InputError(f"{kind} export needs a package that is missing ({error}): "
                                     "pip install -r requirements.txt") from None
        if kind == "onnx-int8":
            quantize(onnx_file or converted, temporary, calibration_faces)
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


def quantize(onnx_path, path, calibration_faces):
    """Writes the ONNX file at onnx_path to path, in the same folder, in 8-bit integers:
    weights per channel, activations in the ranges they take on calibration_faces
    ((N, 48, 48) uint8). On a CPU with integer dot-product instructions (AVX-512 VNNI,
    AVX-VNNI, Arm's dot product) it runs about twice as fast, for about a tenth of a point
    of accuracy either way."""
    from onnxruntime import quantization

    name = onnx_session(onnx_path).get_inputs()[0].name
    batches = [{name: calibration_faces[start : start + 32, ..., np.newaxis].astype("float32")}
               for start in range(0, len(calibration_faces), 32)]

    class Faces(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter(batches)

        def get_next(self):
            return next(self.batches, None)

    prepared = pathlib.Path(path).with_name("prepared.onnx")  # folded constants and known shapes quantize better
    quantization.shape_inference.quant_pre_process(str(onnx_path), str(prepared))
    quantization.quantize_static(str(prepared), str(path), Faces(), quant_format=quantization.QuantFormat.QDQ,
                                 per_channel=True, activation_type=quantization.QuantType.QUInt8,
                                 weight_type=quantization.QuantType.QInt8,
                                 extra_options={"CalibMaxIntermediateOutputs": merged_every(len(batches))})


def merged_every(batches):
    """How many calibration batches' activations to hold before merging their ranges: a
    few, not all (an ensemble's take gigabytes). onnxruntime finds nothing collected where
    the count of batches is a multiple of it, so the first that is not is taken."""
    return next((every for every in (4, 3, 5, 7) if batches % every), None)
