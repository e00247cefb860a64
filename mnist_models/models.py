"""Build Keras models, optimisers and learning-rate schedules from configs."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers

from mnist_models.architecture import IMAGE_SIZE, plan_layers, summary_rows
from mnist_models.config import ModelConfig, TrainConfig

__all__ = ["FlooredExponentialDecay", "build_model", "compile_model", "make_optimizer", "summary_rows"]

_LAYER_CLASSES = {
    "Reshape": layers.Reshape,
    "Conv2D": layers.Conv2D,
    "BatchNormalization": layers.BatchNormalization,
    "Activation": layers.Activation,
    "Flatten": layers.Flatten,
    "Dense": layers.Dense,
    "Dropout": layers.Dropout,
}


@keras.saving.register_keras_serializable(package="mnist_models")
class FlooredExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The codelab's schedule: floor + initial x e^(-step / decay_steps), e.g. 0.003 decaying to 0.0001.

    Keras's ExponentialDecay has no floor, so without this the rate would keep shrinking towards zero.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, floor: float):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.floor = float(floor)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return self.floor + self.initial_learning_rate * keras.ops.exp(-step / self.decay_steps)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "floor": self.floor}


def make_learning_rate(train: TrainConfig) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate or schedule object that `train` asks for."""
    if train.lr_schedule == "inverse_time" and train.lr_decay > 0:
        # decay_steps=1 makes it lr / (1 + decay x step), exactly Keras 2's `Adam(decay=...)`.
        return keras.optimizers.schedules.InverseTimeDecay(train.learning_rate, decay_steps=1,
                                                           decay_rate=train.lr_decay)
    if train.lr_schedule == "exponential":
        return FlooredExponentialDecay(train.learning_rate, train.lr_decay_steps, train.min_learning_rate)
    return float(train.learning_rate)  # Keras rejects an int rate (e.g. 1 from a JSON file)


def make_optimizer(train: TrainConfig) -> keras.optimizers.Optimizer:
    """A fresh Keras optimiser for `train`."""
    rate = make_learning_rate(train)
    if train.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=rate)
    if train.optimizer == "momentum":
        return keras.optimizers.SGD(learning_rate=rate, momentum=0.9)
    if train.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate)
    if train.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=rate)
    return keras.optimizers.Adam(learning_rate=rate)


def build_model(config: ModelConfig) -> keras.Sequential:
    """An uncompiled Sequential model taking (batch, 28, 28) images in [0, 1] and returning 10 probabilities.

    Raises ConfigError (a ValueError) listing every problem when the config is invalid.
    """
    config.validate()
    model = keras.Sequential(name=f"{config.kind}_network")
    model.add(keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="image"))
    for spec in plan_layers(config):
        model.add(_LAYER_CLASSES[spec.kind](name=spec.name, **spec.options))
    return model


def compile_model(model: keras.Model, train: TrainConfig) -> keras.Model:
    """Compile `model` with the optimiser of `train`, cross-entropy loss and accuracy."""
    train.validate()
    model.compile(
        optimizer=make_optimizer(train),
        # Labels are digits 0..9, so the sparse loss avoids one-hot encoding; Keras averages it over the
        # batch, which is why the codelab's rates (for a loss summed over 100 images) are 100x too small here.
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def current_learning_rate(model: keras.Model) -> float:
    """The rate the optimiser will use for its next step, schedule included."""
    rate = model.optimizer.learning_rate
    value = float(keras.ops.convert_to_numpy(rate))
    return value if math.isfinite(value) else float("nan")
