"""Property-based tests: hostile configs, JSON files and canvas images are rejected with a readable message or work.

Hypothesis generates the inputs (profiles in conftest.py). A config is either rejected (`problems()`, `validate()`,
`loads()` or `budget_problems()` says why, in sentences) or built, compiled and trained one step; an image is
either preprocessed into a (28, 28) input, recognised as blank, or refused with a ValueError. Nothing else may
escape. In the default "ci" profile the three config tests generate 1,080 configs, not counting the explicit
examples: 600 hostile pairs, 400 JSON texts and 80 small networks, most of which (66) are accepted and trained
one step. The "long" profile generates ten times as many.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import fields
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from mnist_models.budget import budget_problems
from mnist_models.config import (
    ACTIVATIONS,
    OPTIMIZERS,
    PADDINGS,
    SCHEDULES,
    ConfigError,
    ConvLayer,
    ModelConfig,
    TrainConfig,
    loads,
)
from mnist_models.drawing import MNIST_SIZE, to_mnist
from mnist_models.worker.models import build_model, compile_model

# Every test's example count is a multiple of the profile's (ci: 100, long: 1000), so the long profile scales
# them all. Rejections are cheap and make up most of the configs; each accepted network costs a Keras build.
EXAMPLES = settings().max_examples
# Images fed to the one training step, whatever the config's batch size: one step proves the network trains.
MAX_FED = 8

HUGE_INTS = [2**31, 2**63, -(2**63), 10**30, 10**400, -(10**400)]
SPECIAL_FLOATS = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1e-300, 1e300, 1.7976931348623157e308]
NEAR_MISS_NAMES = ["", " ", "ReLU", "Adam", "SGD", "softmax", "swish", "nadam", "cosine", "relu ", "x" * 1000]
# What an internal object looks like when it leaks into a message: no learner can act on these.
_LEAKS = re.compile(r"Traceback|<[\w.]+ object at 0x|<class '|<function |mnist_models\.")
# Accepted configs already trained one step, by repr: a pair generated twice (JSON documents often leave every
# field at its default) is trained once, which keeps the suite's time for new networks.
_TRAINED: set[str] = set()


def _hostile() -> st.SearchStrategy:
    """Anything a field might be handed: numbers of every size and sign, NaN, infinities, text, None, containers."""
    return st.one_of(
        st.integers(),
        st.sampled_from([*HUGE_INTS, 0, -1]),
        st.floats(),
        st.sampled_from(SPECIAL_FLOATS),
        st.booleans(),
        st.none(),
        st.text(max_size=12),
        st.sampled_from(NEAR_MISS_NAMES),
        st.lists(st.integers(-5, 300), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )


def _or_hostile(valid: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(valid, _hostile())


def _hostile_conv_layers() -> st.SearchStrategy:
    layer = st.builds(
        ConvLayer,
        filters=_or_hostile(st.integers(1, 8)),
        kernel_size=_or_hostile(st.integers(1, 40)),  # up to 40: larger than the 28x28 image
        stride=_or_hostile(st.integers(1, 6)),
        activation=_or_hostile(st.sampled_from(ACTIVATIONS)),
        pool_size=_or_hostile(st.integers(0, 6)),
    )
    return st.one_of(
        st.lists(layer, max_size=3),
        st.lists(layer, min_size=7, max_size=40),  # above MAX_CONV_LAYERS
        st.lists(_hostile(), min_size=1, max_size=3),  # numbers, text or dicts where layers go
        _hostile(),
    )


def _hostile_models() -> st.SearchStrategy:
    return st.builds(
        ModelConfig,
        conv_layers=_hostile_conv_layers(),
        padding=_or_hostile(st.sampled_from(PADDINGS)),
        hidden_units=st.one_of(
            st.lists(_or_hostile(st.integers(1, 16)), max_size=4),
            st.lists(st.integers(1, 16), min_size=11, max_size=300),  # above MAX_HIDDEN_LAYERS
            _hostile(),
        ),
        activation=_or_hostile(st.sampled_from(ACTIVATIONS)),
        dropout_rate=_or_hostile(st.floats(0.0, 0.9)),
        batch_norm=_or_hostile(st.booleans()),
        batch_norm_momentum=_or_hostile(st.floats(0.0, 0.999)),
    )


def _hostile_trainings() -> st.SearchStrategy:
    return st.builds(
        TrainConfig,
        optimizer=_or_hostile(st.sampled_from(OPTIMIZERS)),
        learning_rate=_or_hostile(st.floats(1e-4, 1.0)),
        lr_schedule=_or_hostile(st.sampled_from(SCHEDULES)),
        lr_decay=_or_hostile(st.floats(0.0, 1.0)),
        lr_decay_steps=_or_hostile(st.integers(1, 10_000)),
        min_learning_rate=_or_hostile(st.floats(0.0, 1e-3)),
        warmup_fraction=_or_hostile(st.floats(0.0, 0.9)),
        batch_size=_or_hostile(st.integers(1, 128)),
        epochs=_or_hostile(st.integers(1, 5)),
        train_size=_or_hostile(st.integers(10, 1_000)),
        validation_size=_or_hostile(st.integers(100, 5_000)),
        seed=_or_hostile(st.integers(0, 2**31 - 1)),
        fine_tune_from=_or_hostile(st.sampled_from(["", "20261129-071713-softmax-f08e61"])),
    )


def _small_models() -> st.SearchStrategy:
    """Networks inside the limits and small enough to build in a fraction of a second."""
    layer = st.builds(
        ConvLayer,
        filters=st.integers(1, 8),
        # Mostly small kernels; a large one on a shrunken image with "valid" padding is rejected.
        kernel_size=st.one_of(st.integers(2, 5), st.integers(2, 5), st.integers(1, 28)),
        stride=st.integers(1, 4),
        activation=st.sampled_from(ACTIVATIONS),
        pool_size=st.one_of(st.just(1), st.integers(1, 4)),
    )
    return st.builds(
        ModelConfig,
        conv_layers=st.lists(layer, max_size=3),
        padding=st.sampled_from(PADDINGS),
        hidden_units=st.lists(st.integers(1, 32), max_size=3),
        activation=st.sampled_from(ACTIVATIONS),
        dropout_rate=st.one_of(st.just(0.0), st.floats(0.0, 0.99, exclude_max=True)),
        batch_norm=st.booleans(),
        batch_norm_momentum=st.one_of(st.just(0.99), st.floats(0.0, 1.0, exclude_max=True)),
    )


def _small_trainings() -> st.SearchStrategy:
    """Trainings with every optimiser and schedule, and valid values at their extremes (tiny rates, huge decays)."""
    return st.builds(
        TrainConfig,
        optimizer=st.sampled_from(OPTIMIZERS),
        learning_rate=st.one_of(st.floats(1e-6, 10.0), st.sampled_from([5e-324, 1e-300, 1, 10, 10.0])),
        lr_schedule=st.sampled_from(SCHEDULES),
        lr_decay=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0, 1, 1.0, 1e-300])),
        lr_decay_steps=st.one_of(st.integers(1, 10_000), st.sampled_from([1, 2**31, 2**63, 10**30])),
        min_learning_rate=st.one_of(st.floats(0.0, 0.01), st.sampled_from([0, 1e300, 10**30])),
        warmup_fraction=st.one_of(st.floats(0.0, 1.0, exclude_max=True), st.sampled_from([0, 0.0, 0.999])),
        batch_size=st.integers(1, 128),
        epochs=st.one_of(st.integers(1, 10), st.just(200)),  # 200 epochs of a convnet exceeds the budget
        # Mostly more images than the largest batch; fewer are rejected when the batch is larger.
        train_size=st.one_of(st.integers(128, 55_000), st.integers(128, 55_000), st.integers(10, 127)),
        validation_size=st.integers(100, 5_000),
        seed=st.integers(0, 2**31 - 1),
    )


def _json_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE_INTS), st.floats(),
                        st.text(max_size=10), st.sampled_from(NEAR_MISS_NAMES))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


def _json_documents() -> st.SearchStrategy:
    """Texts for `loads`: config.json look-alikes with hostile values, other JSON, broken JSON and plain text."""
    conv = st.fixed_dictionaries({}, optional={
        "filters": _or_hostile(st.integers(1, 8)), "kernel_size": _or_hostile(st.integers(1, 40)),
        "stride": _or_hostile(st.integers(1, 6)), "activation": _or_hostile(st.sampled_from(ACTIVATIONS)),
        "groups": _json_values(),
    })
    model = st.fixed_dictionaries({}, optional={
        "conv_layers": st.one_of(st.lists(st.one_of(conv, _json_values()), max_size=3), _json_values()),
        "padding": st.one_of(st.sampled_from(PADDINGS), _json_values()),
        "hidden_units": st.one_of(st.lists(_or_hostile(st.integers(1, 16)), max_size=4), _json_values()),
        "activation": st.one_of(st.sampled_from(ACTIVATIONS), _json_values()),
        "dropout_rate": st.one_of(st.floats(0.0, 0.9), _json_values()),
        "batch_norm": st.one_of(st.booleans(), _json_values()),
        "colour": _json_values(),
    })
    train_values = {
        "optimizer": st.sampled_from(OPTIMIZERS), "learning_rate": st.floats(1e-4, 1.0),
        "lr_schedule": st.sampled_from(SCHEDULES), "lr_decay": st.floats(0.0, 1.0),
        "lr_decay_steps": st.integers(1, 10_000), "min_learning_rate": st.floats(0.0, 1e-3),
        "batch_size": st.integers(1, 128), "epochs": st.integers(1, 5), "train_size": st.integers(10, 1_000),
        "validation_size": st.integers(100, 5_000), "seed": st.integers(0, 2**31 - 1),
    }
    train = st.fixed_dictionaries({}, optional={
        name: st.one_of(valid, _json_values()) for name, valid in train_values.items()
    })
    documents = st.one_of(
        st.fixed_dictionaries({}, optional={"model": st.one_of(model, _json_values()),
                                            "train": st.one_of(train, _json_values()), "notes": _json_values()}),
        _json_values(),
    )
    # NaN and Infinity are written as Python's json writes them (and reads them back).
    texts = documents.map(json.dumps)
    truncated = st.tuples(texts, st.integers(0, 200)).map(lambda pair: pair[0][: pair[1]])
    return st.one_of(texts, texts, truncated, st.text(max_size=40))


def _assert_readable(messages: list[str]) -> None:
    assert messages, "rejected without saying why"
    for message in messages:
        assert isinstance(message, str) and message.strip(), f"empty message in {messages!r}"
        assert not _LEAKS.search(message), message


def _assert_rejected_by_validate(config: ModelConfig | TrainConfig, problems: list[str]) -> None:
    with pytest.raises(ConfigError) as error:
        config.validate()
    assert error.value.problems == problems
    _assert_readable([str(error.value)])


def _judge(model: ModelConfig, train: TrainConfig, batch: Batch) -> str:
    """Check one pair of configs: "rejected" with readable reasons, or "trained" one step without an error."""
    found = False
    for config in (model, train):
        problems = config.problems()
        if problems:
            _assert_readable(problems)
            _assert_rejected_by_validate(config, problems)
            found = True
    if found:
        return "rejected"
    too_costly = budget_problems(model, train)
    if too_costly:
        _assert_readable(too_costly)
        return "rejected"
    key = repr((model, train))
    if key not in _TRAINED:
        _train_one_step(model, train, batch)
        _TRAINED.add(key)
    return "trained"


def _train_one_step(model_config: ModelConfig, train: TrainConfig, batch: Batch) -> None:
    model = compile_model(build_model(model_config), train)
    size = min(train.batch_size, MAX_FED)
    logs = model.train_on_batch(batch.images[:size], batch.labels[:size], return_dict=True)
    assert np.shape(logs["loss"]) == ()
    loss = float(logs["loss"])
    # The reported loss is measured before the update, with freshly initialised weights: always finite.
    assert math.isfinite(loss), (model_config, train, loss)


class Batch(NamedTuple):
    """The images one training step is fed."""

    images: np.ndarray  # (MAX_FED, 28, 28) float32 in [0, 1]
    labels: np.ndarray  # (MAX_FED,) digits

    def __repr__(self) -> str:  # a failing example prints its arguments: keep the pixels out of it
        return f"Batch({len(self.labels)} MNIST training images)"


@pytest.fixture(scope="module")
def few_images(mnist) -> Batch:
    return Batch(np.array(mnist.x_train[:MAX_FED]), np.array(mnist.y_train[:MAX_FED]))



@settings(max_examples=6 * EXAMPLES)
@given(model=_hostile_models(), train=_hostile_trainings())
# Regressions: each of these once made problems() raise instead of answering.
@example(model=ModelConfig(conv_layers=[{"filters": 3}, 5, None]), train=TrainConfig())
@example(model=ModelConfig(), train=TrainConfig(learning_rate=10**400, lr_decay=-(10**400)))
@example(model=ModelConfig(), train=TrainConfig(lr_decay=10**400, min_learning_rate=10**400))
def test_hostile_configs_are_rejected_readably_or_train(model, train, few_images):
    event(_judge(model, train, few_images))


@settings(max_examples=4 * EXAMPLES)
@given(text=_json_documents())
@example(text='{"model": {"hidden_units": 5, "conv_layers": null}}')
@example(text='{"model": {"conv_layers": 3.5, "hidden_units": "200"}, "train": []}')
@example(text='{"model": {"hidden_units": [1' + "0" * 5000 + "]}}")  # beyond Python's 4,300-digit limit
@example(text="[" * 100_000)  # nested deeper than the parser's recursion limit
@example(text='{"train": {"learning_rate": 1e400, "lr_decay": -Infinity, "seed": NaN}}')
def test_hostile_json_is_rejected_readably_or_trains(text, few_images):
    try:
        model, train = loads(text)
    except ConfigError as error:
        _assert_readable(error.problems)
        _assert_readable([str(error)])
        event("loads refused it")
        return
    event(_judge(model, train, few_images))


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # a floor of 1e300 in float32
def test_small_networks_are_accepted_and_train_one_step(few_images):
    outcomes = Counter()

    @settings(max_examples=8 * EXAMPLES // 10)
    @given(model=_small_models(), train=_small_trainings())
    @example(model=ModelConfig(), train=TrainConfig(batch_size=10_000, train_size=20_000))  # fed MAX_FED images
    @example(model=ModelConfig(), train=TrainConfig(lr_schedule="exponential", lr_decay_steps=10**30))
    @example(model=ModelConfig(), train=TrainConfig(lr_schedule="exponential", min_learning_rate=1e300))
    # Regressions: accepted once, these crashed the training step (a TypeError; a segmentation fault).
    @example(model=ModelConfig(), train=TrainConfig(lr_schedule="inverse_time", lr_decay=10**30))
    @example(model=ModelConfig(conv_layers=[ConvLayer(4, 1, 2)]), train=TrainConfig(batch_size=3, train_size=10))
    def check(model, train):
        outcome = _judge(model, train, few_images)
        event(outcome)
        outcomes[outcome] += 1

    check()
    print(f"small networks: {dict(outcomes)}")  # shown with pytest -s
    # Most of these are inside every limit: the property must be exercised on real networks, not only on refusals.
    assert outcomes["trained"] >= outcomes.total() // 2, outcomes


def test_every_config_field_is_generated():
    # A field added to a config later must get a hostile strategy here too.
    assert {item.name for item in fields(ModelConfig)} == {
        "conv_layers", "padding", "hidden_units", "activation", "dropout_rate", "batch_norm", "batch_norm_momentum"}
    assert {item.name for item in fields(TrainConfig)} == {
        "optimizer", "learning_rate", "lr_schedule", "lr_decay", "lr_decay_steps", "min_learning_rate",
        "warmup_fraction", "batch_size", "epochs", "train_size", "validation_size", "seed", "fine_tune_from"}
    assert {item.name for item in fields(ConvLayer)} == {"filters", "kernel_size", "stride", "activation",
                                                         "pool_size"}


DTYPES = ["uint8", "float32", "float64", "bool", "int64", "int8", "int16", "uint16", "uint64", "float16"]
# A stroke three times as often as the rest: drawings are what the canvas sends.
CONTENTS = ["black", "white", "stroke", "stroke", "stroke", "noise", "white 255", "nan", "infinite", "out of range"]


def _white(dtype: np.dtype, content: str) -> float:
    if dtype.kind == "b":
        return True
    if dtype.kind == "f":
        return 255.0 if content == "white 255" else 1.0
    return min(255, np.iinfo(dtype).max)


def _paint(shape: tuple[int, ...], dtype: np.dtype, content: str, seed: int) -> np.ndarray:
    """An image of `shape` and `dtype`: blank, full, a stroke on a blank, noise, NaN, or values out of range."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, dtype=dtype)
    if image.size == 0:
        return image
    white = _white(dtype, content)
    if content in ("white", "white 255"):
        image[...] = white
    elif content == "stroke" and image.ndim >= 2:
        # A bar in a random place: ink on every channel, alpha included, as the canvas draws it.
        height, width = shape[0], shape[1]
        top, left = rng.integers(0, height), rng.integers(0, width)
        image[top : top + rng.integers(1, height + 1), left : left + max(1, width // 8)] = white
    elif content == "noise":
        image[...] = (rng.random(shape) * float(white)).astype(dtype)
    elif content in ("nan", "infinite") and dtype.kind == "f":
        image.flat[rng.integers(0, image.size)] = math.nan if content == "nan" else math.inf
    elif content == "out of range":
        value = -5 if dtype.kind in "if" else np.iinfo(dtype).max if dtype.kind == "u" else True
        image.flat[rng.integers(0, image.size)] = value
    return image


@st.composite
def _canvas_images(draw) -> np.ndarray:
    side = st.one_of(st.integers(0, 4), st.integers(5, 64), st.integers(65, 500))
    shape = draw(st.one_of(
        st.tuples(side, side),
        st.tuples(side, side, st.sampled_from([1, 3, 4])),
        st.tuples(side, side, st.just(4)),  # the canvas's RGBA, again
        st.tuples(side, side, st.integers(0, 6)),
        st.lists(st.integers(0, 5), max_size=5).map(tuple),  # 0-D to 4-D, empty ones included
    ))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    image = _paint(shape, dtype, draw(st.sampled_from(CONTENTS)), draw(st.integers(0, 2**32 - 1)))
    # The same pixels laid out otherwise in memory: byte order, column-major, a strided view.
    layout = draw(st.sampled_from(["plain", "big-endian", "column-major", "every other row"]))
    if layout == "big-endian":
        return image.astype(image.dtype.newbyteorder(">"))
    if layout == "column-major":
        return np.asfortranarray(image)
    if layout == "every other row" and image.ndim >= 1:
        return image[::2]
    return image


def _well_formed(image: np.ndarray) -> bool:
    """What to_mnist promises to read: 2-D, or 3-D with 1, 3 or 4 channels, non-empty, pixels in [0, 255]."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or image.size == 0:
        return False
    if image.dtype.kind not in "biuf":
        return False
    values = image.astype(np.float64)
    return bool(np.isfinite(values).all() and values.min() >= 0 and values.max() <= 255)


def _check_drawing(image) -> None:
    try:
        result = to_mnist(image)
    except ValueError as error:
        _assert_readable([str(error)])
        assert not (isinstance(image, np.ndarray) and _well_formed(image)), f"rejected a valid image: {error}"
        event("refused")
        return
    event("blank" if result is None else "input")
    if result is None:
        return
    assert isinstance(result, np.ndarray) and result.shape == (MNIST_SIZE, MNIST_SIZE)
    assert result.dtype == np.float32
    assert np.isfinite(result).all() and result.min() >= 0.0 and result.max() <= 1.0


@settings(max_examples=3 * EXAMPLES)
@given(image=_canvas_images())
def test_canvas_images_become_inputs_blanks_or_readable_errors(image):
    _check_drawing(image)


@settings(max_examples=2 * EXAMPLES)
@given(image=st.one_of(
    # Small arrays with any element values (full integer ranges, NaN, infinities, subnormals) and odd dtypes.
    npst.arrays(
        dtype=st.one_of(st.sampled_from([np.dtype(name) for name in DTYPES]), npst.complex_number_dtypes(),
                        npst.datetime64_dtypes(), npst.unicode_string_dtypes(max_len=3)),
        shape=npst.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    ),
    # Not arrays at all.
    st.none(), st.text(max_size=5), st.integers(), st.floats(),
    st.lists(st.lists(st.integers(0, 255), max_size=4), max_size=4),  # ragged nested lists
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
))
def test_any_array_or_object_becomes_an_input_a_blank_or_a_readable_error(image):
    _check_drawing(image)


def _huge_stroke() -> np.ndarray:
    image = np.zeros((4000, 4000, 4), dtype=np.uint8)  # an RGBA canvas; the ink lives in the alpha channel
    image[1000:3000, 1900:2100] = 255
    return image


@pytest.mark.parametrize(("make", "expected"), [
    (lambda: np.zeros((4000, 4000, 4), dtype=np.uint8), "blank"),
    (_huge_stroke, "digit"),
    (lambda: np.full((4000, 4000), np.nan, dtype=np.float32), "error"),
], ids=["blank", "stroke", "nan"])
def test_huge_canvases(make, expected):
    image = make()
    if expected == "error":
        with pytest.raises(ValueError, match="NaN"):
            to_mnist(image)
        return
    result = to_mnist(image)
    if expected == "blank":
        assert result is None
    else:
        assert result.shape == (MNIST_SIZE, MNIST_SIZE) and result.max() == pytest.approx(1.0)
