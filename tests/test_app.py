"""The dashboard's pages under Streamlit's AppTest: they load, presets fill the controls, bad settings are caught,
and a short training started from the Train page ends as a saved run that Runs lists."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import state

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
# The first run imports pandas, plotly and the core package; a loaded 2-core machine needs the headroom.
TIMEOUT = 60
PAGES = ["app_pages/train.py", "app_pages/runs.py", "app_pages/draw.py", "app_pages/inspect.py"]


@pytest.fixture
def runs_folder(tmp_path, monkeypatch):
    """A fresh run store and job manager in a temporary folder for each test.

    st.cache_resource lives as long as the process, so without clearing it every AppTest would share the first
    test's store (and its folder) and jobs.
    """
    folder = tmp_path / "app-runs"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    st.cache_resource.clear()
    yield folder
    for job in state.job_manager().running():
        job.stop()
        job.wait(60)
    st.cache_resource.clear()


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def choose_preset(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="preset").select(name).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def set_numbers(at: AppTest, **values: float) -> AppTest:
    for key, value in values.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def train_button(at: AppTest):
    [button] = [button for button in at.button if button.label == "Train"]
    return button


def errors(at: AppTest) -> list[str]:
    return [error.value for error in at.error]


def parameter_total(at: AppTest) -> str | None:
    for markdown in at.markdown:
        if markdown.value.endswith("(weights and biases the network learns)"):
            return markdown.value.split("**")[1].split()[0]
    return None


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_exceptions(runs_folder, page):
    at = open_app(page)
    assert not at.exception


def test_train_page_shows_its_controls_and_buttons(runs_folder):
    at = open_app()
    assert [title.value for title in at.title] == ["Train a network"]
    preset = at.selectbox(key="preset")
    assert preset.label == "Preset"
    assert preset.value == "five-layer-relu-adam"
    labels = {button.label: button.disabled for button in at.button}
    assert labels == {"Train": False, "Stop": True}, "Train is ready, Stop has nothing to stop"
    assert not errors(at)


def test_softmax_preset_fills_the_controls(runs_folder):
    at = choose_preset(open_app(), "softmax")
    assert at.segmented_control(key="net_type").value == "Dense"
    assert at.number_input(key="hidden_count").value == 0
    assert at.selectbox(key="optimizer").value == "sgd"
    assert at.number_input(key="learning_rate").value == pytest.approx(0.5)
    assert at.number_input(key="batch_size").value == 100
    assert at.text_input(key="run_name").value == "1 layer: softmax"
    assert not any(widget.key == "units_0" for widget in at.number_input)


def test_convnet_preset_fills_the_conv_layers(runs_folder):
    at = choose_preset(open_app(), "conv-bigger-dropout")
    assert at.segmented_control(key="net_type").value == "Convolutional"
    assert at.number_input(key="conv_count").value == 3
    layers = [tuple(at.number_input(key=f"conv_{part}_{index}").value for part in ("filters", "kernel", "stride"))
              for index in range(3)]
    assert layers == [(6, 6, 1), (12, 5, 2), (24, 4, 2)]
    assert at.number_input(key="hidden_count").value == 1
    assert at.number_input(key="units_0").value == 200
    assert at.slider(key="dropout").value == pytest.approx(0.35)
    assert at.selectbox(key="lr_schedule").value == "inverse_time"
    assert at.selectbox(key="optimizer").value == "adam"


def test_switching_presets_back_and_forth_overwrites_every_control(runs_folder):
    at = choose_preset(open_app(), "conv-bigger-dropout")
    choose_preset(at, "softmax")
    assert at.segmented_control(key="net_type").value == "Dense"
    assert at.slider(key="dropout").value == 0.0
    assert at.selectbox(key="lr_schedule").value == "constant"
    assert not any(widget.key == "conv_filters_0" for widget in at.number_input)


@pytest.mark.parametrize(("preset", "total"), [
    ("softmax", "7,850"),
    ("five-layer-relu-adam", "185,300"),
    ("conv-bigger-dropout", "244,076"),
])
def test_model_summary_total_matches_the_codelab(runs_folder, preset, total):
    at = choose_preset(open_app(), preset)
    assert parameter_total(at) == total
    table = at.dataframe[0].value
    assert int(table["params"].sum()) == int(total.replace(",", ""))


def test_model_summary_follows_the_controls_before_training(runs_folder):
    at = choose_preset(open_app(), "softmax")
    set_numbers(at, hidden_count=1)
    set_numbers(at, units_0=100)
    # 784*100 + 100 weights and biases, then 100*10 + 10.
    assert parameter_total(at) == "79,510"


@pytest.mark.parametrize(("values", "message"), [
    ({"learning_rate": 0.0}, "Learning rate must be a positive number"),
    ({"train_size": 1000, "batch_size": 2000}, "The batch size (2000) is larger than the training set (1000)"),
    ({"train_size": 58_000, "validation_size": 5_000}, "add up to more than the 60,000 MNIST training images"),
])
def test_invalid_settings_show_the_core_message_and_disable_train(runs_folder, values, message):
    at = choose_preset(open_app(), "softmax")
    set_numbers(at, **values)
    assert any(message in error for error in errors(at)), errors(at)
    assert train_button(at).disabled
    assert not at.exception
    assert parameter_total(at) is None, "no summary for an invalid network"
    assert any("Fix the settings" in caption.value for caption in at.caption)


def test_fixing_the_setting_enables_train_again(runs_folder):
    at = choose_preset(open_app(), "softmax")
    set_numbers(at, learning_rate=0.0)
    assert train_button(at).disabled
    set_numbers(at, learning_rate=0.1)
    assert not errors(at)
    assert not train_button(at).disabled
    assert parameter_total(at) == "7,850"


def test_impossible_network_shapes_are_messages_not_crashes(runs_folder):
    at = choose_preset(open_app(), "conv-bigger-dropout")
    at.selectbox(key="padding").select("valid").run()
    # Six 28x28 kernels with stride 4 and no padding cannot fit: the image shrinks away.
    set_numbers(at, conv_count=6)
    set_numbers(at, **{f"conv_kernel_{index}": 28 for index in range(6)})
    set_numbers(at, **{f"conv_stride_{index}": 4 for index in range(6)})
    assert errors(at)
    assert train_button(at).disabled
    assert not at.exception


@pytest.mark.slow
def test_short_training_from_the_page_ends_as_a_saved_run(runs_folder):
    at = choose_preset(open_app(), "softmax")
    set_numbers(at, train_size=500, validation_size=100, epochs=1)
    assert not errors(at)
    train_button(at).click().run()
    assert not at.exception, [item.value for item in at.exception]
    run_id = at.session_state["job_id"]
    assert run_id
    labels = {button.label: button.disabled for button in at.button}
    assert labels == {"Train": True, "Stop": False}, "while it trains, only Stop can be pressed"

    job = state.job_manager().get(run_id)
    progress = job.wait(180)
    assert progress.status == "completed", progress.error
    assert progress.epoch == 1
    assert progress.test, "at least one test point for the charts"

    at.run()
    assert not at.exception
    assert any(success.value.startswith("Finished after 1 epoch(s)") for success in at.success)
    assert {button.label: button.disabled for button in at.button} == {"Train": False, "Stop": True}

    [info] = state.run_store().list()
    assert info.run_id == run_id
    assert info.path.parent == runs_folder
    assert (info.status, info.epochs_completed, info.has_model) == ("completed", 1, True)
    # Fewer images than the preset: the run is saved as "custom" and its default name says it was modified.
    assert (info.name, info.preset) == ("1 layer: softmax (modified)", "custom")
    assert info.test_accuracy == pytest.approx(progress.test_accuracy)

    # A new browser session (a refresh) finds the finished job again.
    again = open_app()
    assert any(success.value.startswith("Finished after 1 epoch(s)") for success in again.success)

    runs = open_app("app_pages/runs.py")
    table = runs.dataframe[0].value
    assert list(table["run id"]) == [run_id]
    assert list(table["name"]) == ["1 layer: softmax (modified)"]
    assert list(table["status"]) == ["completed"]


def test_runs_page_without_runs_points_to_train(runs_folder):
    at = open_app("app_pages/runs.py")
    assert [title.value for title in at.title] == ["Saved runs"]
    assert any("No runs yet" in info.value for info in at.info)


def test_train_page_does_not_import_tensorflow(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(APP)!r}, default_timeout={TIMEOUT}).run()
        assert not at.exception, [item.value for item in at.exception]
        assert at.selectbox(key="preset").value
        print("tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    env = {**os.environ, "MNIST_RUNS_DIR": str(tmp_path / "runs"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["False", "False"], "the first page must appear without TensorFlow"
