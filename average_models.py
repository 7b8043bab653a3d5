"""Averages the weights of snapshots of one network into one model, often better than each.

    python3 average_models.py runs/model_{11,12,13,15}.h5 --output runs/swa_inception.h5
    python3 average_models.py a.h5 b.h5 --data fer2013.csv --output ab.h5

The snapshots must share one architecture and width, and one lineage: runs that went on
from one another's weights (--init), as a warm-restart chain does. Independent
initialisations average to noise. The batch-norm statistics are then re-estimated on
training faces from --data.
"""
import argparse
import pathlib

import numpy as np

from ferkit import InputError, averaging, cli, data, model_files, provenance
from ferkit.backend import keras


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=pathlib.Path, nargs="+", help="two or more model files of one network")
    parser.add_argument("--output", type=pathlib.Path, required=True, help="where to save the averaged model")
    cli.add_data_flags(parser, "FER-2013 CSV whose training faces re-estimate the batch-norm statistics "
                               "(default: data/fer2013.csv if present, else data/train.csv)", default=data.default_data_path())
    parser.add_argument("--faces", type=cli.positive_int, default=8192,
                        help="how many training faces, drawn at random, to re-estimate them on (default: 8192)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the faces drawn (default: 0)")
    return parser.parse_args()


def main():
    args = parse_args()
    model_files.check_model_output(args.output)
    if args.output.resolve() in {path.resolve() for path in args.models}:
        raise InputError(f"--output {args.output} is one of the models to average: name another file.")
    averaged = averaging.average_weights(model_files.load_models(args.models), args.models)
    train, _ = data.load_splits(args.data, skip_bad_rows=args.skip_bad_rows)
    keras.utils.set_random_seed(args.seed)
    chosen = np.random.default_rng(args.seed).permutation(len(train))[: args.faces]
    print(f"averaged {len(args.models)} models; re-estimating batch-norm statistics on {len(chosen)} training faces")
    averaging.reestimate_batch_norm(averaged, train.images[chosen])
    model_files.save_model(averaged, args.output, provenance.merged(provenance.inherited(args.models), train.origin))
    print(f"saved {args.output}")


if __name__ == "__main__":
    cli.run(main)
