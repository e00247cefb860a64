"""Train settings in the address: every field round-trips, and bad links give notes instead of exceptions."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mnist_models.config import ACTIVATIONS, OPTIMIZERS, SCHEDULES, ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import DEFAULT_PRESET, PRESETS
from mnist_models.share import MODEL_FIELDS, NOT_SHARED, PARAM_NAMES, TRAIN_FIELDS, from_params, to_params


def test_every_config_field_has_a_parameter_of_the_same_name():
    names = {item.name for config in (ModelConfig, TrainConfig) for item in dataclasses.fields(config)}
    assert names - NOT_SHARED == set(MODEL_FIELDS) | set(TRAIN_FIELDS)
    assert set(PARAM_NAMES) == (names - NOT_SHARED) | {"preset"}


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_round_trips_without_notes(name):
    model, train = PRESETS[name].configs()
    shared = from_params(to_params(model, train, name))
    assert (shared.preset, shared.model, shared.train, shared.notes) == (name, model, train, [])


def test_compact_list_format():
    model, train = PRESETS["conv"].configs()
    params = to_params(model, train, "conv")
    assert params["conv_layers"] == "4x5s1,8x5s2,12x4s2"
    assert params["hidden_units"] == "200"
    assert params["batch_norm"] == "false"
    assert params["learning_rate"] == "0.003"


def test_a_link_changes_only_what_it_names():
    shared = from_params({"preset": "five-layer-relu", "dropout_rate": "0.25", "hidden_units": "300,100",
                          "epochs": "3"})
    model, train = PRESETS["five-layer-relu"].configs()
    assert shared.notes == []
    assert shared.model == dataclasses.replace(model, dropout_rate=0.25, hidden_units=[300, 100])
    assert shared.train == dataclasses.replace(train, epochs=3)


def test_bad_values_are_ignored_with_a_note_each():
    shared = from_params({"epochs": "abc", "dropout_rate": "7", "colour": "blue", "batch_norm": "maybe",
                          "conv_layers": "6by6", "learning_rate": "nan"})
    model, train = PRESETS[DEFAULT_PRESET].configs()
    assert (shared.model, shared.train) == (model, train)  # nothing bad got through
    text = " ".join(shared.notes)
    assert len(shared.notes) == 6
    for name in ("epochs", "dropout_rate", "'colour'", "batch_norm", "conv_layers", "learning_rate"):
        assert name in text
    assert "not a whole number" in text and "Dropout rate must be at least 0 and below 1" in text


def test_unknown_preset_falls_back_to_the_default_with_a_note():
    shared = from_params({"preset": "resnet-152"})
    assert shared.preset == DEFAULT_PRESET
    assert "Unknown preset 'resnet-152'" in shared.notes[0]


def test_ignored_names_and_limits():
    shared = from_params({"present": "1", "learning_rate": "50"}, ignore=["present"],
                         limits={"learning_rate": (0.0, 10.0)})
    assert len(shared.notes) == 1 and "learning_rate" in shared.notes[0] and "from 0 to 10" in shared.notes[0]


def test_repeated_parameter_counts_its_last_value_and_long_values_are_shortened():
    assert from_params({"epochs": ["3", "4"]}).train.epochs == 4
    note = from_params({"optimizer": "x" * 5000}).notes[0]
    assert len(note) < 400


def test_pooling_is_written_only_where_there_is_some():
    model = ModelConfig(conv_layers=[ConvLayer(8, 3, 1, pool_size=2), ConvLayer(16, 3, 1)], hidden_units=[])
    params = to_params(model, TrainConfig(), "softmax")
    assert params["conv_layers"] == "8x3s1p2,16x3s1"
    assert from_params(params).model == model


def test_conv_activation_follows_the_network_activation():
    shared = from_params({"preset": "conv", "activation": "tanh"})
    assert {layer.activation for layer in shared.model.conv_layers} == {"tanh"}


_units = st.lists(st.integers(1, 512), max_size=4)
_convs = st.lists(st.builds(ConvLayer, st.integers(1, 64), st.sampled_from([3, 4, 5, 6]), st.integers(1, 2),
                            pool_size=st.sampled_from([1, 1, 2])), max_size=3)


@given(units=_units, convs=_convs, activation=st.sampled_from(ACTIVATIONS), dropout=st.floats(0, 0.95),
       batch_norm=st.booleans(), optimizer=st.sampled_from(OPTIMIZERS), schedule=st.sampled_from(SCHEDULES),
       rate=st.floats(1e-6, 9.9), epochs=st.integers(1, 200), batch_size=st.integers(10, 500), seed=st.integers(0, 99))
def test_any_valid_setting_round_trips(units, convs, activation, dropout, batch_norm, optimizer, schedule, rate,
                                       epochs, batch_size, seed):
    convs = [dataclasses.replace(layer, activation=activation) for layer in convs]
    model = ModelConfig(conv_layers=convs, hidden_units=units, activation=activation, dropout_rate=dropout,
                        batch_norm=batch_norm)
    train = TrainConfig(optimizer=optimizer, lr_schedule=schedule, learning_rate=rate, epochs=epochs,
                        batch_size=batch_size, seed=seed)
    assume(not (model.problems() or train.problems()))  # e.g. too many weights: not what the page would write
    shared = from_params(to_params(model, train, "softmax"))
    assert shared.notes == []
    assert (shared.model, shared.train) == (model, train)
