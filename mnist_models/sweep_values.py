"""The settings a sweep can vary and the values a learner types for them: lists, log-spaced ranges, and applying
a value to copies of the configs; no TensorFlow."""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass

from mnist_models.config import ModelConfig, TrainConfig

MAX_VALUES = 50  # values one axis may list, whatever the cap (a typo like 1:2:100000 must not build a huge list)
SIGNIFICANT_DIGITS = 3  # a log range's inner values are rounded to this many digits, so names stay readable


@dataclass(frozen=True)
class Sweepable:
    """A setting a sweep can vary: which config holds it, its type, and whether its values spread on a log scale."""

    field: str
    label: str
    config: str  # "model" or "train"
    kind: type  # int or float
    log_scale: bool
    help: str


SWEEPABLE: dict[str, Sweepable] = {item.field: item for item in (
    Sweepable("learning_rate", "Learning rate", "train", float, True,
              "the step size; try values ten times apart first, like 0.0003, 0.003, 0.03"),
    Sweepable("lr_decay", "Learning-rate decay", "train", float, True,
              "inverse-time decay per step (lr / (1 + decay × step)); only with the inverse-time schedule"),
    Sweepable("dropout_rate", "Dropout rate", "model", float, False,
              "the share of hidden neurons dropped at each step, from 0 to below 1"),
    Sweepable("batch_size", "Batch size", "train", int, True, "images per training step"),
    Sweepable("epochs", "Epochs", "train", int, False, "passes over the training images"),
    Sweepable("train_size", "Training images", "train", int, True,
              "how many training images (fewer overfit sooner)"),
    Sweepable("hidden_width", "Hidden width", "model", int, True,
              "neurons in the first hidden layer; the other hidden layers keep their proportions"),
    Sweepable("conv_filters", "Convolution filters", "model", int, True,
              "filters of the first convolutional layer; the others keep their proportions"),
)}


def _sweepable(name: str) -> Sweepable:
    if name not in SWEEPABLE:
        raise ValueError(f"{name!r} cannot be swept: choose one of {', '.join(SWEEPABLE)}.")
    return SWEEPABLE[name]


def format_value(name: str, value) -> str:
    """A value as a learner would write it: 0.003, 1e-05, 128."""
    return str(int(value)) if SWEEPABLE.get(name) and SWEEPABLE[name].kind is int else f"{value:g}"


def _round(value: float) -> float:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")


