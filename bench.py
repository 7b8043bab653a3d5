"""How fast the project runs here: data loading, training and inference, against the
machine's own matrix-product ceiling.

    python3 bench.py                          # widths 0.25,0.5,1.0 on data/ (KERAS_BACKEND picks the backend)
    python3 bench.py --widths 0.25 --quick    # a few minutes
    python3 bench.py --json                   # the same figures as JSON
    python3 bench.py --mixed-precision        # training in bfloat16, as train_*.py --mixed-precision
"""
import argparse
import functools
import json
import pathlib
import resource
import tempfile
import time

import numpy as np

from ferkit import NUM_CLASSES, cli, data, evaluation, export, model_files, models, training, video
from ferkit.predictor import FAST_MODEL, Predictor

BUILDERS = {"vgg16": models.build_vgg16, "inception_v1": models.build_inception}
SECTIONS = ("data", "training", "inference", "video")


def widths(text):
    try:
        return [cli.positive_float(width) for width in text.split(",")]
    except argparse.ArgumentTypeError:
        raise ValueError(text) from None  # argparse then names the whole list


widths.__name__ = "comma-separated list of positive numbers"  # argparse names the type in its message


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=pathlib.Path,
                        help="FER-2013 CSV to time (default: data/fer2013.csv, else data/train.csv, else data/sample.csv)")
    parser.add_argument("--widths", type=widths, default="0.25,0.5,1.0",
                        help="model widths to time, comma-separated (default: 0.25,0.5,1.0)")
    parser.add_argument("--batch-size", type=cli.positive_int, default=64, help="training batch size (default: 64)")
    parser.add_argument("--augment", choices=models.AUGMENTATIONS, default="full",
                        help="augmentation in the timed training steps (default: full)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="time the training steps in bfloat16 with float32 weights, as the training scripts' flag")
    parser.add_argument("--quick", action="store_true", help="fewer timed steps")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="what to time (default: all of them)")
    parser.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=True,
                        help="also time each predictor through its exported ONNX files, float32 and int8 (default: --onnx)")
    return parser.parse_args()


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def naive_parse(path):
    """The per-row str.split parse that data.parse_pixels replaces."""
    import pandas as pd

    pixels = pd.read_csv(path, dtype=str, keep_default_na=False)["pixels"]
    return np.array([np.array(row.split(), dtype=np.uint8) for row in pixels])


def bench_data(path=None):
    if path is None:
        path = data.default_data_path()
        path = path if path.is_file() else data.DATA_DIR / "sample.csv"
    _, cold = timed(data.load_dataset, path, use_cache=False)
    data.load_dataset(path)  # writes the cache
    _, cached = timed(data.load_dataset, path)
    _, naive = timed(naive_parse, path)
    return {"file": str(path), "parse_s": cold, "cached_load_s": cached, "naive_parse_s": naive,
            "speed_up": naive / cold}


def matmul_ceiling(size=2048, repeats=5):
    """GFLOP/s of a float32 matrix product: what the convolutions could reach at best."""
    a, b = (np.random.default_rng(0).standard_normal((size, size), dtype=np.float32) for _ in range(2))
    a @ b
    _, seconds = timed(lambda: [a @ b for _ in range(repeats)])
    return 2 * size**3 * repeats / seconds / 1e9


def bench_training(name, model, batch_size, steps, ceiling):
    training.compile_model(model, 0.01)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch_size, 48, 48, 1)).astype("float32")
    labels = np.eye(NUM_CLASSES, dtype="float32")[rng.integers(0, NUM_CLASSES, batch_size)]
    for _ in range(2):  # compile and warm up
        model.train_on_batch(faces, labels)
    _, seconds = timed(lambda: [model.train_on_batch(faces, labels) for _ in range(steps)])
    images_per_second = steps * batch_size / seconds
    flops = models.count_flops(model)
    achieved = 3 * flops * images_per_second / 1e9  # backward costs about twice the forward pass
    return {"model": name, "params": model.count_params(), "forward_mflops": flops / 1e6,
            "train_images_per_s": images_per_second, "gflops_per_s": achieved, "of_ceiling": achieved / ceiling}


