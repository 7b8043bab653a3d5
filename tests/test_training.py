"""Every training script end to end on tiny data, as a user runs it."""
import csv
import importlib.util
import os
import signal
import subprocess
import sys
import types

import numpy as np
import pytest

from conftest import PROJECT_DIR, assert_clean_error, run_in_process, run_script, synthetic_faces, write_csv
from ferkit import data, model_files, provenance

# Batches of 7 divide every split of the synthetic files (112 and 70 training faces, 14 and
# 35 validation faces): no last, smaller batch for TensorFlow to trace the steps again for.
TINY = ("--epochs", "1", "--batch-size", "7", "--width", "0.125")
SCRIPTS = ("train_vgg.py", "train_inception.py", "train_vgg_transfer_learning.py")


def history_rows(model_path):
    with open(model_path.with_name(model_path.stem + ".history.csv")) as file:
        return list(csv.DictReader(file))


def assert_meets_model_contract(model_path):
    model = model_files.load_model(model_path)  # safe mode
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, 7)
    faces = np.random.default_rng(0).integers(0, 256, size=(5, 48, 48, 1)).astype("float32")
    probabilities = model.predict(faces, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert (probabilities >= 0).all()


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_trains_and_saves_a_model_that_meets_the_contract(script, fer2013_csv, tmp_path, capsys):
    output = tmp_path / "models" / "model.h5"
    extra = ("--weights", "none") if "transfer" in script else ()
    result = run_in_process(script, "--data", fer2013_csv, "--output", output, *TINY, *extra, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert f"saved {output}" in result.stdout
    assert_meets_model_contract(output)
    assert [row["epoch"] for row in history_rows(output)] == ["1"]
    assert output.with_name("model.history.png").read_bytes().startswith(b"\x89PNG")


def test_augmentation_changes_faces_in_training_only_and_is_not_saved(fer2013_csv, tmp_path, capsys):
    import keras

    from ferkit import models

    augment = keras.Sequential(models.augmentation_layers("full"))
    faces = np.random.default_rng(0).integers(0, 256, size=(8, 48, 48, 1)).astype("float32")
    assert not np.allclose(keras.ops.convert_to_numpy(augment(faces, training=True)), faces)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(faces, training=False)), faces)

    output = tmp_path / "model.h5"
    result = run_in_process("train_vgg.py", "--data", fer2013_csv, "--output", output, *TINY, "--augment", "full", capsys=capsys)
    assert result.returncode == 0, result.stderr
    saved = model_files.load_model(output)
    assert not [layer.name for layer in saved.layers if layer.name.startswith("aug_")]


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_jax_compiles_the_training_step_through_the_augmentation(tmp_path):
    # Without XLA, JAX runs a step op by op: many times slower, on a GPU above all.
    program = """
import pathlib
import numpy as np
from ferkit import models, runs, training
trainer = models.for_training(models.build_vgg16(0.125), "full")
training.compile_model(trainer, 0.01)
assert trainer.jit_compile, "training step not compiled"
faces = np.random.default_rng(0).integers(0, 256, size=(16, 48, 48, 1)).astype("float32")
history = trainer.fit(faces, np.eye(7)[np.arange(16) % 7], batch_size=8, epochs=1, verbose=0)
print("loss", history.history["loss"][0])
# Loading a compiled model decides anew, without the augmentation: a resumed run compiles too.
runs.save_resume_point(trainer, {"epoch": 1, "best": 0.0}, pathlib.Path("{resume}"), pathlib.Path("{resume}.json"))
assert runs.load_resume_point(pathlib.Path("{resume}"), pathlib.Path("{resume}.json"))[0].jit_compile, \
    "resumed training step not compiled"
"""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    program = program.replace("{resume}", str(tmp_path / "model.resume.keras"))
    result = subprocess.run([sys.executable, "-c", program], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert "loss" in result.stdout
    assert "jit_compile=False" not in result.stderr  # no warning that says the opposite


def test_transfer_loads_base_weights_from_a_local_file(train_csv, tmp_path, capsys):
    import keras

    weights = tmp_path / "vgg16_notop.weights.h5"
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(48, 48, 3))
    base.layers[1].kernel.assign(np.full(base.layers[1].kernel.shape, 0.5, dtype="float32"))
    base.save_weights(weights)
    output = tmp_path / "model.h5"
    result = run_in_process("train_vgg_transfer_learning.py", "--data", train_csv, "--output", output,
                            "--weights", weights, "--fine-tune-epochs", "0", *TINY, capsys=capsys)
    assert result.returncode == 0, result.stderr
    first_kernel = model_files.load_model(output).get_layer("vgg16").layers[1].kernel
    # Frozen base: the file's weights come through training untouched.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first_kernel), 0.5)

    # Started from that model, the base keeps its weights, and no ImageNet weights are sought.
    tuned = tmp_path / "tuned.h5"
    result = run_in_process("train_vgg_transfer_learning.py", "--data", train_csv, "--output", tuned,
                            "--init", output, "--fine-tune-epochs", "0", *TINY, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr
    first_kernel = model_files.load_model(tuned).get_layer("vgg16").layers[1].kernel
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(first_kernel), 0.5)