def log_range(low: float, high: float, count: int) -> tuple[float, ...]:
    """`count` values from `low` to `high`, evenly spaced on a log scale (each the same factor above the last).

    The ends are kept exactly; the values between are rounded to three significant digits, so 1e-4 to 1e-1 in
    five gives (0.0001, 0.000562, 0.00316, 0.0178, 0.1)."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"A range needs a whole number of values, at least 1 (got {count!r}).")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x > 0
               for x in (low, high)):
        raise ValueError(f"A log-spaced range needs two positive numbers, like 1e-4:1e-1 (got {low!r} and {high!r}).")
    if count == 1:
        return (float(low),)
    step = (math.log10(high) - math.log10(low)) / (count - 1)
    inner = [_round(10 ** (math.log10(low) + index * step)) for index in range(1, count - 1)]
    return (float(low), *inner, float(high))


def _linear_range(low: float, high: float, count: int) -> tuple[float, ...]:
    if count == 1:
        return (float(low),)
    step = (high - low) / (count - 1)
    return (float(low), *(_round(low + index * step) for index in range(1, count - 1)), float(high))


def _number(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text.strip()!r} is not a number; write values like 0.001,0.003 or a range "
                         "like 1e-4:1e-1:5 (low:high:count).") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}: {text.strip()!r} is not a finite number.")
    return value


def parse_values(name: str, text: str) -> tuple:
    """The values a learner typed for a setting: a list "0.001,0.003,0.01", or a range "1e-4:1e-1:5" (low, high
    and how many values: log-spaced for rates and sizes, evenly spaced otherwise). Whole-number settings must get
    whole numbers. Raises ValueError with a message saying what to write instead."""
    item = _sweepable(name)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name}: give one or more values, like 0.001,0.003 or a range like 1e-4:1e-1:5.")
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3 or not re.fullmatch(r"\s*\d+\s*", parts[2]):
            raise ValueError(f"{name}: a range is low:high:count, like 1e-4:1e-1:5 (got {text!r}).")
        low, high, count = _number(name, parts[0]), _number(name, parts[1]), int(parts[2])
        if not 2 <= count <= MAX_VALUES:
            raise ValueError(f"{name}: a range needs from 2 to {MAX_VALUES} values (got {count}).")
        if low >= high:
            raise ValueError(f"{name}: a range goes from low to high, and {low:g} is not below {high:g}.")
        if item.log_scale and low <= 0:
            raise ValueError(f"{name} is spread on a log scale: its range must start above 0 (got {low:g}).")
        values = log_range(low, high, count) if item.log_scale else _linear_range(low, high, count)
        if item.kind is int:
            values = tuple(round(value) for value in values)
            if len(set(values)) < len(values):
                raise ValueError(f"{name}: {count} whole numbers from {low:g} to {high:g} repeat some values; "
                                 "use fewer values or a wider range.")
    else:
        pieces = [piece for piece in text.replace(";", ",").split(",")]
        if any(not piece.strip() for piece in pieces):
            raise ValueError(f"{name}: an empty value in {text!r}; separate values with single commas.")
        if len(pieces) > MAX_VALUES:
            raise ValueError(f"{name}: at most {MAX_VALUES} values (got {len(pieces)}).")
        values = tuple(_number(name, piece) for piece in pieces)
    if item.kind is int:
        if not all(float(value).is_integer() for value in values):
            raise ValueError(f"{name} takes whole numbers (got {text!r}).")
        values = tuple(int(value) for value in values)
    else:
        values = tuple(float(value) for value in values)
    repeated = sorted({format_value(name, value) for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"{name}: {', '.join(repeated)} is listed more than once; list each value once.")
    return values


def current_value(name: str, model: ModelConfig, train: TrainConfig):
    """The setting's value in these configs (None when the network has no such layer)."""
    _sweepable(name)
    if name == "hidden_width":
        return model.hidden_units[0] if model.hidden_units else None
    if name == "conv_filters":
        return model.conv_layers[0].filters if model.conv_layers else None
    return getattr(model if SWEEPABLE[name].config == "model" else train, name)


def suggest_values(name: str, model: ModelConfig, train: TrainConfig) -> tuple:
    """Three values around the current one, a starting point for the Train page (a factor of 3 apart on a log
    scale, or a step either side); () when the network has no such setting."""
    item = _sweepable(name)
    value = current_value(name, model, train)
    if value is None:
        return ()
    if name == "dropout_rate":
        return (0.0, 0.25, 0.5)
    if item.log_scale and value > 0:
        found = (value / 3, value, value * 3)
        found = tuple(max(1, round(x)) for x in found) if item.kind is int else tuple(_round(x) for x in found)
    else:
        found = (max(1, value - 1), value, value + 1) if item.kind is int else (value,)
    # Only values these configs accept (three times the training images may be more than MNIST has).
    return tuple(x for x in dict.fromkeys(found) if _accepted(name, x, model, train))


def _accepted(name: str, value, model: ModelConfig, train: TrainConfig) -> bool:
    changed_model, changed_train = apply_value(name, value, model, train)
    return not changed_model.problems() and not changed_train.problems()


def _scaled(sizes: list[int], first: int) -> list[int]:
    """Sizes with the first set to `first` and the others scaled by the same factor (at least 1 each)."""
    factor = first / sizes[0]
    return [first, *(max(1, round(size * factor)) for size in sizes[1:])]


def apply_value(name: str, value, model: ModelConfig, train: TrainConfig) -> tuple[ModelConfig, TrainConfig]:
    """Copies of the configs with the setting set to `value` (the originals are left untouched)."""
    item = _sweepable(name)
    model, train = copy.deepcopy(model), copy.deepcopy(train)
    if name == "hidden_width":
        if not model.hidden_units:
            raise ValueError("This network has no hidden layers to widen: sweep another setting.")
        model.hidden_units = _scaled(model.hidden_units, value)
    elif name == "conv_filters":
        if not model.conv_layers:
            raise ValueError("This network has no convolutional layers: sweep another setting.")
        filters = _scaled([layer.filters for layer in model.conv_layers], value)
        for layer, count in zip(model.conv_layers, filters, strict=True):
            layer.filters = count
    else:
        setattr(model if item.config == "model" else train, name, value)
    return model, train
