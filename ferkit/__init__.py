"""Shared code of the FER-2013 scripts: data, models, training, evaluation, faces."""
import contextlib
import os
import pathlib
import sys

CACHE_DIR = pathlib.Path.home() / ".cache" / "ferkit"  # where files are kept that speed up later runs

# TensorFlow's C++ start-up chatter hides the messages users need to read.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# On JAX, building a model compiles a random initializer for each weight shape before the
# saved weights replace it, and the first prediction compiles each layer: over a minute
# for the ensemble on a CPU. JAX's persistent cache keeps those programs between runs.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHE_DIR / "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

CLASS_NAMES = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 48
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


class InputError(Exception):
    """A problem with what the user gave us; the scripts print it and exit with code 2."""


@contextlib.contextmanager
def native_stderr_silenced():
    """Sends what C++ libraries write to stderr to /dev/null. TensorFlow 2.19 and newer
    print start-up lines on import (oneDNN, CUDA drivers) that TF_CPP_MIN_LOG_LEVEL no
    longer silences, and they would bury a script's one-line error message."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# Keras loads its backend on import; do it here, once, so that every script loads it quietly.
with native_stderr_silenced():
    import keras  # noqa: E402,F401
