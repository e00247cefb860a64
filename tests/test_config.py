"""Tests for mnist_models.config: every validation message, all problems at once, JSON round trip, schedules."""

from __future__ import annotations

import json
import math

import pytest

from mnist_models.config import (
    MAX_PARAMS,
    ConfigError,
    ConvLayer,
    ModelConfig,
    TrainConfig,
    dumps,
    loads,
    model_config_from_dict,
    train_config_from_dict,
)


def _only_problem(config) -> str:
    problems = config.problems()
    assert len(problems) == 1, problems
    with pytest.raises(ConfigError) as error:
        config.validate()
    assert error.value.problems == problems
    assert isinstance(error.value, ValueError)
    return problems[0]


def test_defaults_are_valid():
    assert ModelConfig().validate().problems() == []
    assert TrainConfig().validate().problems() == []



@pytest.mark.parametrize("units", [0, -3, 5000, 2.5, "100", True, None])
def test_bad_hidden_units(units):
    message = _only_problem(ModelConfig(hidden_units=[200, units]))
    assert message.startswith("Hidden layer 2 needs between 1 and 4096 neurons")
    assert repr(units) in message


def test_too_many_hidden_layers():
    message = _only_problem(ModelConfig(hidden_units=[10] * 11))
    assert "at most 10 hidden layers" in message and "you have 11" in message


def test_hidden_layers_must_be_a_list():
    assert ModelConfig(hidden_units=(10, 10)).problems() == ["Hidden layers and convolutional layers must be lists."]


@pytest.mark.parametrize("activation", ["softmax", "ReLU", "", None])
def test_bad_activation(activation):
    message = _only_problem(ModelConfig(activation=activation))
    assert message.startswith(f"Unknown activation {activation!r}")
    assert "relu, sigmoid, tanh, elu, gelu, leaky_relu, linear" in message


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, math.nan, "0.2", True])
def test_bad_dropout(rate):
    message = _only_problem(ModelConfig(dropout_rate=rate))
    assert message.startswith("Dropout rate must be at least 0 and below 1")


@pytest.mark.parametrize("rate", [0, 0.0, 0.5, 0.99])
def test_good_dropout(rate):
    assert ModelConfig(dropout_rate=rate).problems() == []


def test_bad_batch_norm_and_padding():
    assert _only_problem(ModelConfig(batch_norm="yes")) == "Batch norm must be on or off (true or false)."
    assert _only_problem(ModelConfig(padding="full")) == "Padding must be 'same' or 'valid' (got 'full')."


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (ConvLayer(filters=0), "Convolutional layer 1 needs between 1 and 256 filters (got 0)."),
        (ConvLayer(filters=257), "Convolutional layer 1 needs between 1 and 256 filters (got 257)."),
        (ConvLayer(kernel_size=0), "Convolutional layer 1: kernel size must be from 1 to 28 pixels (got 0)."),
        (ConvLayer(kernel_size=29), "Convolutional layer 1: kernel size must be from 1 to 28 pixels (got 29)."),
        (ConvLayer(stride=0), "Convolutional layer 1: stride must be from 1 to 4 (got 0)."),
        (ConvLayer(stride=5), "Convolutional layer 1: stride must be from 1 to 4 (got 5)."),
        (ConvLayer(activation="max"), "Convolutional layer 1: unknown activation 'max'"),
        (ConvLayer(pool_size=0), "Convolutional layer 1: max pooling must be from 1 (none) to 4 (got 0)"),
        (ConvLayer(pool_size=5), "Convolutional layer 1: max pooling must be from 1 (none) to 4 (got 5)"),
        (ConvLayer(pool_size=2.0), "Convolutional layer 1: max pooling must be from 1 (none) to 4 (got 2.0)"),
    ],
)
def test_bad_conv_layer(layer, expected):
    assert _only_problem(ModelConfig(conv_layers=[layer], hidden_units=[10])).startswith(expected)


