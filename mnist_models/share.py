"""Train settings as a web address's query parameters, so a link opens Train with exactly one network.

Every field of ModelConfig and TrainConfig is a parameter of the same name, plus `preset` (the step the settings
start from). Lists are written compactly: `hidden_units=200,100,60,30` and `conv_layers=6x6s1,12x5s2,24x4s2`
(filters x kernel size s stride, then p and the max-pooling size when there is pooling). Reading a link never
fails: an unknown name or a bad value is left out, the preset's value is kept, and a note says which and why.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import DEFAULT_PRESET, PRESETS

PRESET = "preset"
# Fields the Train page has no control for: they describe where a job comes from (a fine-tuning's base run),
# not a network a link could hand out.
NOT_SHARED = frozenset({"fine_tune_from"})
MODEL_FIELDS = tuple(item.name for item in dataclasses.fields(ModelConfig) if item.name not in NOT_SHARED)
TRAIN_FIELDS = tuple(item.name for item in dataclasses.fields(TrainConfig) if item.name not in NOT_SHARED)
PARAM_NAMES = (PRESET, *MODEL_FIELDS, *TRAIN_FIELDS)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
MAX_NOTED_VALUE = 40  # characters of a bad value repeated in its note
_CONV = re.compile(r"(\d{1,4})x(\d{1,3})(?:s(\d{1,2}))?(?:p(\d{1,2}))?")


@dataclass
class SharedSettings:
    """What a link asks for: the preset it starts from, the configs, and a note for each part left out."""

    preset: str
    model: ModelConfig
    train: TrainConfig
    notes: list[str] = field(default_factory=list)


def to_params(model: ModelConfig, train: TrainConfig, preset: str) -> dict[str, str]:
    """Every setting as a query parameter (strings, in a stable order: the preset, then the fields)."""
    params = {PRESET: preset}
    for config, names in ((model, MODEL_FIELDS), (train, TRAIN_FIELDS)):
        for name in names:
            params[name] = _format(getattr(config, name))
    return params


def from_params(params: Mapping[str, str | Iterable[str]], *, ignore: Iterable[str] = (),
                limits: Mapping[str, tuple[float, float]] | None = None) -> SharedSettings:
    """The settings a link asks for, starting from its preset (or the default one).

    Each value is applied on its own and kept only if it reads as the field's type and adds no problem to the
    configs (so `dropout_rate=7` is refused with the config's own message). `ignore` names parameters other parts
    of the app own (like `present`); `limits` narrows numeric fields further, to what the page's controls accept.
    """
    values = {name: _last(value) for name, value in params.items()}
    notes: list[str] = []
    ignored = set(ignore)
    unknown = [name for name in values if name not in PARAM_NAMES and name not in ignored]
    if unknown:
        listed = ", ".join(repr(_shorten(name)) for name in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        notes.append(f"Ignored unknown setting{'s' if len(unknown) > 1 else ''} {listed}.")
    preset = values.get(PRESET, DEFAULT_PRESET)
    if preset not in PRESETS:
        notes.append(f"Unknown preset {_shorten(preset)!r}: started from {DEFAULT_PRESET!r} instead.")
        preset = DEFAULT_PRESET
    model, train = PRESETS[preset].configs()
    for config, names in ((model, MODEL_FIELDS), (train, TRAIN_FIELDS)):
        for name in names:
            if name in values:
                note = _apply(config, name, values[name], (limits or {}).get(name))
                if note:
                    notes.append(note)
    # The address has one activation for the whole network, as the Train page has.
    model.conv_layers = [dataclasses.replace(layer, activation=model.activation) for layer in model.conv_layers]
    return SharedSettings(preset, model, train, notes)


def _apply(config: ModelConfig | TrainConfig, name: str, text: str, limit: tuple[float, float] | None) -> str | None:
    """Set one field from its text; None when it was kept, else the note saying why it was not."""
    current = getattr(config, name)
    try:
        value = _parse(name, text, current)
    except ValueError as error:
        return f"Ignored {name}={_shorten(text)!r}: {error}; kept {_format(current)}."
    if limit is not None and isinstance(value, int | float) and not limit[0] <= value <= limit[1]:
        return (f"Ignored {name}={_shorten(text)!r}: use a value from {limit[0]:g} to {limit[1]:g}; "
                f"kept {_format(current)}.")
    before = set(config.problems())
    setattr(config, name, value)
    added = [problem for problem in config.problems() if problem not in before]
    if added:
        setattr(config, name, current)
        return f"Ignored {name}={_shorten(text)!r}: {added[0]}"
    return None


def _parse(name: str, text: str, current: object) -> object:
    text = text.strip()
    if name == "hidden_units":
        return _parse_units(text)
    if name == "conv_layers":
        return _parse_convs(text)
    if isinstance(current, bool):
        if text.lower() in TRUE_WORDS:
            return True
        if text.lower() in FALSE_WORDS:
            return False
        raise ValueError("use true or false")
    if isinstance(current, int):
        if not re.fullmatch(r"[+-]?\d{1,12}", text):
            raise ValueError("not a whole number")
        return int(text)
    if isinstance(current, float):
        try:
            number = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    if len(text) > MAX_NOTED_VALUE:
        raise ValueError("far longer than any valid choice")
    return text


def _parse_units(text: str) -> list[int]:
    if text.lower() in ("", "none"):
        return []
    parts = [part.strip() for part in text.split(",")]
    if not all(re.fullmatch(r"\d{1,6}", part) for part in parts):
        raise ValueError("write the neurons per layer as whole numbers separated by commas, like 200,100")
    return [int(part) for part in parts]


def _parse_convs(text: str) -> list[ConvLayer]:
    if text.lower() in ("", "none"):
        return []
    layers = []
    for part in text.split(","):
        match = _CONV.fullmatch(part.strip().lower())
        if match is None:
            raise ValueError("write each layer as filters x kernel size s stride, like 6x6s1,12x5s2")
        filters, kernel, stride, pool = match.groups()
        layers.append(ConvLayer(int(filters), int(kernel), int(stride or 1), pool_size=int(pool or 1)))
    return layers


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, list):
        if all(isinstance(item, ConvLayer) for item in value):
            return ",".join(f"{layer.filters}x{layer.kernel_size}s{layer.stride}"
                            + (f"p{layer.pool_size}" if layer.pool_size != 1 else "") for layer in value)
        return ",".join(str(item) for item in value)
    return str(value)


def _last(value: str | Iterable[str]) -> str:
    """A parameter given twice (`?epochs=3&epochs=4`) counts as its last value, as browsers' forms do."""
    if isinstance(value, str):
        return value
    items = list(value)
    return str(items[-1]) if items else ""


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_NOTED_VALUE else text[:MAX_NOTED_VALUE] + "…"
