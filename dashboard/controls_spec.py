"""The Train page's controls, each described once: its key, label, range and help, from which the widgets, the
kept session keys, the link limits and the starting values all come (this module imports no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from mnist_models import config as cfg
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig

KINDS = ("int", "float", "slider", "select", "segmented", "toggle", "text")
NUMERIC_KINDS = ("int", "float", "slider")
NET_TYPES = ("Dense", "Convolutional")
PRESET_KEY = "preset"  # the Preset box: drawn by its own function, since choosing one fills in all the others
# What a layer the learner adds starts with: a config's lists have no default for a layer they do not hold.
NEW_UNITS = 100
NEW_CONV = ConvLayer(8, 5, 2)


@dataclass(frozen=True)
class Control:
    """One widget: its session key (the config field's name where it edits one field), what the learner reads,
    and the values it accepts. A per-layer control's key is a prefix, followed by the layer's index."""

    key: str
    label: str  # a per-layer control's may hold {number}, the layer's number counted from 1
    kind: str  # one of KINDS
    low: float | None = None
    high: float | None = None
    step: float | None = None
    number_format: str | None = None  # how a "float" box writes its value, like "%.5f"
    options: tuple[str, ...] = ()
    option_labels: Mapping[str, str] | None = None  # what a box shows for each option; None shows the option
    help: str | None = None
    max_chars: int | None = None
    # The config's own check refuses exactly the values this widget cannot hold, so a link needs no limit of the
    # page's own, and a bad value in one gets the config's fuller message.
    checked_by_config: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Control {self.key!r}: unknown kind {self.kind!r}; use one of {', '.join(KINDS)}.")
        if self.kind in NUMERIC_KINDS and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError(f"Control {self.key!r}: a number needs a lowest and a highest value, lowest first.")
        if self.kind in ("select", "segmented") and not self.options:
            raise ValueError(f"Control {self.key!r}: a box to choose from needs its options.")


# The network's shape: what the config's lists hold is edited one layer at a time, so these have no field.
SHAPE_CONTROLS = (
    Control("net_type", "Network type", "segmented", options=NET_TYPES,
            help="Dense layers see the image as 784 unrelated numbers; convolutional layers look at small patches "
                 "and keep the 2-D layout."),
    Control("conv_count", "Convolutional layers", "int", 1, cfg.MAX_CONV_LAYERS),
    Control("hidden_count", "Hidden dense layers", "int", 0, cfg.MAX_HIDDEN_LAYERS,
            help="0 gives the codelab's first network: one softmax layer straight from the pixels."),
)
UNITS_CONTROL = Control("units_", "Layer {number}", "int", 1, cfg.MAX_UNITS)
# Keyed by the ConvLayer field each one edits; a kernel covers at most the whole 28x28 image.
CONV_LAYER_CONTROLS = MappingProxyType({
    "filters": Control("conv_filters_", "Layer {number} filters", "int", 1, cfg.MAX_FILTERS),
    "kernel_size": Control("conv_kernel_", "kernel size", "int", 1, 28),
    "stride": Control("conv_stride_", "stride", "int", 1, cfg.MAX_STRIDE),
    "pool_size": Control("conv_pool_", "max pool", "int", 1, cfg.MAX_POOL,
                         help="Keep the largest value of each block of this size after the layer: 2 halves the "
                              "image's width and height without any weights; 1 = no pooling."),
})
MODEL_CONTROLS = (
    Control("padding", "Padding", "select", options=cfg.PADDINGS,
            help="'same' pads the border so only the stride shrinks the image; 'valid' trims the border at every "
                 "layer."),
    Control("activation", "Activation", "select", options=cfg.ACTIVATIONS,
            help="Applied after every hidden layer (convolutional ones too)."),
    Control("dropout_rate", "Dropout rate", "slider", 0.0, 0.9, 0.05,
            help="Fraction of dense neurons switched off at each training step; fights overfitting."),
    Control("batch_norm", "Batch norm", "toggle",
            help="Normalise each layer's inputs over the batch before the activation."),
    Control("batch_norm_momentum", "Batch-norm momentum", "float", 0.0, 0.999, 0.01, "%.3f",
            help="Weight of the past in the running mean and variance a trained network uses on new images; 0.9 "
                 "follows a fast-changing network sooner than 0.99."),
)
TRAIN_CONTROLS = (
    Control("optimizer", "Optimizer", "select", options=cfg.OPTIMIZERS, option_labels=cfg.OPTIMIZER_LABELS),
    Control("learning_rate", "Learning rate", "float", 0.0, 100.0, 0.0005, "%.5f",
            help="Step size of each update. SGD here needs about 0.1-0.5; Adam about 0.001-0.005."),
    Control("lr_schedule", "Learning-rate schedule", "select", options=cfg.SCHEDULES,
            option_labels=cfg.SCHEDULE_LABELS),
    Control("lr_decay", "Decay per step", "float", 0.0, cfg.MAX_LR_DECAY, 0.0005, "%.5f"),
    Control("lr_decay_steps", "Decay steps", "int", 1, 1_000_000, 100,
            help="Steps for the rate above the floor to shrink by a factor e (2.7)."),
    Control("min_learning_rate", "Floor", "float", 0.0, 1.0, 0.0001, "%.5f"),
    Control("warmup_fraction", "Warm-up fraction", "slider", 0.0, 0.9, 0.05,
            help="The share of all steps in which the rate rises from the floor to the learning rate; a cosine "
                 "then brings it back to the floor by the last step."),
    Control("batch_size", "Batch size", "int", 1, cfg.MAX_BATCH_SIZE, checked_by_config=True),
    Control("epochs", "Epochs", "int", 1, cfg.MAX_EPOCHS, checked_by_config=True),
    Control("seed", "Seed", "int", 0, 2**31 - 1, checked_by_config=True,
            help="Same seed, same settings: the same curves (on a CPU)."),
    Control("train_size", "Training images", "int", 10, cfg.TOTAL_TRAIN_IMAGES, 1000, checked_by_config=True,
            help="Fewer images make overfitting easy to see; more pull train and test together."),
    Control("validation_size", "Validation images", "int", cfg.MIN_VALIDATION, cfg.TOTAL_TRAIN_IMAGES, 1000,
            checked_by_config=True,
            help=f"Held out of training; the first {cfg.VALIDATION_SAMPLE:,} are scored during each epoch to "
                 "measure progress, so more than that only costs training images."),
)
RUN_NAME_CONTROL = Control("run_name", "Run name", "text", max_chars=80, help="How the run is listed in Runs and Draw.")

CONTROLS = MappingProxyType({control.key: control for control in (*SHAPE_CONTROLS, *MODEL_CONTROLS,
                                                                    *TRAIN_CONTROLS, RUN_NAME_CONTROL)})
# Streamlit forgets a widget's value on any run that does not draw it: widgets.keep_controls() keeps these.
CONTROL_KEYS = (PRESET_KEY, *CONTROLS)
LAYER_KEY_PREFIXES = (UNITS_CONTROL.key, *(control.key for control in CONV_LAYER_CONTROLS.values()))

# A link is held to the controls' ranges (a value past them would break the widget), except where the config's
# own check already refuses exactly those values.
URL_LIMITS = MappingProxyType({control.key: (control.low, control.high) for control in (*MODEL_CONTROLS,
                                                                                       *TRAIN_CONTROLS)
                               if control.kind in NUMERIC_KINDS and not control.checked_by_config})


def is_control_key(key: object) -> bool:
    """Whether a session key holds a Train control's value (a layer's included)."""
    return isinstance(key, str) and (key in CONTROL_KEYS or key.startswith(LAYER_KEY_PREFIXES))


def typed(control: Control, value: Any) -> Any:
    """A widget's value as its config field holds it (a slider may give 0 for 0.0, a number box 5.0 for 5)."""
    if control.kind in ("float", "slider"):
        return float(value)
    if control.kind == "int":
        return int(value)
    if control.kind == "toggle":
        return bool(value)
    return value


