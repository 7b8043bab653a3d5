"""The three model builders and the input block they share.

Every model takes (48, 48, 1) raw pixel values 0..255 and returns 7 softmax
probabilities in FER-2013 order. Scaling, grayscale-to-RGB, resizing and
ImageNet normalisation are layers inside the model, so a saved model needs no
preprocessing code to be used. Augmentation wraps the model for training only.
"""
import os

import numpy as np

from ferkit import INPUT_SHAPE, NUM_CLASSES, InputError
from ferkit.backend import keras

layers = keras.layers

VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (filters, convolutions)
VGG16_HEAD_UNITS = 512
# GoogLeNet's modules: name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection.
INCEPTION_STAGES = (
    (("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64)),
    (
        ("4a", 192, 96, 208, 16, 48, 64),
        ("4b", 160, 112, 224, 24, 64, 64),
        ("4c", 128, 128, 256, 24, 64, 64),
        ("4d", 112, 144, 288, 32, 64, 64),
        ("4e", 256, 160, 320, 32, 128, 128),
    ),
    (("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128)),
)
# (filters, convolutions) per resolution, 48 down to 6: a plain stack of 3x3 convolutions, few at
# full size, where they cost most, which is what a CPU runs fastest per FLOP.
FAST_BLOCKS = ((32, 1), (64, 2), (128, 2), (256, 2))
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications.vgg16 "caffe" mode
TRANSFER_HEAD_UNITS = 512
TRANSFER_FINE_TUNE_BLOCKS = ("block5",)


def as_input(images):
    """(N, 48, 48) uint8 faces as the (N, 48, 48, 1) float32 batch a model takes."""
    return images[..., np.newaxis].astype("float32")


def scaled(filters, width):
    return max(1, round(filters * width))


AUGMENTATIONS = ("full", "light", "none")
# Keras marks these as unfit for XLA because of their TensorFlow kernels. On JAX they are
# plain array code, and without XLA a training step runs op by op: 40 times slower on a GPU.
JAX_JIT_SAFE_AUGMENTATIONS = (layers.RandomTranslation, layers.RandomRotation, layers.RandomZoom)


def augmentation_layers(strength="full"):
    """Training-time augmentation: flip and shift ("light"), plus rotation, zoom and
    erasing ("full"), which is better in long runs but slows the first epochs down a lot."""
    if strength not in AUGMENTATIONS:
        raise InputError(f"augmentation must be one of {', '.join(AUGMENTATIONS)}, got {strength!r}.")
    if strength == "none":
        return []
    chosen = [
        layers.RandomFlip("horizontal", name="aug_flip"),
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", name="aug_shift"),
    ]
    if strength == "full":
        chosen += [
            layers.RandomRotation(0.03, fill_mode="nearest", name="aug_rotate"),  # about +-10 degrees
            layers.RandomZoom(0.1, fill_mode="nearest", name="aug_zoom"),
            layers.RandomErasing(factor=0.5, value_range=(0, 255), name="aug_erase"),
        ]
    return chosen


def for_training(model, augment="full"):
    """`model` behind the augmentation layers. Only this training model holds them:
    what gets saved is `model`, its last layer (inference_part)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = inputs
    for layer in augmentation_layers(augment):
        x = layer(x)
    training_model = keras.Model(inputs, model(x), name=f"{model.name}_training")
    allow_jit(training_model)
    return training_model


def inference_part(training_model):
    return training_model.layers[-1]


def allow_jit(model):
    """Lets Keras compile a model that holds augmentation layers on JAX: a new training
    model, or a training model loaded to resume."""
    if keras.backend.backend() != "jax":
        return
    for layer in model.layers:
        if isinstance(layer, JAX_JIT_SAFE_AUGMENTATIONS):
            layer.supports_jit = True
    if model.compiled:  # compile() decided without them, as loading a compiled model does
        model.jit_compile = True


def batch_norm(x, name):
    # Keras' default momentum 0.99 lags far behind the weights in the first epochs,
    # which makes validation accuracy meaningless there; 0.9 tracks them.
    return layers.BatchNormalization(momentum=0.9, name=name)(x)


def conv_bn_relu(x, filters, kernel_size, name, strides=1):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = batch_norm(x, name=f"{name}_bn")
    return layers.Activation("relu", name=f"{name}_relu")(x)


def dense_bn_relu(x, units, name):
    x = layers.Dense(units, use_bias=False, name=name)(x)
    x = batch_norm(x, name=f"{name}_bn")
    return layers.Activation("relu", name=f"{name}_relu")(x)


def classifier(x, dropout):
    x = layers.Dropout(dropout, name="head_dropout")(x)
    # float32 even under mixed precision: a bfloat16 softmax rounds the loss's small probabilities.
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="predictions")(x)


def build_vgg16(width=1.0, dropout=0.3):
    """VGG-16: 13 convolutions in 5 blocks, each followed by batch normalisation."""
    check_width(width)
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    for block, (filters, convolutions) in enumerate(VGG16_BLOCKS, start=1):
        for conv in range(1, convolutions + 1):
            x = conv_bn_relu(x, scaled(filters, width), 3, name=f"block{block}_conv{conv}")
        x = layers.MaxPooling2D(name=f"block{block}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = dense_bn_relu(x, scaled(VGG16_HEAD_UNITS, width), name="fc1")
    x = layers.Dropout(dropout, name="fc1_dropout")(x)
    x = dense_bn_relu(x, scaled(VGG16_HEAD_UNITS, width), name="fc2")
    return keras.Model(inputs, classifier(x, dropout), name="vgg16")


def inception_module(x, spec, width):
    name, *filters = spec
    ones, reduce3, threes, reduce5, fives, pool_proj = (scaled(f, width) for f in filters)
    branch1 = conv_bn_relu(x, ones, 1, name=f"inception{name}_1x1")
    branch3 = conv_bn_relu(x, reduce3, 1, name=f"inception{name}_3x3_reduce")
    branch3 = conv_bn_relu(branch3, threes, 3, name=f"inception{name}_3x3")
    branch5 = conv_bn_relu(x, reduce5, 1, name=f"inception{name}_5x5_reduce")
    branch5 = conv_bn_relu(branch5, fives, 5, name=f"inception{name}_5x5")
    pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"inception{name}_pool")(x)
    pool = conv_bn_relu(pool, pool_proj, 1, name=f"inception{name}_pool_proj")
    return layers.Concatenate(name=f"inception{name}")([branch1, branch3, branch5, pool])


def build_inception(width=1.0, dropout=0.4):
    """Inception-v1 (GoogLeNet) with modules 3a to 5b; the stem downsamples 48 to 24, not 224 to 28."""
    check_width(width)
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    x = conv_bn_relu(x, scaled(64, width), 3, name="stem_conv1")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    x = conv_bn_relu(x, scaled(64, width), 1, name="stem_conv2_reduce")
    x = conv_bn_relu(x, scaled(192, width), 3, name="stem_conv2")
    for stage, modules in enumerate(INCEPTION_STAGES):
        if stage > 0:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"stage{stage + 3}_pool")(x)
        for spec in modules:
            x = inception_module(x, spec, width)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, classifier(x, dropout), name="inception_v1")


def build_fast(width=0.75, dropout=0.3):
    """A small network for real time: about 110 MFLOP a face at width 0.75, a tenth of
    VGG-16 x0.25's, ending in global average pooling rather than dense layers."""
    check_width(width)
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255, name="scale")(inputs)
    for block, (filters, convolutions) in enumerate(FAST_BLOCKS, start=1):
        if block > 1:
            x = layers.MaxPooling2D(name=f"block{block - 1}_pool")(x)
        for conv in range(1, convolutions + 1):
            x = conv_bn_relu(x, scaled(filters, width), 3, name=f"block{block}_conv{conv}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, classifier(x, dropout), name="fast")


def build_vgg16_transfer(base_weights, image_size=48, head_width=1.0, dropout=0.5):
    """keras.applications.VGG16 without its top on the grayscale face made RGB.

    base_weights: "imagenet" (downloaded once into ~/.keras/models), None, or
    the path of a weights file for VGG16(include_top=False).
    """
    check_width(head_width)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    if base_weights is not None:
        load_base_weights(base, base_weights)
    base.trainable = False
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = inputs
    if image_size != INPUT_SHAPE[0]:
        x = layers.Resizing(image_size, image_size, name="resize")(x)
    x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    # Gray has R = G = B, so the BGR order VGG16 expects needs no flip, only its means.
    x = layers.Normalization(mean=IMAGENET_BGR_MEAN, variance=(1.0, 1.0, 1.0), name="imagenet_norm")(x)
    x = base(x)
    x = layers.Flatten(name="flatten")(x)
    x = dense_bn_relu(x, scaled(TRANSFER_HEAD_UNITS, head_width), name="fc1")
    return keras.Model(inputs, classifier(x, dropout), name="vgg16_transfer")


def load_base_weights(base, weights):
    if weights == "imagenet":
        try:
            path = keras.utils.get_file(
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                cache_subdir="models",
                file_hash="6d6bbae143d832006294945121d1f1fc",
            )
        except Exception as error:  # get_file raises bare Exception subclasses of many kinds
            raise InputError(
                f"could not get the ImageNet VGG-16 weights ({error}). Without internet, copy "
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 into ~/.keras/models/, "
                "or pass --weights PATH, or --weights none."
            ) from None
    else:
        path = weights
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such weights file.")
    try:
        base.load_weights(path)
    except Exception as error:
        raise InputError(f"{path}: not VGG-16 (include_top=False) weights ({error}).") from None


def set_fine_tuning(model, blocks=TRANSFER_FINE_TUNE_BLOCKS):
    """Unfreezes the top convolution blocks of the transfer model's VGG-16 base."""
    base = model.get_layer("vgg16")
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith(blocks)


def copy_weights(source, target, source_path):
    """Gives each of target's layers the weights of source's layer of the same name.
    Matching by name lets older saved models, which hold their augmentation layers, fit."""
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        if not layer.weights:
            continue
        match = source_layers.get(layer.name)
        shapes = [tuple(weight.shape) for weight in layer.weights]
        found = None if match is None else [tuple(weight.shape) for weight in match.weights]
        if found != shapes:
            why = (f"it has no layer {layer.name}" if match is None
                   else f"its layer {layer.name} has weights of shapes {found}, this model's {shapes}")
            raise InputError(
                f"{source_path} does not fit this {target.name} model: {why}. "
                "Start from a model saved by the same script with the same --width."
            )
        layer.set_weights(match.get_weights())


def check_width(width):
    if not 0 < width <= 4:
        raise InputError(f"--width must be in (0, 4], got {width}.")


def count_flops(model):
    """Forward FLOPs per image of the model's convolutions and dense layers (a
    multiply-add counts as two), nested models included."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_flops(layer)
        elif isinstance(layer, layers.Conv2D):
            kernel_height, kernel_width, channels_in, channels_out = layer.kernel.shape
            _, height, width, _ = layer.output.shape
            total += 2 * height * width * kernel_height * kernel_width * channels_in * channels_out
        elif isinstance(layer, layers.Dense):
            inputs, units = layer.kernel.shape
            total += 2 * inputs * units
    return total
