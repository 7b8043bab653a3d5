"""The fit loop shared by the training scripts: flags, callbacks, history, resuming."""
import argparse
import csv
import dataclasses
import json
import math
import os
import pathlib
import signal
import sys
import time
import warnings

from ferkit import CLASS_NAMES, NUM_CLASSES, InputError, cli, data, distillation, evaluation, files, models, plots, provenance
from ferkit.backend import keras

HISTORY_FIELDS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")
PLATEAU_PATIENCE = 8


@dataclasses.dataclass
class Phase:
    """A run of epochs with one set of trainable layers and a starting learning rate."""

    epochs: int
    learning_rate: float
    prepare: object = None  # called with the model before the phase compiles it


def training_parser(description, model_file, width_help="width multiplier: 1.0 is the full network", **recipe):
    """The shared flags. A script's `recipe` sets their defaults to the run of the model it
    ships (models/README.md), so that the script alone trains another like it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=pathlib.Path, default=data.default_data_path(),
                        help="FER-2013 CSV, plain or .gz (default: data/fer2013.csv if present, else data/train.csv)")
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
    parser.add_argument("--skip-bad-rows", action="store_true", help="drop malformed CSV rows instead of stopping")
    parser.set_defaults(**recipe)
    return parser


# Flags that belong to one invocation, not to the run a resume point remembers.
PER_INVOCATION = ("resume", "output", "time_limit", "fit_to_time")
# Flags that shape the model, which is built once: a resumed run keeps the run's values.
BUILT_IN = ("width", "dropout", "augment", "weights", "image_size", "init", "mixed_precision")


def parse_args(parser, argv=None):
    """Parses the command line. With --resume, flags left out take the values the run
    started with, from its resume point, so `--resume` alone continues the same run;
    flags given anew (say a larger --epochs) replace them."""
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
        if name in BUILT_IN:
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


def train(build_model, args, phases=None):
    """Trains build_model() behind args.augment on args.data, keeping the best model on
    validation accuracy at args.output."""
    phases = phases or [Phase(args.epochs, args.lr)]
    output = pathlib.Path(args.output)
    check_fit_to_time(args, phases)
    files.check_model_output(output)
    if args.init and not args.resume and pathlib.Path(args.init).resolve() == output.resolve():
        raise InputError(f"--init and --output are both {output}: the run would overwrite the model it "
                         "starts from. Give another --output.")
    files.check_not_an_input(output, "--output", {"--teacher models": args.teacher or []})
    # The resume point before the data: with --resume, a missing one is the likelier mistake.
    resumed = load_resume_point(*resume_paths(output)) if args.resume else None
    total_epochs = sum(phase.epochs for phase in phases)
    finished = resumed and finished_run(resumed[1], total_epochs, args.patience)
    if finished and not best_model_missing(resumed[1], output):
        print(f"nothing to resume: {finished}. Its best model, validation accuracy {resumed[1]['best']:.4f} at "
              f"epoch {resumed[1]['best_epoch']}, is {output}")
        return resumed[1]
    train_set, val_set = data.load_splits(args.data, skip_bad_rows=args.skip_bad_rows)
    print(f"{args.data}: {len(train_set)} training and {len(val_set)} validation faces")
    missing = [name for label, name in enumerate(CLASS_NAMES) if not (train_set.labels == label).any()]
    if missing:
        print(f"warning: the training faces hold no {', '.join(missing)}: the model will never answer "
              f"{'it' if len(missing) == 1 else 'them'}, and validation accuracy means little", file=sys.stderr)
    if output.exists() and not args.resume:
        print(f"{output} exists: this run's best model will replace it")
    keras.utils.set_random_seed(args.seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()

    set_precision(args.mixed_precision)
    export = float32_exporter() if args.mixed_precision else (lambda model: model)
    if resumed:
        trainer, state = resumed
    else:
        trainer = models.for_training(initial_model(build_model, args.init), args.augment)
        state = {"epoch": 0, "best": -1.0, "best_epoch": 0, "wait": 0}
    new_lr = args.resume and (state.get("settings") or {}).get("lr", args.lr) != args.lr
    state["settings"] = run_settings(args)
    cosine = args.schedule == "cosine"
    learnt_from = provenance.merged(train_set.origin, learnt_earlier(args, val_set))
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    if resumed and best_model_missing(state, output):
        save_best_model(trainer, output, export, learnt_from)
    recorder = EpochRecorder(output, state, args.patience, deadline, halve_lr=not cosine, export=export,
                             learnt_from=learnt_from)
    targets = distillation.training_targets(train_set, args.teacher, args.teacher_weight, output.parent)
    inputs = (models.as_input(train_set.images), targets)
    validation = (models.as_input(val_set.images), keras.utils.to_categorical(val_set.labels, NUM_CLASSES))

    verbose = cli.keras_verbosity()
    end = 0
    for phase in phases:
        start, end = end, end + phase.epochs
        if state["epoch"] >= end or recorder.stopped:
            continue
        resuming_inside_phase = args.resume and state["epoch"] > start and trainer.optimizer is not None
        if not resuming_inside_phase:
            if phase.prepare:
                phase.prepare(models.inference_part(trainer))
            compile_model(trainer, phase.learning_rate)
        elif new_lr and not cosine:  # plateau goes on from the optimizer's rate unless told another
            trainer.optimizer.learning_rate.assign(phase.learning_rate)
        schedule = [CosineSchedule(start, end, phase.learning_rate)] if cosine else []
        if args.fit_to_time:
            schedule.append(FitToTime(schedule[0], deadline, state))
        try:
            with StopBetweenBatches() as interrupt:
                trainer.fit(*inputs, batch_size=args.batch_size, epochs=end, initial_epoch=state["epoch"],
                            validation_data=validation, callbacks=schedule + [recorder, interrupt], verbose=verbose)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(interruption_note(state, output)) from None
        if recorder.diverged_in:
            raise InputError(divergence_note(recorder.diverged_in, state, output, args.mixed_precision))
        if recorder.stopped:
            print(f"stopped early: no better validation accuracy in {args.patience} epochs")
        if recorder.out_of_time and state["epoch"] < state["settings"]["epochs"]:
            print(f"time limit reached after epoch {state['epoch']}; --resume continues the run")
            break

    print(f"best validation accuracy {state['best']:.4f} at epoch {state['best_epoch']}; saved {output}")
    return state


def check_fit_to_time(args, phases):
    if not args.fit_to_time:
        return
    if args.schedule != "cosine" or args.time_limit is None:
        raise InputError("--fit-to-time fits the cosine curve to the time limit: it needs --schedule cosine "
                         "and --time-limit.")
    if len(phases) > 1:
        raise InputError("--fit-to-time works for one phase of training; give --fine-tune-epochs 0 or leave it out.")


def learnt_earlier(args, val_set):
    """The face sets the --init model and the teachers learnt from, saying so when they
    include validation faces, whose accuracy then overstates the run's model."""
    earlier = provenance.inherited([args.init, *(args.teacher or [])])
    seen = provenance.faces_seen(earlier, val_set.origin)
    if seen:
        print(f"note: the --init or --teacher models learnt from {seen} of the {len(val_set)} validation faces, "
              "so validation accuracy overstates this model on new faces")
    return earlier


