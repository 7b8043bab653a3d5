"""Which faces a model learnt from, recorded in its file, so that a test on those same
faces can say that its figures overstate the model.

The record is a list of face sets (face_sets): the rows the model trained on, and
those of the model it started from (--init), of its teachers (--teacher) and of the
snapshots averaged into it.
"""
import json

import numpy as np

from ferkit import IMAGE_SIZE, NUM_CLASSES, cli, data

ATTRIBUTE = "ferkit_learnt_from"
FIELDS = {"class_counts", "mean_faces", "rows", "faces"}
GREY_LEVELS_APART = 3  # at most, in any cell of the mean faces (pool_key), for two copies of one pool
MEAN_FACE_SIZE = 4


def read(path):
    """The face sets a model file records; [] for a file without a record."""
    import h5py  # imported late, as evaluation does, to leave the backend's start-up alone

    try:
        with h5py.File(path, "r") as file:
            record = json.loads(file.attrs.get(ATTRIBUTE, "[]"))
    except (OSError, ValueError):
        return []
    if not isinstance(record, list):
        return []
    return [face_set for face_set in record if isinstance(face_set, dict) and FIELDS <= face_set.keys()]


def write(path, face_sets):
    import h5py

    with h5py.File(path, "r+") as file:
        file.attrs[ATTRIBUTE] = json.dumps(face_sets)


def merged(*records):
    """The face sets of several records, each once."""
    unique = []
    for face_set in (face_set for record in records for face_set in record):
        if face_set not in unique:
            unique.append(face_set)
    return unique


def inherited(paths):
    """The face sets recorded in the model files at `paths` (None entries skipped)."""
    return merged(*(read(path) for path in paths if path))


def faces_seen(learnt_from, tested_on):
    """How many of the faces in the sets `tested_on` are, as far as the records tell, among
    those in `learnt_from`."""
    return sum(max((overlap(learnt, tested) for learnt in learnt_from), default=0) for tested in tested_on or [])


def same_pool(first, second):
    return first["class_counts"] == second["class_counts"] and np.allclose(
        first["mean_faces"], second["mean_faces"], rtol=0, atol=GREY_LEVELS_APART
    )


def overlap(learnt, tested):
    if not same_pool(learnt, tested):
        return 0
    if learnt["rows"] in ("all", tested["rows"]):
        return tested["faces"]
    if tested["rows"] == "all":
        return learnt["faces"]  # one part of the seeded split, inside the whole pool tested
    return 0  # two parts of the seeded split, which share no rows


def face_sets(dataset, split, num_faces):
    """Where the rows of one split come from, in terms another copy of the same data shares:
    each pool of rows (a Usage group, or a whole file without a Usage column), known by its
    class counts and its mean face per class (pool_key), and which of the pool's rows: "all",
    or one part of the seeded split. The competition's train.csv and fer2013.csv's Training
    rows are so one pool."""
    if dataset.usage is None:
        return [{**pool_key(dataset.images, dataset.labels), "rows": split, "faces": num_faces}]
    codes = range(len(data.USAGES)) if split == "all" else [data.SPLITS.index(split)]
    groups = [dataset.usage == code for code in codes]
    return [{**pool_key(dataset.images[rows], dataset.labels[rows]), "rows": "all", "faces": int(rows.sum())}
            for rows in groups if rows.any()]


def pool_key(images, labels):
    """Class counts and, per class, the mean face at 4x4: unlike a hash of the pixels, both
    survive the few grey levels by which copies of FER-2013 decoded from JPEGs differ."""
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    cells = IMAGE_SIZE // MEAN_FACE_SIZE
    means = [images[labels == label].reshape(-1, MEAN_FACE_SIZE, cells, MEAN_FACE_SIZE, cells).mean(axis=(0, 2, 4))
             if count else np.zeros((MEAN_FACE_SIZE, MEAN_FACE_SIZE)) for label, count in enumerate(counts)]
    return {"class_counts": counts.tolist(), "mean_faces": np.round(means, 1).tolist()}


def learnt_faces_warning(report):
    """Says which models learnt from the faces tested on, whose figures then mean little: say,
    the shipped models, trained on FER-2013's Training rows, tested on the competition's train.csv."""
    total = report["num_faces"]
    seen = {entry["path"]: entry["faces_learnt_from"] for entry in report["models"] if entry["faces_learnt_from"]}
    if not seen:
        return None
    others = [entry["path"] for entry in report["models"] if entry["path"] not in seen]
    if len(seen) > 1 and not others:
        who = "both models" if len(seen) == 2 else f"all {len(seen)} models"
    elif len(seen) > len(others) > 0:
        who = f"{len(seen)} of the {len(report['models'])} models (all but {', '.join(map(cli.shown_path, others))})"
    else:
        who = ", ".join(map(cli.shown_path, seen))
    low, high = min(seen.values()), max(seen.values())
    how_many = "all" if low == total else f"{low}" if low == high else f"{low} to {high}"
    return (f"{who} learnt from {how_many} of the {total} faces tested, so these figures overstate how they do "
            "on faces they have not seen. Test them on others: fer2013.csv's PublicTest or PrivateTest rows, or "
            "the test/ folder of FER-2013's picture edition (docs/TRAINING.md, 'Getting FER-2013').")
