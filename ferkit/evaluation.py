"""Predicting with models, averaging their answers, and scoring them."""
import numpy as np

from ferkit import CLASS_NAMES, NUM_CLASSES, InputError, cli, models
from ferkit.backend import keras


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
    table = metrics.classification_report(labels, predictions, labels=classes, target_names=CLASS_NAMES,
                                          output_dict=True, zero_division=0)

    def scores(row):
        return {"precision": float(row["precision"]), "recall": float(row["recall"]), "f1": float(row["f1-score"])}

    return {
        "accuracy": float(metrics.accuracy_score(labels, predictions)),
        "confusion_matrix": metrics.confusion_matrix(labels, predictions, labels=classes).tolist(),
        "classes": {name: {**scores(table[name]), "support": int(table[name]["support"])} for name in CLASS_NAMES},
        "macro": scores(table["macro avg"]),
        "weighted": scores(table["weighted avg"]),
    }


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
