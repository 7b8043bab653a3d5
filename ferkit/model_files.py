"""Model files: finding, loading with a diagnosis of bad files, the model contract, and
saving atomically with the record of the faces a model learnt from."""
import hashlib
import json
import logging
import pathlib
import re
import zipfile

from ferkit import INPUT_SHAPE, NUM_CLASSES, InputError, files, provenance
from ferkit.backend import keras, native_stderr_silenced
from ferkit.data import PROJECT_DIR

MODELS_DIR = PROJECT_DIR / "models"
MODEL_SIGNATURES = {b"\x89HDF\r\n\x1a\n": ".h5", b"PK\x03\x04": ".keras"}


def find_models(models_dir=MODELS_DIR):
    """models/model_*.h5 in numeric order (model_2 before model_10)."""
    found = pathlib.Path(models_dir).glob("model_*.h5")
    return sorted(found, key=lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)])


def load_model(path):
    """Loads a model in safe mode and checks the model contract; raises InputError otherwise."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: name the model files in it, say {path / 'model_*.h5'}.")
    if not path.is_file():
        raise InputError(f"{path}: no such model file.")
    try:
        # Keras reads .h5 files with TensorFlow's help when it is installed, importing it
        # here on the other backends, and TensorFlow's start-up lines would bury our errors.
        with native_stderr_silenced():
            model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # h5py, zipfile and Keras raise many kinds for a bad file
        if "Lambda" in str(error) and "safe_mode" in str(error):
            raise InputError(f"{path}: it holds a Lambda layer, whose Python code safe mode refuses to run; "
                             "a FER-2013 model here keeps its preprocessing in standard layers.") from None
        raise InputError(f"{path}: cannot load it as a model: {unreadable_model_reason(path, error)}.") from None
    expected_input, expected_output = (None, *INPUT_SHAPE), (None, NUM_CLASSES)
    if tuple(model.input_shape) != expected_input or tuple(model.output_shape) != expected_output:
        raise InputError(
            f"{path}: takes {tuple(model.input_shape)} and gives {tuple(model.output_shape)}; "
            f"a FER-2013 model takes {expected_input} and gives {expected_output}."
        )
    if not ends_in_softmax(model):
        # Logits would average into an ensemble's answer and print as probabilities, wrongly.
        raise InputError(f"{path}: gives no probabilities; a FER-2013 model ends in a softmax over the 7 emotions.")
    return model


def unreadable_model_reason(path, error):
    """Why Keras could not read the model file at `path`, in words a person can act on."""
    with open(path, "rb") as file:
        head = file.read(8)
    if not head:
        return "the file is empty"
    kind = next((suffix for signature, suffix in MODEL_SIGNATURES.items() if head.startswith(signature)), None)
    if kind is None:
        return "it is not a Keras model file (an HDF5 .h5 file or a .keras zip archive)"
    if path.suffix != kind:
        return f"it is a {kind} model: rename it to end in {kind}, as Keras tells the kinds apart by name"
    if kind == ".keras" and not zipfile.is_zipfile(path) or "truncated file" in str(error):  # h5py's words
        return f"the {kind} file is cut short: copy it again"
    saved_by = saving_keras_version(path, kind)
    if saved_by and version_key(saved_by) > version_key(keras.__version__):
        # Keras reads files of older versions, not of newer ones, whose layer settings it may not know.
        return f"it was saved by Keras {saved_by}, newer than the Keras {keras.__version__} here: upgrade Keras"
    return f"Keras could not read this {kind} file ({type(error).__name__}: {error})"


def saving_keras_version(path, kind):
    """The Keras version a model file records having been saved by, or None."""
    try:
        if kind == ".h5":
            import h5py

            with h5py.File(path, "r") as file:
                version = file.attrs["keras_version"]
            return version.decode() if isinstance(version, bytes) else str(version)
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("metadata.json"))["keras_version"]
    except Exception:  # no record, or none readable: the caller says what Keras said instead
        return None


def version_key(version):
    return tuple(int(number) for number in re.findall(r"\d+", version)[:3])


def ends_in_softmax(model):
    last = model.layers[-1]
    return isinstance(last, keras.layers.Softmax) or getattr(last, "activation", None) is keras.activations.softmax


def load_models(paths):
    if not paths:
        raise InputError(
            f"no models found in {MODELS_DIR}. Train one with 'python3 train_vgg.py', or name them with --models."
        )
    return [load_model(path) for path in paths]


def is_exported(path):
    return pathlib.Path(path).suffix == ".onnx"


def load_exported(path):
    """An onnxruntime session of a file export_model.py wrote (the members, flip averaging
    and mean inside), checked against the model contract; raises InputError otherwise."""
    from ferkit import export

    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file.")
    try:
        session = export.onnx_session(path)
    except Exception as error:  # onnxruntime's own kinds, each with a long message
        reason = str(error).strip().splitlines()[0].rstrip(".") if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: cannot load it as an ONNX model: {reason}.") from None
    (given,), (given_back,) = session.get_inputs(), session.get_outputs()
    if list(given.shape[1:]) != list(INPUT_SHAPE) or list(given_back.shape[1:]) != [NUM_CLASSES]:
        raise InputError(f"{path}: takes {given.shape} and gives {given_back.shape}; a FER-2013 model takes "
                         f"(N, {', '.join(map(str, INPUT_SHAPE))}) and gives (N, {NUM_CLASSES}).")
    return session


def check_keras_files(paths, script, instead=""):
    """Refuses exported files where a script needs the Keras models themselves."""
    for path in paths or []:
        if is_exported(path):
            raise InputError(f"{path}: an exported file; {script} takes Keras model files (.h5 or .keras){instead}.")


def check_model_output(path):
    """Saved models are .h5 files; says so before any work is done."""
    if path.suffix != ".h5":
        raise InputError(f"--output must end in .h5, got {path}.")
    files.check_writable(path, "--output")


def save_model(model, path, learnt_from=()):
    """Writes an inference-only .h5 model, with the face sets it learnt from (provenance)."""
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)  # hides Keras' "HDF5 is legacy" notice: .h5 is this project's format
    try:
        with files.atomic_path(path) as temporary:
            model.save(temporary, include_optimizer=False)
            if learnt_from:
                provenance.write(temporary, learnt_from)
    finally:
        absl_logger.setLevel(level)


def sha256(path):
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
