"""Look inside a trained network: confusion matrix, worst mistakes, first-layer weights and layer activations."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import numpy as np

from mnist_models.architecture import IMAGE_SIZE, NUM_CLASSES

PREDICT_BATCH = 1000  # test images scored per step: large batches keep the 10,000 images quick on a CPU
# Layers whose outputs a learner can read: the feature maps of convolutions (before and after their activation)
# and the neurons of dense layers. Reshape, Flatten, Dropout and batch norm only move or rescale numbers.
ACTIVATION_LAYERS = ("Conv2D", "Activation", "Dense")
_EXTRACTOR_CACHE_SIZE = 8


def _labels_array(values: Any, name: str) -> np.ndarray:
    """A 1-D integer array of digits 0..9, or a ValueError saying what is wrong with `values`."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a flat list of digits, one per image; got shape {array.shape}.")
    whole = np.issubdtype(array.dtype, np.integer) or (
        np.issubdtype(array.dtype, np.floating) and bool(np.all(np.mod(array, 1) == 0)))
    if array.size and not whole:
        raise ValueError(f"{name} must be whole digits from 0 to 9.")
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= NUM_CLASSES):
        raise ValueError(f"{name} must be digits from 0 to 9; found {array.min()}..{array.max()}.")
    return array


def _probabilities_array(probabilities: Any) -> np.ndarray:
    array = np.asarray(probabilities, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != NUM_CLASSES:
        raise ValueError(f"Probabilities must have shape (images, 10), one row of ten per image; got {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("Probabilities contain NaN or infinity: the network diverged; train it again.")
    return array


def confusion_matrix(labels: Any, predictions: Any) -> np.ndarray:
    """(10, 10) counts: row = true digit, column = predicted digit; the diagonal holds the correct answers."""
    true = _labels_array(labels, "labels")
    predicted = _labels_array(predictions, "predictions")
    if len(true) != len(predicted):
        raise ValueError(f"There are {len(true)} labels but {len(predicted)} predictions: give one of each per image.")
    # Each (true, predicted) pair becomes one index into the flattened 10x10 grid, so one bincount counts them all.
    counts = np.bincount(true * NUM_CLASSES + predicted, minlength=NUM_CLASSES * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_accuracy(labels: Any, predictions: Any) -> np.ndarray:
    """(10,) fraction of each true digit's images predicted correctly; NaN for a digit with no images."""
    matrix = confusion_matrix(labels, predictions)
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def worst_mistakes(probabilities: Any, labels: Any, count: int, true_digit: int | None = None) -> np.ndarray:
    """Indices of up to `count` misclassified images, the most confidently wrong first.

    `probabilities` is (n, 10), `labels` (n,). Confidence is the probability of the (wrong) predicted digit,
    so the first index is the image the network was surest about and still got wrong. With `true_digit`,
    only mistakes on images of that digit are considered.
    """
    scores = _probabilities_array(probabilities)
    true = _labels_array(labels, "labels")
    if len(true) != len(scores):
        raise ValueError(f"There are {len(scores)} rows of probabilities but {len(true)} labels.")
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
        raise ValueError(f"The number of mistakes to show must be a whole number, 0 or more (got {count!r}).")
    predicted = scores.argmax(axis=1)
    wrong = predicted != true
    if true_digit is not None:
        if isinstance(true_digit, bool) or not isinstance(true_digit, int | np.integer) or not 0 <= true_digit <= 9:
            raise ValueError(f"The true digit must be one of 0..9 (got {true_digit!r}).")
        wrong &= true == true_digit
    indices = np.flatnonzero(wrong)
    confidence = scores[indices, predicted[indices]]
    # A stable sort on the negated confidence keeps equally confident mistakes in test-set order.
    order = np.argsort(-confidence, kind="stable")
    return indices[order][:count]


def score_images(model: Any, images: Any, batch_size: int = PREDICT_BATCH) -> np.ndarray:
    """(n, 28, 28) images -> (n, 10) probabilities through the model's compiled predict step."""
    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 3 or array.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"Expected a batch of 28x28 images, shape (n, 28, 28); got shape {array.shape}.")
    if len(array) == 0:
        return np.zeros((0, NUM_CLASSES), dtype=np.float32)
    return np.asarray(model.predict(array, batch_size=batch_size, verbose=0))


def _weighted_layers(model: Any) -> list[Any]:
    layers = getattr(model, "layers", None)
    if layers is None:
        raise ValueError("Expected a Keras model (something with .layers), such as a run's saved network.")
    return [layer for layer in layers if type(layer).__name__ in ("Dense", "Conv2D")]


def first_layer_weights(model: Any) -> np.ndarray:
    """The weights of the first layer that looks at the pixels, one small image per neuron or filter.

    Dense first layer: its kernel (784, units) becomes (units, 28, 28), each neuron's weight per pixel; for the
    codelab's single softmax layer these are the ten digit "templates". Convolutional first layer: its kernel
    (k, k, 1, filters) becomes (filters, k, k).
    """
    weighted = _weighted_layers(model)
    if not weighted:
        raise ValueError("This model has no dense or convolutional layer, so it has no weights to show.")
    layer = weighted[0]
    kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)
    if type(layer).__name__ == "Dense":
        if kernel.shape[0] != IMAGE_SIZE * IMAGE_SIZE:
            raise ValueError(f"The first dense layer takes {kernel.shape[0]} inputs, not the 784 pixels of an image.")
        # (784, units) -> (units, 784) -> (units, 28, 28): Flatten read the image row by row, so reshape restores it.
        return kernel.T.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if kernel.ndim != 4 or kernel.shape[2] != 1:
        raise ValueError(f"The first convolution should read one grey channel; its kernel has shape {kernel.shape}.")
    # (k, k, 1, filters) -> (filters, k, k)
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1))


