"""Finds the faces in photos, videos or a webcam and tells their emotions with the
ensemble of models/model_*.h5 (videos: the fast model, models/fast.h5).

    python3 predict.py photo.jpg
    python3 predict.py photos/ --annotate out/ --csv faces.csv
    python3 predict.py face.png --no-detect --json      # the picture is already a face crop
    python3 predict.py clip.mp4 --csv faces.csv --annotate out/
    python3 predict.py --camera 0                       # live, in a window; q stops
"""
import argparse
import csv
import json
import pathlib
import sys

from ferkit import CLASS_NAMES, InputError, cli, display, faces, files, plots, video
from ferkit.predictor import FAST_MODEL, Predictor


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, nargs="?",
                        help="a picture, a folder of them searched recursively, or a video file "
                             f"({', '.join(sorted(video.VIDEO_SUFFIXES))})")
    parser.add_argument("--camera", type=int, metavar="INDEX", help="read the webcam of this index (0: the first)")
    cli.add_model_flags(parser, "average each model over the faces and their mirror images; --no-tta predicts "
                                "the faces alone, in half the time (default: --tta)",
                        models_help="model files (default: models/model_*.h5; for videos and the camera models/fast.h5)")
    parser.add_argument("--fast", action="store_true", help=f"use the fast model alone, {FAST_MODEL.name}")
    parser.add_argument("--no-detect", action="store_true", help="take each picture as one face crop")
    parser.add_argument("--annotate", type=pathlib.Path,
                        help="folder for copies with boxes and emotions drawn (a video: an .mp4 of the same size and rate)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--csv", type=pathlib.Path,
                        help="write one row per face: file, box, probabilities (a video: per analysed frame, "
                             "with frame, time and face id)")
    frames = parser.add_argument_group("videos and the camera")
    choice = frames.add_mutually_exclusive_group()
    choice.add_argument("--every", type=cli.positive_int, metavar="N", help="analyse one frame in N (default: every frame)")
    choice.add_argument("--fps", type=cli.positive_float, help="analyse this many frames a second of video")
    frames.add_argument("--smooth", type=cli.positive_int, default=1, metavar="K",
                        help="average each face's probabilities over its last K analysed frames (default: 1)")
    frames.add_argument("--plot", type=pathlib.Path,
                        help="PNG of each face's emotions over time (default: in the --annotate folder, "
                             "else beside --csv)")
    args = parser.parse_args()
    if (args.source is None) == (args.camera is None):
        parser.error("give a picture, folder or video, or --camera INDEX (one of them)")
    return args


def main():
    args = parse_args()
    if args.camera is not None or video.is_video(args.source):
        return predict_video(args)
    return predict_pictures(args)


def model_paths(args, moving):
    """--models, else the fast model for --fast, and for moving pictures when it is there
    (the ensemble cannot keep up with a video's frames on a CPU), else the ensemble."""
    if args.models:
        return args.models
    if args.fast or (moving and FAST_MODEL.is_file()):
        return [FAST_MODEL]
    return None


def check_outputs(args, inputs):
    """Refuses output paths that are inputs, and says before the work where they cannot be written."""
    inputs = {**inputs, "models": args.models or []}
    for flag in ("csv", "plot"):
        path = getattr(args, flag, None)
        if path:
            files.check_writable(path, f"--{flag}")
            files.check_not_an_input(path, f"--{flag}", inputs)


def predict_video(args):
    source = args.camera if args.camera is not None else args.source
    name = f"camera{args.camera}" if args.camera is not None else args.source.stem
    check_outputs(args, {"videos": [] if args.camera is not None else [args.source]})
    target = None
    if args.annotate:
        files.check_writable(args.annotate, "--annotate", folder=True)
        target = args.annotate / f"{name}.mp4"
        files.check_not_an_input(target, "--annotate", {"videos": [args.source] if args.source else []})
    plot_path = args.plot or (args.annotate / f"{name}.emotions.png" if args.annotate else
                              args.csv.with_suffix(".png") if args.csv else None)
    predictor = Predictor(model_paths(args, moving=True), tta=args.tta)
    analysis, analysed, interrupted = video.run(
        source, predictor, args.every, args.fps, args.smooth, target,
        (lambda: live_window(args)) if args.camera is not None else None)
    if not analysis.rows:
        raise InputError(f"{source}: no face found in the {analysed} frames analysed; nothing was written.")
    if args.csv:
        analysis.write_csv(args.csv)
    if plot_path:
        plots.plot_emotions_over_time(analysis.lasting(), plot_path, f"{name}: emotions over time")
    print(analysis.summary(analysed))
    written = [path for path in (args.csv, plot_path, target) if path]
    if written:
        print("wrote " + ", ".join(map(str, written)))
    if interrupted:
        raise KeyboardInterrupt("What was done up to there is written.")


