"""Turns pictures into 48x48 grayscale faces for training or testing.

    python3 preprocess/data_resize.py PHOTOS --out faces                       # whole pictures, resized
    python3 preprocess/data_resize.py PHOTOS --out faces --detect-face --csv faces.csv
    python3 train_vgg.py --data faces.csv                                       # train on them

With --csv, labels come from folder names (angry, disgust, fear, happy, sad,
surprise, neutral, in any case): PHOTOS/happy/me.jpg is a Happy face.
"""
import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from ferkit import InputError, cli, faces, files  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=pathlib.Path, help="a picture, or a folder searched recursively")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder for the 48x48 PNGs (mirrors SOURCE's tree)")
    parser.add_argument("--detect-face", action="store_true", help="crop the largest face before resizing")
    parser.add_argument("--keep-no-face", action="store_true", help="with --detect-face: resize pictures without a face whole")
    parser.add_argument("--csv", type=pathlib.Path, help="also write an emotion,pixels CSV, labels from folder names")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return parser.parse_args()


def check_paths(args, pictures):
    if args.csv:
        files.check_writable(args.csv, "--csv")
        files.check_not_an_input(args.csv, "--csv", {"pictures": pictures})
        if args.csv.exists() and not args.overwrite:
            raise InputError(f"{args.csv} exists; pass --overwrite to replace it.")


def main():
    args = parse_args()
    if not args.source.exists():
        raise InputError(f"{args.source}: no such file or folder.")
    pictures = faces.find_pictures(args.source)
    if not pictures:
        raise InputError(f"{args.source}: no pictures ({', '.join(sorted(faces.PICTURE_SUFFIXES))}).")
    check_paths(args, pictures)
    targets = faces.output_paths(pictures, args.source, args.out, "--out")
    detector = faces.face_detector() if args.detect_face else None
    written, skipped, rows = [], [], []
    progress = cli.Progress(len(pictures), "resizing")
    for picture, target in zip(pictures, targets):
        progress.step()
        if target.exists() and not args.overwrite:
            skipped.append((picture, f"{target} exists (--overwrite replaces it)"))
            continue
        try:
            found = faces.faces_in(picture, detector, largest_only=True, whole_if_none=args.keep_no_face)
        except faces.PictureError as error:
            skipped.append((picture, str(error)))
            continue
        if not found:
            skipped.append((picture, "no face found (--keep-no-face keeps it whole)"))
            continue
        with files.atomic_path(target) as temporary:  # a full disk leaves no half face that a rerun would skip
            faces.Image.fromarray(found[0].pixels).save(temporary)
        written.append(target)
        if args.csv:
            label = faces.label_from_folders(picture, args.source)
            if label is None:
                skipped.append((picture, "written, but left out of the CSV: not inside a folder named after an emotion"))
            else:
                rows.append(f"{label},{' '.join(map(str, found[0].pixels.ravel()))}")

    if args.csv and rows:
        files.write_text(args.csv, "emotion,pixels\n" + "\n".join(rows) + "\n")
    print(f"wrote {len(written)} face(s) to {args.out}" + (f" and {len(rows)} row(s) to {args.csv}" if args.csv else ""))
    for picture, reason in skipped:
        print(f"  skipped {picture}: {reason}")
    if not written:
        sys.exit(1)


if __name__ == "__main__":
    cli.run(main)
