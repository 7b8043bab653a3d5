"""average_models.py: one model from the weights of several snapshots of one network."""
import numpy as np
import pytest

from conftest import assert_clean_error, run_in_process
from ferkit import averaging, data, evaluation, model_files, models, provenance
from ferkit.backend import keras


def snapshot(seed, builder=models.build_vgg16):
    keras.utils.set_random_seed(seed)
    return builder(width=0.125)


def test_the_average_holds_the_mean_of_each_weight():
    first, second = snapshot(1), snapshot(2)
    expected = [(a + b) / 2 for a, b in zip(first.get_weights(), second.get_weights())]
    averaged = averaging.average_weights([first, second], ["first.h5", "second.h5"])
    for found, wanted in zip(averaged.get_weights(), expected):
        np.testing.assert_allclose(found, wanted, rtol=1e-6)


def test_batch_norm_statistics_become_those_of_the_faces_given():
    model = snapshot(3)
    norm = averaging.batch_norm_layers(model)[0]
    faces = np.random.default_rng(0).integers(0, 256, size=(512, 48, 48), dtype=np.uint8)
    before_norm = keras.Model(model.input, norm.input)
    activations = keras.ops.convert_to_numpy(before_norm(models.as_input(faces)))
    averaging.reestimate_batch_norm(model, faces, batch_size=256)
    channel_axes = (0, 1, 2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), activations.mean(axis=channel_axes), rtol=1e-3, atol=1e-4)
    batch_variances = [activations[start : start + 256].var(axis=channel_axes) for start in (0, 256)]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance), np.mean(batch_variances, axis=0), rtol=1e-3, atol=1e-4)
    assert norm.momentum == 0.9  # the model trains on as it was built


def test_the_script_saves_an_averaged_model_that_meets_the_contract(fer2013_csv, train_csv, tmp_path, capsys):
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"snapshot_{seed}.h5")
        snapshot(seed).save(paths[-1])
    output = tmp_path / "averaged.h5"
    result = run_in_process("average_models.py", *paths, "--data", fer2013_csv, "--output", output, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert f"saved {output}" in result.stdout
    averaged = model_files.load_model(output)  # safe mode
    kernel = averaged.get_layer("block1_conv1").get_weights()[0]
    inputs = [model_files.load_model(path).get_layer("block1_conv1").get_weights()[0] for path in paths]
    np.testing.assert_allclose(kernel, np.mean(inputs, axis=0), rtol=1e-6)
    probabilities = evaluation.predict(averaged, np.zeros((3, 48, 48), np.uint8))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)

    # The faces the snapshots learnt from, and those that set the statistics, are the average's.
    snapshot_learnt = data.load_splits(train_csv)[0].origin
    provenance.write(paths[0], snapshot_learnt)
    result = run_in_process("average_models.py", *paths, "--data", fer2013_csv, "--output", output, capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert provenance.read(output) == snapshot_learnt + data.load_splits(fer2013_csv)[0].origin


@pytest.mark.parametrize("problem", ["other network", "output is an input", "one model", "not h5"])
def test_bad_input_gives_one_clear_error(problem, fer2013_csv, tmp_path, capsys):
    vgg, inception = tmp_path / "vgg.h5", tmp_path / "inception.h5"
    snapshot(1).save(vgg)
    snapshot(2, models.build_inception).save(inception)
    arguments, fragments = {
        "other network": ((vgg, inception, "--output", tmp_path / "out.h5"), ["inception.h5", "not the same network"]),
        "output is an input": ((vgg, vgg, "--output", vgg), ["one of the models to average"]),
        "one model": ((vgg, "--output", tmp_path / "out.h5"), ["at least two models"]),
        "not h5": ((vgg, vgg, "--output", tmp_path / "out.keras"), ["must end in .h5"]),
    }[problem]
    before = vgg.read_bytes()
    assert_clean_error(run_in_process("average_models.py", *arguments, "--data", fer2013_csv, capsys=capsys), *fragments)
    assert vgg.read_bytes() == before
