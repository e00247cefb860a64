"""ModelConfig and TrainConfig: what a network is and how it is trained, validated and stored as JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Self

from mnist_models import architecture

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "leaky_relu", "linear")
PADDINGS = ("same", "valid")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "adamw")
OPTIMIZER_LABELS = {
    "sgd": "SGD (plain gradient descent)",
    "momentum": "SGD with momentum 0.9",
    "adam": "Adam",
    "rmsprop": "RMSprop",
    "adamw": "AdamW (Adam with weight decay)",
}
SCHEDULES = ("constant", "inverse_time", "exponential", "one_cycle")
SCHEDULE_LABELS = {
    "constant": "constant",
    "inverse_time": "inverse-time decay: lr / (1 + decay × step)",
    "exponential": "exponential decay to a floor: floor + lr × e^(−step / decay steps)",
    "one_cycle": "one cycle: warm up from the floor to lr, then a cosine back down to the floor by the last step",
}

# Limits that keep a learner's experiment inside what a laptop or a classroom server can train.
MAX_HIDDEN_LAYERS = 10
MAX_UNITS = 4096
MAX_CONV_LAYERS = 6
MAX_FILTERS = 256
MAX_STRIDE = 4
MAX_POOL = 4
MAX_PARAMS = 5_000_000
MAX_EPOCHS = 200
MAX_BATCH_SIZE = 10_000
MAX_LR_DECAY = 1.0  # inverse-time decay per step; 1 already halves the rate after one step (the Train page's limit)
TOTAL_TRAIN_IMAGES = 60_000
MIN_VALIDATION = 100
VALIDATION_SAMPLE = 1000  # validation images scored during an epoch (the first of the split; cheap enough to do often)
VALIDATION_CHECKS_PER_EPOCH = 5  # times an epoch scores the validation sample (the last at the epoch's end)
TEST_IMAGES = 10_000  # the MNIST test set, scored after every epoch


_RUN_ID_TEXT = re.compile(r"^([0-9a-z-]{1,80})?$")  # a run id's characters (runs.py checks the exact form), or ""


class ConfigError(ValueError):
    """A config with one or more problems; `problems` lists each in words a learner understands."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))


class Validated:
    """What ModelConfig and TrainConfig share: `validate` turns the sentences of their `problems` into an error."""

    def problems(self) -> list[str]:
        """Every problem with this config, as sentences; empty when it is valid."""
        raise NotImplementedError

    def validate(self) -> Self:
        """Return self, or raise ConfigError listing every problem."""
        problems = self.problems()
        if problems:
            raise ConfigError(problems)
        return self


@dataclass
class ConvLayer:
    """One convolutional layer: `filters` feature maps from `kernel_size` x `kernel_size` patches."""

    filters: int = 6  # number of output channels (feature maps)
    kernel_size: int = 5  # side of the square patch each filter looks at, in pixels
    stride: int = 1  # step between patches; 2 halves the image's width and height
    activation: str = "relu"
    pool_size: int = 1  # max pooling after the layer: 2 keeps the largest of each 2x2 block (half the size); 1 = none


