import numpy as np
import pytest

from conftest import assert_clean_error, run_in_process, synthetic_faces, write_csv
from ferkit import InputError, data


def test_reads_train_csv_exactly(tmp_path):
    images, labels = synthetic_faces(30)
    dataset = data.load_dataset(write_csv(tmp_path / "train.csv", images, labels), use_cache=False)
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert dataset.usage is None


def test_reads_gzipped_fer2013_csv_with_usage(tmp_path):
    images, labels = synthetic_faces(9)
    usage = ["Training", "PublicTest", "PrivateTest"] * 3
    path = write_csv(tmp_path / "fer2013.csv.gz", images, labels, usage, compress=True)
    dataset = data.load_dataset(path, use_cache=False)
    np.testing.assert_array_equal(dataset.images, images)
    splits = data.split_indices(dataset)
    assert [list(splits[name]) for name in data.SPLITS] == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


@pytest.mark.parametrize("spelling", ["quoted pixels", "CRLF", "columns reordered", "space after commas", "blank lines"])
def test_other_spellings_of_the_csv_read_the_same(tmp_path, spelling):
    images, labels = synthetic_faces(12)
    usage = ["Training", "PublicTest"] * 6
    rows = [(str(label), " ".join(map(str, image.ravel())), use) for image, label, use in zip(images, labels, usage)]
    header = ("emotion", "pixels", "Usage")
    if spelling == "quoted pixels":
        rows = [(label, f'"{pixels}"', use) for label, pixels, use in rows]
    if spelling == "columns reordered":
        header, rows = header[::-1], [row[::-1] for row in rows]
    separator = ", " if spelling == "space after commas" else ","
    newline = "\r\n" if spelling == "CRLF" else "\n\n" if spelling == "blank lines" else "\n"
    path = tmp_path / "fer2013.csv"
    path.write_bytes(newline.join(separator.join(row) for row in [header, *rows]).encode() + newline.encode())
    dataset = data.load_dataset(path, use_cache=False)
    np.testing.assert_array_equal(dataset.images, images)
    np.testing.assert_array_equal(dataset.labels, labels)
    assert [data.USAGES[index] for index in dataset.usage] == usage


def test_usage_without_private_test_rows_still_gives_train_and_val(tmp_path):
    images, labels = synthetic_faces(10)
    path = write_csv(tmp_path / "fer2013.csv", images, labels, ["Training"] * 7 + ["PublicTest"] * 3)
    train, val = data.load_splits(path)
    assert (len(train), len(val)) == (7, 3)


def test_too_few_rows_to_split_say_so_in_the_terms_of_the_file(tmp_path):
    images, labels = synthetic_faces(14)  # two faces an emotion: none rounds into a 10% validation share
    path = write_csv(tmp_path / "train.csv", images, labels)
    with pytest.raises(InputError, match="14 rows are too few to split") as raised:
        data.load_splits(path)
    assert "Usage" not in str(raised.value)
    path = write_csv(tmp_path / "fer2013.csv", images, labels, ["Training"] * 14)
    with pytest.raises(InputError, match="Training and PublicTest are both needed"):
        data.load_splits(path)


def test_split_without_usage_is_stratified_disjoint_and_reproducible(tmp_path):
    images, labels = synthetic_faces(700)
    path = write_csv(tmp_path / "train.csv", images, labels)
    first = data.split_indices(data.load_dataset(path, use_cache=False))
    again = data.split_indices(data.load_dataset(path))
    for name in data.SPLITS:
        np.testing.assert_array_equal(first[name], again[name])
    everything = np.concatenate([first[name] for name in data.SPLITS])
    assert sorted(everything) == list(range(700)), "splits must cover every row exactly once"
    for name, fraction in zip(data.SPLITS, data.SPLIT_FRACTIONS):
        counts = np.bincount(labels[first[name]], minlength=7)
        np.testing.assert_array_equal(counts, [round(100 * fraction)] * 7)