def test_too_many_conv_layers():
    config = ModelConfig(conv_layers=[ConvLayer(4, 3, 1)] * 7, hidden_units=[])
    assert "at most 6 convolutional layers (you have 7)" in _only_problem(config)


def test_valid_padding_stack_that_shrinks_the_image_to_nothing():
    # 'valid' padding, 5x5 kernels with stride 4: 28 -> (28-5)//4+1 = 6 -> (6-5)//4+1 = 1, and the third
    # 5x5 kernel no longer fits the 1x1 image it receives.
    layers = [ConvLayer(4, 5, 4), ConvLayer(4, 5, 4), ConvLayer(4, 5, 4)]
    message = _only_problem(ModelConfig(conv_layers=layers, padding="valid", hidden_units=[]))
    assert message.startswith("Convolutional layer 3: its 5x5 kernel does not fit the 1x1 image")
    # The same stack with 'same' padding keeps at least one pixel: 28 -> 7 -> 2 -> 1.
    assert ModelConfig(conv_layers=layers, padding="same", hidden_units=[]).problems() == []


def test_valid_padding_kernel_larger_than_image():
    layers = [ConvLayer(4, 20, 1), ConvLayer(4, 10, 1)]  # 28 -> 9, then a 10x10 kernel on 9x9
    message = _only_problem(ModelConfig(conv_layers=layers, padding="valid", hidden_units=[]))
    assert "Convolutional layer 2: its 10x10 kernel does not fit the 9x9 image" in message


def test_model_above_the_parameter_limit():
    # (784*4096 + 4096) + (4096*4096 + 4096) + (4096*10 + 10) = 3,215,360 + 16,781,312 + 40,970 parameters.
    message = _only_problem(ModelConfig(hidden_units=[4096, 4096]))
    assert "20,037,642 parameters" in message
    assert f"{MAX_PARAMS:,}" in message



@pytest.mark.parametrize("rate", [0, 0.0, -0.1, math.nan, math.inf, -math.inf, "0.1", None])
def test_bad_learning_rate(rate):
    assert _only_problem(TrainConfig(learning_rate=rate)).startswith("Learning rate must be a positive number")


def test_learning_rate_far_too_large():
    assert "far too large" in _only_problem(TrainConfig(learning_rate=11.0))
    assert TrainConfig(learning_rate=10.0).problems() == []


def test_bad_optimizer_and_schedule():
    assert _only_problem(TrainConfig(optimizer="adagrad")).startswith("Unknown optimizer 'adagrad'")
    assert _only_problem(TrainConfig(lr_schedule="cosine")).startswith("Unknown learning-rate schedule 'cosine'")


@pytest.mark.parametrize("decay", [-0.001, math.nan, math.inf])
def test_bad_decay(decay):
    assert _only_problem(TrainConfig(lr_decay=decay)).startswith("Decay must be zero or a positive number")


@pytest.mark.parametrize("steps", [0, -10, 1.5])
def test_bad_decay_steps(steps):
    assert _only_problem(TrainConfig(lr_decay_steps=steps)).startswith("Decay steps must be a whole number")


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2, float("nan"), "0.2", True])
def test_bad_warmup_fraction(fraction):
    assert _only_problem(TrainConfig(warmup_fraction=fraction)).startswith("The warm-up fraction must be")


@pytest.mark.parametrize("momentum", [-0.1, 1.0, float("inf"), "0.9", None])
def test_bad_batch_norm_momentum(momentum):
    assert _only_problem(ModelConfig(batch_norm_momentum=momentum)).startswith("Batch-norm momentum must be")


def test_older_files_keep_their_behaviour():
    # Files written before pooling and one-cycle existed load with neither: the same network, the same schedule.
    model, train = loads(json.dumps({"model": {"conv_layers": [{"filters": 3, "kernel_size": 5, "stride": 2}]},
                                     "train": {"lr_schedule": "exponential"}}))
    assert model.conv_layers[0].pool_size == 1 and model.batch_norm_momentum == 0.99
    assert train.warmup_fraction == 0.2 and train.lr_schedule == "exponential"


