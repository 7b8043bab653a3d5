"""Exports the ensemble (or any models) as one ONNX file and one LiteRT (.tflite) file,
flip averaging and the mean of the members inside: (N, 48, 48, 1) raw pixels in, (N, 7)
probabilities out. Each file is checked against Keras on data/sample.csv's faces.

    python3 export_model.py                                    # exports/ensemble.onnx, exports/ensemble.tflite
    python3 export_model.py --models models/fast.h5 --output exports/fast
    python3 export_model.py --format onnx --no-tta
"""
import argparse
import pathlib

import numpy as np

from ferkit import cli, data, export, files
from ferkit.predictor import Predictor

CHECK_FACES = 64


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_model_flags(parser, "average over the faces and their mirror images inside the file (default: --tta)")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("exports/ensemble"),
                        help="path of the files without their suffix (default: exports/ensemble)")
    parser.add_argument("--format", choices=export.SUFFIXES, nargs="+", default=list(export.SUFFIXES),
                        help="which files to write (default: onnx litert)")
    return parser.parse_args()


def main():
    args = parse_args()
    targets = {kind: args.output.with_name(args.output.name + export.SUFFIXES[kind]) for kind in args.format}
    predictor = Predictor(args.models, tta=args.tta)
    for target in targets.values():
        files.check_writable(target, "--output")
        files.check_not_an_input(target, "--output", {"models": predictor.paths})
    network = export.exportable(predictor)
    faces = data.load_dataset(data.DATA_DIR / "sample.csv").images[:CHECK_FACES]
    expected = predictor.predict_faces(faces)
    for kind, target in targets.items():
        export.export(network, target, kind)
        found = export.onnx_predict(export.onnx_session(target), faces) if kind == "onnx" else \
            export.litert_predict(target, faces)
        print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MiB): largest difference from Keras "
              f"{np.abs(found - expected).max():.1e} on {len(faces)} sample faces")


if __name__ == "__main__":
    cli.run(main)
