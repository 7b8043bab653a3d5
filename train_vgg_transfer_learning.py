"""Fine-tunes ImageNet VGG-16 on FER-2013 and saves the best model to models/model_3.h5.

The new head trains first on the frozen base; the last --fine-tune-epochs
then also train the base's top block at a tenth of the learning rate.

    python3 train_vgg_transfer_learning.py                    # ImageNet weights when they can be had
    python3 train_vgg_transfer_learning.py --weights vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
    python3 train_vgg_transfer_learning.py --image-size 96    # upsampled faces: slower, often better
"""
import sys

from ferkit import InputError, cli, models, runs, training

FINE_TUNE_LR_FACTOR = 0.1


def main():
    parser = runs.training_parser(__doc__.splitlines()[0], model_file="model_3.h5", epochs=30,
                                      augment="light", schedule="plateau",
                                      width_help="width multiplier of the new dense head")
    parser.add_argument("--weights", default="auto",
                        help="imagenet, none, or the path of a VGG16 include_top=False weights file; "
                             "auto is imagenet when it can be had, else none with a warning; "
                             "with --init, none (default: auto)")
    parser.add_argument("--fine-tune-epochs", type=int, default=None,
                        help="how many of the epochs, at the end, also train the top VGG block "
                             "(default: half of --epochs; 0 keeps the base frozen)")
    parser.add_argument("--image-size", type=int, default=48, help="side the faces are resized to, 32 to 224 (default: 48)")
    args = runs.parse_args(parser, built_in=("weights", "image_size"))
    fine_tune_epochs = args.epochs // 2 if args.fine_tune_epochs is None else args.fine_tune_epochs
    if not 0 <= fine_tune_epochs <= args.epochs:
        raise InputError(f"--fine-tune-epochs must be in 0..{args.epochs} (--epochs), got {fine_tune_epochs}.")
    if args.fit_to_time and 0 < fine_tune_epochs < args.epochs:
        raise InputError("--fit-to-time works for one phase of training; give --fine-tune-epochs 0 or leave it out.")
    if not 32 <= args.image_size <= 224:
        raise InputError(f"--image-size must be from 32 (VGG-16's five poolings) to 224 (ImageNet's size), "
                         f"got {args.image_size}.")

    # --init's weights replace the base's, so there is nothing to fetch for them.
    base_weights = "none" if args.init and args.weights == "auto" else args.weights

    def build():
        return build_model(base_weights, args.image_size, args.width)

    phases = [
        training.Phase(args.epochs - fine_tune_epochs, args.lr),
        training.Phase(fine_tune_epochs, args.lr * FINE_TUNE_LR_FACTOR, prepare=models.set_fine_tuning),
    ]
    training.train(build, args, [phase for phase in phases if phase.epochs > 0])


def build_model(weights, image_size, head_width):
    if weights != "auto":
        return models.build_vgg16_transfer(None if weights == "none" else weights, image_size, head_width)
    try:
        return models.build_vgg16_transfer("imagenet", image_size, head_width)
    except InputError as error:
        print(f"warning: {error}\nwarning: training the VGG-16 base from random initialisation.", file=sys.stderr)
        return models.build_vgg16_transfer(None, image_size, head_width)


if __name__ == "__main__":
    cli.run(main)
