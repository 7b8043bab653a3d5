"""Keras, loaded once and quietly: `from ferkit.backend import keras`."""
import contextlib
import os
import sys

__all__ = ["keras"]


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


with native_stderr_silenced():
    import keras  # noqa: E402
