"""Which faces a model learnt from, recorded in its file, so that a test on those same
faces can say that its figures overstate the model.

The record is a list of face sets (data.face_sets): the rows the model trained on, and
those of the model it started from (--init), of its teachers (--teacher) and of the
snapshots averaged into it.
"""
import json

import numpy as np

ATTRIBUTE = "ferkit_learnt_from"
FIELDS = {"class_counts", "mean_faces", "rows", "faces"}
GREY_LEVELS_APART = 3  # at most, in any cell of the mean faces (data.pool_key), for two copies of one pool


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
