"""Tests for mnist_models.architecture: the layer plan's shapes and parameter counts, worked out by hand (no Keras).

tests/test_models.py checks that Keras builds exactly this plan; here the plan itself is checked against the
codelab's model.summary() totals and Keras's convolution arithmetic.
"""

from __future__ import annotations

import pytest

from mnist_models.architecture import count_params, plan_layers, shape_problems, summary_rows
from mnist_models.config import ConvLayer, ModelConfig
from mnist_models.presets import FIVE_LAYERS, PRESETS

CONV_SAME = ModelConfig(conv_layers=[ConvLayer(4, 5, 1), ConvLayer(8, 5, 2), ConvLayer(12, 4, 2)], hidden_units=[200])
CONV_VALID = ModelConfig(conv_layers=[ConvLayer(6, 6, 1, "tanh"), ConvLayer(12, 5, 2), ConvLayer(24, 4, 2)],
                         padding="valid", hidden_units=[50], activation="gelu")
CONV_POOLING = ModelConfig(conv_layers=[ConvLayer(8, 5, 1, pool_size=2), ConvLayer(16, 3, 1, pool_size=3)],
                           padding="valid", hidden_units=[20])


def _shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    return {spec.name: spec.output_shape for spec in plan_layers(config)}


@pytest.mark.parametrize(
    ("config", "params"),
    [
        # 784 x 10 + 10: the codelab's one softmax layer.
        (ModelConfig(hidden_units=[]), 7_850),
        # 784x200+200 + 200x100+100 + 100x60+60 + 60x30+30 + 30x10+10 = 157,000 + 20,100 + 6,060 + 1,830 + 310.
        (ModelConfig(hidden_units=[200, 100, 60, 30], activation="sigmoid"), 185_300),
        # Dropout adds no weights.
        (ModelConfig(hidden_units=[200, 100, 60, 30], dropout_rate=0.25), 185_300),
        # The seed's 6/12/24 convnet: 6x6x1x6+6 = 222, 5x5x6x12+12 = 1,812, 4x4x12x24+24 = 4,632,
        # dense (7x7x24 = 1,176) x 200 + 200 = 235,400, output 200x10+10 = 2,010.
        (ModelConfig(conv_layers=[ConvLayer(6, 6, 1), ConvLayer(12, 5, 2), ConvLayer(24, 4, 2)], hidden_units=[200]),
         244_076),
        # The codelab's 4/8/12 convnet: 104 + 808 + 1,548 + (7x7x12 = 588) x 200 + 200 + 2,010.
        (CONV_SAME, 122_270),
        # Batch norm: no biases before it, and 4 vectors per layer (gamma, beta, moving mean and variance):
        # 784x100 + 400 + 100x10+10.
        (ModelConfig(hidden_units=[100], batch_norm=True), 79_810),
    ],
    ids=["softmax", "five-dense", "five-dense-dropout", "conv-6-12-24", "conv-4-8-12", "dense-batchnorm"],
)
def test_parameter_counts_are_the_codelabs(config, params):
    assert count_params(config) == params
    assert sum(row["params"] for row in summary_rows(config)) == params


def test_presets_with_the_codelabs_networks_have_its_counts():
    assert PRESETS["softmax"].params == 7_850
    assert {PRESETS[name].params for name in PRESETS if PRESETS[name].model.hidden_units == FIVE_LAYERS
            and not PRESETS[name].model.conv_layers} == {185_300}
    assert PRESETS["conv"].params == 122_270


@pytest.mark.parametrize(
    ("padding", "kernel_size", "stride", "size"),
    [
        # 'same' pads so that only the stride shrinks the image: ceil(28 / stride).
        ("same", 5, 1, 28), ("same", 5, 2, 14), ("same", 3, 3, 10), ("same", 4, 4, 7), ("same", 28, 1, 28),
        # 'valid' never pads: (28 - kernel) // stride + 1.
        ("valid", 5, 1, 24), ("valid", 5, 2, 12), ("valid", 6, 2, 12), ("valid", 3, 3, 9), ("valid", 4, 4, 7),
        ("valid", 28, 1, 1),
    ],
)
def test_conv_output_size(padding, kernel_size, stride, size):
    config = ModelConfig(conv_layers=[ConvLayer(5, kernel_size, stride)], padding=padding, hidden_units=[])
    shapes = _shapes(config)
    assert shapes["conv1"] == (size, size, 5)
    assert shapes["flatten"] == (size * size * 5,)


def test_plan_shapes_are_keras_conv_arithmetic():
    # 'same': 28 -> 28 (s1) -> 14 (s2) -> 7 (s2); 'valid': 28-6+1 = 23 -> (23-5)//2+1 = 10 -> (10-4)//2+1 = 4.
    same = _shapes(CONV_SAME)
    assert (same["conv1"], same["conv2"], same["conv3"], same["flatten"]) == ((28, 28, 4), (14, 14, 8),
                                                                              (7, 7, 12), (588,))
    valid = _shapes(CONV_VALID)
    assert (valid["conv1"], valid["conv2"], valid["conv3"], valid["flatten"]) == ((23, 23, 6), (10, 10, 12),
                                                                                  (4, 4, 24), (384,))


