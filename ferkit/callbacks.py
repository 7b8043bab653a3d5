"""The callbacks of the fit loop: what is kept after each epoch, the learning-rate
curves, and a clean stop on Ctrl-C."""
import math
import os
import signal
import sys
import time

from ferkit import cli, model_files, models, runs
from ferkit.backend import keras


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
        self.history_csv, self.history_png = runs.side_paths(output)
        self.history = runs.read_history(self.history_csv, state["epoch"])
        self.stopped = state["stopped"] = runs.stopped_early(state, patience)
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
        row.update({name: float(logs[name]) for name in runs.HISTORY_FIELDS[1:-1]})
        self.history.append(row)
        runs.write_history(self.history, self.history_csv, self.history_png)

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
        runs.save_resume_point(self.model, state, *runs.resume_paths(self.output))
        if improved:
            save_best_model(self.model, self.output, self.export, self.learnt_from)


def save_best_model(trainer, output, export, learnt_from):
    model_files.save_model(export(models.inference_part(trainer)), output, learnt_from)


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
