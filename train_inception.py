"""Trains Inception-v1 (GoogLeNet) from scratch on FER-2013 and saves the best model to models/model_2.h5.

    python3 train_inception.py                            # data/fer2013.csv or data/train.csv
    python3 train_inception.py --data ../fer2013.csv.gz --width 0.25 --epochs 60
    python3 train_inception.py --resume                   # after an interruption
"""
from ferkit import cli, models, runs, training


def main():
    parser = runs.training_parser(__doc__.splitlines()[0], model_file="model_2.h5", epochs=120, width=0.5)
    parser.add_argument("--dropout", type=cli.dropout_rate, default=0.4, help="dropout before the classifier (default: 0.4)")
    args = runs.parse_args(parser, built_in=("dropout",))
    training.train(lambda: models.build_inception(args.width, args.dropout), args)


if __name__ == "__main__":
    cli.run(main)
