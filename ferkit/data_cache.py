"""Parsed FER-2013 CSVs kept as .npz files, so that a script reads 35,887 faces in a
second rather than parsing the CSV again. A cache is only a speed-up: a stale or damaged
one is rebuilt."""
import hashlib
import os
import zipfile
import zlib

import numpy as np

from ferkit import CACHE_DIR, files

VERSION = 1


def cache_path(path):
    """Beside the data when that folder is writable, else in the user's cache folder."""
    path = path.resolve()
    if os.access(path.parent, os.W_OK):
        return path.with_name(path.name + ".cache.npz")
    key = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    return CACHE_DIR / f"{path.name}-{key}.cache.npz"


def source_stamp(path):
    stat = path.stat()
    return np.array([VERSION, stat.st_size, stat.st_mtime_ns], dtype=np.int64)


def read(path):
    """(images, labels, usage or None) of the CSV at path, or None without a fresh cache."""
    cache = cache_path(path)
    try:
        with np.load(cache, allow_pickle=False) as saved:
            if not np.array_equal(saved["stamp"], source_stamp(path)):
                return None
            usage = saved["usage"] if saved["has_usage"] else None
            return saved["images"], saved["labels"], usage
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zlib.error, zipfile.BadZipFile):
        print(f"{cache}: damaged (an interrupted copy or a full disk?); reading {path} again and rebuilding it")
        return None


def write(path, images, labels, usage):
    cache = cache_path(path)
    has_usage = usage is not None
    try:
        with files.atomic_path(cache) as temporary:
            np.savez(
                temporary,
                stamp=source_stamp(path),
                images=images,
                labels=labels,
                usage=usage if has_usage else np.zeros(0, np.uint8),
                has_usage=has_usage,
            )
    except OSError:
        pass  # a cache is only a speed-up