def test_max_pooling_shrinks_like_keras():
    # 'valid': 28-5+1 = 24, pooled 2 -> 12; 12-3+1 = 10, pooled 3 -> 3 (Keras drops the leftover row and column).
    shapes = _shapes(CONV_POOLING)
    assert (shapes["conv1"], shapes["conv1_pool"], shapes["conv2"], shapes["conv2_pool"]) == (
        (24, 24, 8), (12, 12, 8), (10, 10, 16), (3, 3, 16))
    assert shapes["flatten"] == (144,)


def test_batch_norm_and_dropout_layers_in_order():
    config = ModelConfig(conv_layers=[ConvLayer(4, 3, 2)], hidden_units=[16], batch_norm=True, dropout_rate=0.5,
                         batch_norm_momentum=0.9)
    plan = plan_layers(config)
    assert [(spec.name, spec.kind, spec.output_shape, spec.params) for spec in plan] == [
        ("to_channels", "Reshape", (28, 28, 1), 0),
        ("conv1", "Conv2D", (14, 14, 4), 3 * 3 * 1 * 4),
        ("conv1_bn", "BatchNormalization", (14, 14, 4), 16),
        ("conv1_act", "Activation", (14, 14, 4), 0),
        ("flatten", "Flatten", (784,), 0),
        ("dense1", "Dense", (16,), 784 * 16),
        ("dense1_bn", "BatchNormalization", (16,), 64),
        ("dense1_act", "Activation", (16,), 0),
        ("dropout1", "Dropout", (16,), 0),
        ("output", "Dense", (10,), 16 * 10 + 10),
    ]
    options = {spec.name: spec.options for spec in plan}
    assert options["conv1"] == {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "use_bias": False}
    assert options["dense1"] == {"units": 16, "use_bias": False}
    assert options["conv1_bn"] == options["dense1_bn"] == {"momentum": 0.9}
    assert options["dropout1"] == {"rate": 0.5}
    assert options["output"] == {"units": 10, "activation": "softmax"}


def test_summary_rows_read_like_keras():
    rows = summary_rows(ModelConfig(hidden_units=[]))
    assert rows == [
        {"layer": "flatten", "type": "Flatten", "output shape": "(None, 784)", "params": 0},
        {"layer": "output", "type": "Dense", "output shape": "(None, 10)", "params": 7850},
    ]


def test_shape_problems_for_a_too_deep_strided_conv():
    # 'valid', 5x5 stride 4: 28 -> (28-5)//4+1 = 6 -> (6-5)//4+1 = 1 -> the third kernel does not fit a 1x1 image.
    config = ModelConfig(conv_layers=[ConvLayer(4, 5, 4)] * 3, padding="valid", hidden_units=[])
    assert shape_problems(config) == [
        "Convolutional layer 3: its 5x5 kernel does not fit the 1x1 image it receives, so nothing is left; use "
        "'same' padding, a smaller kernel or smaller strides."
    ]
    assert config.problems() == shape_problems(config)
    # 'same' padding never runs out: 28 -> 7 -> 2 -> 1.
    config.padding = "same"
    assert shape_problems(config) == []
    assert _shapes(config)["conv3"] == (1, 1, 4)


def test_a_kernel_larger_than_the_image_is_a_problem():
    config = ModelConfig(conv_layers=[ConvLayer(4, 5, 1), ConvLayer(4, 5, 1)] * 3, padding="valid", hidden_units=[])
    # Six 'valid' 5x5 layers: 28 -> 24 -> 20 -> 16 -> 12 -> 8 -> 4, every kernel fits.
    assert shape_problems(config) == []
    config.conv_layers = [ConvLayer(4, 15, 1), ConvLayer(4, 15, 1)]  # 28 -> 14 -> nothing
    assert shape_problems(config) == [
        "Convolutional layer 2: its 15x15 kernel does not fit the 14x14 image it receives, so nothing is left; use "
        "'same' padding, a smaller kernel or smaller strides."
    ]


def test_pooling_that_leaves_nothing_is_a_problem():
    # 'same', stride 4: 28 -> 7, pooled 4 -> 1; 1 -> 1, and 4x4 pooling of a 1x1 image leaves nothing.
    config = ModelConfig(conv_layers=[ConvLayer(4, 3, 4, pool_size=4), ConvLayer(4, 3, 4, pool_size=4)])
    assert shape_problems(config) == [
        "Convolutional layer 2: 4x4 max pooling does not fit the 1x1 image it receives; pool less or shrink the "
        "image less before it."
    ]
    assert config.problems() == shape_problems(config)


@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_have_no_shape_problems(name):
    assert shape_problems(PRESETS[name].model) == []
