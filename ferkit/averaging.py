"""Weight averaging: one model from several snapshots of one network (stochastic weight
averaging, Izmailov et al. 2018), such as the runs of a warm-restart chain."""
import numpy as np

from ferkit import InputError, models
from ferkit.backend import keras


def average_weights(snapshots, paths):
    """Sets the first model's weights to the mean of all the models' weights; returns it."""
    if len(snapshots) < 2:
        raise InputError("name at least two models to average.")
    first_shapes = [tuple(weight.shape) for weight in snapshots[0].weights]
    for model, path in zip(snapshots[1:], paths[1:]):
        if [tuple(weight.shape) for weight in model.weights] != first_shapes:
            raise InputError(
                f"{path} is not the same network as {paths[0]} (its weights differ in number or shape): "
                "only snapshots of one architecture and width can be averaged."
            )
    for weights in zip(*(model.weights for model in snapshots)):
        weights[0].assign(np.mean([keras.ops.convert_to_numpy(weight) for weight in weights], axis=0))
    return snapshots[0]


def batch_norm_layers(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found += batch_norm_layers(layer)
    return found


def reestimate_batch_norm(model, images, batch_size=256):
    """Replaces each batch normalisation's moving mean and variance with their average over
    `images`: averaged weights make activations whose statistics none of the snapshots'
    moving averages describe. The passes run in training mode, as the snapshots' own
    statistics were gathered, augmentation and dropout included."""
    norms = batch_norm_layers(model)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.moving_mean.assign(np.zeros(norm.moving_mean.shape, "float32"))
        norm.moving_variance.assign(np.ones(norm.moving_variance.shape, "float32"))
    for number, start in enumerate(range(0, len(images), batch_size), 1):
        for norm in norms:
            norm.momentum = 1 - 1 / number  # a running mean over the batches, equal weights
        model(models.as_input(images[start : start + batch_size]), training=True)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return model
