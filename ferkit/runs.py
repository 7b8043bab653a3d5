"""A training run's bookkeeping: its flags, and the files beside its model that let it
resume (resume point, settings) and show how it went (history CSV and PNG)."""
import argparse
import csv
import json
import pathlib
import sys
import warnings

from ferkit import InputError, cli, data, files, model_files, models, plots
from ferkit.backend import keras

HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
PLATEAU_PATIENCE = 8


def training_parser(description, model_file, width_help="width multiplier: 1.0 is the full network", **recipe):
    """The shared flags. A script's `recipe` sets their defaults to the run of the model it
    ships (recipes/), so that the script alone trains another like it."""
    parser = argparse.ArgumentParser(description=description)
    cli.add_data_flags(parser, "FER-2013 CSV, plain or .gz (default: data/fer2013.csv if present, else data/train.csv)",
                       default=data.default_data_path())
    parser.add_argument("--epochs", type=cli.positive_int, default=30, help="most epochs to train (default: %(default)s)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64, help="images per step (default: %(default)s)")
    parser.add_argument("--lr", type=cli.positive_float, default=0.01,
                        help="SGD (Nesterov) learning rate (default: %(default)s)")
    parser.add_argument("--width", type=cli.positive_float, default=1.0, help=f"{width_help} (default: %(default)s)")
    parser.add_argument("--augment", choices=models.AUGMENTATIONS, default="full",
                        help="training-time augmentation: full (flip, shift, rotation, zoom, erasing), "
                             "light (flip, shift) or none (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--patience", type=cli.positive_int,
                        help="stop after this many epochs without a better validation accuracy; "
                             "with --schedule plateau the learning rate halves after half as many "
                             f"(default: {PLATEAU_PATIENCE} with plateau; with cosine --epochs, so the curve runs to its end)")
    parser.add_argument("--schedule", choices=("plateau", "cosine"), default="cosine",
                        help="learning rate: plateau halves it when validation accuracy stalls; cosine "
                             "lowers it smoothly to zero over --epochs, for a run whose length "
                             "you fix in advance (default: %(default)s)")
    parser.add_argument("--output", type=pathlib.Path, default=data.PROJECT_DIR / "models" / model_file,
                        help=f"where to save the best model (default: models/{model_file})")
    parser.add_argument("--init", type=pathlib.Path, metavar="MODEL",
                        help="start from the weights of this saved model (say a shipped one, to fine-tune it "
                             "on your own faces) instead of random ones; same script and --width (default: none)")
    parser.add_argument("--teacher", type=pathlib.Path, nargs="+", metavar="MODEL",
                        help="also learn from these saved models' averaged, flip-averaged predictions on the "
                             "training faces (knowledge distillation), say models/model_*.h5 (default: none)")
    parser.add_argument("--teacher-weight", type=cli.fraction, default=0.5,
                        help="the teachers' share of each training target, the labels' the rest (default: 0.5)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its last finished epoch, with the "
                             "flags it started with unless given again")
    parser.add_argument("--time-limit", type=cli.positive_float, metavar="MINUTES",
                        help="end the run after the first epoch that finishes past this many minutes; "
                             "--resume continues it later (default: no limit)")
    parser.add_argument("--fit-to-time", action="store_true",
                        help="with --schedule cosine and --time-limit: end the cosine curve, and the run, at the "
                             "last epoch that fits in the time limit at the pace of the last epochs, so the "
                             "learning rate reaches zero as the time runs out; --epochs is the most")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in bfloat16, keeping the weights in float32: faster on GPUs and on "
                             "CPUs with AMX (bench.py --mixed-precision says by how much); the saved "
                             "model is float32 all the same")
    parser.set_defaults(**recipe)
    return parser


# Flags that belong to one invocation, not to the run a resume point remembers.
PER_INVOCATION = ("resume", "output", "time_limit", "fit_to_time")
# Shared flags that shape the model, which is built once: a resumed run keeps the run's values.
BUILT_IN = ("width", "augment", "init", "mixed_precision")


def parse_args(parser, argv=None, built_in=()):
    """Parses the command line. With --resume, flags left out take the values the run
    started with, from its resume point, so `--resume` alone continues the same run;
    flags given anew (say a larger --epochs) replace them, except those that shaped the
    model: BUILT_IN and the script's own, built_in (names as in args)."""
    args = parser.parse_args(argv)
    settings = args.resume and stored_settings(resume_paths(args.output)[1])
    if not settings:
        return with_default_patience(args)  # a fresh run, or nothing to resume: train() says so
    settings["data"] = pathlib.Path(settings["data"])
    if settings.get("teacher"):
        settings["teacher"] = [pathlib.Path(path) for path in settings["teacher"]]
    resumed = parser.parse_args(argv, namespace=argparse.Namespace(**settings))
    for name, value in settings.items():
        flag, given = "--" + name.replace("_", "-"), getattr(resumed, name)
        if given == value or (name == "data" and given.resolve() == value):
            continue
        if name in BUILT_IN or name in built_in:
            print(f"warning: {flag} stays {value}: the model was built with it", file=sys.stderr)
            setattr(resumed, name, value)
        else:
            print(f"resuming with {flag} {given} (the run had {value})")
    return with_default_patience(resumed)


