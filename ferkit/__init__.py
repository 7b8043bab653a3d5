"""Shared code of the FER-2013 scripts: data, models, training, evaluation, faces."""
import os
import pathlib

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
