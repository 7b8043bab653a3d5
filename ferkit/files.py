"""Writing files whole: an interruption never leaves a partial file where a good one was."""
import contextlib
import glob
import os
import pathlib
import re
import shutil
import tempfile

from ferkit import InputError


class atomic_path:
    """Context manager giving a temporary path beside `path`, its folder made if need be,
    moved onto it on success."""

    def __init__(self, path):
        self.path = pathlib.Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, self.temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=partial_prefix(self.path.parent, self.path.stem), suffix=self.path.suffix
        )
        os.close(descriptor)
        return self.temporary

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            os.chmod(self.temporary, 0o666 & ~current_umask())  # mkstemp makes it private
            os.replace(self.temporary, self.path)
        elif os.path.exists(self.temporary):
            os.remove(self.temporary)
        if isinstance(error, OSError) and error.errno:  # say a full disk: name the file meant, not the temporary
            raise OSError(error.errno, os.strerror(error.errno), str(self.path)) from None
        return False


@contextlib.contextmanager
def atomic_folder(path):
    """A fresh temporary folder beside `path`, put in its place on success: the files written
    into it appear together, never mixed with those of an earlier run, a concurrent one, or
    one that failed halfway. What `path` held that the run did not write is kept."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=partial_prefix(path.parent, path.name)))
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~current_umask())  # mkdtemp makes it private
        if path.is_dir():
            for other in path.iterdir():
                if not (temporary / other.name).exists():
                    os.rename(other, temporary / other.name)
            retired = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.rename(path, retired)
            os.rename(temporary, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(temporary, path)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        meant = error.filename
        if meant and pathlib.Path(meant).is_relative_to(temporary):  # name the file meant, not the temporary
            meant = path / pathlib.Path(meant).relative_to(temporary)
        raise OSError(error.errno, error.strerror, str(meant)) from None
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def partial_prefix(folder, stem):
    """How the names of this process's temporaries for stem in folder begin. They are hidden
    and carry the process id, so a later run can tell a killed run's leftovers from a live
    run's work: those leftovers are removed here, before a new temporary is made."""
    remove_leftovers(folder, stem)
    return f".{stem}.partial-{os.getpid()}-"


def remove_leftovers(folder, stem):
    """Removes the temporaries named for stem that runs no longer alive left in folder."""
    for leftover in pathlib.Path(folder).glob(f".{glob.escape(stem)}.partial-*"):
        owner = re.match(r"\d+", leftover.name[len(f".{stem}.partial-"):])
        if owner and process_alive(int(owner[0])):
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path, flag, folder=False):
    """Raises InputError unless the file (or with folder=True, the folder) path can be
    written: said before the work, rather than after it when the result is saved."""
    path = pathlib.Path(path)
    if folder and path.is_file():
        raise InputError(f"{flag} {path} is a file: name a folder.")
    if not folder and path.is_dir():
        raise InputError(f"{flag} {path} is a folder: name a file to write in it.")
    start = path if folder and path.is_dir() else path.parent
    nearest = next(parent for parent in (start, *start.parents) if parent.exists())
    if not nearest.is_dir():
        raise InputError(f"{flag} {path}: {nearest} is a file, not a folder.")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {path}: no permission to write in {nearest}.")


def check_not_an_input(path, flag, inputs):
    """Raises InputError where the output path is one of the run's inputs ({flag: paths}):
    the same file by the file system's own judgement, so links and case-blind names count."""
    path = pathlib.Path(path)
    if not path.exists():
        return
    for input_flag, paths in inputs.items():
        for source in paths:
            if pathlib.Path(source).exists() and os.path.samefile(path, source):
                raise InputError(f"{flag} {path} is {source}, one of the {input_flag} it reads: "
                                 "name another file, so it stays as it is.")


def write_text(path, text):
    with atomic_path(path) as temporary:
        pathlib.Path(temporary).write_text(text)
