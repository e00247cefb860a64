"""Links under AppTest: every Train control round-trips through the address, bad values give a note and no
exception, the back button's older address restores older settings, and ?present=1 turns presentation mode on."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import state
from mnist_models.presets import PRESETS

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 60

# A value different from the conv preset's for every control (the conv layers too).
SHARED = {
    "preset": "conv", "conv_layers": "5x3s1p2,10x4s2", "padding": "valid", "warmup_fraction": "0.3",
    "hidden_units": "150,50",
    "activation": "tanh", "dropout_rate": "0.3", "batch_norm": "true", "optimizer": "rmsprop",
    "learning_rate": "0.002", "lr_schedule": "inverse_time", "lr_decay": "0.002", "lr_decay_steps": "1500",
    "min_learning_rate": "0.0002", "batch_size": "64", "epochs": "4", "train_size": "20000",
    "validation_size": "3000", "seed": "7", "batch_norm_momentum": "0.95",
}


@pytest.fixture
def runs_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "link-runs"))
    st.cache_resource.clear()
    yield tmp_path / "link-runs"
    state.job_queue().shutdown(stop_running=True)
    st.cache_resource.clear()


def open_train(**params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.switch_page("app_pages/train.py")
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def test_a_fresh_visit_writes_every_setting_into_the_address(runs_folder):
    at = open_train()
    assert at.query_params["preset"] == "five-layer-relu-adam"
    assert at.query_params["hidden_units"] == "200,100,60,30"
    assert at.query_params["learning_rate"] == "0.003"


def test_every_control_round_trips_through_the_address(runs_folder):
    at = open_train(**SHARED)
    assert not at.warning, [item.value for item in at.warning]
    # The page read every value into its controls and wrote the same values back.
    assert {name: at.query_params[name] for name in SHARED} == SHARED
    assert at.selectbox(key="preset").value == "conv"
    assert at.number_input(key="conv_filters_1").value == 10
    assert at.number_input(key="conv_kernel_0").value == 3
    assert at.number_input(key="units_1").value == 50
    assert at.selectbox(key="activation").value == "tanh"
    assert at.slider(key="dropout_rate").value == pytest.approx(0.3)
    assert at.toggle(key="batch_norm").value is True
    assert at.number_input(key="lr_decay").value == pytest.approx(0.002)
    assert at.number_input(key="seed").value == 7
    # A reload (a new session opening the same address) shows the same network.
    again = open_train(**{name: at.query_params[name] for name in at.query_params})
    assert {name: again.query_params[name] for name in SHARED} == SHARED


def test_bad_values_are_ignored_with_a_note(runs_folder):
    at = open_train(epochs="abc", dropout_rate="7", colour="blue")
    notes = " ".join(item.value for item in at.warning).replace("\\", "")  # the notes are escaped Markdown
    assert "epochs" in notes and "dropout_rate" in notes and "colour" in notes
    preset = PRESETS["five-layer-relu-adam"]
    assert at.number_input(key="epochs").value == preset.train.epochs
    assert at.slider(key="dropout_rate").value == preset.model.dropout_rate
    assert at.query_params["epochs"] == str(preset.train.epochs)  # the address now holds what is used


def test_an_address_changed_under_the_page_restores_its_settings(runs_folder):
    """What the browser's back button does: the page reruns with an older address."""
    at = open_train(preset="softmax")
    at.number_input(key="epochs").set_value(9).run()
    assert at.query_params["epochs"] == "9"
    at.query_params["epochs"] = "5"
    at.run()
    assert at.number_input(key="epochs").value == 5


def test_an_edit_sent_with_an_older_address_keeps_the_edit(runs_folder):
    """A request the browser sends before the previous run's address reached it carries that older address along
    with the learner's newest edit: the edit wins, and the address catches up."""
    at = open_train(preset="softmax")
    at.number_input(key="epochs").set_value(9).run()
    at.query_params["epochs"] = "5"  # what the address said before the run for 9 updated it
    at.number_input(key="batch_size").set_value(64).run()
    assert (at.number_input(key="epochs").value, at.number_input(key="batch_size").value) == (9, 64)
    assert (at.query_params["epochs"], at.query_params["batch_size"]) == ("9", "64")


def test_present_in_the_address_turns_presentation_mode_on(runs_folder):
    at = open_train(present="1")
    assert at.toggle(key="present").value is True
    assert "Network and training settings" in [item.label for item in at.expander]
    assert at.query_params["present"] == "1"
    at.toggle(key="present").set_value(False).run()
    assert "present" not in at.query_params
    assert "Network and training settings" not in [item.label for item in at.expander]
