"""Reading, checking and splitting FER-2013 CSV files (data_cache keeps them parsed).

Two layouts are read, plain or gzip-compressed: the competition's `train.csv`
(`emotion,pixels`) and the full `fer2013.csv` (`emotion,pixels,Usage`).
"""
import concurrent.futures
import dataclasses
import gzip
import os
import pathlib
import zlib

import numpy as np
import pandas as pd

from ferkit import IMAGE_SIZE, NUM_CLASSES, InputError, data_cache

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
NUM_PIXELS = IMAGE_SIZE * IMAGE_SIZE
USAGES = ("Training", "PublicTest", "PrivateTest")
SPLITS = ("train", "val", "test")
SPLIT_SEED = 2013  # fixed, not --seed: every script must hold out the same rows
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
MAX_REPORTED_ROWS = 5
ROWS_PER_CHUNK = 128
PAD = 3
GET_DATA_HELP = ("Download FER-2013 from Kaggle and put train.csv or fer2013.csv in data/ "
                 "(docs/TRAINING.md, 'Getting FER-2013'), or pass --data PATH.")


@dataclasses.dataclass
class Dataset:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) uint8, FER-2013 class indices
    usage: np.ndarray | None  # (N,) uint8 indices into USAGES; None without a Usage column
    path: pathlib.Path
    origin: list | None = None  # which rows of which face sets these are, once a split is taken (rows_of)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        usage = None if self.usage is None else self.usage[indices]
        return Dataset(self.images[indices], self.labels[indices], usage, self.path)


def default_data_path():
    """data/fer2013.csv when present, else data/train.csv (plain or .gz)."""
    for name in ("fer2013.csv", "fer2013.csv.gz", "train.csv", "train.csv.gz"):
        if (DATA_DIR / name).is_file():
            return DATA_DIR / name
    return DATA_DIR / "train.csv"