@dataclass
class ModelConfig(Validated):
    """A network for 28x28 digits: optional convolutional layers, then dense hidden layers, then 10 outputs.

    With no `conv_layers` it is a dense network; with no `hidden_units` either, it is the codelab's
    single softmax layer.
    """

    conv_layers: list[ConvLayer] = field(default_factory=list)
    padding: str = "same"  # "same" keeps the image size at stride 1 (the codelab); "valid" trims the borders
    hidden_units: list[int] = field(default_factory=lambda: [200, 100, 60, 30])
    activation: str = "relu"  # activation of the dense hidden layers
    dropout_rate: float = 0.0  # fraction of dense hidden units dropped at each training step
    batch_norm: bool = False  # batch normalisation before every hidden activation
    batch_norm_momentum: float = 0.99  # weight of the past in batch norm's running mean and variance (Keras's default)

    def problems(self) -> list[str]:
        """Every problem with this config, as sentences; empty when it is valid."""
        found = []
        if not isinstance(self.hidden_units, list) or not isinstance(self.conv_layers, list):
            return ["Hidden layers and convolutional layers must be lists."]
        if len(self.hidden_units) > MAX_HIDDEN_LAYERS:
            found.append(f"Use at most {MAX_HIDDEN_LAYERS} hidden layers (you have {len(self.hidden_units)}).")
        for index, units in enumerate(self.hidden_units, start=1):
            if not _is_int(units) or not 1 <= units <= MAX_UNITS:
                found.append(f"Hidden layer {index} needs between 1 and {MAX_UNITS} neurons (got {units!r}).")
        if self.activation not in ACTIVATIONS:
            found.append(f"Unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}.")
        if not _is_number(self.dropout_rate) or not 0.0 <= self.dropout_rate < 1.0:
            found.append(
                f"Dropout rate must be at least 0 and below 1 (got {self.dropout_rate!r}); "
                "0.25 drops a quarter of the neurons."
            )
        if not isinstance(self.batch_norm, bool):
            found.append("Batch norm must be on or off (true or false).")
        if not _is_finite(self.batch_norm_momentum) or not 0 <= self.batch_norm_momentum < 1:
            found.append(
                f"Batch-norm momentum must be at least 0 and below 1, like 0.99 (got {self.batch_norm_momentum!r}); "
                "lower values make the running statistics the test uses follow training sooner."
            )
        if self.padding not in PADDINGS:
            found.append(f"Padding must be 'same' or 'valid' (got {self.padding!r}).")
        if len(self.conv_layers) > MAX_CONV_LAYERS:
            found.append(f"Use at most {MAX_CONV_LAYERS} convolutional layers (you have {len(self.conv_layers)}).")
        for index, conv in enumerate(self.conv_layers, start=1):
            found.extend(_conv_problems(index, conv))
        if not found:
            found.extend(architecture.shape_problems(self))
        if not found:
            params = architecture.count_params(self)
            if params > MAX_PARAMS:
                found.append(
                    f"This network has {params:,} parameters, above the limit of {MAX_PARAMS:,}: "
                    "use fewer neurons or filters, or a larger stride."
                )
        return found

    @property
    def kind(self) -> str:
        return "convolutional" if self.conv_layers else "dense"


