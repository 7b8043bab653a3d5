"""Custom pictures: the face pipeline, preprocess/data_resize.py and predict.py."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_clean_error, run_in_process
from ferkit import cli, data, faces, model_files


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    from skimage import data as skimage_data

    path = tmp_path_factory.mktemp("photos") / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).save(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    from ferkit import models

    path = tmp_path_factory.mktemp("models") / "model_1.h5"
    keras.utils.set_random_seed(0)  # the same model whichever tests ran before in this process
    model = models.build_vgg16(width=0.125)
    # Untrained, it answers nearly 1/7 for every face; larger logits make its answers differ.
    kernel = model.get_layer("predictions").kernel
    kernel.assign(kernel * 1000)
    model.save(path)
    return path


def test_a_real_photo_gives_exactly_one_48x48_face(astronaut):
    found = faces.faces_in(astronaut, faces.face_detector())
    assert len(found) == 1
    x, y, width, height = found[0].box
    assert 150 < x < 220 and 40 < y < 110 and 70 < width < 130  # the astronaut's face, not the flag
    assert found[0].pixels.shape == (48, 48) and found[0].pixels.dtype == np.uint8


def test_a_very_large_picture_is_searched_and_boxed_in_its_own_pixels(astronaut, tmp_path):
    big = Image.new("RGB", (4000, 3000), "gray")
    big.paste(Image.open(astronaut).resize((2048, 2048)), (1000, 500))
    path = tmp_path / "big.png"
    big.save(path)
    found = faces.faces_in(path, faces.face_detector())
    assert len(found) == 1
    x, y, width, _ = found[0].box
    assert 1000 + 150 * 4 < x < 1000 + 220 * 4 and 500 + 40 * 4 < y < 500 + 110 * 4 and width > 250


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16", "1"])
def test_every_picture_mode_becomes_uint8_gray(mode, tmp_path):
    gradient = np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1))
    image = Image.fromarray(gradient).convert(mode) if mode not in ("I;16",) else Image.fromarray(gradient.astype(np.uint16) * 257)
    path = tmp_path / "picture.png"
    image.save(path)
    gray = faces.read_gray(path)
    assert gray.dtype == np.uint8 and gray.shape == (32, 64)
    if mode not in ("P", "1"):
        assert gray[0, -1] > gray[0, 0] + 200  # the gradient survives the conversion


def test_exif_rotated_photos_are_turned_upright(tmp_path):
    image = Image.new("L", (60, 40))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert faces.read_gray(path).shape == (60, 40)


@pytest.mark.parametrize("content", [b"just text", b"\x89PNG\r\n\x1a\n truncated", b""])
def test_unreadable_pictures_raise_picture_error(content, tmp_path):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(faces.PictureError, match="not a readable picture"):
        faces.read_gray(path)


def test_predict_prints_seven_probabilities_summing_to_one(astronaut, tiny_model, tmp_path, capsys):
    result = run_in_process("predict.py", astronaut, "--models", tiny_model, "--json", "--annotate", tmp_path / "out",
                            "--csv", tmp_path / "tables" / "faces.csv", capsys=capsys)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    (face,) = document["results"][0]["faces"]
    assert len(face["probabilities"]) == 7
    assert sum(face["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    with Image.open(tmp_path / "out" / "astronaut.png") as annotated, Image.open(astronaut) as original:
        assert annotated.size == original.size == (512, 512)
        drawn = np.asarray(annotated.convert("RGB"), dtype=int) != np.asarray(original.convert("RGB"), dtype=int)
    box = face["box"]
    outline = drawn[box["y"]:box["y"] + box["height"], box["x"]:box["x"] + box["width"]].any(axis=2)
    assert outline[:, 0].mean() > 0.9 and outline[0, :].mean() > 0.5  # the box's left edge and the top, under the label
    assert drawn[:box["y"] - 40].mean() < 0.01  # far from the face the picture is untouched
    with open(tmp_path / "tables" / "faces.csv") as file:  # its folder made as needed
        rows = list(csv.DictReader(file))
    assert len(rows) == 1 and rows[0]["emotion"] == face["emotion"]


def test_predict_never_writes_over_the_pictures(astronaut, tiny_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    (folder / "trip").mkdir(parents=True)
    Image.open(astronaut).save(folder / "trip" / "astronaut.png")
    before = (folder / "trip" / "astronaut.png").read_bytes()
    for source, annotate in ((folder, folder), (folder, folder / "trip"), (folder / "trip" / "astronaut.png", folder / "trip")):
        result = run_in_process("predict.py", source, "--models", tiny_model, "--annotate", annotate, capsys=capsys)
        assert_clean_error(result, "--annotate", str(annotate))
    result = run_in_process("predict.py", folder, "--models", tiny_model, "--csv", folder / "trip" / "astronaut.png", capsys=capsys)
    assert_clean_error(result, "--csv", "one of the pictures")
    result = run_in_process("predict.py", folder, "--models", tiny_model, "--csv", tmp_path, capsys=capsys)
    assert_clean_error(result, "--csv", "is a folder")
    assert [path.name for path in folder.rglob("*") if path.is_file()] == ["astronaut.png"]
    assert (folder / "trip" / "astronaut.png").read_bytes() == before


def test_predict_annotates_pictures_that_share_a_name_in_separate_files(astronaut, tiny_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(astronaut).save(folder / "me.jpg")
    Image.open(astronaut).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "me.png")
    result = run_in_process("predict.py", folder, "--models", tiny_model, "--annotate", tmp_path / "out", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["me.jpg.png", "me.png.png"]
    with Image.open(tmp_path / "out" / "me.jpg.png") as plain, Image.open(tmp_path / "out" / "me.png.png") as mirrored:
        assert np.asarray(plain).tolist() != np.asarray(mirrored).tolist()


def test_predict_refuses_a_mirror_that_lands_on_a_picture(astronaut, tiny_model, tmp_path, capsys):
    # photos/photos/me.jpg mirrored into photos' parent is photos/me.png, a picture itself.
    (tmp_path / "photos" / "photos").mkdir(parents=True)
    Image.open(astronaut).save(tmp_path / "photos" / "photos" / "me.jpg")
    Image.open(astronaut).save(tmp_path / "photos" / "me.png")
    before = (tmp_path / "photos" / "me.png").read_bytes()
    result = run_in_process("predict.py", tmp_path / "photos", "--models", tiny_model, "--annotate", tmp_path, capsys=capsys)
    assert_clean_error(result, "would write over", "me.png")
    assert (tmp_path / "photos" / "me.png").read_bytes() == before


def test_predict_goes_on_past_bad_pictures_and_fails_only_when_nothing_worked(astronaut, tiny_model, tmp_path, capsys):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "fake.jpg").write_text("not a picture")
    Image.open(astronaut).save(folder / "astronaut.png")
    mixed = run_in_process("predict.py", folder, "--models", tiny_model, capsys=capsys)
    assert mixed.returncode == 0 and "fake.jpg: not a readable picture" in mixed.stderr and "Traceback" not in mixed.stderr
    nothing = run_in_process("predict.py", folder / "fake.jpg", "--models", tiny_model, capsys=capsys)
    assert nothing.returncode != 0 and "Traceback" not in nothing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(run_in_process("predict.py", empty, "--models", tiny_model, capsys=capsys), "no pictures")


def test_no_detect_takes_the_whole_picture(tiny_model, tmp_path, capsys):
    path = tmp_path / "crop.png"
    Image.fromarray(np.full((48, 48), 128, np.uint8)).save(path)
    result = run_in_process("predict.py", path, "--models", tiny_model, "--no-detect", "--json", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"][0]["faces"][0]["box"] == {"x": 0, "y": 0, "width": 48, "height": 48}


def test_each_face_is_averaged_with_its_mirror_image_unless_no_tta(tiny_model, tmp_path, capsys):
    path = tmp_path / "crop.png"
    pixels = np.zeros((48, 48), np.uint8)
    pixels[:, :16] = 255  # lopsided, so that the mirror image is another face
    pixels[10:20, 30:40] = 120
    Image.fromarray(pixels).save(path)

    def probabilities(*flags):
        result = run_in_process("predict.py", path, "--models", tiny_model, "--no-detect", "--json", *flags, capsys=capsys)
        assert result.returncode == 0, result.stderr
        return np.array(list(json.loads(result.stdout)["results"][0]["faces"][0]["probabilities"].values()))

    from ferkit import evaluation

    model = model_files.load_model(tiny_model)
    plain = evaluation.predict(model, pixels[np.newaxis], verbose=0)[0]
    mirrored = evaluation.predict(model, pixels[np.newaxis], flip=True, verbose=0)[0]
    assert np.abs(plain - mirrored).max() > 0.01
    assert probabilities() == pytest.approx((plain + mirrored) / 2, abs=1e-3)
    assert probabilities("--no-tta") == pytest.approx(plain, abs=1e-3)


def make_class_folders(root, per_class=10):
    rng = np.random.default_rng(0)
    for emotion in ("Happy", "sad"):
        (root / emotion).mkdir(parents=True)
        for index in range(per_class):
            Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(root / emotion / f"{index}.jpg")
    Image.fromarray(rng.integers(0, 256, (64, 80), dtype=np.uint8)).save(root / "unlabelled.png")


def test_folders_to_csv_to_training(tmp_path, capsys):
    photos = tmp_path / "photos"
    make_class_folders(photos)
    result = run_in_process("preprocess/data_resize.py", photos, "--out", tmp_path / "faces", "--csv", tmp_path / "faces.csv", capsys=capsys)
    assert result.returncode == 0, result.stderr
    assert "unlabelled.png" in result.stdout and "not inside a folder named after an emotion" in result.stdout
    assert Image.open(tmp_path / "faces" / "Happy" / "3.png").size == (48, 48)
    dataset = data.load_dataset(tmp_path / "faces.csv")
    assert sorted(np.bincount(dataset.labels, minlength=7)) == [0, 0, 0, 0, 0, 10, 10]
    assert (np.bincount(dataset.labels, minlength=7)[[3, 4]] == 10).all()  # Happy and Sad
    trained = run_in_process("train_vgg.py", "--data", tmp_path / "faces.csv", "--epochs", "1", "--width", "0.125",
                             "--output", tmp_path / "model.h5", capsys=capsys)
    assert trained.returncode == 0, trained.stderr


def test_data_resize_never_writes_into_the_source_or_over_existing_files(tmp_path, capsys):
    photos = tmp_path / "photos"
    make_class_folders(photos, per_class=1)
    assert_clean_error(run_in_process("preprocess/data_resize.py", photos, "--out", photos / "faces", capsys=capsys), "inside")
    picture = next(photos.rglob("*.png"))
    before = picture.read_bytes()
    assert_clean_error(run_in_process("preprocess/data_resize.py", picture, "--out", picture.parent, "--overwrite", capsys=capsys),
                       "would write over", str(picture))
    assert picture.read_bytes() == before
    out = tmp_path / "faces"
    (out / "sad").mkdir(parents=True)
    (out / "sad" / "0.png").write_bytes(b"mine")
    result = run_in_process("preprocess/data_resize.py", photos, "--out", out, capsys=capsys)
    assert result.returncode == 0
    assert (out / "sad" / "0.png").read_bytes() == b"mine" and "exists" in result.stdout
    assert_clean_error(run_in_process("preprocess/data_resize.py", photos / "missing", "--out", out, capsys=capsys), "no such file")
    assert_clean_error(run_in_process("preprocess/data_resize.py", photos, "--out", picture / "faces", capsys=capsys),
                       "--out", "is a file, not a folder")


def test_data_resize_keeps_every_picture_when_names_differ_only_in_suffix(tmp_path, capsys):
    happy = tmp_path / "photos" / "happy"
    happy.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for suffix in (".jpg", ".PNG", ".bmp"):
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(happy / f"me{suffix}")
    result = run_in_process("preprocess/data_resize.py", tmp_path / "photos", "--out", tmp_path / "faces",
                            "--csv", tmp_path / "faces.csv", capsys=capsys)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.name for path in (tmp_path / "faces" / "happy").iterdir()) == ["me.PNG.png", "me.bmp.png", "me.jpg.png"]
    assert len(data.load_dataset(tmp_path / "faces.csv").labels) == 3


def test_data_resize_reports_pictures_without_a_face(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(photos / "blank.png")
    skipped = run_in_process("preprocess/data_resize.py", photos, "--out", tmp_path / "a", "--detect-face", capsys=capsys)
    assert skipped.returncode == 1 and "blank.png: no face found" in skipped.stdout
    kept = run_in_process("preprocess/data_resize.py", photos, "--out", tmp_path / "b", "--detect-face", "--keep-no-face", capsys=capsys)
    assert kept.returncode == 0 and (tmp_path / "b" / "blank.png").is_file()


def test_progress_in_a_log_file_is_a_line_every_tenth_of_the_way(capsys):
    progress = cli.Progress(250, "resizing")
    for _ in range(250):
        progress.step()
    assert capsys.readouterr().err.split("\n") == [f"resizing: {25 * tenth}/250" for tenth in range(1, 11)] + [""]
