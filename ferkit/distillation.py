"""Training targets that blend the labels with other models' predictions (knowledge distillation)."""
import hashlib
import json
import pathlib
import zipfile

import numpy as np

from ferkit import NUM_CLASSES, model_files
from ferkit.backend import keras
from ferkit.files import atomic_path
from ferkit.predictor import Predictor


def training_targets(faces, teacher_paths=None, teacher_weight=0.5, cache_dir=None):
    """One-hot labels; with teachers, blended with the average of their flip-averaged
    predictions, which say what else each face looks like."""
    labels = keras.utils.to_categorical(faces.labels, NUM_CLASSES)
    if not teacher_paths:
        return labels
    taught = teacher_predictions(faces, teacher_paths, cache_dir)
    return (1 - teacher_weight) * labels + teacher_weight * taught.astype("float32")


def teacher_predictions(faces, teacher_paths, cache_dir=None):
    """The teachers' averaged, flip-averaged predictions on faces. Many teachers take
    minutes to predict a training set, so the result is kept in cache_dir under a name
    drawn from the teacher files and the faces, and any later run with the same ones
    reuses it: a resumed run, or the next student of the same teachers."""
    teachers = Predictor(teacher_paths, tta=True)  # first, so that a bad teacher is reported as such
    key = teachers_key(faces, teacher_paths)
    cache_path = pathlib.Path(cache_dir) / cache_name(key) if cache_dir else None
    cached = read_cached_predictions(cache_path, key)
    if cached is not None:
        print(f"reusing the teachers' predictions on the {len(faces)} training faces from {cache_path}")
        return cached
    count = len(teachers.members)
    print(f"predicting the {len(faces)} training faces with {count} teacher{'s' if count > 1 else ''}")
    taught = teachers.predict_faces(faces.images, progress="faces")
    if cache_path:
        with atomic_path(cache_path) as temporary:
            np.savez(temporary, predictions=taught, key=key)
    return taught


def teachers_key(faces, teacher_paths):
    """Names what the predictions came from, by content: the teacher files and the faces."""
    digests = [model_files.sha256(path) for path in teacher_paths]
    return json.dumps({"teachers": digests, "faces": hashlib.sha256(faces.images.tobytes()).hexdigest()})


def cache_name(key):
    return f"teachers-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def read_cached_predictions(cache_path, key):
    if cache_path is None:
        return None
    try:
        with np.load(cache_path) as cached:
            return cached["predictions"] if str(cached["key"]) == key else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        print(f"{cache_path}: damaged (an interrupted copy or a full disk?); predicting again and rebuilding it")
        return None