@dataclass
class TrainConfig(Validated):
    """How to train: optimiser, learning-rate schedule, batch size, epochs and how much data."""

    optimizer: str = "adam"
    learning_rate: float = 0.003  # initial step size; Keras's loss is a mean, not the codelab's sum x 100
    lr_schedule: str = "constant"
    lr_decay: float = 0.001  # inverse_time: lr / (1 + lr_decay x step), what Keras 2's Adam(decay=...) did
    lr_decay_steps: int = 2000  # exponential: steps for the rate above the floor to shrink by e
    min_learning_rate: float = 0.0001  # exponential and one_cycle: the floor the rate decays towards
    warmup_fraction: float = 0.2  # one_cycle: the share of all training steps spent rising from the floor to lr
    batch_size: int = 100
    epochs: int = 5
    train_size: int = 55_000  # training images used (a class-balanced subset; smaller overfits sooner)
    validation_size: int = 5_000  # images held out of training to measure progress during each epoch
    seed: int = 0  # fixes weight initialisation, batch order and dropout, for reproducible CPU runs
    # A run id: start from that run's trained weights (copied into this run's folder when the job is submitted)
    # instead of new ones, and mix in the learner's own digits copied there too (see my_digits.py). "" = train anew.
    fine_tune_from: str = ""

    def problems(self) -> list[str]:
        """Every problem with this config, as sentences; empty when it is valid."""
        found = []
        if self.optimizer not in OPTIMIZERS:
            found.append(f"Unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}.")
        if not _is_finite(self.learning_rate) or self.learning_rate <= 0:
            found.append(f"Learning rate must be a positive number, like 0.003 (got {self.learning_rate!r}).")
        elif self.learning_rate > 10:
            found.append(f"Learning rate {self.learning_rate} is far too large: use a value below 10.")
        if self.lr_schedule not in SCHEDULES:
            found.append(f"Unknown learning-rate schedule {self.lr_schedule!r}: choose one of {', '.join(SCHEDULES)}.")
        if not _is_finite(self.lr_decay) or not 0 <= self.lr_decay <= MAX_LR_DECAY:
            found.append(
                f"Decay must be zero or a positive number up to {MAX_LR_DECAY:g}, like 0.001 (got {self.lr_decay!r})."
            )
        if not _is_int(self.lr_decay_steps) or self.lr_decay_steps < 1:
            found.append(f"Decay steps must be a whole number of at least 1 (got {self.lr_decay_steps!r}).")
        if not _is_finite(self.min_learning_rate) or self.min_learning_rate < 0:
            found.append(f"The learning-rate floor must be zero or positive (got {self.min_learning_rate!r}).")
        if not _is_finite(self.warmup_fraction) or not 0 <= self.warmup_fraction < 1:
            found.append(
                f"The warm-up fraction must be at least 0 and below 1, like 0.2 for the first fifth of the steps "
                f"(got {self.warmup_fraction!r})."
            )
        if not _is_int(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            found.append(f"Batch size must be a whole number from 1 to {MAX_BATCH_SIZE:,} (got {self.batch_size!r}).")
        if not _is_int(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            found.append(f"Epochs must be a whole number from 1 to {MAX_EPOCHS} (got {self.epochs!r}).")
        if not _is_int(self.validation_size) or self.validation_size < MIN_VALIDATION:
            found.append(
                f"The validation split needs at least {MIN_VALIDATION} images (got {self.validation_size!r})."
            )
        if not _is_int(self.train_size) or self.train_size < 10:
            found.append(f"Train on at least 10 images (got {self.train_size!r}).")
        elif _is_int(self.validation_size) and self.train_size + self.validation_size > TOTAL_TRAIN_IMAGES:
            found.append(
                f"Training ({self.train_size:,}) and validation ({self.validation_size:,}) images add up to more "
                f"than the {TOTAL_TRAIN_IMAGES:,} MNIST training images: lower one of them."
            )
        if _is_int(self.batch_size) and _is_int(self.train_size) and 10 <= self.train_size < self.batch_size:
            found.append(
                f"The batch size ({self.batch_size}) is larger than the training set ({self.train_size}): "
                "lower the batch size or use more images."
            )
        if not _is_int(self.seed) or not 0 <= self.seed < 2**31:
            found.append(f"The seed must be a whole number from 0 to {2**31 - 1} (got {self.seed!r}).")
        if not isinstance(self.fine_tune_from, str) or not _RUN_ID_TEXT.fullmatch(self.fine_tune_from):
            found.append(f"Fine-tuning starts from a saved run's id, or from nothing (got {self.fine_tune_from!r}).")
        return found

    @property
    def total_steps(self) -> int:
        """Training steps over all epochs: batches per epoch (the last one may be partial) times epochs."""
        return math.ceil(self.train_size / self.batch_size) * self.epochs

    def learning_rate_at(self, step: int) -> float:
        """The learning rate the schedule gives at a global training step (the formula Keras applies)."""
        if self.lr_schedule == "inverse_time":
            return self.learning_rate / (1.0 + self.lr_decay * step)
        if self.lr_schedule == "exponential":
            return self.min_learning_rate + self.learning_rate * math.exp(-step / self.lr_decay_steps)
        if self.lr_schedule == "one_cycle":
            return one_cycle_rate(step, self.learning_rate, self.min_learning_rate, self.total_steps,
                                  self.warmup_fraction)
        return self.learning_rate


def one_cycle_rate(step: float, peak: float, floor: float, total_steps: int, warmup_fraction: float) -> float:
    """Warm up linearly from `floor` to `peak` over the first `warmup_fraction` of the steps, then follow half a
    cosine back down to `floor` at the last step (and stay there). Large batches tolerate a high peak rate only
    after a warm-up; the slow end lets the weights settle."""
    warmup = warmup_fraction * total_steps
    if step < warmup:
        return floor + (peak - floor) * step / warmup
    progress = min(1.0, (step - warmup) / max(1.0, total_steps - warmup))
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    """A number a float can hold: not NaN or infinite, and no integer too large to convert (like 10**400)."""
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def _conv_problems(index: int, conv: ConvLayer) -> list[str]:
    found = []
    name = f"Convolutional layer {index}"
    if not isinstance(conv, ConvLayer):
        return [f"{name} needs filters, a kernel size, a stride and an activation (got {conv!r})."]
    if not _is_int(conv.filters) or not 1 <= conv.filters <= MAX_FILTERS:
        found.append(f"{name} needs between 1 and {MAX_FILTERS} filters (got {conv.filters!r}).")
    if not _is_int(conv.kernel_size) or not 1 <= conv.kernel_size <= 28:
        found.append(f"{name}: kernel size must be from 1 to 28 pixels (got {conv.kernel_size!r}).")
    if not _is_int(conv.stride) or not 1 <= conv.stride <= MAX_STRIDE:
        found.append(f"{name}: stride must be from 1 to {MAX_STRIDE} (got {conv.stride!r}).")
    if not _is_int(conv.pool_size) or not 1 <= conv.pool_size <= MAX_POOL:
        found.append(f"{name}: max pooling must be from 1 (none) to {MAX_POOL} (got {conv.pool_size!r}); "
                     "2 halves the image's width and height.")
    if conv.activation not in ACTIVATIONS:
        found.append(f"{name}: unknown activation {conv.activation!r}; choose one of {', '.join(ACTIVATIONS)}.")
    # Besides never looking at most pixels, a strided 1x1 convolution crashes TensorFlow 2.21's CPU (oneDNN)
    # training with a segmentation fault whenever a batch is not a multiple of the thread count.
    if not found and conv.kernel_size == 1 and conv.stride > 1:
        found.append(f"{name}: a 1x1 kernel with stride {conv.stride} skips most pixels entirely; "
                     "use stride 1 or a larger kernel.")
    return found


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """A JSON-ready dict of a config."""
    return dataclasses.asdict(config)


def model_config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """Rebuild a ModelConfig; keys missing from older files fall back to defaults, unknown keys are ignored."""
    values = _known_fields(ModelConfig, data)
    # Anything but a list is left as it is, for problems() to report.
    if isinstance(values.get("conv_layers"), list | tuple):
        values["conv_layers"] = [ConvLayer(**_known_fields(ConvLayer, layer)) for layer in values["conv_layers"]]
    if isinstance(values.get("hidden_units"), list | tuple):
        values["hidden_units"] = list(values["hidden_units"])
    return ModelConfig(**values)


def train_config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig; keys missing from older files fall back to defaults, unknown keys are ignored."""
    return TrainConfig(**_known_fields(TrainConfig, data))


def _known_fields(cls: type, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError([f"Expected a JSON object for {cls.__name__}, got {type(data).__name__}."])
    names = {item.name for item in dataclasses.fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def dumps(model: ModelConfig, train: TrainConfig) -> str:
    """Both configs as one pretty JSON document (what config.json holds)."""
    return json.dumps({"model": to_dict(model), "train": to_dict(train)}, indent=2)


def loads(text: str) -> tuple[ModelConfig, TrainConfig]:
    """Parse what `dumps` wrote (or an older version of it)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([f"The config is not valid JSON: {error}."]) from error
    except (ValueError, RecursionError) as error:
        # Python refuses to read integers of more than 4,300 digits, and nesting deeper than its stack.
        raise ConfigError(["The config holds a number too long or lists nested too deeply to read."]) from error
    if not isinstance(data, dict):
        raise ConfigError(["The config must be a JSON object with 'model' and 'train' parts."])
    return model_config_from_dict(data.get("model", {})), train_config_from_dict(data.get("train", {}))
