import keras
from keras import layers

from ferkit import models


def test_flops_are_counted_from_convolutions_and_dense_layers_nested_models_too():
    inner_inputs = keras.Input((4, 4, 2))
    inner = keras.Model(inner_inputs, layers.Conv2D(3, 1)(inner_inputs))  # 2 * 4*4 * 1*1 * 2*3 = 192
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(2, 3, padding="same")(inputs)  # 2 * 8*8 * 3*3 * 1*2 = 2304
    x = layers.MaxPooling2D()(x)  # free
    x = inner(x)
    x = layers.Conv2D(5, 3, strides=2, padding="valid")(x)  # 1x1 output: 2 * 1*1 * 3*3 * 3*5 = 270
    x = layers.Dense(7)(layers.Flatten()(x))  # 2 * 5*7 = 70
    assert models.count_flops(keras.Model(inputs, x)) == 2304 + 192 + 270 + 70


def test_full_vgg16_forward_pass_is_about_1_4_gflops():
    # 13 3x3 convolutions at 48..3 pixels: the figure bench.py's ceiling comparison rests on.
    assert 1.3e9 < models.count_flops(models.build_vgg16(1.0)) < 1.5e9
