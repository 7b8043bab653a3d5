"""No flag makes a script write over one of its own inputs, and damaged caches are rebuilt."""
import hashlib
import shutil

import numpy as np
from PIL import Image

from conftest import assert_clean_error, run_script, synthetic_faces, write_csv
from ferkit import data, distillation


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_resize_never_writes_its_csv_over_a_picture(tmp_path):
    photo = tmp_path / "photos" / "happy" / "photo.jpg"
    photo.parent.mkdir(parents=True)
    Image.fromarray(synthetic_faces(1)[0][0]).save(photo)
    before = digest(photo)
    result = run_script("preprocess/data_resize.py", tmp_path / "photos", "--out", tmp_path / "out", "--csv", photo,
                        "--overwrite")
    assert_clean_error(result, "--csv", "one of the pictures")
    assert digest(photo) == before


def test_predict_never_writes_its_csv_over_a_model(tiny_models, tmp_path):
    model = tmp_path / "m.h5"
    shutil.copy(tiny_models[0], model)
    picture = tmp_path / "face.png"
    Image.fromarray(synthetic_faces(1)[0][0]).save(picture)
    before = digest(model)
    result = run_script("predict.py", picture, "--no-detect", "--models", model, "--csv", model)
    assert_clean_error(result, "--csv", "one of the models")
    assert digest(model) == before


def test_a_run_never_replaces_its_own_teacher(tiny_models, train_csv, tmp_path):
    teacher = tmp_path / "t.h5"
    shutil.copy(tiny_models[0], teacher)
    before = digest(teacher)
    result = run_script("train_vgg.py", "--data", train_csv, "--width", "0.125", "--epochs", "1",
                        "--teacher", teacher, "--output", teacher)
    assert_clean_error(result, "--output", "--teacher")
    assert digest(teacher) == before


def test_a_damaged_data_cache_is_rebuilt_with_a_line_saying_so(tmp_path, capsys):
    images, labels = synthetic_faces(30)
    path = write_csv(tmp_path / "train.csv", images, labels)
    data.load_dataset(path)
    cache = tmp_path / "train.csv.cache.npz"
    cache.write_bytes(cache.read_bytes()[:300])  # an interrupted copy
    capsys.readouterr()
    dataset = data.load_dataset(path)
    assert np.array_equal(dataset.images, images) and np.array_equal(dataset.labels, labels)
    assert "train.csv.cache.npz: damaged" in capsys.readouterr().out
    assert data._read_cache(path) is not None  # rebuilt whole


def test_a_damaged_teachers_cache_is_predicted_again(tiny_models, train_csv, tmp_path, capsys):
    faces = data.load_dataset(train_csv)
    first = distillation.teacher_predictions(faces, tiny_models[:1], tmp_path)
    (cache,) = tmp_path.glob("teachers-*.npz")
    cache.write_bytes(cache.read_bytes()[:200])
    capsys.readouterr()
    again = distillation.teacher_predictions(faces, tiny_models[:1], tmp_path)
    assert np.allclose(first, again) and "damaged" in capsys.readouterr().out
    with np.load(cache) as rebuilt:
        assert np.allclose(rebuilt["predictions"], first)