def control_values(model: ModelConfig, train: TrainConfig, run_name: str) -> dict[str, Any]:
    """Every control's value for a pair of configs (a preset's, a shared link's), by session key."""
    values: dict[str, Any] = {
        "net_type": NET_TYPES[1] if model.conv_layers else NET_TYPES[0],
        # The count box stays at one or more, ready for when the learner switches a dense network to convolutions.
        "conv_count": max(1, len(model.conv_layers)),
        "hidden_count": len(model.hidden_units),
        RUN_NAME_CONTROL.key: run_name,
    }
    for controls, config in ((MODEL_CONTROLS, model), (TRAIN_CONTROLS, train)):
        values.update({control.key: typed(control, getattr(config, control.key)) for control in controls})
    for index, units in enumerate(model.hidden_units):
        values[f"{UNITS_CONTROL.key}{index}"] = units
    for index, conv in enumerate(model.conv_layers):
        values.update({f"{control.key}{index}": getattr(conv, field) for field, control in CONV_LAYER_CONTROLS.items()})
    return values


# Read from the configs' own defaults, never typed again here (the layers' values are NEW_UNITS and NEW_CONV).
DEFAULTS = MappingProxyType({key: value for key, value in control_values(ModelConfig(), TrainConfig(), "").items()
                             if key in CONTROLS})
