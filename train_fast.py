"""Trains the small real-time network, learning from the shipped ensemble, and saves the best model to models/fast.h5.

    python3 train_fast.py                                 # data/fer2013.csv or data/train.csv, teachers models/model_*.h5
    python3 train_fast.py --resume                        # after an interruption
"""
from ferkit import cli, model_files, models, runs, training


def main():
    parser = runs.training_parser(__doc__.splitlines()[0], model_file="fast.h5", epochs=40, width=0.75,
                                      batch_size=128, lr=0.03, augment="light", teacher=model_files.find_models())
    parser.add_argument("--dropout", type=cli.dropout_rate, default=0.3, help="dropout before the classifier (default: 0.3)")
    args = runs.parse_args(parser, built_in=("dropout",))
    training.train(lambda: models.build_fast(args.width, args.dropout), args)


if __name__ == "__main__":
    cli.run(main)
