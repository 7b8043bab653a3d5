"""Loading models, ensembling their predictions, and scoring them."""
import hashlib
import json
import pathlib
import re
import zipfile

import numpy as np

from ferkit import CLASS_NAMES, INPUT_SHAPE, NUM_CLASSES, InputError, cli, models
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
    models.allow_jit(model)  # older files hold augmentation layers, which would keep JAX from compiling
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
    if isinstance(last, keras.Model):  # older files nest the network inside its training wrapper
        return ends_in_softmax(last)
    return isinstance(last, keras.layers.Softmax) or getattr(last, "activation", None) is keras.activations.softmax


def load_models(paths):
    if not paths:
        raise InputError(
            f"no models found in {MODELS_DIR}. Train one with 'python3 train_vgg.py', or name them with --models."
        )
    return [load_model(path) for path in paths]


def predict(model, images, batch_size=256, flip=False, verbose=None):
    """Softmax outputs for (N, 48, 48) uint8 faces; flip=True mirrors them left to right first."""
    faces = models.as_input(images)
    if flip:
        faces = faces[:, :, ::-1]
    if len(faces) <= batch_size:
        # A direct call skips building a predict function, which for a photo's few faces
        # costs more than predicting them and is rebuilt for every new number of faces.
        return keras.ops.convert_to_numpy(model(faces, training=False))
    return model.predict(faces, batch_size=batch_size, verbose=cli.keras_verbosity() if verbose is None else verbose)


def check_weights(weights, num_models):
    """Raises InputError unless weights (or None, equal weights) can average num_models models."""
    if weights is None:
        return
    if len(weights) != num_models:
        raise InputError(f"--weights has {len(weights)} values for {num_models} models.")
    if min(weights) < 0 or sum(weights) <= 0:
        raise InputError(f"--weights must be zero or more, at least one of them above zero; got {weights}.")


def average(probabilities, weights=None):
    """Weighted mean of a list of (N, 7) probability arrays."""
    return np.average(np.stack(probabilities), axis=0, weights=weights)


def score(labels, probabilities):
    """Accuracy, confusion matrix and per-class scores as plain Python values."""
    from sklearn import metrics

    predictions = probabilities.argmax(axis=1)
    classes = list(range(NUM_CLASSES))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        labels, predictions, labels=classes, zero_division=0
    )
    result = {
        "accuracy": float(metrics.accuracy_score(labels, predictions)),
        "confusion_matrix": metrics.confusion_matrix(labels, predictions, labels=classes).tolist(),
        "classes": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(CLASS_NAMES, precision, recall, f1, support)
        },
    }
    for average_kind in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(
            labels, predictions, labels=classes, average=average_kind, zero_division=0
        )
        result[average_kind] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return result


def confident_mistakes(labels, probabilities, per_class):
    """For each true class, the indices of up to per_class faces predicted wrongly, the
    most confident answer first: where the model is surest and wrong, the label is often
    what is wrong, or the face could be read either way."""
    predictions = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    chosen = []
    for label in range(NUM_CLASSES):
        wrong = np.flatnonzero((labels == label) & (predictions != label))
        chosen.append(wrong[np.argsort(-confidence[wrong], kind="stable")][:per_class])
    return chosen


def format_confusion_matrix(matrix):
    width = max(len(name) for name in CLASS_NAMES) + 1
    lines = ["rows are true labels, columns are predictions", " " * width + "".join(f"{n[:7]:>8}" for n in CLASS_NAMES)]
    for name, row in zip(CLASS_NAMES, matrix):
        lines.append(f"{name:<{width}}" + "".join(f"{count:>8}" for count in row))
    return "\n".join(lines)


def format_class_scores(scores):
    lines = [f"{'':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, values in scores["classes"].items():
        lines.append(f"{name:<14}{values['precision']:>10.3f}{values['recall']:>10.3f}{values['f1']:>10.3f}{values['support']:>10}")
    total = sum(values["support"] for values in scores["classes"].values())
    for average_kind in ("macro", "weighted"):
        values = scores[average_kind]
        lines.append(f"{average_kind + ' avg':<14}{values['precision']:>10.3f}{values['recall']:>10.3f}{values['f1']:>10.3f}{total:>10}")
    return "\n".join(lines)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