def interruption_note(state, output):
    if not state["epoch"]:
        return "No epoch had finished: nothing was saved."
    return (f"Epoch {state['epoch']} was the last to finish; the best model so far (epoch {state['best_epoch']}) is "
            f"{output}. Run the same command with --resume to go on from there.")


def divergence_note(epoch, state, output, mixed_precision):
    advice = "a lower --lr" + (" or without --mixed-precision" if mixed_precision else "")
    said = f"training diverged: the loss was not a number in epoch {epoch}, which was not kept."
    if not state["epoch"]:
        return f"{said} Nothing was saved; start again with {advice}."
    return (f"{said} The best model so far (epoch {state['best_epoch']}) is {output}; --resume with {advice} "
            f"goes on after epoch {state['epoch']}.")


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


def set_precision(mixed):
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if mixed else "float32")


def float32_exporter():
    """A function that returns a float32 copy of a mixed-precision model, so that what is
    saved computes in float32 like every other saved model. Mixed precision keeps the
    weights in float32, so copying them loses nothing. The copy is made once, from the
    model's own layers: building it anew would fetch pretrained weights a second time."""
    twin = None

    def export(model):
        nonlocal twin
        if twin is None:
            twin = float32_copy(model)
        twin.set_weights(model.get_weights())
        return twin

    return export


