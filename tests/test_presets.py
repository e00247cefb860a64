"""Tests for mnist_models.presets: every preset is valid and documented, with the codelab's parameter counts."""

from __future__ import annotations

import pytest

from mnist_models.architecture import count_params
from mnist_models.presets import DEFAULT_PRESET, PRESETS, get_preset

# The codelab's model.summary() totals: 784*10 + 10; the 200/100/60/30/10 dense stack; the seed's 6/12/24 convnet.
KNOWN_PARAMS = {
    "softmax": 7_850,
    "five-layer-sigmoid": 185_300,
    "five-layer-relu": 185_300,
    "five-layer-relu-adam": 185_300,
    "five-layer-dropout": 185_300,
    "conv-bigger-dropout": 244_076,
    # Not the codelab's: conv 3x3x8 (72) + bn 32, conv 3x3x8x16 (1,152) + bn 64, dense 784x100 (78,400) + bn 400,
    # output 100x10+10 (1,010); batch norm's offsets replace the biases.
    "fast-99": 122_046,
}
CODELAB_STEPS = ["softmax", "five-layer-sigmoid", "five-layer-relu", "five-layer-relu-adam", "five-layer-dropout",
                 "conv", "conv-bigger-dropout", "conv-batchnorm", "overfit-demo"]


def test_the_codelab_steps_are_all_there():
    assert set(CODELAB_STEPS) <= set(PRESETS)
    assert DEFAULT_PRESET in PRESETS


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_is_valid_and_described(name):
    preset = PRESETS[name]
    assert preset.name == name
    assert preset.title.strip()
    assert len(preset.description) > 20
    assert "\n" not in preset.description
    assert preset.model.problems() == []
    assert preset.train.problems() == []
    assert preset.codelab_accuracy is None or 0.9 <= preset.codelab_accuracy < 1
    assert preset.params == count_params(preset.model)


@pytest.mark.parametrize(("name", "params"), KNOWN_PARAMS.items())
def test_parameter_counts_match_the_codelab(name, params):
    assert count_params(PRESETS[name].model) == params
    assert PRESETS[name].params == params


@pytest.mark.parametrize("name", list(PRESETS))
def test_keras_counts_the_same_parameters(name):
    from mnist_models.worker.models import build_model

    model = build_model(PRESETS[name].model)
    assert model.count_params() == count_params(PRESETS[name].model)
    if name in KNOWN_PARAMS:
        assert model.count_params() == KNOWN_PARAMS[name]


def test_fast_99_shape():
    from mnist_models.architecture import plan_layers

    shapes = {spec.name: spec.output_shape for spec in plan_layers(PRESETS["fast-99"].model)}
    # (28, 28, 1) -> 5x5 conv, 12 filters, stride 2 -> (14, 14, 12) -> 3x3 conv, 24 filters, stride 2 -> (7, 7, 24).
    assert (shapes["conv1"], shapes["conv2"]) == ((14, 14, 12), (7, 7, 24))
    assert not any(name.endswith("_pool") for name in shapes), "strides, not pooling: pooling at 28x28 is slow"
    assert (shapes["flatten"], shapes["dense1"], shapes["output"]) == ((1176,), (100,), (10,))
    train = PRESETS["fast-99"].train
    assert (train.batch_size, train.lr_schedule, train.epochs) == (128, "one_cycle", 2)


def test_fast_99_recipe_learns_within_a_fifth_of_an_epoch(mnist):
    # A fifth of its 59,000-image epoch (93 batches of 128), with the one cycle squeezed into those steps: 96.5%
    # on 2,000 test images here (a tenth of an epoch gets 91-94%: batch norm's running statistics still lag).
    import keras
    import numpy as np

    from mnist_models.worker.models import build_model, compile_model

    model_config, train = get_preset("fast-99").configs()
    train.train_size, train.epochs = 11_800, 1
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(model_config), train)
    model.fit(np.asarray(mnist.x_train[:11_800]), np.asarray(mnist.y_train[:11_800]), batch_size=train.batch_size,
              epochs=1, verbose=0)
    _, accuracy = model.evaluate(np.asarray(mnist.x_test[:2_000]), np.asarray(mnist.y_test[:2_000]), verbose=0)
    assert accuracy > 0.95


def test_sgd_presets_use_the_rescaled_learning_rate():
    # The codelab's 0.005 on a loss summed x100 is 0.5 on Keras's mean loss; 0.005 here trains far too slowly.
    assert PRESETS["softmax"].train.optimizer == "sgd"
    assert PRESETS["softmax"].train.learning_rate == 0.5


def test_configs_returns_copies():
    preset = get_preset("conv-bigger-dropout")
    epochs = preset.train.epochs
    model, train = preset.configs()
    model.hidden_units.append(10)
    model.conv_layers[0].filters = 99
    model.dropout_rate = 0.5
    train.epochs = 42
    assert preset.model.hidden_units == [200]
    assert preset.model.conv_layers[0].filters == 6
    assert preset.model.dropout_rate == 0.35
    assert preset.train.epochs == epochs != 42
    assert preset.params == 244_076
    again_model, again_train = preset.configs()
    assert again_model == preset.model and again_model is not preset.model
    assert again_train == preset.train and again_train is not preset.train


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown preset 'softmax2': choose one of softmax, "):
        get_preset("softmax2")
