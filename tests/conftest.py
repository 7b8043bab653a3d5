import gzip
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from ferkit import CLASS_NAMES  # noqa: E402


def synthetic_faces(num_rows, seed=0):
    """Random 48x48 faces with labels cycling through the seven classes."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(num_rows, 48, 48), dtype=np.uint8)
    labels = np.arange(num_rows) % len(CLASS_NAMES)
    return images, labels


def write_csv(path, images, labels, usage=None, compress=False):
    header = "emotion,pixels" + (",Usage" if usage is not None else "")
    lines = [header]
    for row, (image, label) in enumerate(zip(images, labels)):
        line = f"{label},{' '.join(map(str, image.ravel()))}"
        lines.append(line + (f",{usage[row]}" if usage is not None else ""))
    text = "\n".join(lines) + "\n"
    path = pathlib.Path(path)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.fixture
def train_csv(tmp_path):
    """A train.csv-layout file of 140 rows."""
    return write_csv(tmp_path / "train.csv", *synthetic_faces(140))


@pytest.fixture
def fer2013_csv(tmp_path):
    """A fer2013.csv-layout file: 70 Training, 35 PublicTest and 35 PrivateTest rows."""
    images, labels = synthetic_faces(140, seed=1)
    usage = ["Training"] * 70 + ["PublicTest"] * 35 + ["PrivateTest"] * 35
    return write_csv(tmp_path / "fer2013.csv", images, labels, usage)


def run_script(*args, cwd=PROJECT_DIR, backend=None, env_path=None):
    """Runs a project script as a user would, on `backend` if given, with env_path on
    PYTHONPATH if given; returns the CompletedProcess."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **({"KERAS_BACKEND": backend} if backend else {}),
           **({"PYTHONPATH": str(env_path)} if env_path else {})}
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def run_in_process(script, *args, capsys):
    """Runs a project script's main in this process, as run_script does in a new one,
    without a second start of Keras (seconds each). Native output (TensorFlow's C++
    logging) is not captured, and a signal would reach pytest too: tests of those launch
    the script with run_script. What a run leaves in Keras' global state is reset after."""
    import runpy

    import keras

    argv, cwd = sys.argv, os.getcwd()
    command = [str(PROJECT_DIR / script), *map(str, args)]
    sys.argv = command
    code = 0
    try:
        runpy.run_path(command[0], run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        sys.argv = argv
        os.chdir(cwd)
        keras.mixed_precision.set_global_policy("float32")  # --mixed-precision sets it for the process
        keras.backend.clear_session()
    said = capsys.readouterr()
    return subprocess.CompletedProcess(command, code, said.out, said.err)


def assert_clean_error(result, *fragments):
    """Exit code 2 and, on stderr, nothing but one 'error:' line naming what is wrong."""
    assert result.returncode == 2, result.stdout + result.stderr
    error_lines = result.stderr.strip().splitlines()
    assert len(error_lines) == 1 and error_lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in error_lines[0], error_lines[0]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Two untrained but different contract-meeting models (training is tested elsewhere)."""
    import keras

    from ferkit import models

    folder = tmp_path_factory.mktemp("models")
    paths = []
    for number, builder in ((1, models.build_vgg16), (2, models.build_inception)):
        keras.utils.set_random_seed(number)
        model = builder(width=0.125)
        # Untrained BatchNormalization passes everything through; skew a bias so predictions vary.
        predictions = model.get_layer("predictions")
        predictions.bias.assign(np.linspace(-1, 1, 7).astype("float32") * number)
        path = folder / f"model_{number}.h5"
        model.save(path)
        paths.append(path)
    return paths


# Runs scripts with argparse made strict and harmless: each command line is parsed in full
# (unknown flags and bad values fail as they would), then the script stops before any work.
# One process for all the commands given, so Keras is imported once.
PARSE_ONLY = """
import argparse, contextlib, io, json, runpy, sys
def parse_only(self, args=None, namespace=None):
    namespace, extra = self.parse_known_args(args, namespace)
    if extra:
        self.error("unrecognized arguments: " + " ".join(extra))
    raise SystemExit(0)
argparse.ArgumentParser.parse_args = parse_only
sys.path.insert(0, ".")
failures = []
for argv in json.loads(sys.argv[1]):
    sys.argv = argv
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as stop:
        code = stop.code
    if code not in (0, None):
        failures.append(" ".join(argv) + ": " + said.getvalue()[-500:])
print(json.dumps(failures))
"""


def unparsed(argvs):
    """The command lines (script, flags...) that the scripts' argparse refuses, each with
    what it said."""
    result = subprocess.run([sys.executable, "-c", PARSE_ONLY, json.dumps(argvs)], cwd=PROJECT_DIR,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def pytest_collection_modifyitems(items):
    """Marks the tests that launch a script or another Python, or train a model, as slow:
    each start of Keras, and each training step's tracing, costs seconds. `pytest -m "not
    slow"` runs the rest."""
    import inspect

    for item in items:
        source = inspect.getsource(item.function) if hasattr(item, "function") else ""
        if any(sign in source for sign in ("run_script(", "subprocess.", 'run_in_process("train_', "run_in_process(script")):
            item.add_marker(pytest.mark.slow)
