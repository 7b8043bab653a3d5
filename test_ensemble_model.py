"""Evaluates an ensemble of FER-2013 models: averages their softmax outputs and
reports accuracy, the confusion matrix, and per-class precision, recall and F1.

    python3 test_ensemble_model.py                         # models/model_*.h5 on the default data
    python3 test_ensemble_model.py --num-models 2 --no-tta
    python3 test_ensemble_model.py --data fer2013.csv --usage PublicTest --models a.h5 b.h5
"""
import argparse
import json
import pathlib
import time

from ferkit import cli, data, evaluation, files, model_files, plots, provenance
from ferkit.predictor import Predictor

SAMPLE_PATH = data.DATA_DIR / "sample.csv"
MISTAKES_PER_CLASS = 8
REPORT_FILES = ("confusion_matrix.png", "class_scores.png", "mistakes.png", "report.json")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_model_flags(parser, "also score each model averaged over the faces and their mirror images, the "
                                "figures the PNGs show; --no-tta scores the faces alone (default: --tta)")
    parser.add_argument("--num-models", type=cli.positive_int, help="use only the first N models (default: all)")
    parser.add_argument("--weights", type=float, nargs="+", help="one weight per model for a weighted average (default: equal)")
    cli.add_data_flags(parser, "FER-2013 CSV (default: data/fer2013.csv, else data/train.csv, else the demo "
                               "data/sample.csv)")
    parser.add_argument("--usage", choices=(*data.USAGES, "all"),
                        help="rows to test on (default: PrivateTest, i.e. the held-out test rows; all rows of the sample)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=256, help="faces per prediction batch (default: 256)")
    parser.add_argument("--report-dir", type=pathlib.Path, default=pathlib.Path("reports"),
                        help="where the PNGs and report.json go (default: reports/)")
    return parser.parse_args()


def choose_data(args):
    """The data file and the rows to use, saying which it is."""
    path = args.data
    if path is None:
        path = data.default_data_path()
        if not path.is_file() and SAMPLE_PATH.is_file():
            print(f"no FER-2013 file in {data.DATA_DIR}; using {SAMPLE_PATH}, a small demo sample: "
                  "its figures say little about the models. " + data.GET_DATA_HELP)
            return SAMPLE_PATH, args.usage or "all"
    return path, args.usage or "PrivateTest"


def main():
    args = parse_args()
    model_paths = args.models or model_files.find_models()
    model_files.check_keras_files(model_paths, "test_ensemble_model.py",  # it scores each member with and without flips
                                  "; export_model.py --data scores an exported file")
    if args.num_models and 0 < len(model_paths) < args.num_models:
        print(f"--num-models {args.num_models}: only {len(model_paths)} model(s) to choose from; using them all")
    model_paths = model_paths[: args.num_models]
    evaluation.check_weights(args.weights, len(model_paths))
    files.check_writable(args.report_dir, "--report-dir", folder=True)
    predictor = Predictor(model_paths, tta=args.tta, weights=args.weights, batch_size=args.batch_size)
    path, usage = choose_data(args)
    faces = data.select_usage(data.load_dataset(path, skip_bad_rows=args.skip_bad_rows), usage)
    rows_used = f"{usage} rows" if faces.usage is not None or usage == "all" else f"held-out {usage} split"
    print(f"{path}: {len(faces)} faces ({rows_used}); {len(model_paths)} model(s)")

    start = time.perf_counter()
    views = predictor.member_views(faces.images, progress="faces")  # (faces, models, views, 7)
    print(f"predicted at {views.shape[1] * views.shape[2] * len(faces) / (time.perf_counter() - start):.0f} images/s")
    report = {
        "data": str(path),
        "rows": rows_used,
        "num_faces": len(faces),
        "models": [{"path": str(p), "sha256": model_files.sha256(p),
                    "faces_learnt_from": provenance.faces_seen(provenance.read(p), faces.origin)} for p in model_paths],
        "weights": args.weights,
    }
    report["warning"] = provenance.learnt_faces_warning(report)
    variants = {"plain": list(views[:, :, 0].transpose(1, 0, 2))}
    if args.tta:
        variants["tta"] = list(views.mean(axis=2).transpose(1, 0, 2))
    for variant, probabilities in variants.items():
        for entry, model_probabilities in zip(report["models"], probabilities):
            entry[f"accuracy_{variant}"] = evaluation.score(faces.labels, model_probabilities)["accuracy"]
        ensemble = evaluation.average(probabilities, args.weights)
        report[f"ensemble_{variant}"] = evaluation.score(faces.labels, ensemble)

    print_report(report, variants)
    write_report(report, args.report_dir, faces, ensemble)


def print_report(report, variants):
    for variant in variants:
        label = "with flip averaging" if variant == "tta" else "plain"
        print(f"\naccuracy ({label}):")
        for entry in report["models"]:
            print(f"  {cli.shown_path(entry['path'])}: {entry[f'accuracy_{variant}']:.4f}")
        print(f"  ensemble: {report[f'ensemble_{variant}']['accuracy']:.4f}")
    final = report[f"ensemble_{list(variants)[-1]}"]
    print(f"\nconfusion matrix of the ensemble{' (flip averaged)' if 'tta' in variants else ''}:")
    print(evaluation.format_confusion_matrix(final["confusion_matrix"]))
    print()
    print(evaluation.format_class_scores(final))
    if report["warning"]:
        print(f"\nwarning: {report['warning']}")


def write_report(report, report_dir, faces, ensemble):
    """The PNGs and report.json; `ensemble` holds the probabilities of the last variant, which the PNGs show."""
    variant = "tta" if "ensemble_tta" in report else "plain"
    final = report[f"ensemble_{variant}"]
    title = f"ensemble of {len(report['models'])} on {report['num_faces']} faces: accuracy {final['accuracy']:.3f}"
    learnt = sum(1 for entry in report["models"] if entry["faces_learnt_from"])
    if learnt:
        title += f" (faces {learnt} of the {len(report['models'])} models learnt from)"
    with files.atomic_folder(report_dir) as folder:  # the four files are one result: all new or all old
        plots.plot_confusion_matrix(final["confusion_matrix"], folder / "confusion_matrix.png", title)
        classes = final["classes"].values()
        plots.plot_class_scores([c["precision"] for c in classes], [c["recall"] for c in classes],
                                [c["f1"] for c in classes], folder / "class_scores.png", title)
        mistakes = evaluation.confident_mistakes(faces.labels, ensemble, MISTAKES_PER_CLASS)
        plots.plot_mistakes(faces.images, ensemble, mistakes, folder / "mistakes.png", title)
        files.write_text(folder / "report.json", json.dumps(report, indent=2))
    written = ", ".join(str(report_dir / name) for name in REPORT_FILES)
    print(f"\nwrote {written}")


if __name__ == "__main__":
    cli.run(main)
