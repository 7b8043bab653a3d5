"""Writes a short demo video of FER-2013 faces moving across the picture, to try predict.py on.

    python3 preprocess/make_clip.py clip.mp4                 # 3 faces of data/sample.csv, 2 s each
    python3 preprocess/make_clip.py clip.mp4 --faces 10 --seconds 1
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from ferkit import InputError, cli, data, files, video  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=pathlib.Path, help="the video to write (.mp4)")
    parser.add_argument("--data", type=pathlib.Path, default=data.DATA_DIR / "sample.csv",
                        help="FER-2013 CSV to take the faces from (default: data/sample.csv)")
    parser.add_argument("--faces", type=cli.positive_int, default=3, help="how many faces, one after another (default: 3)")
    parser.add_argument("--seconds", type=cli.positive_float, default=2.0, help="seconds each face is shown (default: 2)")
    parser.add_argument("--fps", type=cli.positive_int, default=25, help="frames a second (default: 25)")
    return parser.parse_args()


def main():
    args = parse_args()
    if args.output.suffix.lower() != ".mp4":
        raise InputError(f"{args.output}: name an .mp4 file.")
    files.check_writable(args.output, "output")
    faces = data.load_dataset(args.data)
    with files.atomic_path(args.output) as temporary:
        frames = video.write_demo_clip(temporary, faces.images[: args.faces], args.seconds, args.fps)
    print(f"wrote {args.output}: {frames} frames at {args.fps} frames/s, 640x480")


if __name__ == "__main__":
    cli.run(main)
