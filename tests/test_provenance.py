"""Which faces a model learnt from: the face sets of a split, and how many of them a test shares."""
import numpy as np
import pytest

from conftest import synthetic_faces, write_csv
from ferkit import data, provenance


def test_faces_learnt_from_are_counted_across_copies_and_parts_of_the_seeded_split(tmp_path):
    images, labels = synthetic_faces(140)
    usage = ["Training"] * 70 + ["PublicTest"] * 70
    fer2013 = data.load_dataset(write_csv(tmp_path / "fer2013.csv", images, labels, usage))
    # The competition's train.csv: fer2013.csv's Training rows, from another decoding of the pictures.
    regrained = np.clip(images[:70].astype(int) + 1, 0, 255).astype(np.uint8)
    train_csv = data.load_dataset(write_csv(tmp_path / "train.csv", regrained, labels[:70]))

    learnt_training_rows = data.load_splits(fer2013.path)[0].origin
    for usage_name, seen in (("PrivateTest", 7), ("Training", 56), ("all", 70)):
        tested = data.select_usage(train_csv, usage_name)
        assert provenance.faces_seen(learnt_training_rows, tested.origin) == len(tested) == seen
    assert provenance.faces_seen(learnt_training_rows, data.select_usage(fer2013, "PublicTest").origin) == 0

    learnt_train_split = data.load_splits(train_csv.path)[0].origin
    assert provenance.faces_seen(learnt_train_split, data.select_usage(train_csv, "PrivateTest").origin) == 0
    assert provenance.faces_seen(learnt_train_split, data.select_usage(train_csv, "Training").origin) == 56
    assert provenance.faces_seen(learnt_train_split, data.select_usage(fer2013, "Training").origin) == 56
    assert provenance.faces_seen(learnt_train_split, data.select_usage(fer2013, "all").origin) == 56


@pytest.mark.parametrize("record", ['{"not": "a list"}', '[1, {"rows": "all"}]', "not JSON"])
def test_a_model_file_whose_record_is_damaged_counts_as_having_none(record, tmp_path):
    import h5py

    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as file:
        file.attrs[provenance.ATTRIBUTE] = record
    assert provenance.read(path) == []