def test_learning_rate_at_one_cycle():
    # 10 epochs of 1,000 images in batches of 100: 100 steps, 30 rising from the floor to 0.01, 70 falling back.
    config = TrainConfig(learning_rate=0.01, lr_schedule="one_cycle", min_learning_rate=0.0001, warmup_fraction=0.3,
                         batch_size=100, epochs=10, train_size=1000)
    assert config.total_steps == 100
    assert config.learning_rate_at(0) == pytest.approx(0.0001)
    assert config.learning_rate_at(15) == pytest.approx(0.00505)
    assert config.learning_rate_at(30) == pytest.approx(0.01)
    assert config.learning_rate_at(65) == pytest.approx(0.00505)
    assert config.learning_rate_at(100) == config.learning_rate_at(500) == pytest.approx(0.0001)


def test_bad_learning_rate_floor():
    assert _only_problem(TrainConfig(min_learning_rate=-1e-4)).startswith("The learning-rate floor must be")


@pytest.mark.parametrize("batch_size", [0, -1, 10_001, 32.0])
def test_bad_batch_size(batch_size):
    assert _only_problem(TrainConfig(batch_size=batch_size)).startswith("Batch size must be a whole number from 1")


@pytest.mark.parametrize("epochs", [0, -1, 201, 2.0])
def test_bad_epochs(epochs):
    assert _only_problem(TrainConfig(epochs=epochs)) == f"Epochs must be a whole number from 1 to 200 (got {epochs!r})."


def test_epochs_limits_are_inclusive():
    assert TrainConfig(epochs=1).problems() == []
    assert TrainConfig(epochs=200).problems() == []


def test_training_and_validation_images_above_60000():
    message = _only_problem(TrainConfig(train_size=56_000, validation_size=5_000))
    assert message.startswith("Training (56,000) and validation (5,000) images add up to more than the 60,000")
    assert TrainConfig(train_size=55_000, validation_size=5_000).problems() == []


def test_too_few_images():
    assert _only_problem(TrainConfig(train_size=9)).startswith("Train on at least 10 images")
    assert _only_problem(TrainConfig(validation_size=99)).startswith("The validation split needs at least 100")


def test_batch_larger_than_training_set():
    message = _only_problem(TrainConfig(batch_size=600, train_size=500))
    assert "batch size (600) is larger than the training set (500)" in message


@pytest.mark.parametrize("seed", [-1, 2**31, 1.0, "0"])
def test_bad_seed(seed):
    assert _only_problem(TrainConfig(seed=seed)).startswith("The seed must be a whole number from 0 to 2147483647")



def test_model_config_error_lists_every_problem():
    config = ModelConfig(hidden_units=[0, 100], activation="magic", dropout_rate=1.0,
                         conv_layers=[ConvLayer(filters=0, stride=9)])
    with pytest.raises(ConfigError) as error:
        config.validate()
    problems = error.value.problems
    assert len(problems) == 5, problems
    for fragment in ("Hidden layer 1", "Unknown activation", "Dropout rate", "256 filters", "stride"):
        assert sum(fragment in problem for problem in problems) == 1, fragment
    # The message shows all of them too, on one line.
    for problem in problems:
        assert problem in str(error.value)
    assert "\n" not in str(error.value)


def test_train_config_error_lists_every_problem():
    config = TrainConfig(optimizer="nope", learning_rate=-1.0, batch_size=0, epochs=0, seed=-1,
                         lr_decay_steps=0)
    with pytest.raises(ConfigError) as error:
        config.validate()
    problems = error.value.problems
    assert len(problems) == 6, problems
    for fragment in ("optimizer", "Learning rate", "Batch size", "Epochs", "seed", "Decay steps"):
        assert sum(fragment in problem for problem in problems) == 1, fragment



