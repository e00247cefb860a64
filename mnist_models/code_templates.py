"""The fixed parts of the Keras code the dashboard writes (MNIST loading, the split, two schedules) and its names.

`code_out` writes the parts as they are here; `code_in` accepts a function or class definition only when it is one of
these, statement for statement (comments and blank lines aside), so a reader never has to understand a body.
The formulas are those of `data.py` and `worker/models.py`; tests check that they give the same numbers.
"""

from __future__ import annotations

import ast
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mnist_models.config import ModelConfig, TrainConfig

LOAD_MNIST = '''
def load_mnist():
    """MNIST's 60,000 training and 10,000 test images as float32 in [0, 1], shape (n, 28, 28), and their digits."""
    if MNIST_NPZ is None:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    else:
        with np.load(MNIST_NPZ) as archive:
            x_train, y_train = archive["x_train"], archive["y_train"]
            x_test, y_test = archive["x_test"], archive["y_test"]
    # uint8 0..255 -> float32 0..1, the scale the codelab feeds its networks.
    return x_train.astype("float32") / 255.0, y_train, x_test.astype("float32") / 255.0, y_test
'''

INTERLEAVED_ORDER = '''
def interleaved_order(labels, seed=0):
    """A seeded order of the images in which every prefix holds each digit in its overall share: the first n
    images are then a class-balanced sample for every n at once (the dashboard orders its images so)."""
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        # Rank within the shuffled class plus a random offset, over the class size: sorting interleaves classes.
        keys[members] = (np.arange(len(members)) + rng.uniform(0.0, 1.0, len(members))) / len(members)
    return np.argsort(keys, kind="stable")
'''

FLOORED_EXPONENTIAL_DECAY = '''
class FlooredExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """floor + initial_learning_rate x e^(-step / decay_steps): the codelab's decay towards a floor.

    Keras's ExponentialDecay has no floor, so without this the rate would keep shrinking towards zero.
    """

    def __init__(self, initial_learning_rate, decay_steps, floor):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.floor = float(floor)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return self.floor + self.initial_learning_rate * keras.ops.exp(-step / self.decay_steps)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "floor": self.floor}
'''

ONE_CYCLE = '''
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Warm up linearly from floor to peak over the first warmup_fraction of total_steps, then follow half a
    cosine back down to floor by the last step (large batches tolerate a high rate only after a warm-up)."""

    def __init__(self, peak, floor, total_steps, warmup_fraction):
        self.peak = float(peak)
        self.floor = float(floor)
        self.total_steps = int(total_steps)
        self.warmup_fraction = float(warmup_fraction)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warmup = self.warmup_fraction * self.total_steps
        rising = self.floor + (self.peak - self.floor) * step / max(warmup, 1e-9)
        progress = keras.ops.minimum(1.0, (step - warmup) / max(1.0, self.total_steps - warmup))
        falling = self.floor + (self.peak - self.floor) * 0.5 * (1.0 + keras.ops.cos(np.pi * progress))
        return keras.ops.where(step < warmup, rising, falling)

    def get_config(self):
        return {"peak": self.peak, "floor": self.floor, "total_steps": self.total_steps,
                "warmup_fraction": self.warmup_fraction}
'''

TEMPLATES = {
    "load_mnist": LOAD_MNIST,
    "interleaved_order": INTERLEAVED_ORDER,
    "FlooredExponentialDecay": FLOORED_EXPONENTIAL_DECAY,
    "OneCycle": ONE_CYCLE,
}
DATA_FUNCTIONS = ("load_mnist", "interleaved_order")  # what calling them gives is data, never looked into
SCHEDULE_CLASSES = ("FlooredExponentialDecay", "OneCycle")

# Module-level constants the code names after a config field. `code_in` reads them back for the fields no Keras
# call says: the split, fine-tuning, and the settings this network or its learning rate leaves unused.
SETTING_NAMES = {
    "train_size": "TRAIN_SIZE",
    "validation_size": "VALIDATION_SIZE",
    "fine_tune_from": "FINE_TUNE_FROM",
    "activation": "ACTIVATION",
    "dropout_rate": "DROPOUT_RATE",
    "batch_norm": "BATCH_NORM",
    "batch_norm_momentum": "BATCH_NORM_MOMENTUM",
    "padding": "PADDING",
    "lr_decay": "LR_DECAY",
    "lr_decay_steps": "LR_DECAY_STEPS",
    "min_learning_rate": "MIN_LEARNING_RATE",
    "warmup_fraction": "WARMUP_FRACTION",
}
_SCHEDULE_FIELDS = {
    "inverse_time": {"lr_decay"},
    "exponential": {"lr_decay_steps", "min_learning_rate"},
    "one_cycle": {"min_learning_rate", "warmup_fraction"},
}


def unused_model_fields(model: ModelConfig) -> set[str]:
    """The ModelConfig fields that put nothing into this network (e.g. the activation of a network with no hidden
    layers): no layer says them, so the code carries them as constants."""
    unused = set()
    if not model.hidden_units:
        unused |= {"activation", "dropout_rate"}
    if not model.conv_layers:
        unused.add("padding")
        if not model.hidden_units:
            unused.add("batch_norm")
    if not model.batch_norm or "batch_norm" in unused:
        unused.add("batch_norm_momentum")
    return unused


def unused_train_fields(train: TrainConfig) -> set[str]:
    """The schedule settings that `train`'s learning-rate schedule does not use."""
    return set().union(*_SCHEDULE_FIELDS.values()) - _SCHEDULE_FIELDS.get(train.lr_schedule, set())


def source(name: str) -> str:
    """The template's code, without the blank line around it."""
    return TEMPLATES[name].strip("\n") + "\n"


@functools.cache
def _dumps() -> dict[str, str]:
    return {name: ast.dump(ast.parse(text).body[0]) for name, text in TEMPLATES.items()}


def is_template(node: ast.stmt) -> bool:
    """Whether `node` (a `def` or a `class`) is one of the templates exactly, whatever its layout and comments."""
    name = getattr(node, "name", None)
    return name in TEMPLATES and ast.dump(node) == _dumps()[name]
