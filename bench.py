"""How fast the project runs here: data loading, training and inference, against the
machine's own matrix-product ceiling.

    python3 bench.py                          # widths 0.25,0.5,1.0 on data/ (KERAS_BACKEND picks the backend)
    python3 bench.py --widths 0.25 --quick    # a few minutes
    python3 bench.py --json                   # the same figures as JSON
    python3 bench.py --mixed-precision        # training in bfloat16, as train_*.py --mixed-precision
"""
import argparse
import json
import pathlib
import resource
import time

import numpy as np

from ferkit import NUM_CLASSES, cli, data, evaluation, models, training

BUILDERS = {"vgg16": models.build_vgg16, "inception_v1": models.build_inception}


def widths(text):
    return [cli.positive_float(width) for width in text.split(",")]


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


def load_timed(paths):
    """The models at paths and the seconds each took to load. Run before anything else
    builds a model: on JAX, building compiles programs that later models of the same
    shapes reuse, in this process and, through JAX's cache, in later ones."""
    pairs = [timed(evaluation.load_model, path) for path in paths]
    return [model for model, _ in pairs], [seconds for _, seconds in pairs]


def bench_inference(name, predict, repeats, load_s):
    rows = {"model": name, "load_s": load_s}
    for batch_size in (1, 256):
        faces = np.random.default_rng(0).integers(0, 256, (batch_size, 48, 48), dtype=np.uint8)
        predict(faces)
        _, seconds = timed(lambda: [predict(faces) for _ in range(repeats)])
        rows[f"batch_{batch_size}_images_per_s"] = repeats * batch_size / seconds
    return rows


def inference_predictor(loaded):
    def predict(faces):
        return evaluation.average([evaluation.predict(model, faces, verbose=0) for model in loaded])
    return predict


def main():
    import keras

    args = parse_args()
    steps = 3 if args.quick else 10
    report = {"backend": keras.backend.backend(), "data": bench_data(args.data)}
    committed = evaluation.find_models()
    loaded, load_seconds = load_timed(committed)
    report["matmul_gflops_per_s"] = ceiling = matmul_ceiling()
    training.set_precision(args.mixed_precision)
    report["training_precision"] = keras.mixed_precision.global_policy().name
    report["training"] = [
        bench_training(f"{name} x{width}", models.for_training(builder(width), args.augment), args.batch_size, steps, ceiling)
        for name, builder in BUILDERS.items() for width in args.widths
    ]
    training.set_precision(False)
    repeats = 3 if args.quick else 10
    report["inference"] = [bench_inference(path.name, inference_predictor([model]), repeats, seconds)
                           for path, model, seconds in zip(committed, loaded, load_seconds)]
    if len(loaded) > 1:
        report["inference"].append(bench_inference(f"ensemble of {len(loaded)}", inference_predictor(loaded), repeats,
                                                   sum(load_seconds)))
    report["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def format_report(report):
    loading = report["data"]
    lines = [
        f"backend {report['backend']}; float32 matrix product {report['matmul_gflops_per_s']:.0f} GFLOP/s; "
        f"training in {report['training_precision']}",
        "",
        f"data ({loading['file']}): parse {loading['parse_s']:.2f} s, cached load {loading['cached_load_s']:.2f} s, "
        f"per-row str.split parse {loading['naive_parse_s']:.2f} s ({loading['speed_up']:.1f}x slower than the parse)",
        "",
        f"{'training':<20}{'params':>12}{'MFLOP/img':>11}{'img/s':>9}{'GFLOP/s':>9}{'of peak':>9}",
    ]
    for row in report["training"]:
        lines.append(f"{row['model']:<20}{row['params']:>12,}{row['forward_mflops']:>11.0f}{row['train_images_per_s']:>9.1f}"
                     f"{row['gflops_per_s']:>9.1f}{row['of_ceiling']:>9.0%}")
    lines += ["", f"{'inference':<20}{'load s':>8}{'img/s batch 1':>15}{'img/s batch 256':>17}"]
    for row in report["inference"] or [{"model": "(no committed models)", "load_s": float("nan"),
                                        "batch_1_images_per_s": float("nan"), "batch_256_images_per_s": float("nan")}]:
        lines.append(f"{row['model']:<20}{row['load_s']:>8.1f}{row['batch_1_images_per_s']:>15.1f}"
                     f"{row['batch_256_images_per_s']:>17.1f}")
    lines += ["", f"peak resident memory {report['peak_rss_mib']:.0f} MiB"]
    return "\n".join(lines)


if __name__ == "__main__":
    cli.run(main)