def live_window(args):
    """The camera's window, or None where none can open but the results are written to files."""
    try:
        return display.Window()
    except InputError:
        if not (args.annotate or args.csv):
            raise
        print("no window can open here; writing the results only. Ctrl-C stops.", file=sys.stderr)
        return None


def predict_pictures(args):
    if not args.source.exists():
        raise InputError(f"{args.source}: no such file or folder.")
    pictures = faces.find_pictures(args.source)
    if not pictures:
        raise InputError(f"{args.source}: no pictures ({', '.join(sorted(faces.PICTURE_SUFFIXES))}).")
    check_outputs(args, {"pictures": pictures})
    targets = [None] * len(pictures)
    if args.annotate:
        targets = faces.output_paths(pictures, args.source, args.annotate, "--annotate")
    predictor = Predictor(model_paths(args, moving=False), tta=args.tta)
    results, problems = [], []
    progress = cli.Progress(len(pictures), "pictures") if len(pictures) > 1 else None
    for picture, target in zip(pictures, targets):
        if progress:
            progress.step()
        try:
            found = predictor.predict(picture, detect=not args.no_detect)
        except faces.PictureError as error:
            problems.append({"file": str(picture), "problem": str(error)})
            continue
        if not found:
            problems.append({"file": str(picture), "problem": "no face found (--no-detect takes the whole picture)"})
            continue
        results.append({"file": str(picture), "faces": found})
        if target:
            annotate(picture, found, target)

    if args.json:
        print(json.dumps({"results": results, "problems": problems}, indent=2))
    else:
        print_text(results, problems)
    if args.csv:
        write_csv(results, args.csv)
    if not results:
        sys.exit(1)


def print_text(results, problems):
    for result in results:
        print(result["file"])
        for face in result["faces"]:
            box = face["box"]
            ranked = sorted(face["probabilities"].items(), key=lambda item: -item[1])
            print(f"  face at x={box['x']} y={box['y']} {box['width']}x{box['height']}: {face['emotion']}  "
                  + "  ".join(f"{name} {p:.2f}" for name, p in ranked))
    for problem in problems:
        print(f"{problem['file']}: {problem['problem']}", file=sys.stderr)


def write_csv(results, path):
    with files.atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["file", "x", "y", "width", "height", "emotion", *CLASS_NAMES])
        for result in results:
            for face in result["faces"]:
                writer.writerow([result["file"], *face["box"].values(), face["emotion"], *face["probabilities"].values()])


LABEL_COLOUR = (220, 40, 40)


def annotate(picture, faces_out, target):
    from PIL import ImageDraw, ImageOps

    with faces.quiet_about_large_pictures(), faces.Image.open(picture) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    draw = ImageDraw.Draw(image)
    line = max(2, image.width // 300)
    for face in faces_out:
        box = face["box"]
        corners = (box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"])
        draw.rectangle(corners, outline=LABEL_COLOUR, width=line)
        label = f"{face['emotion']} {max(face['probabilities'].values()):.0%}"
        font_size = max(12, box["width"] // 6)
        # A filled tag above the box keeps the label readable on any background.
        left, top, right, bottom = draw.textbbox((0, 0), label, font_size=font_size)
        tag_height = bottom + 2 * line
        tag_top = corners[1] - tag_height if corners[1] >= tag_height else corners[3]
        draw.rectangle((corners[0], tag_top, corners[0] + right + 2 * line, tag_top + tag_height), fill=LABEL_COLOUR)
        draw.text((corners[0] + line, tag_top + line), label, fill="white", font_size=font_size)
    with files.atomic_path(target) as temporary:
        image.save(temporary)


if __name__ == "__main__":
    cli.run(main)