def test_cache_is_used_and_invalidated_when_the_file_changes(tmp_path):
    images, labels = synthetic_faces(20)
    path = write_csv(tmp_path / "train.csv", images, labels)
    first = data.load_dataset(path)
    assert (tmp_path / "train.csv.cache.npz").is_file()

    def csv_not_read(*args, **kwargs):
        raise AssertionError("the CSV was parsed again although its cache is fresh")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "_read_plain_frame", csv_not_read)
        patch.setattr(data, "_read_frame", csv_not_read)
        cached = data.load_dataset(path)
    np.testing.assert_array_equal(cached.images, first.images)
    np.testing.assert_array_equal(cached.labels, labels)
    new_labels = (labels + 1) % 7
    write_csv(path, images[:10], new_labels[:10])
    reloaded = data.load_dataset(path)
    np.testing.assert_array_equal(reloaded.labels, new_labels[:10])


def bad_file(tmp_path, text, name="train.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_PIXELS = " ".join(["7"] * 2304)


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("", ["empty"]),
        ("emotion,pixels\n", ["no rows"]),
        ("label,image\n1,2\n", ["missing column(s) emotion, pixels"]),
        (f"emotion,pixels\n1,{GOOD_PIXELS}\n2,{' '.join(['7'] * 2303)}\n", ["line 3", "2303 pixel values"]),
        (f"emotion,pixels\n1,{GOOD_PIXELS} 256\n", ["line 2"]),
        (f"emotion,pixels\n1,{GOOD_PIXELS}\n1,{GOOD_PIXELS[:-1]}256\n", ["line 3", "not in 0..255"]),
        (f"emotion,pixels\n1,{GOOD_PIXELS}\n1,{GOOD_PIXELS[:-1]}1234\n", ["line 3", "not in 0..255"]),
        (f"emotion,pixels\n1,{GOOD_PIXELS[:-1]}x\n", ["line 2", "other than digits"]),
        (f"emotion,pixels\n7,{GOOD_PIXELS}\n", ["line 2", "label '7'"]),
        (f"emotion,pixels\nhappy,{GOOD_PIXELS}\n", ["line 2", "label 'happy'"]),
        (f"emotion,pixels,Usage\n1,{GOOD_PIXELS},Testing\n", ["line 2", "Usage 'Testing'"]),
    ],
)
def test_bad_files_name_the_file_line_and_problem(tmp_path, text, fragments):
    path = bad_file(tmp_path, text)
    with pytest.raises(InputError) as raised:
        data.load_dataset(path)
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file_says_how_to_get_fer2013(tmp_path):
    with pytest.raises(InputError, match="no such file.*Kaggle"):
        data.load_dataset(tmp_path / "train.csv")


def test_a_folder_given_as_data_is_named_as_one(tmp_path):
    with pytest.raises(InputError, match="is a folder: pass the CSV file in it"):
        data.load_dataset(tmp_path)


def test_not_a_csv(tmp_path):
    path = tmp_path / "train.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08 this is no gzip stream")
    with pytest.raises(InputError, match="not a readable CSV"):
        data.load_dataset(path)


def test_a_file_that_is_not_a_csv_stops_a_script_with_one_error_line(tmp_path, capsys):
    notes = tmp_path / "notes.csv"
    notes.write_text("emotion\nhappy\nsad, then angry, then happy\n")
    result = run_in_process("train_vgg.py", "--data", notes, "--output", tmp_path / "model.h5", capsys=capsys)
    assert_clean_error(result, str(notes), "not a readable CSV")


def test_many_bad_rows_lists_the_first_few(tmp_path):
    rows = "".join(f"9,{GOOD_PIXELS}\n" for _ in range(8))
    message = str(pytest.raises(InputError, data.load_dataset, bad_file(tmp_path, "emotion,pixels\n" + rows)).value)
    assert "8 bad row(s)" in message and "line 6" in message and "line 7" not in message and "3 more" in message


def test_skip_bad_rows_keeps_the_good_ones(tmp_path, capsys):
    images, labels = synthetic_faces(5)
    path = write_csv(tmp_path / "train.csv", images, labels)
    lines = path.read_text().splitlines()
    lines[2] = "3,1 2 3"
    path.write_text("\n".join(lines) + "\n")
    dataset = data.load_dataset(path, skip_bad_rows=True)
    np.testing.assert_array_equal(dataset.images, images[[0, 2, 3, 4]])
    assert "skipped 1 bad row" in capsys.readouterr().out
    assert not (tmp_path / "train.csv.cache.npz").exists(), "a file with bad rows must be checked on every load"
