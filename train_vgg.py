"""Trains VGG-16 from scratch on FER-2013 and saves the best model to models/model_1.h5.

    python3 train_vgg.py                                  # data/fer2013.csv or data/train.csv
    python3 train_vgg.py --data ../fer2013.csv.gz --width 0.25 --epochs 45
    python3 train_vgg.py --resume                         # after an interruption
"""
from ferkit import cli, models, runs, training


def main():
    parser = runs.training_parser(__doc__.splitlines()[0], model_file="model_1.h5",
                                      epochs=105, width=0.75, batch_size=128, lr=0.02)
    parser.add_argument("--dropout", type=cli.dropout_rate, default=0.3, help="dropout before the dense layers (default: 0.3)")
    args = runs.parse_args(parser, built_in=("dropout",))
    training.train(lambda: models.build_vgg16(args.width, args.dropout), args)


if __name__ == "__main__":
    cli.run(main)
