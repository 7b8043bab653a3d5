"""The one way this project predicts: every member model and the mirror images in one
compiled call per batch, for faces of any count, and the Python API for pictures.

    from ferkit.predictor import Predictor
    predictor = Predictor()                      # models/model_*.h5, flip averaged
    predictor.predict("photo.jpg")               # [{"box": {...}, "emotion": "Happy", "probabilities": {...}}]
    predictor.predict_faces(faces)               # (N, 48, 48) uint8 crops -> (N, 7) probabilities
"""
import numpy as np

from ferkit import CLASS_NAMES, INPUT_SHAPE, InputError, cli, evaluation, faces, model_files, models
from ferkit.backend import keras

MAX_BATCH = 256
FAST_MODEL = model_files.MODELS_DIR / "fast.h5"  # train_fast.py's: small enough for every frame of a video


@keras.saving.register_keras_serializable(package="ferkit")
class Mirror(keras.layers.Layer):
    """The faces mirrored left to right, for flip averaging inside a model."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)


def ensemble_network(members, tta=True, averaged=False):
    """One Keras model that runs every member on the faces and, with tta, on their mirror
    images. Its output is (N, members, views, 7), or with averaged=True the (N, 7) mean,
    the form an exported file carries."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    views = [inputs, Mirror(name="mirror")(inputs)] if tta else [inputs]
    outputs = []
    for number, member in enumerate(members):
        member.name = f"member_{number + 1}"  # loaded files often share a name, which one model cannot hold twice
        outputs += [member(view) for view in views]
    if averaged:
        output = keras.layers.Average(name="mean")(outputs) if len(outputs) > 1 else outputs[0]
    else:
        stacked = keras.layers.Concatenate(axis=1, name="views")(outputs)
        output = keras.layers.Reshape((len(members), len(views), len(CLASS_NAMES)), name="by_member")(stacked)
    return keras.Model(inputs, output, name="ensemble")


class ExportedNetwork:
    """An onnxruntime session in the place of the Keras ensemble network: (N, 1, 1, 7)."""

    def __init__(self, session):
        self.session, self.input_name = session, session.get_inputs()[0].name

    def predict_on_batch(self, batch):
        return self.session.run(None, {self.input_name: batch})[0][:, np.newaxis, np.newaxis]


def padded_size(count, most):
    """Batches are padded to a power of two (or to the batch size), so that a compiled
    program serves many face counts instead of being compiled again for each new one."""
    return min(most, 1 << max(0, count - 1).bit_length())


class Predictor:
    """Loads the member files once; predicts faces, or the faces found in pictures."""

    def __init__(self, model_paths=None, tta=True, weights=None, batch_size=MAX_BATCH):
        self.paths = list(model_paths or model_files.find_models())
        self.weights, self.batch_size = weights, batch_size
        if any(map(model_files.is_exported, self.paths)):
            self._use_exported()
        else:
            self.members = model_files.load_models(self.paths)
            self.tta, self.network = tta, ensemble_network(self.members, tta)
            self.views = (len(self.members), 2 if tta else 1)
        evaluation.check_weights(weights, self.views[0])
        self._detector = None

    def _use_exported(self):
        """An ONNX file from export_model.py holds the whole predictor, the flip averaging it
        was exported with included: one member, one view, whatever tta says."""
        if len(self.paths) > 1:
            exported = next(filter(model_files.is_exported, self.paths))
            raise InputError(f"{exported}: an exported file holds every member of its ensemble already; "
                             "pass it alone to --models.")
        self.members, self.tta, self.views = [], False, (1, 1)
        self.network = ExportedNetwork(model_files.load_exported(self.paths[0]))

    def member_views(self, images, progress=None):
        """(N, members, views, 7) probabilities of (N, 48, 48) uint8 faces; views are the
        faces and, with tta, their mirror images. progress: a label to count the faces under."""
        images = np.asarray(images)
        many = len(images) > self.batch_size  # one batch is over too soon to need a counter
        counter = cli.Progress(len(images), progress, unit_rate="faces/s") if progress and many else None
        out = np.empty((len(images), *self.views, len(CLASS_NAMES)), "float32")
        for start in range(0, len(images), self.batch_size):
            batch = models.as_input(images[start : start + self.batch_size])
            padding = padded_size(len(batch), self.batch_size) - len(batch)
            if padding:
                batch = np.concatenate([batch, np.zeros((padding, *batch.shape[1:]), batch.dtype)])
            predicted = keras.ops.convert_to_numpy(self.network.predict_on_batch(batch))
            out[start : start + self.batch_size] = predicted[: len(predicted) - padding]
            if counter:
                counter.step(len(batch) - padding)
        return out

    def per_member(self, images, progress=None):
        """(members, N, 7): each member's probabilities, flip averaged with tta."""
        return self.member_views(images, progress).mean(axis=2).transpose(1, 0, 2)

    def predict_faces(self, images, progress=None):
        """(N, 7) probabilities of the ensemble for (N, 48, 48) uint8 faces."""
        return evaluation.average(list(self.per_member(images, progress)), self.weights)

    @property
    def detector(self):
        if self._detector is None:
            self._detector = faces.face_detector()
        return self._detector

    def predict(self, picture, detect=True):
        """The faces of a picture (a path, or an array: gray (H, W) or RGB (H, W, 3) uint8),
        largest first: each a dict of box, emotion and the seven probabilities."""
        gray = faces.read_gray(picture) if not isinstance(picture, np.ndarray) else faces.as_gray(picture)
        found = faces.faces_in_gray(gray, self.detector if detect else None)
        return self.describe(found)

    def describe(self, found):
        """faces.Face objects with their emotions, as predict() returns them."""
        if not found:
            return []
        probabilities = self.predict_faces(np.stack([face.pixels for face in found]))
        return [describe(face.box, row) for face, row in zip(found, probabilities)]


def describe(box, probabilities):
    return {
        "box": dict(zip(("x", "y", "width", "height"), map(int, box))),
        "emotion": CLASS_NAMES[int(probabilities.argmax())],
        "probabilities": {name: round(float(p), 4) for name, p in zip(CLASS_NAMES, probabilities)},
    }