def load_dataset(path, skip_bad_rows=False, use_cache=True):
    """Reads a FER-2013 CSV; bad rows raise InputError unless skip_bad_rows."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder: pass the CSV file in it, say {path / 'fer2013.csv'}.")
    if not path.is_file():
        raise InputError(f"{path}: no such file. {GET_DATA_HELP}")
    if use_cache:
        cached = data_cache.read(path)
        if cached is not None:
            return Dataset(*cached, path)
    frame = _read_plain_frame(path) or _read_frame(path)
    labels, label_problems = _parse_labels(frame["emotion"])
    usage, usage_problems = _parse_usage(frame["Usage"]) if "Usage" in frame else (None, {})
    pixels, pixel_problems = parse_pixels(list(frame["pixels"]))
    problems = {**pixel_problems, **usage_problems, **label_problems}
    dataset = Dataset(pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE), labels, usage, path)
    if problems:
        if not skip_bad_rows:
            raise InputError(_describe_problems(path, problems) + " Fix them, or pass --skip-bad-rows to drop them.")
        keep = np.setdiff1d(np.arange(len(dataset)), list(problems))
        print(f"{path}: skipped {len(problems)} bad row(s); {len(keep)} left.")
        dataset = dataset.subset(keep)
        if len(dataset) == 0:
            raise InputError(f"{path}: no valid rows left after skipping bad ones.")
    elif use_cache:
        data_cache.write(path, dataset.images, dataset.labels, dataset.usage)
    return dataset


def _read_plain_frame(path):
    """The columns of a plain comma-separated file (no quotes, CRs or blank lines), the
    pixels as views into the file's bytes. Faster than pandas, which spends longer making
    Python strings of the pixels than the parse takes. Returns None for anything else:
    pandas then reads it and reports what is wrong."""
    if path.suffix not in (".csv", ".gz"):
        return None
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as file:
            text = file.read()
    except (OSError, EOFError, zlib.error):
        return None
    if b"\n" not in text or not text.isascii() or b'"' in text or b"\r" in text:
        return None
    header = canonical_columns([name.decode() for name in text[:text.index(b"\n")].split(b",")])
    if not {"emotion", "pixels"} <= set(header):
        return None
    spans = _field_spans(text, len(header))
    if not spans:
        return None
    view = memoryview(text)
    frame = {name: [view[start:end] for start, end in column] if name == "pixels"
             else pd.Series([text[start:end] for start, end in column]).str.decode("ascii")
             for name, column in zip(header, zip(*spans))}
    return frame


def _field_spans(text, width):
    """(start, end) of each field of each line after the header; None unless every line
    has exactly `width` fields."""
    spans = []
    start = text.index(b"\n") + 1
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        fields = []
        for _ in range(width - 1):
            comma = text.find(b",", start, end)
            if comma < 0:
                return None
            fields.append((start, comma))
            start = comma + 1
        if text.find(b",", start, end) >= 0:
            return None
        fields.append((start, end))
        spans.append(fields)
        start = end + 1
    return spans


def _read_frame(path):
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty. {GET_DATA_HELP}") from None
    except (ValueError, OSError, EOFError, zlib.error) as error:
        raise InputError(f"{path}: not a readable CSV file ({error}).") from None
    frame.columns = canonical_columns(frame.columns)
    missing = [column for column in ("emotion", "pixels") if column not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}. "
            "Expected a header 'emotion,pixels' or 'emotion,pixels,Usage'."
        )
    if len(frame) == 0:
        raise InputError(f"{path}: the file has a header but no rows.")
    return frame


COLUMNS = ("emotion", "pixels", "Usage")


def canonical_columns(names):
    """Header names stripped, and this data set's three matched case-blind ("usage",
    "Emotion"), so that a differently written Usage column is not silently ignored."""
    known = {name.casefold(): name for name in COLUMNS}
    return [known.get(str(name).strip().casefold(), str(name).strip()) for name in names]


def _parse_labels(column):
    """Returns labels and {row: problem} for values that are not integers 0..6."""
    numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(numbers, np.arange(NUM_CLASSES))
    problems = {row: f"label {column.iloc[row]!r} is not an integer 0..{NUM_CLASSES - 1}" for row in np.flatnonzero(bad)}
    return np.where(bad, 0, numbers).astype(np.uint8), problems


def _parse_usage(column):
    codes = column.str.strip().map({name: index for index, name in enumerate(USAGES)})
    bad = codes.isna().to_numpy()
    problems = {row: f"Usage {column.iloc[row]!r} is not one of {', '.join(USAGES)}" for row in np.flatnonzero(bad)}
    return codes.fillna(0).to_numpy(dtype=np.uint8), problems


def parse_pixels(strings):
    """Parses space-separated pixel strings (str, or bytes-like) into an (N, 2304) uint8 array.

    Works on the bytes of many rows at once, in threads (NumPy releases the
    GIL): five to seven times faster than a per-row str.split loop. Returns the
    array, bad rows left zero, and {row: problem}.
    """
    # Small chunks keep each pass over the bytes in the CPU cache: twice as fast as large ones.
    bounds = np.unique(np.r_[np.arange(0, len(strings), ROWS_PER_CHUNK), len(strings)])
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
        parts = list(pool.map(lambda start, stop: _parse_rows(strings[start:stop]), bounds[:-1], bounds[1:]))
    problems = {bounds[index] + row: problem for index, (_, found) in enumerate(parts) for row, problem in found.items()}
    return np.concatenate([pixels for pixels, _ in parts]), problems


def _parse_rows(strings):
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    # Three leading spaces let the digit look-backs below run without bounds checks.
    row_starts = PAD + np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    joined = "\n".join(strings).encode("ascii", "replace") if strings and isinstance(strings[0], str) else b"\n".join(strings)
    text = np.frombuffer(b" " * PAD + joined, dtype=np.uint8)
    digits = text - np.uint8(ord("0"))  # wraps around for non-digits
    is_digit = digits < 10
    token_ends = is_digit.copy()
    token_ends[:-1] &= ~is_digit[1:]
    ends = np.flatnonzero(token_ends)
    # The value of a token of up to three digits, read at its last digit.
    second, third = is_digit[ends - 1], is_digit[ends - 1] & is_digit[ends - 2]
    values = digits[ends] + 10 * (digits[ends - 1] * second).astype(np.uint16) + 100 * (digits[ends - 2] * third).astype(np.uint16)
    counts = np.diff(np.searchsorted(ends, np.append(row_starts, len(text))))

    problems = {}
    for row in np.flatnonzero(counts != NUM_PIXELS):
        problems[row] = f"{counts[row]} pixel values, expected {NUM_PIXELS}"
    too_big = (values > 255) | (third & is_digit[ends - 3])
    if too_big.any():
        problems.update(dict.fromkeys(_rows_with(ends[too_big], row_starts), "a pixel value is not in 0..255"))
    separators = np.count_nonzero(text == ord(" ")) + np.count_nonzero(text == ord("\n"))
    if separators + np.count_nonzero(is_digit) != len(text):
        stray = ~is_digit & (text != ord(" ")) & (text != ord("\n"))
        problems.update(dict.fromkeys(_rows_with(np.flatnonzero(stray), row_starts),
                                      "pixels hold characters other than digits and spaces"))

    pixels = np.zeros((len(strings), NUM_PIXELS), dtype=np.uint8)
    if problems:
        good = np.ones(len(strings), dtype=bool)
        good[list(problems)] = False
        pixels[good] = values[np.repeat(good, counts)].reshape(-1, NUM_PIXELS)
    else:
        pixels[:] = values.reshape(-1, NUM_PIXELS)
    return pixels, problems


def _rows_with(positions, row_starts):
    """The rows holding the given byte positions."""
    return np.unique(np.searchsorted(row_starts, positions, side="right") - 1)


def _describe_problems(path, problems):
    rows = sorted(problems)
    # Line 1 is the header, so data row r sits on line r + 2.
    listed = "; ".join(f"line {row + 2}: {problems[row]}" for row in rows[:MAX_REPORTED_ROWS])
    more = f"; and {len(rows) - MAX_REPORTED_ROWS} more" if len(rows) > MAX_REPORTED_ROWS else ""
    return f"{path}: {len(rows)} bad row(s) ({listed}{more})."


def split_indices(dataset):
    """Row indices of the train, val and test splits.

    With a Usage column: Training, PublicTest and PrivateTest. Without one: a
    stratified split with a fixed seed, the same in every script and run.
    """
    if dataset.usage is not None:
        return {split: np.flatnonzero(dataset.usage == code) for code, split in enumerate(SPLITS)}
    rng = np.random.default_rng(SPLIT_SEED)
    parts = {split: [] for split in SPLITS}
    for label in range(NUM_CLASSES):
        rows = rng.permutation(np.flatnonzero(dataset.labels == label))
        num_val = round(len(rows) * SPLIT_FRACTIONS[1])
        num_test = round(len(rows) * SPLIT_FRACTIONS[2])
        parts["val"].append(rows[:num_val])
        parts["test"].append(rows[num_val : num_val + num_test])
        parts["train"].append(rows[num_val + num_test :])
    return {split: np.sort(np.concatenate(rows)) for split, rows in parts.items()}


def load_splits(path, skip_bad_rows=False):
    """The train and val Datasets for training; raises InputError when either is empty."""
    dataset = load_dataset(path, skip_bad_rows=skip_bad_rows)
    indices = split_indices(dataset)
    for split in ("train", "val"):
        if len(indices[split]) > 0:
            continue
        if dataset.usage is not None:
            raise InputError(f"{path}: no rows for the {split} split (Usage Training and PublicTest are both needed).")
        raise InputError(
            f"{path}: its {len(dataset.labels)} rows are too few to split: the {split} split takes "
            f"{SPLIT_FRACTIONS[SPLITS.index(split)]:.0%} of each emotion's faces, rounded, and gets none. Add more faces."
        )
    return rows_of(dataset, "train", indices), rows_of(dataset, "val", indices)


def select_usage(dataset, usage):
    """The rows of one split by its Usage name (on a file without Usage: the seeded
    split of the same role), or every row for "all"."""
    if usage == "all":
        return rows_of(dataset, "all")
    split = SPLITS[USAGES.index(usage)]
    indices = split_indices(dataset)
    if len(indices[split]) == 0:
        present = [name for name, other in zip(USAGES, SPLITS) if len(indices[other])]
        raise InputError(f"{dataset.path}: no {usage} rows. Pick others with --usage ({', '.join(present)} or all).")
    return rows_of(dataset, split, indices)


def rows_of(dataset, split, indices=None):
    """The rows of one split (or "all"), noting in .origin which face sets they are."""
    from ferkit import provenance  # which imports this module

    subset = dataset if split == "all" else dataset.subset(indices[split])
    return dataclasses.replace(subset, origin=provenance.face_sets(dataset, split, len(subset)))