def test_json_round_trip():
    model = ModelConfig(conv_layers=[ConvLayer(6, 6, 1, "elu"), ConvLayer(12, 5, 2, "tanh")], padding="valid",
                        hidden_units=[200, 30], activation="gelu", dropout_rate=0.35, batch_norm=True)
    train = TrainConfig(optimizer="adamw", learning_rate=0.0042, lr_schedule="exponential", lr_decay=0.002,
                        lr_decay_steps=1234, min_learning_rate=0.00005, batch_size=64, epochs=7,
                        train_size=12_345, validation_size=678, seed=99)
    text = dumps(model, train)
    assert json.loads(text)["model"]["conv_layers"][1] == {"filters": 12, "kernel_size": 5, "stride": 2,
                                                           "activation": "tanh", "pool_size": 1}
    assert loads(text) == (model, train)


def test_older_files_with_missing_keys_load_with_defaults():
    model, train = loads(json.dumps({"model": {"hidden_units": [50], "conv_layers": [{"filters": 3}]},
                                     "train": {"epochs": 2}}))
    assert model == ModelConfig(hidden_units=[50], conv_layers=[ConvLayer(filters=3)])
    assert train == TrainConfig(epochs=2)
    assert loads("{}") == (ModelConfig(), TrainConfig())


def test_unknown_keys_are_ignored():
    model = model_config_from_dict({"hidden_units": [7], "colour": "blue",
                                    "conv_layers": [{"filters": 2, "groups": 4}]})
    assert model == ModelConfig(hidden_units=[7], conv_layers=[ConvLayer(filters=2)])
    assert train_config_from_dict({"epochs": 3, "momentum": 0.9}) == TrainConfig(epochs=3)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"model": [1]}'])
def test_bad_json_raises_config_error(text):
    with pytest.raises(ConfigError):
        loads(text)



def test_learning_rate_at_constant():
    config = TrainConfig(learning_rate=0.01, lr_schedule="constant")
    assert [config.learning_rate_at(step) for step in (0, 100, 10_000)] == [0.01, 0.01, 0.01]


def test_learning_rate_at_inverse_time():
    # Keras 2's Adam(decay=0.001): 0.003 / (1 + 0.001 * step); after 1000 steps, half the rate.
    config = TrainConfig(learning_rate=0.003, lr_schedule="inverse_time", lr_decay=0.001)
    assert config.learning_rate_at(0) == pytest.approx(0.003)
    assert config.learning_rate_at(1000) == pytest.approx(0.0015)
    assert config.learning_rate_at(3000) == pytest.approx(0.00075)


def test_learning_rate_at_exponential():
    # The codelab: 0.0001 + 0.003 * e^(-step / 2000), decaying from 0.0031 towards the 0.0001 floor.
    config = TrainConfig(learning_rate=0.003, lr_schedule="exponential", lr_decay_steps=2000,
                         min_learning_rate=0.0001)
    assert config.learning_rate_at(0) == pytest.approx(0.0031)
    assert config.learning_rate_at(2000) == pytest.approx(0.0001 + 0.003 / math.e)
    assert config.learning_rate_at(100_000) == pytest.approx(0.0001, rel=1e-6)


@pytest.mark.parametrize(
    "train",
    [
        TrainConfig(learning_rate=0.02, lr_schedule="constant"),
        TrainConfig(learning_rate=0.003, lr_schedule="inverse_time", lr_decay=0.001),
        TrainConfig(learning_rate=0.005, lr_schedule="exponential", lr_decay_steps=700, min_learning_rate=0.0002),
        TrainConfig(learning_rate=0.01, lr_schedule="one_cycle", batch_size=50, epochs=4, train_size=5000),
    ],
    ids=["constant", "inverse_time", "exponential", "one_cycle"],
)
def test_learning_rate_at_matches_the_keras_schedule(train):
    from mnist_models.worker.models import make_learning_rate

    rate = make_learning_rate(train)
    for step in (0, 1, 550, 2000, 9999):
        keras_rate = float(rate(step)) if callable(rate) else float(rate)
        assert keras_rate == pytest.approx(train.learning_rate_at(step), rel=1e-5), step