def test_resume_continues_from_the_last_finished_epoch(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    first = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY, "--schedule", "plateau",
                           "--lr", "0.01", capsys=capsys)
    assert first.returncode == 0, first.stderr
    resumed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "2",
                             "--lr", "0.003", "--resume", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stdout
    assert "resuming with --epochs 2 (the run had 1)" in resumed.stdout
    assert "Epoch 2/2" in resumed.stdout and "Epoch 1/2" not in resumed.stdout
    rows = history_rows(output)
    assert [row["epoch"] for row in rows] == ["1", "2"]
    # A learning rate given again takes over from the one the optimizer had reached.
    np.testing.assert_allclose([float(row["learning_rate"]) for row in rows], [0.01, 0.003], rtol=1e-5)


def test_init_starts_a_run_from_a_saved_models_weights(train_csv, tmp_path, capsys):
    # Say, a shipped model fine-tuned on one's own faces.
    import keras

    start = tmp_path / "start.h5"
    assert run_in_process("train_vgg.py", "--data", train_csv, "--output", start, *TINY, capsys=capsys).returncode == 0
    tuned = tmp_path / "tuned.h5"
    result = run_in_process("train_vgg.py", "--data", train_csv, "--output", tuned, *TINY, "--seed", "5",
                            "--init", start, "--lr", "1e-9", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert f"starting from the weights of {start}" in result.stdout
    kernels = [keras.ops.convert_to_numpy(model_files.load_model(path).get_layer("fc2").kernel) for path in (start, tuned)]
    np.testing.assert_allclose(kernels[1], kernels[0], atol=1e-6)  # a learning rate of 1e-9 leaves them be

    wider = run_in_process("train_vgg.py", "--data", train_csv, "--output", tmp_path / "wider.h5", *TINY[:4],
                           "--width", "0.25", "--init", start, capsys=capsys)
    assert_clean_error(wider, str(start), "does not fit", "block1_conv1", "--width")
    inception = run_in_process("train_inception.py", "--data", train_csv, "--output", tmp_path / "inception.h5", *TINY,
                               "--init", start, capsys=capsys)
    assert_clean_error(inception, "does not fit", "it has no layer")


def test_a_model_records_the_faces_it_and_its_init_model_learnt_from(fer2013_csv, tmp_path, capsys):
    start = tmp_path / "start.h5"
    assert run_in_process("train_vgg.py", "--data", fer2013_csv, "--output", start, *TINY, capsys=capsys).returncode == 0
    assert provenance.read(start) == data.load_splits(fer2013_csv)[0].origin
    # Fine-tuned on a train.csv of the same Training rows: its validation faces are ones the start model learnt.
    full = data.load_dataset(fer2013_csv)
    training = full.usage == data.USAGES.index("Training")
    train_csv = write_csv(tmp_path / "train.csv", full.images[training], full.labels[training])
    tuned = tmp_path / "tuned.h5"
    result = run_in_process("train_vgg.py", "--data", train_csv, "--output", tuned, *TINY, "--init", start, capsys=capsys)
    assert result.returncode == 0, result.stderr
    val_faces = len(data.load_splits(train_csv)[1])
    assert f"the --init or --teacher models learnt from {val_faces} of the {val_faces} validation faces" in result.stdout
    assert provenance.read(tuned) == data.load_splits(train_csv)[0].origin + provenance.read(start)


def save_teacher(path, seed):
    """A model meeting the contract whose outputs differ from face to face and from each face's mirror image."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 1))
    scaled = keras.layers.Rescaling(1 / 255)(keras.layers.Flatten()(inputs))
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(scaled)).save(path)
    return path


def test_teachers_predictions_mirrored_and_averaged_join_the_labels_as_targets(tmp_path):
    from ferkit import data, distillation

    images, labels = synthetic_faces(20)
    faces = data.Dataset(images, labels, None, tmp_path)
    paths = [save_teacher(tmp_path / f"teacher_{seed}.h5", seed) for seed in (1, 2)]
    targets = distillation.training_targets(faces, paths, teacher_weight=0.3)

    pixels = images[..., np.newaxis].astype("float32")
    predictions = [model_files.load_model(path).predict(batch, verbose=0)
                   for path in paths for batch in (pixels, pixels[:, :, ::-1])]
    assert not np.allclose(predictions[0], predictions[1])  # the mirror image counts
    expected = 0.7 * np.eye(7)[labels] + 0.3 * np.mean(predictions, axis=0)
    np.testing.assert_allclose(targets, expected, atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(distillation.training_targets(faces), np.eye(7)[labels])


def test_teachers_predictions_serve_the_resumed_run_and_the_next_student_beside_it(train_csv, tmp_path, capsys):
    teacher = save_teacher(tmp_path / "teacher.h5", seed=1)
    output = tmp_path / "model.h5"
    timed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "2",
                           "--teacher", teacher, "--time-limit", "0.001", capsys=capsys)
    assert timed.returncode == 0, timed.stderr
    assert "predicting the 112 training faces with 1 teacher\n" in timed.stdout
    resumed = run_in_process("train_vgg.py", "--output", output, "--resume", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "reusing the teachers' predictions on the 112 training faces" in resumed.stdout
    assert "predicting" not in resumed.stdout
    assert [row["epoch"] for row in history_rows(output)] == ["1", "2"]
    assert_meets_model_contract(output)

    student = run_in_process("train_vgg.py", "--data", train_csv, "--output", tmp_path / "student.h5", *TINY, "--seed", "2",
                             "--teacher", teacher, capsys=capsys)
    assert student.returncode == 0, student.stderr
    assert "reusing the teachers' predictions on the 112 training faces" in student.stdout


def test_teachers_predictions_are_reused_only_while_teachers_and_faces_are_unchanged(tmp_path):
    from ferkit import data, distillation

    images, labels = synthetic_faces(20)
    faces = data.Dataset(images, labels, None, tmp_path)
    teacher = save_teacher(tmp_path / "teacher.h5", seed=1)
    cache = tmp_path / "cache"
    cache.mkdir()
    first = distillation.teacher_predictions(faces, [teacher], cache)

    [cached_file] = cache.iterdir()
    with np.load(cached_file) as cached:  # a stand-in result shows whether the next call read it
        np.savez(cached_file, predictions=np.full_like(first, 1 / 7), key=cached["key"])
    np.testing.assert_allclose(distillation.teacher_predictions(faces, [teacher], cache), 1 / 7)

    other_faces = data.Dataset(images[::-1].copy(), labels[::-1].copy(), None, tmp_path)
    np.testing.assert_allclose(distillation.teacher_predictions(other_faces, [teacher], cache), first[::-1], atol=1e-6)

    retrained = save_teacher(teacher, seed=2)
    np.testing.assert_allclose(distillation.teacher_predictions(faces, [retrained], cache),
                               distillation.teacher_predictions(faces, [retrained]), atol=1e-6)
    assert not np.allclose(distillation.teacher_predictions(faces, [retrained], cache), first)


def test_time_limit_ends_the_run_after_an_epoch_and_resume_finishes_it(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    timed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "2",
                           "--time-limit", "0.001", capsys=capsys)
    assert timed.returncode == 0, timed.stderr
    assert "time limit reached after epoch 1" in timed.stdout
    assert_meets_model_contract(output)
    # The limit passes again in the last epoch: the run is over, with nothing left to resume.
    resumed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, "--resume", "--time-limit", "0.001", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "time limit reached" not in resumed.stdout
    assert [row["epoch"] for row in history_rows(output)] == ["1", "2"]


def fitted_run(epochs, deadline):
    """A FitToTime over a cosine curve of `epochs`, on a clock the test moves."""
    from ferkit import callbacks

    clock = [0.0]
    schedule = callbacks.CosineSchedule(0, epochs, 0.01)
    state = {"settings": {"epochs": epochs}}
    fit = callbacks.FitToTime(schedule, deadline, state, clock=lambda: clock[0])
    fit.set_model(types.SimpleNamespace(stop_training=False))

    def epoch(number, seconds):
        fit.on_epoch_begin(number)
        clock[0] += seconds
        fit.on_epoch_end(number)
        return schedule.end, fit.model.stop_training

    return epoch, state


def test_fit_to_time_ends_the_cosine_curve_as_the_time_runs_out():
    epoch, state = fitted_run(100, deadline=160.0)
    # The first epoch compiles and sets no pace; at 10 s an epoch, 100 s left is 10 more.
    assert epoch(0, 50) == (100, False)
    for number in range(1, 11):
        assert epoch(number, 10) == (12, False)
    assert state["settings"]["epochs"] == 12  # what --resume will follow
    assert epoch(11, 10) == (12, True)  # at 160 s, the deadline


def test_fit_to_time_moves_the_end_earlier_when_epochs_slow_down():
    epoch, state = fitted_run(100, deadline=160.0)
    epoch(0, 50)
    assert epoch(1, 10) == (12, False)
    # 25 s an epoch now, and 60 s left: two more.
    assert epoch(2, 40) == (5, False)
    assert state["settings"]["epochs"] == 5


def test_fit_to_time_follows_a_machine_that_speeds_up():
    epoch, _ = fitted_run(100, deadline=400.0)
    epoch(0, 50)
    assert epoch(1, 40) == (9, False)
    epoch(2, 40)
    # Three epochs at 10 s set the pace: 240 s left is 24 more, the slow start forgotten.
    for number in (3, 4):
        epoch(number, 10)
    assert epoch(5, 10) == (30, False)


def test_fit_to_time_never_runs_past_the_runs_epochs():
    epoch, _ = fitted_run(3, deadline=1000.0)
    assert [epoch(number, 1) for number in range(3)] == [(3, False), (3, False), (3, True)]


def test_ctrl_c_says_what_was_kept_and_resume_goes_on_from_there(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    command = [sys.executable, PROJECT_DIR / "train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:],
               "--epochs", "40", "--patience", "40"]
    # As from a terminal: SIGINT's default handler, which a shell's background job would not have.
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in run.stdout:
        if line.startswith("Epoch 3/"):
            break
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 130, stderr
    finished = len(history_rows(output))
    assert f"interrupted. Epoch {finished} was the last to finish" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr

    resumed = run_in_process("train_vgg.py", "--output", output, "--resume", "--epochs", str(finished + 1), capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming after epoch {finished}" in resumed.stdout
    assert len(history_rows(output)) == finished + 1


def test_resuming_a_finished_run_says_so_and_a_larger_patience_or_epochs_trains_on(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    first = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "8",
                           "--patience", "1", capsys=capsys)
    assert "stopped early" in first.stdout, first.stdout + first.stderr
    stopped_after = len(history_rows(output))

    again = run_in_process("train_vgg.py", "--output", output, "--resume", capsys=capsys)
    assert again.returncode == 0, again.stderr
    assert f"nothing to resume: the run stopped early after epoch {stopped_after}" in again.stdout
    assert "validation faces" not in again.stdout  # told before loading the data

    patient = run_in_process("train_vgg.py", "--output", output, "--resume", "--patience", "20",
                             "--epochs", str(stopped_after + 1), capsys=capsys)
    assert patient.returncode == 0, patient.stderr
    assert f"Epoch {stopped_after + 1}/{stopped_after + 1}" in patient.stdout
    assert len(history_rows(output)) == stopped_after + 1

    over = run_in_process("train_vgg.py", "--output", output, "--resume", capsys=capsys)
    assert over.returncode == 0, over.stderr
    assert f"nothing to resume: the run has trained all its {stopped_after + 1} epochs" in over.stdout


def test_resume_alone_continues_the_run_as_it_started_and_cosine_keeps_its_curve(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    timed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "3",
                           "--schedule", "cosine", "--lr", "0.02", "--time-limit", "0.001", capsys=capsys)
    assert timed.returncode == 0, timed.stderr
    # Data, epochs, schedule and learning rate come from the resume point; the width is
    # built into the model, so a new one is refused with a warning.
    resumed = run_in_process("train_vgg.py", "--output", output, "--resume", "--width", "0.5", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "--width stays 0.125" in resumed.stderr
    assert f"{train_csv.resolve()}: " in resumed.stdout
    # 0.02 * (1 + cos(pi * epoch / 3)) / 2 for epochs 0, 1, 2: the curve, not plateau halving.
    rates = [float(row["learning_rate"]) for row in history_rows(output)]
    np.testing.assert_allclose(rates, [0.02, 0.015, 0.005], rtol=1e-5)


def test_mixed_precision_trains_in_bfloat16_and_saves_the_learnt_weights_in_float32(train_csv, tmp_path, capsys):
    import keras

    output = tmp_path / "model.h5"
    started = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "2",
                             "--mixed-precision", "--time-limit", "0.001", capsys=capsys)
    assert started.returncode == 0, started.stderr
    trainer = keras.models.load_model(output.with_name("model.resume.keras"))
    learnt = trainer.layers[-1]
    assert learnt.get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"
    saved = model_files.load_model(output)
    assert {layer.dtype_policy.name for layer in saved.layers} == {"float32"}
    # Epoch 1 is the best so far, so the saved model holds the weights the resume point does.
    assert len(saved.get_weights()) == len(learnt.get_weights())
    for kept, trained in zip(saved.get_weights(), learnt.get_weights()):
        np.testing.assert_array_equal(kept, trained)

    resumed = run_in_process("train_vgg.py", "--output", output, "--resume", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "Epoch 2/2" in resumed.stdout
    resumed_trainer = keras.models.load_model(output.with_name("model.resume.keras"))
    assert resumed_trainer.layers[-1].get_layer("block1_conv1").dtype_policy.name == "mixed_bfloat16"
    assert_meets_model_contract(output)


def test_the_float32_copy_of_a_mixed_precision_model_reaches_into_nested_models():
    # The transfer model holds VGG-16's base as a model inside the model.
    from ferkit import models, training

    training.set_precision(True)
    try:
        mixed = models.build_vgg16_transfer(None, image_size=48, head_width=0.125)
    finally:
        training.set_precision(False)
    assert mixed.get_layer("vgg16").layers[1].dtype_policy.name == "mixed_bfloat16"
    export = training.float32_exporter()
    copy = export(mixed)
    nested = copy.get_layer("vgg16")
    assert {layer.dtype_policy.name for layer in copy.layers + nested.layers} == {"float32"}
    for kept, trained in zip(copy.get_weights(), mixed.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, trained)
    faces = np.random.default_rng(0).integers(0, 256, size=(4, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(copy.predict(faces, verbose=0), mixed.predict(faces, verbose=0), atol=0.05)
    assert export(mixed) is copy  # made once, then given each new set of weights


def test_a_mixed_precision_run_builds_its_model_once(train_csv, tmp_path):
    # Building is what fetches the transfer model's ImageNet weights; once is enough.
    from ferkit import models, runs, training

    builds = []

    def build():
        builds.append(len(builds))
        return models.build_vgg16(width=0.125)

    argv = ["--data", str(train_csv), "--output", str(tmp_path / "model.h5"), *TINY, "--mixed-precision"]
    args = runs.parse_args(runs.training_parser("test", model_file="model_1.h5", epochs=1), argv)
    try:
        training.train(build, args)
    finally:
        training.set_precision(False)
    assert builds == [0]
    assert_meets_model_contract(tmp_path / "model.h5")


def test_a_cosine_run_goes_to_the_end_of_its_curve_unless_a_patience_is_given():
    from ferkit import runs

    def patience(*argv):
        return runs.parse_args(runs.training_parser("test", model_file="model_1.h5", epochs=30), list(argv)).patience

    assert patience() == 30 and patience("--epochs", "50") == 50
    assert patience("--schedule", "plateau") == runs.PLATEAU_PATIENCE
    assert patience("--patience", "5") == 5 == patience("--schedule", "plateau", "--patience", "5")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_a_run_started_on_jax_resumes_on_tensorflow(train_csv, tmp_path):
    # Say, started on a GPU machine and finished on a laptop.
    output = tmp_path / "model.h5"
    started = run_script("train_vgg.py", "--data", train_csv, "--output", output, *TINY[2:], "--epochs", "2",
                         "--time-limit", "0.001", backend="jax")
    assert started.returncode == 0, started.stderr
    resumed = run_script("train_vgg.py", "--output", output, "--resume", backend="tensorflow")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stdout
    assert [row["epoch"] for row in history_rows(output)] == ["1", "2"]
    assert_meets_model_contract(output)


def test_a_rerun_with_the_same_seed_gives_the_same_accuracy_and_says_it_replaces_the_model(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    accuracies, notices = [], []
    for _ in range(2):
        result = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY, "--seed", "3", capsys=capsys)
        assert result.returncode == 0, result.stderr
        accuracies.append([row["val_accuracy"] for row in history_rows(output)])
        notices.append(f"{output} exists" in result.stdout)
    assert accuracies[0] == accuracies[1]
    assert notices == [False, True]


def test_an_interrupted_save_leaves_the_previous_model_intact(tmp_path):
    from ferkit import files

    target = tmp_path / "model.h5"
    target.write_bytes(b"previous model")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as temporary:
            open(temporary, "wb").write(b"half a mod")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"previous model"
    assert [path.name for path in tmp_path.iterdir()] == ["model.h5"]


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder this process cannot write in: read-only by its mode, or, for root, whom modes
    do not stop, a read-only file system mounted on it."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_folder_without_write_permission_is_refused_before_the_work(unwritable_folder, tmp_path):
    from ferkit import InputError

    with pytest.raises(InputError, match=f"no permission to write in {unwritable_folder}"):
        model_files.check_model_output(unwritable_folder / "runs" / "model.h5")
    model_files.check_model_output(tmp_path / "runs" / "model.h5")


@pytest.mark.parametrize("corrupt", ["model.resume.json", "model.resume.keras"])
def test_a_corrupt_resume_point_is_named_in_the_error(corrupt, train_csv, tmp_path, capsys):
    (tmp_path / "model.resume.json").write_text('{"epoch": 1, "best": 0.5}')
    (tmp_path / "model.resume.keras").write_bytes(b"not a model")
    (tmp_path / corrupt).write_text("{half written")
    result = run_in_process("train_vgg.py", "--data", train_csv, "--output", tmp_path / "model.h5", "--resume", capsys=capsys)
    assert_clean_error(result, str(tmp_path / corrupt), "cannot resume")


@pytest.mark.parametrize(
    "arguments, fragments",
    [
        (("--data", "{tmp}/nowhere.csv"), ["nowhere.csv: no such file", "Kaggle"]),
        (("--data", "{bad}"), ["bad.csv", "line 3", "--skip-bad-rows"]),
        (("--data", "{good}", "--resume"), ["nothing to resume"]),
        (("--resume",), ["nothing to resume"]),  # said before looking for the default data file
        (("--data", "{good}", "--width", "9"), ["--width"]),
        (("--data", "{good}", "--output", "{tmp}/model.keras"), ["must end in .h5"]),
        (("--data", "{good}", "--output", "{good}/runs/model.h5"), ["good.csv is a file, not a folder"]),
        (("--data", "{good}", "--init", "{bad}"), ["bad.csv", "not a Keras model file"]),
        (("--data", "{good}", "--init", "{tmp}/model.h5"), ["overwrite the model it starts from"]),
        (("--data", "{good}", "--teacher", "{tmp}/nowhere.h5"), ["nowhere.h5: no such model file"]),
        (("--data", "{good}", "--teacher", "{bad}"), ["bad.csv", "not a Keras model file"]),
        (("--data", "{good}", "--fit-to-time", "--schedule", "plateau", "--time-limit", "5"),
             ["--fit-to-time", "--schedule cosine"]),
        (("--data", "{good}", "--fit-to-time", "--schedule", "cosine"), ["--fit-to-time", "--time-limit"]),
    ],
)
def test_bad_input_gives_one_clear_error(arguments, fragments, tmp_path, capsys):
    images, labels = synthetic_faces(140)
    good = write_csv(tmp_path / "good.csv", images, labels)
    lines = good.read_text().splitlines()
    lines[2] = "1,1 2 3"
    (tmp_path / "bad.csv").write_text("\n".join(lines))
    names = {"tmp": tmp_path, "bad": tmp_path / "bad.csv", "good": good}
    arguments = [argument.format(**names) for argument in arguments]
    if "--output" not in arguments:
        arguments += ["--output", str(tmp_path / "model.h5")]
    assert_clean_error(run_in_process("train_vgg.py", *arguments, "--epochs", "1", capsys=capsys), *fragments)


@pytest.mark.parametrize("script, flag, value", [("train_vgg.py", "--dropout", "1.5"), ("train_inception.py", "--dropout", "-0.1"),
                                                 ("train_vgg.py", "--lr", "0"), ("train_vgg.py", "--teacher-weight", "2")])
def test_a_flag_value_out_of_range_is_refused_as_the_flags_are_read(script, flag, value, train_csv, capsys):
    result = run_in_process(script, "--data", train_csv, flag, value, capsys=capsys)
    assert result.returncode == 2 and f"argument {flag}: invalid" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("arguments, fragment", [(("--image-size", "20"), "--image-size must be from 32"),
                                                 (("--image-size", "1000"), "to 224"),
                                                 (("--fine-tune-epochs", "5", "--epochs", "2"), "must be in 0..2"),
                                                 (("--fit-to-time", "--schedule", "cosine", "--time-limit", "5"),
                                                  "--fine-tune-epochs 0")])
def test_transfer_flags_out_of_range_are_refused_before_the_work(arguments, fragment, train_csv, tmp_path, capsys):
    result = run_in_process("train_vgg_transfer_learning.py", "--data", train_csv, "--output", tmp_path / "model.h5",
                            "--weights", "none", *arguments, capsys=capsys)
    assert_clean_error(result, fragment)


def test_a_diverged_epoch_is_not_kept_and_resume_with_a_lower_rate_goes_on_from_the_last_good_one(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    first = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY, capsys=capsys)
    assert first.returncode == 0, first.stderr
    kept = output.read_bytes()
    # A learning rate this large sends the weights, and so the loss, to infinity or NaN.
    diverged = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, "--resume", "--epochs", "3",
                              "--lr", "1e12", capsys=capsys)
    assert_clean_error(diverged, "training diverged", "epoch 2", f"(epoch 1) is {output}", "--resume with a lower --lr")
    assert output.read_bytes() == kept
    assert [row["epoch"] for row in history_rows(output)] == ["1"]
    resumed = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, "--resume", "--epochs", "2",
                             "--lr", "0.003", capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch 1" in resumed.stdout
    assert [row["epoch"] for row in history_rows(output)] == ["1", "2"]


def test_a_run_that_diverges_in_its_first_epoch_saves_nothing(train_csv, tmp_path, capsys):
    output = tmp_path / "model.h5"
    diverged = run_in_process("train_vgg.py", "--data", train_csv, "--output", output, *TINY, "--lr", "1e12", capsys=capsys)
    assert_clean_error(diverged, "training diverged", "epoch 1", "Nothing was saved", "a lower --lr")
    assert not output.exists()