_extractors: OrderedDict[int, tuple[weakref.ref, Any, tuple[str, ...]]] = OrderedDict()
_extractors_lock = threading.Lock()


def _extractor(model: Any) -> tuple[Any, tuple[str, ...]]:
    """A Keras model returning every readable layer's output at once, built once per model and reused.

    Keyed by the model's id with a weak reference beside it, so a model that was freed (and whose id Python
    reused) never gets another model's extractor.
    """
    import keras

    with _extractors_lock:
        cached = _extractors.get(id(model))
        if cached is not None and cached[0]() is model:
            _extractors.move_to_end(id(model))
            return cached[1], cached[2]
        chosen = [layer for layer in getattr(model, "layers", []) if type(layer).__name__ in ACTIVATION_LAYERS]
        if not chosen:
            raise ValueError("This model has no convolutional, activation or dense layer to look inside.")
        try:
            extractor = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in chosen])
        except (AttributeError, ValueError, TypeError) as error:
            raise ValueError(f"Cannot read this model's layers one by one ({error}); was it built by this "
                             "dashboard?") from error
        names = tuple(layer.name for layer in chosen)
        _extractors[id(model)] = (weakref.ref(model), extractor, names)
        while len(_extractors) > _EXTRACTOR_CACHE_SIZE:
            _extractors.popitem(last=False)
        return extractor, names


def activations(model: Any, image: Any) -> list[tuple[str, np.ndarray]]:
    """What each layer outputs for one (28, 28) image: (layer name, array) from the input side to the output.

    Convolutions and their activations give feature maps (height, width, channels); dense layers give (units,),
    the last one the ten digit probabilities.
    """
    array = np.asarray(image, dtype=np.float32)
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"Expected one 28x28 image; got shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("The image contains NaN or infinity; use pixel values from 0 to 1.")
    extractor, names = _extractor(model)
    # A direct call on a batch of one, (1, 28, 28), answers in milliseconds; predict() would set up a whole loop.
    # The extractor's inputs are the list `model.inputs`, so the image goes in a list of the same structure.
    outputs = extractor([array[None]], training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [(name, np.asarray(output)[0]) for name, output in zip(names, outputs, strict=True)]