def with_default_patience(args):
    """A cosine run goes to the end of its curve unless told otherwise; a plateau run stops
    once the halved learning rates have stopped helping."""
    if args.patience is None:
        args.patience = args.epochs if args.schedule == "cosine" else PLATEAU_PATIENCE
    return args


def run_settings(args):
    """The flags a resume point remembers, as JSON values."""
    settings = {name: value for name, value in vars(args).items() if name not in PER_INVOCATION}
    for name in ("data", "init", "teacher"):
        if isinstance(settings[name], list):
            settings[name] = [str(pathlib.Path(path).resolve()) for path in settings[name]]
        elif settings[name] is not None:
            settings[name] = str(pathlib.Path(settings[name]).resolve())
    return settings


def stored_settings(state_path):
    try:
        return json.loads(state_path.read_text()).get("settings")
    except (OSError, ValueError, AttributeError):
        return None


def beside(output, *suffixes):
    """The run's other files, named after its model: model.h5 -> model.resume.json, ..."""
    return [output.with_name(output.stem + suffix) for suffix in suffixes]


def resume_paths(output):
    return beside(output, ".resume.keras", ".resume.json")


def side_paths(output):
    """The per-epoch history CSV and its training-curve PNG, beside the model."""
    return beside(output, ".history.csv", ".history.png")


def finished_run(state, total_epochs, patience):
    """Why a resumed run has no epoch left to train, or None."""
    if state["epoch"] >= total_epochs:
        return f"the run has trained all its {total_epochs} epochs; give a larger --epochs to train it on"
    if stopped_early(state, patience):
        return (f"the run stopped early after epoch {state['epoch']}, {patience} epochs without a better validation "
                "accuracy; give a larger --patience to train it on")
    return None


def stopped_early(state, patience):
    """Whether the run stopped for want of a better epoch; with a larger --patience it trains on."""
    return state.get("stopped", False) and state["wait"] >= patience


def best_model_missing(state, output):
    """Whether a kill came between the resume point's save and that of the best model."""
    return state["best_epoch"] == state["epoch"] and (
        not output.exists() or output.stat().st_mtime < resume_paths(output)[1].stat().st_mtime)


def read_history(path, epochs):
    if epochs == 0 or not path.is_file():
        return []
    with open(path, newline="") as file:
        rows = [{name: float(value) for name, value in row.items()} for row in csv.DictReader(file)]
    for row in rows:
        row["epoch"] = int(row["epoch"])
    return [row for row in rows if row["epoch"] <= epochs]


def write_history(history, csv_path, png_path):
    with files.atomic_path(csv_path) as temporary:
        with open(temporary, "w", newline="") as file:
            writer = csv.DictWriter(file, HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(history)
    columns = {name: [row[name] for row in history] for name in HISTORY_FIELDS}
    plots.plot_history(columns, png_path)


def save_resume_point(trainer, state, checkpoint, state_path):
    with files.atomic_path(checkpoint) as temporary:
        trainer.save(temporary)  # .keras: the training model, weights and optimizer state
    with files.atomic_path(state_path) as temporary:
        pathlib.Path(temporary).write_text(json.dumps(state, indent=1))


def load_resume_point(checkpoint, state_path):
    if not (checkpoint.is_file() and state_path.is_file()):
        raise InputError(f"nothing to resume: {checkpoint} not found. Run without --resume to start training.")
    try:
        state = json.loads(state_path.read_text())
    except ValueError as error:
        raise InputError(f"{state_path}: cannot resume from it ({error}). Run without --resume.") from None
    try:
        with warnings.catch_warnings():
            # Loading compiles without XLA because of the augmentation layers; allow_jit
            # below turns it back on, so Keras' warning that it is off would mislead.
            warnings.filterwarnings("ignore", message="Model doesn't support `jit_compile=True`")
            trainer = keras.models.load_model(checkpoint)
    except Exception as error:
        reason = model_files.unreadable_model_reason(checkpoint, error)
        raise InputError(f"{checkpoint}: cannot resume from it: {reason}. Run without --resume.") from None
    models.allow_jit(trainer)
    print(f"resuming after epoch {state['epoch']} (best validation accuracy so far {state['best']:.4f})")
    return trainer, state
