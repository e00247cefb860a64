"""Tests for mnist_models.worker.models: the Keras model is the architecture plan; it trains with any optimiser."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_models.architecture import count_params, plan_layers, summary_rows
from mnist_models.config import OPTIMIZERS, ConfigError, ConvLayer, ModelConfig, TrainConfig
from mnist_models.worker.models import build_model, compile_model, current_learning_rate

CONFIGS = {
    "softmax": ModelConfig(hidden_units=[]),
    "dense": ModelConfig(hidden_units=[200, 100, 60, 30], activation="sigmoid"),
    "dense-dropout": ModelConfig(hidden_units=[64, 32], activation="elu", dropout_rate=0.25),
    "dense-batchnorm": ModelConfig(hidden_units=[64, 32], batch_norm=True),
    "conv-same": ModelConfig(conv_layers=[ConvLayer(4, 5, 1), ConvLayer(8, 5, 2), ConvLayer(12, 4, 2)],
                             hidden_units=[200]),
    "conv-valid": ModelConfig(conv_layers=[ConvLayer(6, 6, 1, "tanh"), ConvLayer(12, 5, 2), ConvLayer(24, 4, 2)],
                              padding="valid", hidden_units=[50], activation="gelu"),
    "conv-batchnorm-dropout": ModelConfig(conv_layers=[ConvLayer(6, 3, 1), ConvLayer(8, 3, 3)], hidden_units=[40],
                                          batch_norm=True, dropout_rate=0.35, activation="leaky_relu"),
    "conv-pooling": ModelConfig(conv_layers=[ConvLayer(8, 5, 1, pool_size=2), ConvLayer(16, 3, 1, pool_size=3)],
                                padding="valid", hidden_units=[20]),
    "conv-pooling-batchnorm": ModelConfig(conv_layers=[ConvLayer(4, 5, 2, pool_size=2), ConvLayer(6, 3, 1)],
                                          hidden_units=[], batch_norm=True, batch_norm_momentum=0.9),
}


@pytest.fixture(scope="module")
def images(mnist):
    return np.asarray(mnist.x_test[:7])


@pytest.mark.parametrize("name", list(CONFIGS))
def test_keras_layers_match_the_plan(name):
    config = CONFIGS[name]
    model = build_model(config)
    plan = plan_layers(config)
    assert [layer.name for layer in model.layers] == [spec.name for spec in plan]
    assert [type(layer).__name__ for layer in model.layers] == [spec.kind for spec in plan]
    for layer, spec in zip(model.layers, plan, strict=True):
        assert tuple(layer.output.shape) == (None, *spec.output_shape), spec.name
        assert layer.count_params() == spec.params, spec.name
    assert model.count_params() == count_params(config)
    assert [row["layer"] for row in summary_rows(config)] == [spec.name for spec in plan]


def test_batch_norm_momentum_reaches_keras():
    model = build_model(CONFIGS["conv-pooling-batchnorm"])
    assert {layer.momentum for layer in model.layers if type(layer).__name__ == "BatchNormalization"} == {0.9}
    default = build_model(CONFIGS["dense-batchnorm"])
    assert {layer.momentum for layer in default.layers if type(layer).__name__ == "BatchNormalization"} == {0.99}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_output_is_ten_probabilities(name, images):
    model = build_model(CONFIGS[name])
    output = np.asarray(model(images, training=False))
    assert output.shape == (7, 10)
    assert (output >= 0).all()
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    ("optimizer", "schedule"),
    [(optimizer, "constant") for optimizer in OPTIMIZERS]
    + [("adam", "inverse_time"), ("sgd", "exponential"), ("adam", "one_cycle")],
)
def test_every_optimizer_builds_compiles_and_steps(optimizer, schedule, mnist):
    train = TrainConfig(optimizer=optimizer, learning_rate=0.01, lr_schedule=schedule)
    model = compile_model(build_model(ModelConfig(hidden_units=[16])), train)
    before = [np.array(weight) for weight in model.get_weights()]
    loss, accuracy = model.train_on_batch(np.asarray(mnist.x_train[:32]), np.asarray(mnist.y_train[:32]))
    assert np.isfinite(loss) and 0 <= accuracy <= 1
    assert any(not np.array_equal(old, new) for old, new in zip(before, model.get_weights(), strict=True))
    # After one step the schedule has moved on by one step.
    assert current_learning_rate(model) == pytest.approx(train.learning_rate_at(1), rel=1e-5)


@pytest.mark.parametrize("step", [0, 1, 50, 99, 100, 101, 250, 499, 500, 900])
def test_one_cycle_schedule_is_the_configs_formula(step):
    from mnist_models.worker.models import make_learning_rate

    # 5 epochs of 2,000 images in batches of 20: 500 steps, the first 100 warming up.
    train = TrainConfig(learning_rate=0.01, lr_schedule="one_cycle", min_learning_rate=0.0001, warmup_fraction=0.2,
                        batch_size=20, epochs=5, train_size=2000)
    assert train.total_steps == 500
    schedule = make_learning_rate(train)
    assert float(schedule(step)) == pytest.approx(train.learning_rate_at(step), rel=1e-5)


def test_one_cycle_rises_to_its_peak_then_falls_to_the_floor():
    train = TrainConfig(learning_rate=0.01, lr_schedule="one_cycle", min_learning_rate=0.0001, warmup_fraction=0.25,
                        batch_size=100, epochs=2, train_size=1000)
    rates = [train.learning_rate_at(step) for step in range(train.total_steps + 1)]
    assert rates[0] == pytest.approx(0.0001)
    assert max(rates) == pytest.approx(0.01) == rates[5]
    assert rates[:6] == sorted(rates[:6]) and rates[5:] == sorted(rates[5:], reverse=True)
    assert rates[-1] == pytest.approx(0.0001)


def test_steps_per_execution_is_compiled_in(mnist):
    model = compile_model(build_model(ModelConfig(hidden_units=[8])), TrainConfig(), steps_per_execution=4)
    assert model.steps_per_execution == 4


def test_integer_learning_rate_from_a_json_file_trains():
    # A config written by hand may hold "learning_rate": 1; Keras itself refuses a Python int.
    model = compile_model(build_model(ModelConfig(hidden_units=[])), TrainConfig(optimizer="sgd", learning_rate=1))
    assert current_learning_rate(model) == 1.0


def test_invalid_config_raises_config_error():
    with pytest.raises(ConfigError) as error:
        build_model(ModelConfig(hidden_units=[0], dropout_rate=2.0))
    assert len(error.value.problems) == 2
    with pytest.raises(ValueError, match="Learning rate"):
        compile_model(build_model(ModelConfig(hidden_units=[])), TrainConfig(learning_rate=0))
