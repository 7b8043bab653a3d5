"""What every script shares at its edges: common flags and clean error exits."""
import sys

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


def positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def positive_float(text):
    value = float(text)
    if value <= 0:
        raise ValueError(text)
    return value


def fraction(text):
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value


def dropout_rate(text):
    value = float(text)
    if not 0 <= value < 1:
        raise ValueError(text)
    return value


positive_int.__name__ = "positive integer"  # argparse names the type in its message
positive_float.__name__ = "positive number"
fraction.__name__ = "number from 0 to 1"
dropout_rate.__name__ = "dropout rate (0 <= rate < 1)"
