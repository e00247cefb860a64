"""Build Keras models, optimisers and learning-rate schedules from configs."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers

from mnist_models.architecture import IMAGE_SIZE, plan_layers, summary_rows
from mnist_models.config import ModelConfig, TrainConfig

__all__ = ["FlooredExponentialDecay", "OneCycle", "build_model", "compile_model", "make_optimizer", "summary_rows"]

_LAYER_CLASSES = {
    "Reshape": layers.Reshape,
    "Conv2D": layers.Conv2D,
    "MaxPooling2D": layers.MaxPooling2D,
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


@keras.saving.register_keras_serializable(package="mnist_models")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `floor` to `peak` over the first `warmup_fraction` of `total_steps`, then half a cosine
    back down to `floor` (config.one_cycle_rate is the same formula in plain Python)."""

    def __init__(self, peak: float, floor: float, total_steps: int, warmup_fraction: float):
        self.peak = float(peak)
        self.floor = float(floor)
        self.total_steps = int(total_steps)
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = self.warmup_fraction * self.total_steps
        rising = self.floor + (self.peak - self.floor) * step / max(warmup, 1e-9)
        progress = keras.ops.minimum(1.0, (step - warmup) / max(1.0, self.total_steps - warmup))
        falling = self.floor + (self.peak - self.floor) * 0.5 * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < warmup, rising, falling)

    def get_config(self) -> dict[str, Any]:
        return {"peak": self.peak, "floor": self.floor, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction}


def make_learning_rate(train: TrainConfig) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate or schedule object that `train` asks for."""
    if train.lr_schedule == "inverse_time" and train.lr_decay > 0:
        # decay_steps=1 makes it lr / (1 + decay x step), exactly Keras 2's `Adam(decay=...)`.
        return keras.optimizers.schedules.InverseTimeDecay(train.learning_rate, decay_steps=1,
                                                           decay_rate=train.lr_decay)
    if train.lr_schedule == "exponential":
        return FlooredExponentialDecay(train.learning_rate, train.lr_decay_steps, train.min_learning_rate)
    if train.lr_schedule == "one_cycle":
        return OneCycle(train.learning_rate, train.min_learning_rate, train.total_steps, train.warmup_fraction)
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


def compile_model(model: keras.Model, train: TrainConfig, steps_per_execution: int = 1) -> keras.Model:
    """Compile `model` with the optimiser of `train`, cross-entropy loss and accuracy.

    `steps_per_execution` > 1 runs that many batches per call into TensorFlow (callbacks then hear of every
    k-th batch), which saves a GPU a device-to-host copy per step; see training.steps_per_execution.
    """
    train.validate()
    model.compile(
        steps_per_execution=steps_per_execution,
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