def float32_copy(model):
    """model with every layer, those of nested models too, computing in float32."""
    def float32_layer(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    return keras.models.clone_model(model, clone_function=float32_layer, recursive=True)


def initial_model(build_model, init_path):
    """A new model, with the weights of the saved model at init_path when one is given."""
    model = build_model()
    if init_path:
        models.copy_weights(evaluation.load_model(init_path), model, init_path)
        print(f"starting from the weights of {init_path}")
    return model


def compile_model(model, learning_rate):
    optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


class EpochRecorder(keras.callbacks.Callback):
    """After each epoch: history CSV and PNG, the best model, learning-rate and stopping
    decisions, and a resume point. Kept in one callback so that the resume point
    holds every piece of state that decides the rest of the run."""

    def __init__(self, output, state, patience, deadline=None, halve_lr=True, export=lambda model: model,
                 learnt_from=()):
        super().__init__()
        self.output = output
        self.learnt_from = learnt_from
        self.export = export
        self.state = state
        self.patience = patience
        self.halve_lr = halve_lr
        self.deadline = deadline  # time.monotonic() after which the run ends
        self.out_of_time = False
        self.lr_patience = max(1, patience // 2)
        self.history_csv, self.history_png = side_paths(output)
        self.history = read_history(self.history_csv, state["epoch"])
        self.stopped = state["stopped"] = stopped_early(state, patience)
        self.diverged_in = None

    def on_epoch_end(self, epoch, logs=None):
        if not math.isfinite(logs["loss"]):
            # Weights that gave NaN or infinite losses predict nothing: keep the last good
            # epoch's model and resume point rather than record this one.
            self.diverged_in = epoch + 1
            self.model.stop_training = True
            return
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row = {"epoch": epoch + 1, "learning_rate": learning_rate}
        row.update({name: float(logs[name]) for name in HISTORY_FIELDS[1:-1]})
        self.history.append(row)
        write_history(self.history, self.history_csv, self.history_png)

        state = self.state
        state["epoch"] = epoch + 1
        improved = row["val_accuracy"] > state["best"]
        if improved:
            state.update(best=row["val_accuracy"], best_epoch=epoch + 1, wait=0)
        else:
            state["wait"] += 1
            if self.halve_lr and state["wait"] % self.lr_patience == 0:
                self.model.optimizer.learning_rate.assign(learning_rate / 2)
            if state["wait"] >= self.patience:
                state["stopped"] = self.stopped = True
                self.model.stop_training = True
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.out_of_time = True  # not saved in the state: a resumed run goes on
            self.model.stop_training = True
        # The resume point first: a kill before the model is saved leaves a run that
        # --resume continues, saving that model from the resume point's weights.
        save_resume_point(self.model, state, *resume_paths(self.output))
        if improved:
            save_best_model(self.model, self.output, self.export, self.learnt_from)


def best_model_missing(state, output):
    """Whether a kill came between the resume point's save and that of the best model."""
    return state["best_epoch"] == state["epoch"] and (
        not output.exists() or output.stat().st_mtime < resume_paths(output)[1].stat().st_mtime)


def save_best_model(trainer, output, export, learnt_from):
    files.save_model(export(models.inference_part(trainer)), output, learnt_from)


class StopBetweenBatches(keras.callbacks.Callback):
    """Ctrl-C during fit() stops the run after the current batch. Python raises KeyboardInterrupt
    wherever the main thread happens to be; inside the backend's clean-up code it can be swallowed
    (the run goes on) or leave native state broken (a crash). Here the signal only sets a flag,
    and the interrupt is raised between batches. A second Ctrl-C stops at once."""

    def __enter__(self):
        self.requested = False
        # Only over Python's own handler: not where SIGINT is ignored, as in a background job.
        self.installed = signal.getsignal(signal.SIGINT) is signal.default_int_handler
        if self.installed:
            signal.signal(signal.SIGINT, self.request)
        return self

    def __exit__(self, *error):
        if self.installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    def request(self, signal_number, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        os.write(sys.stderr.fileno(), b"\nstopping after this batch; Ctrl-C again stops at once\n")  # no buffer to re-enter

    def on_train_batch_end(self, batch, logs=None):
        self.stop_if_requested()

    def on_test_batch_end(self, batch, logs=None):
        self.stop_if_requested()

    def stop_if_requested(self):
        if self.requested:
            raise KeyboardInterrupt


class CosineSchedule(keras.callbacks.Callback):
    """Sets the learning rate before each epoch from the epoch number alone, so a resumed
    run picks up the curve where it stopped: base_lr at `start`, near zero by `end`."""

    def __init__(self, start, end, base_lr):
        super().__init__()
        self.start, self.end, self.base_lr = start, end, base_lr

    def on_epoch_begin(self, epoch, logs=None):
        progress = (epoch - self.start) / (self.end - self.start)
        self.model.optimizer.learning_rate.assign(self.base_lr * 0.5 * (1 + math.cos(math.pi * progress)))


class FitToTime(keras.callbacks.Callback):
    """Moves a cosine curve's end to the last epoch that fits before the deadline, at the
    pace of this invocation's last few epochs after its first (which compiles), never past
    the run's --epochs. Set after every epoch, so a pace that changes moves the end again.
    The run's epochs in its resume point become that end: --resume follows the same curve.
    Comes before the EpochRecorder, which saves the resume point."""

    PACE_EPOCHS = 3  # recent enough to follow a machine that speeds up or slows down

    def __init__(self, schedule, deadline, state, clock=time.monotonic):
        super().__init__()
        self.schedule, self.deadline, self.state, self.clock = schedule, deadline, state, clock
        self.most = schedule.end
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self.began = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        now = self.clock()
        self.durations.append(now - self.began)
        if len(self.durations) < 2:
            return
        recent = self.durations[1:][-self.PACE_EPOCHS:]
        pace = sum(recent) / len(recent)
        end = min(self.most, epoch + 1 + max(0, int((self.deadline - now) // pace)))
        if end != self.schedule.end:
            after_progress_bar = "\n" if cli.keras_verbosity() == 1 else ""  # the bar's line has no end yet
            print(f"{after_progress_bar}at {pace:.3g} s an epoch, the cosine curve now ends at epoch {end}")
            self.schedule.end = self.state["settings"]["epochs"] = end
        if epoch + 1 >= end:
            self.model.stop_training = True


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
        reason = evaluation.unreadable_model_reason(checkpoint, error)
        raise InputError(f"{checkpoint}: cannot resume from it: {reason}. Run without --resume.") from None
    models.allow_jit(trainer)
    print(f"resuming after epoch {state['epoch']} (best validation accuracy so far {state['best']:.4f})")
    return trainer, state
