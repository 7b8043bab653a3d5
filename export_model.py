"""Exports the ensemble (or any models) as one ONNX file and one LiteRT (.tflite) file,
flip averaging and the mean of the members inside: (N, 48, 48, 1) raw pixels in, (N, 7)
probabilities out. Each file is checked against Keras on data/sample.csv's faces.

    python3 export_model.py                                    # exports/ensemble.onnx, exports/ensemble.tflite
    python3 export_model.py --models models/fast.h5 --output exports/fast
    python3 export_model.py --format onnx --no-tta
    python3 export_model.py --models models/fast.h5 --output models/fast --format onnx-int8 --data data/fer2013.csv

onnx-int8 is the ONNX file in 8-bit integers, its activation ranges calibrated on
--data's Training faces; with --data, each file is also scored on its PublicTest faces.
"""
import argparse
import pathlib

import numpy as np

from ferkit import InputError, cli, data, evaluation, export, files, model_files
from ferkit.predictor import Predictor

CHECK_FACES = 64
CALIBRATION_FACES = 512


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_model_flags(parser, "average over the faces and their mirror images inside the file (default: --tta)")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("exports/ensemble"),
                        help="path of the files without their suffix (default: exports/ensemble)")
    parser.add_argument("--format", choices=export.SUFFIXES, nargs="+", default=["onnx", "litert"],
                        help="which files to write (default: onnx litert)")
    cli.add_data_flags(parser, "FER-2013 CSV: its Training faces calibrate onnx-int8, its PublicTest faces score "
                               "every file (default for onnx-int8: data/fer2013.csv or data/train.csv)")
    return parser.parse_args()


def main():
    args = parse_args()
    targets = {kind: args.output.with_name(args.output.name + suffix)  # onnx first: onnx-int8 starts from it
               for kind, suffix in export.SUFFIXES.items() if kind in args.format}
    model_files.check_keras_files(args.models, "export_model.py")
    predictor = Predictor(args.models, tta=args.tta)
    for target in targets.values():
        files.check_writable(target, "--output")
        files.check_not_an_input(target, "--output", {"models": predictor.paths, "--data": [args.data] if args.data else []})
    dataset = read_data(args)
    network = export.exportable(predictor)
    faces = data.load_dataset(data.DATA_DIR / "sample.csv").images[:CHECK_FACES]
    expected = predictor.predict_faces(faces)
    scored = keras_score = None
    if dataset is not None:  # the Keras figure each file's is printed beside
        scored = data.select_usage(dataset, "PublicTest")
        keras_score = evaluation.score(scored.labels, predictor.predict_faces(scored.images))["accuracy"]
    for kind, target in targets.items():
        export.export(network, target, kind, calibration_faces(dataset) if kind == "onnx-int8" else None,
                      onnx_file=targets.get("onnx"))
        predict = file_predictor(kind, target)
        found = predict(faces)
        print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB): largest difference from Keras "
              f"{np.abs(found - expected).max():.1e}, same emotion for {agreement(found, expected):.0%} "
              f"of {len(faces)} sample faces")
        if scored is not None:
            print_score(predict, scored, keras_score)


def read_data(args):
    """The FER-2013 rows that calibrate and score the files, or None where none are needed."""
    if args.data is None and "onnx-int8" not in args.format:
        return None
    path = args.data or data.default_data_path()
    if not path.is_file():
        raise InputError(f"{path}: no such file; onnx-int8 calibrates on FER-2013 Training faces, "
                         f"name them with --data. {data.GET_DATA_HELP}")
    return data.load_dataset(path, skip_bad_rows=args.skip_bad_rows)


def calibration_faces(dataset):
    training = data.select_usage(dataset, "Training")
    chosen = np.random.default_rng(0).choice(len(training), min(CALIBRATION_FACES, len(training)), replace=False)
    return training.images[np.sort(chosen)]


def file_predictor(kind, target):
    if kind == "litert":
        return lambda faces: export.litert_predict(target, faces)
    session = export.onnx_session(target)
    return lambda faces: export.onnx_predict(session, faces)


def agreement(found, expected):
    return float((found.argmax(axis=1) == expected.argmax(axis=1)).mean())


def print_score(predict, faces, keras_score):
    by_file = np.concatenate([predict(faces.images[start : start + 256]) for start in range(0, len(faces), 256)])
    file_score = evaluation.score(faces.labels, by_file)["accuracy"]
    print(f"  accuracy on {len(faces)} PublicTest faces of {cli.shown_path(faces.path)}: "
          f"{file_score:.4f} (Keras {keras_score:.4f})")


if __name__ == "__main__":
    cli.run(main)
