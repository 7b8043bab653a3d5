"""What every script shares at its edges: common flags and clean error exits."""
import argparse
import pathlib
import sys
import time

from ferkit import InputError

EXIT_SYSTEM_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def run(main):
    """Calls main(); turns InputError into one line on stderr and exit code 2, and an
    OSError (the machine's side: a full disk, no permission) into one line and exit code 1."""
    try:
        main()
    except InputError as error:
        exit_with_error(error, EXIT_BAD_INPUT)
    except OSError as error:
        exit_with_error(f"{error.filename}: {error.strerror}." if error.filename and error.strerror else error,
                        EXIT_SYSTEM_ERROR)
    except KeyboardInterrupt as interruption:  # a script may say, as its args, what was kept
        print(f"\ninterrupted. {interruption}".rstrip(), file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


def exit_with_error(message, code):
    one_line = " ".join(str(message).split())  # messages quoted from libraries may hold newlines
    print(f"error: {one_line}", file=sys.stderr)
    sys.exit(code)


def keras_verbosity():
    """Keras' progress bar on a terminal; in a log file, where each bar update
    would be a line of its own, one line per epoch or per prediction run."""
    return 1 if sys.stdout.isatty() else 2


def validator(convert, accept, kind):
    """An argparse type: convert(text), kept where accept(value); otherwise argparse's own
    "invalid <kind> value" message."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"invalid {kind} value: {text!r}")
        return value

    parse.__name__ = kind
    return parse


positive_int = validator(int, lambda value: value >= 1, "positive integer")
positive_float = validator(float, lambda value: value > 0, "positive number")
fraction = validator(float, lambda value: 0 <= value <= 1, "number from 0 to 1")
dropout_rate = validator(float, lambda value: 0 <= value < 1, "dropout rate (0 <= rate < 1)")


class Progress:
    """A counter on stderr for long loops: one line redrawn on a terminal; in a log file,
    where each redraw would pile onto one endless line, a line every tenth of the way.
    With unit_rate it also says how many a second and, with a known total, the time left."""

    def __init__(self, total, label, unit_rate=None):
        self.total, self.label, self.unit_rate, self.done = total, label, unit_rate, 0
        self.on_terminal = sys.stderr.isatty()
        self.started = time.monotonic()
        self.last_line = 0.0

    def step(self, count=1):
        self.done += count
        total = f"/{self.total}" if self.total else ""
        counter = f"{self.label}: {self.done}{total}" + self.pace()
        finished = self.done == self.total
        if self.on_terminal:
            print(f"\r{counter}   ", end="\n" if finished else "", file=sys.stderr, flush=True)
        elif self.total and self.done * 10 // self.total > (self.done - count) * 10 // self.total:
            print(counter, file=sys.stderr, flush=True)
        elif not self.total and time.monotonic() - self.last_line > 10:  # no total: a line every 10 s
            self.last_line = time.monotonic()
            print(counter, file=sys.stderr, flush=True)

    def pace(self):
        if not self.unit_rate:
            return ""
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = f", {format_duration((self.total - self.done) / rate)} left" if self.total and rate else ""
        return f" ({rate:.1f} {self.unit_rate}{left})"

    def close(self):
        """Ends the redrawn line where the loop stopped before its total."""
        if self.on_terminal and self.done != self.total:
            print(file=sys.stderr, flush=True)


def format_duration(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"


def shown_path(path):
    """path relative to the working folder where it lies inside it, as a person typed it."""
    path = pathlib.Path(path).absolute()
    return str(path.relative_to(pathlib.Path.cwd()) if path.is_relative_to(pathlib.Path.cwd()) else path)


def add_data_flags(parser, data_help, default=None):
    """--data, the FER-2013 CSV, and --skip-bad-rows."""
    parser.add_argument("--data", type=pathlib.Path, default=default, help=data_help)
    parser.add_argument("--skip-bad-rows", action="store_true", help="drop malformed CSV rows instead of stopping")


def add_model_flags(parser, tta_help, models_help="model files (default: models/model_*.h5)"):
    """--models, the model files, and --tta / --no-tta, flip averaging."""
    parser.add_argument("--models", type=pathlib.Path, nargs="+", help=models_help)
    parser.add_argument("--tta", action=argparse.BooleanOptionalAction, default=True, help=tta_help)