def rate(function, faces, seconds=2.0):
    """Faces a second of function(faces), after a first call that compiles, over at least `seconds`."""
    function(faces)
    calls, start = 0, time.perf_counter()
    while not calls or time.perf_counter() - start < seconds:
        function(faces)
        calls += 1
    return calls * len(faces) / (time.perf_counter() - start)


@functools.cache
def sample_faces():
    return data.load_dataset(data.DATA_DIR / "sample.csv").images


def random_faces(count):
    return np.random.default_rng(0).integers(0, 256, (count, 48, 48), dtype=np.uint8)


def bench_predictor(name, paths, tta, ceiling, onnx_dir=None):
    """The predictor's faces/s at batch 1 and 256, in Keras and, with onnx_dir, through
    the exported ONNX file, each also as GFLOP/s against the matrix-product ceiling."""
    predictor, load_s = timed(Predictor, paths, tta=tta)
    flops = sum(models.count_flops(member) for member in predictor.members) * (2 if tta else 1)
    row = {"model": name, "tta": tta, "gflop_per_face": flops / 1e9, "load_s": load_s}
    runtimes = {"keras": predictor.predict_faces}
    if onnx_dir:
        network = export.exportable(predictor)
        for kind in ("onnx", "onnx-int8"):
            path = pathlib.Path(onnx_dir) / f"{name.replace(' ', '_')}{export.SUFFIXES[kind]}"
            export.export(network, path, kind, sample_faces()[:64])  # int8 ranges only: nothing is scored
            runtimes[kind.replace("-", "_")] = functools.partial(export.onnx_predict, export.onnx_session(path))
    for runtime, predict in runtimes.items():
        add_rates(row, runtime, predict, flops, ceiling)
    return row


def add_rates(row, runtime, predict, flops, ceiling):
    """row with predict's faces/s at batch 1 and 256, each also as a fraction of the ceiling."""
    for batch_size in (1, 256):
        faces_per_s = rate(predict, random_faces(batch_size))
        row[f"{runtime}_batch_{batch_size}"] = faces_per_s
        row[f"{runtime}_batch_{batch_size}_of_ceiling"] = faces_per_s * flops / 1e9 / ceiling
    return row


def bench_one_at_a_time(paths, ceiling):
    """The ensemble with flips as it was predicted before the predictor: each model called
    on its own, on the faces and then on their mirror images, the answers averaged in NumPy."""
    members = model_files.load_models(paths)
    flops = 2 * sum(models.count_flops(member) for member in members)

    def predict(faces):
        return evaluation.average([evaluation.predict(member, faces, flip=flip, verbose=0)
                                   for member in members for flip in (False, True)])

    row = {"model": f"ensemble of {len(paths)}, one model at a time", "tta": True, "gflop_per_face": flops / 1e9,
           "load_s": 0.0}
    return add_rates(row, "keras", predict, flops, ceiling)


def bench_video(paths, tta, folder, seconds=6, fps=25):
    """Frames/s end to end on a 640x480 clip of one moving face: decode, detect, predict, draw, encode."""
    clip = pathlib.Path(folder) / "clip.mp4"
    video.write_demo_clip(clip, sample_faces()[:1], seconds, fps)
    predictor = Predictor(paths, tta=tta)
    predictor.predict_faces(random_faces(1))  # compiled before the clock starts, as after a video's first frame
    (_, analysed, _), elapsed = timed(video.run, str(clip), predictor, target=pathlib.Path(folder) / "annotated.mp4")
    return {"models": [str(path) for path in paths], "tta": tta, "frames": analysed, "frames_per_s": analysed / elapsed}


