"""The compute budget: what a training would cost (multiply-adds, activation memory, total work) before it runs.

Parameter limits do not bound work: six convolutional layers of 256 3x3 filters at stride 1 have only ~3 M
parameters but need ~2.3 G multiply-adds and ~4.8 MB of activations per image, and a batch of 10,000 of them
would take the server's memory. Every job is checked here first (the job queue, the command line and the Train
page all call `budget_problems`), with limits a classroom server survives; `MNIST_MAX_*` variables raise them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from mnist_models.architecture import IMAGE_SIZE, plan_layers
from mnist_models.config import (
    TEST_IMAGES,
    VALIDATION_CHECKS_PER_EPOCH,
    VALIDATION_SAMPLE,
    ModelConfig,
    TrainConfig,
)

BYTES_PER_FLOAT = 4
# Training keeps each layer's output for the backward pass and computes a gradient of the same size, and the
# optimiser and Keras's temporaries add about as much again: about three copies of the activations per batch.
ACTIVATION_COPIES = 3
# A training step costs about three forward passes (the forward pass, then gradients for inputs and weights).
STEP_COST = 3

# Defaults: about 30 times the largest preset per image, a batch's activations within 2 GB, and about ten times
# the work of the longest preset (roughly a quarter of an hour on two CPU cores).
LIMITS = {
    "MNIST_MAX_MADDS_PER_IMAGE": 50_000_000,
    "MNIST_MAX_BATCH_MEMORY_MB": 2048,
    "MNIST_MAX_TOTAL_WORK": 5_000_000_000_000,
}


@dataclass(frozen=True)
class Cost:
    """What training a config costs."""

    madds_per_image: int  # multiply-adds of one forward pass
    activations_per_image: int  # numbers every layer outputs for one image
    batch_memory_bytes: int  # activation memory of one training batch
    total_work: int  # multiply-adds of the whole job: training (forward and backward) and scoring, every epoch


def estimate(model: ModelConfig, train: TrainConfig) -> Cost:
    """The cost of training `model` as `train` says; the configs must be valid."""
    madds = 0
    activations = 0
    size, channels, features = IMAGE_SIZE, 1, IMAGE_SIZE * IMAGE_SIZE
    for layer in plan_layers(model):
        outputs = math.prod(layer.output_shape)
        activations += outputs
        if layer.kind == "Conv2D":
            kernel = layer.options["kernel_size"]
            madds += outputs * kernel * kernel * channels  # each output: one kernel over all input channels
            size, channels = layer.output_shape[0], layer.output_shape[2]
            features = size * size * channels
        elif layer.kind == "MaxPooling2D":
            pool = layer.options["pool_size"]
            madds += outputs * pool * pool  # comparisons, counted like multiply-adds
            size, features = layer.output_shape[0], outputs
        elif layer.kind == "Dense":
            madds += features * outputs
            features = outputs
    batch_memory = activations * train.batch_size * BYTES_PER_FLOAT * ACTIVATION_COPIES
    total = madds * images_per_epoch(train) * train.epochs
    return Cost(madds, activations, batch_memory, total)


def scored_per_epoch(train: TrainConfig) -> int:
    """Images an epoch scores besides training: the validation sample a few times, and the whole test set.

    With few training images this is most of the work (ten images trained, 11,000 scored), so the budget counts
    it: a tiny training set with hundreds of epochs would otherwise pass and hold a slot for hours.
    """
    steps = max(1, math.ceil(train.train_size / train.batch_size))
    checks = min(VALIDATION_CHECKS_PER_EPOCH, steps)
    return checks * min(VALIDATION_SAMPLE, train.validation_size) + TEST_IMAGES


def images_per_epoch(train: TrainConfig) -> int:
    """An epoch's work in forward passes of one image: each training image costs STEP_COST, each scored one 1."""
    return train.train_size * STEP_COST + scored_per_epoch(train)


def limits() -> dict[str, int]:
    """The limits in force: the defaults, or the MNIST_MAX_* environment variables (bad values: ValueError)."""
    found = {}
    for name, default in LIMITS.items():
        text = os.environ.get(name, "").strip()
        try:
            value = int(float(text)) if text else default
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"{name}={text!r} is not a positive number; unset it for the default ({default:,}).")
        found[name] = value
    return found


def _amount(count: int) -> str:
    """2,334 million, 50 million, 7,840: as a person would say it."""
    return f"{count / 1e6:,.0f} million" if count >= 10_000_000 else f"{count:,}"


def budget_problems(model: ModelConfig, train: TrainConfig) -> list[str]:
    """What in these (valid) configs exceeds this server's limits, each saying which setting to lower."""
    cost = estimate(model, train)
    allowed = limits()
    found = []
    per_image = allowed["MNIST_MAX_MADDS_PER_IMAGE"]
    if cost.madds_per_image > per_image:
        found.append(
            f"This network needs {_amount(cost.madds_per_image)} multiply-adds per image, more than the "
            f"{_amount(per_image)} this server allows: use fewer filters or convolutional layers, smaller kernels, "
            "or a larger stride."
        )
    memory = allowed["MNIST_MAX_BATCH_MEMORY_MB"] * 1024 * 1024
    if cost.batch_memory_bytes > memory:
        largest = max(1, memory // max(1, cost.batch_memory_bytes // train.batch_size))
        found.append(
            f"A batch of {train.batch_size:,} images needs about {cost.batch_memory_bytes / 2**20:,.0f} MB for its "
            f"layer outputs, more than the {memory / 2**20:,.0f} MB allowed: lower the batch size to {largest:,} "
            "or less, or use a smaller network."
        )
    work = allowed["MNIST_MAX_TOTAL_WORK"]
    if cost.total_work > work and cost.madds_per_image <= per_image:
        epochs = max(1, work // max(1, cost.madds_per_image * images_per_epoch(train)))
        found.append(
            f"Training would take about {cost.total_work / work:,.1f} times the work this server allows for one run: "
            f"lower the epochs (to {epochs:,} or fewer with these images), the training images, or the network's size."
        )
    return found
