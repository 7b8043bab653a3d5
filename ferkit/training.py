"""The fit loop shared by the training scripts: build or resume, fit, keep the best."""
import dataclasses
import pathlib
import sys
import time

from ferkit import CLASS_NAMES, NUM_CLASSES, InputError, callbacks, cli, data, distillation, files, model_files, models
from ferkit import provenance, runs
from ferkit.backend import keras


@dataclasses.dataclass
class Phase:
    """A run of epochs with one set of trainable layers and a starting learning rate."""

    epochs: int
    learning_rate: float
    prepare: object = None  # called with the model before the phase compiles it


def train(build_model, args, phases=None):
    """Trains build_model() behind args.augment on args.data, keeping the best model on
    validation accuracy at args.output."""
    phases = phases or [Phase(args.epochs, args.lr)]
    output = pathlib.Path(args.output)
    check_fit_to_time(args, phases)
    model_files.check_model_output(output)
    if args.init and not args.resume and pathlib.Path(args.init).resolve() == output.resolve():
        raise InputError(f"--init and --output are both {output}: the run would overwrite the model it "
                         "starts from. Give another --output.")
    read = {"--teacher models": args.teacher or [], "--data": [args.data], "--init": [args.init] if args.init else []}
    files.check_not_an_input(output, "--output", read)
    for path in (*runs.side_paths(output), *runs.resume_paths(output)):
        files.check_not_an_input(path, f"--output {output}'s run file", read)
    # The resume point before the data: with --resume, a missing one is the likelier mistake.
    resumed = runs.load_resume_point(*runs.resume_paths(output)) if args.resume else None
    total_epochs = sum(phase.epochs for phase in phases)
    finished = resumed and runs.finished_run(resumed[1], total_epochs, args.patience)
    if finished and not runs.best_model_missing(resumed[1], output):
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
    state["settings"] = runs.run_settings(args)
    cosine = args.schedule == "cosine"
    learnt_from = provenance.merged(train_set.origin, learnt_earlier(args, val_set))
    deadline = None if args.time_limit is None else time.monotonic() + 60 * args.time_limit
    if resumed and runs.best_model_missing(state, output):
        callbacks.save_best_model(trainer, output, export, learnt_from)
    recorder = callbacks.EpochRecorder(output, state, args.patience, deadline, halve_lr=not cosine, export=export,
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
        schedule = [callbacks.CosineSchedule(start, end, phase.learning_rate)] if cosine else []
        if args.fit_to_time:
            schedule.append(callbacks.FitToTime(schedule[0], deadline, state))
        try:
            with callbacks.StopBetweenBatches() as interrupt:
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
        raise InputError("--fit-to-time works for one phase of training.")


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
        models.copy_weights(model_files.load_model(init_path), model, init_path)
        print(f"starting from the weights of {init_path}")
    return model


def compile_model(model, learning_rate):
    optimizer = keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