def main():
    import keras

    args = parse_args()
    steps = 3 if args.quick else 10
    report = {"backend": keras.backend.backend()}
    if "data" in args.sections:
        report["data"] = bench_data(args.data)
    report["matmul_gflops_per_s"] = ceiling = matmul_ceiling()
    if "training" in args.sections:
        training.set_precision(args.mixed_precision)
        report["training_precision"] = keras.mixed_precision.global_policy().name
        report["training"] = [
            bench_training(f"{name} x{width}", models.for_training(builder(width), args.augment), args.batch_size,
                           steps, ceiling)
            for name, builder in BUILDERS.items() for width in args.widths
        ]
        training.set_precision(False)
    committed = model_files.find_models()
    fast = [FAST_MODEL] if FAST_MODEL.is_file() else []
    with tempfile.TemporaryDirectory() as folder:
        onnx_dir = folder if args.onnx else None
        if "inference" in args.sections and committed:
            candidates = [(f"ensemble of {len(committed)}", committed, True)]
            candidates += [(path.stem, [path], True) for path in committed]
            candidates += [(path.stem, [path], tta) for path in fast for tta in (True, False)]
            report["inference"] = [bench_one_at_a_time(committed, ceiling)]
            report["inference"] += [bench_predictor(name, paths, tta, ceiling, onnx_dir) for name, paths, tta in candidates]
        if "video" in args.sections and (fast or committed):
            runs = [(fast, True), (fast, False)] if fast else []
            runs += [(committed, True)] if committed else []
            report["video"] = [bench_video(paths, tta, folder) for paths, tta in runs]
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def format_report(report):
    lines = [f"backend {report['backend']}; float32 matrix product (NumPy) {report['matmul_gflops_per_s']:.0f} GFLOP/s, "
             "the ceiling the 'of ceiling' columns divide by", ""]
    if "data" in report:
        loading = report["data"]
        lines += [f"data ({loading['file']}): parse {loading['parse_s']:.2f} s, cached load {loading['cached_load_s']:.2f} s, "
                  f"per-row str.split parse {loading['naive_parse_s']:.2f} s ({loading['speed_up']:.1f}x slower than the parse)",
                  ""]
    if "training" in report:
        lines.append(f"{'training (' + report['training_precision'] + ')':<20}{'params':>12}{'MFLOP/img':>11}{'img/s':>9}"
                     f"{'GFLOP/s':>9}{'of ceiling':>11}")
        for row in report["training"]:
            lines.append(f"{row['model']:<20}{row['params']:>12,}{row['forward_mflops']:>11.0f}"
                         f"{row['train_images_per_s']:>9.1f}{row['gflops_per_s']:>9.1f}{row['of_ceiling']:>11.0%}")
        lines.append("")
    if report.get("inference"):
        lines += ["inference, faces/s (of ceiling)",
                  f"{'model':<36}{'flips':>6}{'GFLOP/face':>11}{'load s':>7}" + "".join(
                      f"{runtime + ' batch ' + batch:>20}" for runtime in ("Keras", "ONNX", "ONNX int8") for batch in ("1", "256"))]
        for row in report["inference"]:
            cells = [f"{row[key]:>7.1f} ({row[key + '_of_ceiling']:>5.0%})" if key in row else "-"
                     for key in (f"{runtime}_batch_{batch}" for runtime in ("keras", "onnx", "onnx_int8") for batch in (1, 256))]
            lines.append(f"{row['model']:<36}{'yes' if row['tta'] else 'no':>6}{row['gflop_per_face']:>11.2f}"
                         f"{row['load_s']:>7.1f}" + "".join(f"{cell:>20}" for cell in cells))
        lines.append("")
    for row in report.get("video", []):
        models_used = row["models"][0] if len(row["models"]) == 1 else f"ensemble of {len(row['models'])}"
        lines.append(f"video 640x480, one face, {models_used}, flips {'yes' if row['tta'] else 'no'}: "
                     f"{row['frames_per_s']:.1f} frames/s end to end over {row['frames']} frames "
                     "(decode, detect, predict, draw, encode)")
    lines += ["", f"peak resident memory {report['peak_rss_mib']:.0f} MiB"]
    return "\n".join(lines)


if __name__ == "__main__":
    cli.run(main)
