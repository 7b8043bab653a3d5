"""PNG pictures of training curves and evaluation results."""
import matplotlib

matplotlib.use("Agg")  # no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from ferkit import CLASS_NAMES, files  # noqa: E402


def plot_history(history, path):
    """history: dict of per-epoch lists with epoch, loss, accuracy, val_loss, val_accuracy and
    learning_rate. A dotted line marks the best epoch, the one whose model is kept."""
    epochs = history["epoch"]
    best = int(np.argmax(history["val_accuracy"]))  # the first of equals, as training keeps it
    figure, (loss_axes, accuracy_axes, rate_axes) = plt.subplots(1, 3, figsize=(15, 4))
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        axes.plot(epochs, history[metric], label="train")
        axes.plot(epochs, history[f"val_{metric}"], label="validation")
    loss_axes.set_title("loss")
    accuracy_axes.set_title(f"accuracy (best validation {history['val_accuracy'][best]:.4f}, epoch {epochs[best]})")
    rate_axes.plot(epochs, history["learning_rate"], color="black", drawstyle="steps-mid")
    rate_axes.set_ylim(bottom=0)
    rate_axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    rate_axes.set_title("learning rate")
    for axes in (loss_axes, accuracy_axes, rate_axes):
        axes.axvline(epochs[best], color="grey", linestyle=":", label="best epoch")
        axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
    loss_axes.legend()
    accuracy_axes.legend()
    figure.tight_layout()
    save(figure, path)


def plot_confusion_matrix(matrix, path, title):
    """Counts on the left, each row divided by its total on the right."""
    matrix = np.asarray(matrix)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axes_pair = plt.subplots(1, 2, figsize=(15, 6.2))
    for axes, values, subtitle, fmt in (
        (axes_pair[0], matrix, "counts", "d"),
        (axes_pair[1], normalised, "share of each true class", ".2f"),
    ):
        image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        for (row, column), value in np.ndenumerate(values):
            colour = "white" if normalised[row, column] > 0.5 else "black"
            axes.text(column, row, format(value, fmt), ha="center", va="center", color=colour, fontsize=9)
        axes.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
        axes.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        axes.set_title(subtitle)
    figure.colorbar(image, ax=axes_pair, fraction=0.025)
    figure.suptitle(title)
    save(figure, path, bbox_inches="tight")


def plot_class_scores(precision, recall, f1, path, title):
    positions = np.arange(len(CLASS_NAMES))
    figure, axes = plt.subplots(figsize=(10, 4.5))
    for offset, (name, values) in zip((-0.27, 0, 0.27), (("precision", precision), ("recall", recall), ("F1", f1))):
        bars = axes.bar(positions + offset, values, width=0.27, label=name)
        axes.bar_label(bars, fmt="%.2f", fontsize=7)
    axes.set_xticks(positions, CLASS_NAMES)
    axes.set_ylim(0, 1.05)
    axes.set_title(title)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # outside: inside, it hides the last class's bars
    axes.grid(axis="y", alpha=0.3)
    save(figure, path, bbox_inches="tight")


def plot_mistakes(images, probabilities, chosen, path, title):
    """One row per true emotion: the faces chosen (evaluation.confident_mistakes), each
    under the emotion predicted and its probability."""
    columns = max(1, max(len(indices) for indices in chosen))
    figure, grid = plt.subplots(len(CLASS_NAMES), columns, figsize=(1.25 * columns + 1, 1.45 * len(CLASS_NAMES)),
                                squeeze=False)
    for name, indices, row in zip(CLASS_NAMES, chosen, grid):
        for column, axes in enumerate(row):
            axes.set_xticks([])
            axes.set_yticks([])
            axes.spines[:].set_visible(False)
            if column < len(indices):
                face = indices[column]
                predicted = int(np.argmax(probabilities[face]))
                axes.imshow(images[face], cmap="gray", vmin=0, vmax=255)
                axes.set_title(f"{CLASS_NAMES[predicted]} {probabilities[face, predicted]:.2f}", fontsize=8)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    figure.suptitle(f"{title}\nmost confident mistakes: true emotion at left, prediction above each face", fontsize=10)
    save(figure, path, bbox_inches="tight")


MAX_FACES_PLOTTED = 6


def plot_emotions_over_time(tracks, path, title):
    """tracks: {face id: (times, (T, 7) probabilities)}; one panel per face (the faces seen
    longest, in the order they appeared), one line per emotion."""
    longest = sorted(sorted(tracks.items(), key=lambda item: -len(item[1][0]))[:MAX_FACES_PLOTTED])
    rows = max(1, len(longest))
    figure, panels = plt.subplots(rows, 1, figsize=(10, 2.6 * rows), sharex=True, squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for axes, (face_id, (times, probabilities)) in zip(panels[:, 0], longest):
        for index, name in enumerate(CLASS_NAMES):
            axes.plot(times, probabilities[:, index], color=colours[index], label=name, linewidth=1.5,
                      marker="o" if len(times) < 3 else None)  # a line needs two points
        axes.set_ylim(0, 1)
        axes.set_ylabel("probability")
        axes.set_title(f"face {face_id}", loc="left", fontsize=10)
        axes.grid(alpha=0.3)
    if not longest:
        panels[0, 0].text(0.5, 0.5, "no faces found", ha="center", va="center", transform=panels[0, 0].transAxes)
    panels[0, 0].legend(ncol=len(CLASS_NAMES), loc="lower left", bbox_to_anchor=(0, 1.12), fontsize=9, frameon=False)
    panels[-1, 0].set_xlabel("time (s)")
    figure.suptitle(title)
    figure.tight_layout()
    save(figure, path, bbox_inches="tight")


def save(figure, path, **options):
    try:
        with files.atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=100, **options)
    finally:
        plt.close(figure)
