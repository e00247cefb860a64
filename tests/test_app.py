"""The dashboard's pages under Streamlit's AppTest: they load, presets fill the controls, bad settings are caught,
a short training started from the Train page ends as a saved run that Runs lists, and the Draw page answers a
drawing put into its canvas's state with what the run's Predictor says."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import chart_support
import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from benchmarks.drawn_digits import DIGITS, DrawnDigit, render
from dashboard import state
from dashboard.identity import owner_of
from mnist_models.drawing import to_mnist
from mnist_models.predict import Predictor
from mnist_models.presets import get_preset
from mnist_models.store.my_digits import MyDigits
from mnist_models.store.runs import RunInfo, RunStore
from mnist_models.worker.training import TrainingThread

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
# The first run imports pandas, plotly and the core package; a loaded 2-core machine needs the headroom.
TIMEOUT = 60
PAGES = ["app_pages/lab.py", "app_pages/train.py", "app_pages/runs.py", "app_pages/draw.py", "app_pages/inspect.py"]


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
    state.job_queue().shutdown(stop_running=True)
    st.cache_resource.clear()


def open_app(page: str | None = "app_pages/train.py") -> AppTest:
    """The app opened on `page` (Train unless told; None stays on the first page, Lab)."""
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
    labels = {button.label: button.disabled for button in at.button if button.label in ("Train", "Stop")}
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
    assert at.slider(key="dropout_rate").value == pytest.approx(0.35)
    assert at.selectbox(key="lr_schedule").value == "exponential"
    assert at.selectbox(key="optimizer").value == "adam"
    assert at.number_input(key="batch_size").value == 32
    # All but the 1,000 validation images the curves are scored on are trained on.
    assert (at.number_input(key="train_size").value, at.number_input(key="validation_size").value) == (59_000, 1_000)
    assert not errors(at)


def test_switching_presets_back_and_forth_overwrites_every_control(runs_folder):
    at = choose_preset(open_app(), "conv-bigger-dropout")
    choose_preset(at, "softmax")
    assert at.segmented_control(key="net_type").value == "Dense"
    assert at.slider(key="dropout_rate").value == 0.0
    assert at.selectbox(key="lr_schedule").value == "constant"
    assert (at.number_input(key="train_size").value, at.number_input(key="validation_size").value) == (55_000, 5_000)
    assert not any(widget.key == "conv_filters_0" for widget in at.number_input)


@pytest.mark.parametrize(("preset", "total"), [
    ("softmax", "7,850"),
    ("five-layer-relu-adam", "185,300"),
    ("conv-bigger-dropout", "244,076"),
])
def test_model_summary_total_matches_the_codelab(runs_folder, preset, total):
    at = choose_preset(open_app(), preset)
    assert parameter_total(at) == total
    [table] = [markdown.value for markdown in at.markdown if markdown.value.startswith("| layer | type |")]
    params = [int(line.split("|")[4].strip().replace(",", "")) for line in table.splitlines()[2:]]
    assert sum(params) == int(total.replace(",", ""))


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


def test_a_network_beyond_the_servers_budget_is_refused_with_advice(runs_folder):
    at = choose_preset(open_app(), "conv")
    set_numbers(at, conv_count=6)
    for index in range(6):
        set_numbers(at, **{f"conv_filters_{index}": 256, f"conv_kernel_{index}": 3, f"conv_stride_{index}": 1})
    at.selectbox(key="padding").select("valid").run()
    set_numbers(at, hidden_count=0)
    [message] = errors(at)
    assert "multiply-adds per image" in message and "fewer filters" in message
    assert train_button(at).disabled
    assert parameter_total(at) is not None, "the summary still shows how big the network is"


@pytest.mark.slow
def test_short_training_from_the_page_ends_as_a_saved_run(runs_folder):
    at = choose_preset(open_app(), "softmax")
    set_numbers(at, train_size=500, validation_size=100, epochs=1)
    assert not errors(at)
    train_button(at).click().run()
    assert not at.exception, [item.value for item in at.exception]
    run_id = at.session_state["job_id"]
    assert run_id
    labels = {button.label: button.disabled for button in at.button if button.label in ("Train", "Stop")}
    assert labels == {"Train": True, "Stop": False}, "while it trains, only Stop can be pressed"

    assert state.job_queue().wait_idle(180)
    progress = state.run_store().progress(run_id)
    assert progress.status == "completed", progress.error
    assert progress.epoch == 1
    assert progress.test, "at least one test point for the charts"

    at.run()
    assert not at.exception
    assert any(success.value.startswith("Finished after 1 epoch(s)") for success in at.success)
    labels = {button.label: button.disabled for button in at.button if button.label in ("Train", "Stop")}
    assert labels == {"Train": False, "Stop": True}

    [info] = state.run_store().list()
    assert info.run_id == run_id
    assert info.path.parent == runs_folder
    assert (info.status, info.epochs_completed, info.has_model) == ("completed", 1, True)
    # Fewer images than the preset: the run is saved as "custom" and its default name says it was modified.
    assert (info.name, info.preset) == ("1 layer: softmax (modified)", "custom")
    assert info.test_accuracy == pytest.approx(progress.test_accuracy)

    # A new browser session of the same browser (a refresh: its identity cookie comes back) finds the run again;
    # another browser does not get it shown as its own.
    again = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    again.session_state["identity"] = at.session_state["identity"]
    again.switch_page("app_pages/train.py").run()
    assert any(success.value.startswith("Finished after 1 epoch(s)") for success in again.success)
    stranger = open_app()
    assert not stranger.success

    runs = open_app("app_pages/runs.py")
    table = runs.dataframe[0].value
    assert list(table["run id"]) == [run_id]
    assert list(table["name"]) == ["1 layer: softmax (modified)"]
    assert list(table["status"]) == ["completed"]


def buttons(at: AppTest) -> dict[str, bool]:
    return {button.label: button.disabled for button in at.button if button.label in ("Train", "Stop", "Cancel")}


def session(identity: str) -> AppTest:
    """A browser session with this identity (as its cookie would bring it back), on Train."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = identity
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def wait_for_status(run_id: str, *statuses: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while state.run_store().progress(run_id).status not in statuses:
        assert time.monotonic() < deadline, f"{run_id} never became {statuses}"
        time.sleep(0.1)


@pytest.mark.slow
def test_each_learner_controls_only_their_own_job_and_a_teacher_any(runs_folder, monkeypatch):
    monkeypatch.setenv("MNIST_TEACHER_PASSWORD", "chalk")
    ann = choose_preset(session("a" * 32), "softmax")
    set_numbers(ann, train_size=3000, validation_size=100, epochs=200)
    train_button(ann).click().run()
    ann_run = ann.session_state["job_id"]
    wait_for_status(ann_run, "running")
    ann.run()
    assert buttons(ann) == {"Train": True, "Stop": False}, "one job at a time per learner; Ann may stop hers"

    # Bob watches Ann's training but may not stop it; his own goes into the queue, where he may cancel it.
    bob = choose_preset(session("b" * 32), "softmax")
    set_numbers(bob, train_size=500, validation_size=100, epochs=1)
    assert buttons(bob) == {"Train": False, "Stop": True}
    assert next(button for button in bob.button if button.label == "Stop").help.startswith("Only the learner")
    train_button(bob).click().run()
    bob_run = bob.session_state["job_id"]
    assert bob_run != ann_run
    assert buttons(bob) == {"Train": True, "Cancel": False}
    assert any("number **1** in the queue" in info.value for info in bob.info), [info.value for info in bob.info]
    watching = bob.selectbox(key="watch")
    assert watching.label == "Watching" and set(watching.options) == {
        "1 layer: softmax (modified) · training",
        "1 layer: softmax (modified) · waiting, number 1 in the queue · yours"}
    # A third learner presses Train while the Watching box already lists two jobs: her page follows her job.
    cat = choose_preset(session("c" * 32), "softmax")
    set_numbers(cat, train_size=500, validation_size=100, epochs=2)  # not Bob's: an identical one would join his
    assert cat.selectbox(key="watch").label == "Watching"
    train_button(cat).click().run()
    assert not cat.exception, [item.value for item in cat.exception]
    assert cat.selectbox(key="watch").value == cat.session_state["job_id"]
    assert any("number **2** in the queue" in info.value for info in cat.info), [info.value for info in cat.info]
    state.job_queue().cancel(cat.session_state["job_id"], owner_of("c" * 32))

    [cancel] = [button for button in bob.button if button.label == "Cancel"]
    cancel.click().run()
    assert not bob.exception
    assert [job.run_id for job in state.job_queue().jobs()] == [ann_run]

    # Bob's page now shows the one training left, Ann's. With the teacher password, Bob may stop it.
    assert not [box for box in bob.selectbox if box.key == "watch"], "nothing to choose from"
    assert buttons(bob) == {"Train": False, "Stop": True}
    bob.text_input(key="teacher_password_input").input("wrong").run()
    assert any("not the teacher password" in error for error in errors(bob))
    bob.text_input(key="teacher_password_input").input("chalk").run()
    assert buttons(bob)["Stop"] is False
    [stop] = [button for button in bob.button if button.label == "Stop"]
    stop.click().run()
    assert not bob.exception
    assert state.job_queue().wait_idle(180)
    assert state.run_store().get(ann_run).status == "stopped"


def test_runs_page_without_runs_points_to_train(runs_folder):
    at = open_app("app_pages/runs.py")
    assert [title.value for title in at.title] == ["Saved runs"]
    assert any("No runs yet" in info.value for info in at.info)


def test_lab_and_train_pages_do_not_import_tensorflow(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from streamlit.testing.v1 import AppTest
        at = AppTest.from_file({str(APP)!r}, default_timeout={TIMEOUT}).run()
        assert not at.exception, [item.value for item in at.exception]
        assert at.selectbox(key="lab_step").value
        for step in ("data", "conv", "five-layer-dropout"):
            at.selectbox(key="lab_step").select(step).run()
        at.switch_page("app_pages/train.py").run()
        assert not at.exception, [item.value for item in at.exception]
        assert at.selectbox(key="preset").value
        print("tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    env = {**os.environ, "MNIST_RUNS_DIR": str(tmp_path / "runs"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-2:] == ["False", "False"], "the first pages must appear without TensorFlow"


DRAW = "app_pages/draw.py"
QUICK_PRESET = "conv-bigger-dropout"
# The canvas draws white strokes on a transparent pad; its PNG carries the ink in the alpha channel.
STROKE_COLOUR = "#FFFFFF"


def drawn(label: int, style: str = "normal") -> DrawnDigit:
    [digit] = [digit for digit in DIGITS if digit.label == label and digit.style == style]
    return digit


def canvas_png(strokes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(render(strokes, stroke_colour=STROKE_COLOUR)).save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def put_on_canvas(at: AppTest, url: str) -> AppTest:
    """Set the canvas's state as the component does after a stroke (what the browser would send), and rerun."""
    key = f"canvas_{at.session_state['canvas_version']}"
    at.session_state[key] = {"drawing": {"raw": {"objects": [], "background": ""}, "data": url}}
    return at.run()


def infos(at: AppTest) -> list[str]:
    return [info.value for info in at.info]


def prediction(at: AppTest) -> str | None:
    values = [metric.value for metric in at.metric if metric.label == "Prediction"]
    assert len(values) <= 1, values
    return values[0] if values else None


def plotly_spec(at: AppTest, key: str) -> dict:
    """The figure of the (live) Plotly chart with this widget key."""
    return chart_support.live_figure(at, key)


def plotly_array(value) -> np.ndarray:
    """A Plotly data array: a plain list, or the typed form {dtype, bdata (base64), shape} Plotly uses for numpy."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(size) for size in str(shape).split(",")]) if shape else array
    return np.asarray(value)


def train_small(store: RunStore, mnist, preset: str, name: str, train_size: int) -> RunInfo:
    model, train = get_preset(preset).configs()
    train.train_size = train_size
    train.epochs = 1
    job = TrainingThread(model, train, store=store, preset=preset, name=name, data=mnist).start()
    progress = job.wait(600)
    assert progress.status == "completed", progress.error
    return store.get(job.run_id)


@pytest.fixture(scope="module")
def drawing_runs(tmp_path_factory, mnist) -> dict[str, RunInfo]:
    """Two saved runs for the Draw page, trained once for this module: a small convnet (about 92% on the test
    set) and, saved after it so that it is the newest, a weaker softmax. The Model box must pick the convnet."""
    store = RunStore(tmp_path_factory.mktemp("draw-runs"))
    best = train_small(store, mnist, "conv", "Small convnet", 5000)
    weaker = train_small(store, mnist, "softmax", "Tiny softmax", 500)
    assert best.test_accuracy > weaker.test_accuracy
    assert store.list()[0].run_id == weaker.run_id, "the weaker run is the newest"
    return {"best": best, "weaker": weaker}


@pytest.fixture(scope="module")
def best_predictor(drawing_runs) -> Predictor:
    return Predictor(drawing_runs["best"].path / "model.keras")


@pytest.fixture
def draw_page(drawing_runs, monkeypatch) -> AppTest:
    """The Draw page over the module's two runs, with a fresh cache (store, job manager, loaded models)."""
    monkeypatch.setenv("MNIST_RUNS_DIR", str(drawing_runs["best"].path.parent))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    st.cache_resource.clear()
    yield open_app(DRAW)
    st.cache_resource.clear()


@pytest.mark.slow
def test_draw_page_without_runs_offers_a_quick_model_then_lists_it(runs_folder):
    at = open_app(DRAW)
    assert any("no trained network" in info for info in infos(at)), infos(at)
    assert not at.selectbox, "no Model box without a run"
    assert prediction(at) is None
    [button] = [button for button in at.button if button.label == "Train a quick model"]

    button.click().run()
    assert not at.exception, [item.value for item in at.exception]
    [job] = state.job_queue().jobs()
    assert job.owned_by(owner_of(at.session_state["identity"])), "the button starts a training job of this browser's"
    info = state.run_store().get(job.run_id)
    model, train = state.run_store().load_configs(job.run_id)
    assert info.preset is None, "a shorter training than the preset's: the Lab must not credit it as the step"
    assert model == get_preset(QUICK_PRESET).configs()[0]
    assert train.epochs == 1, "one epoch keeps the quick model under a minute"
    assert not [button for button in at.button if button.label == "Train a quick model"], "no second start"

    # Stopped after its first batch, the run keeps a model: the page now offers it in the Model box.
    store = state.run_store()
    deadline = time.monotonic() + 120
    while store.progress(job.run_id).step < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    state.job_queue().stop(job.run_id, owner_of(at.session_state["identity"]))
    assert state.job_queue().wait_idle(180)
    progress = store.progress(job.run_id)
    assert progress.status == "stopped", progress.error
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    model = at.selectbox(key="draw_model")
    assert model.label == "Model"
    assert model.value == job.run_id
    assert len(model.options) == 1
    assert model.options[0].startswith("Quick convnet (Draw page) · ")
    assert "Draw a digit" in infos(at)


def test_draw_model_box_defaults_to_the_best_run(draw_page, drawing_runs):
    best, weaker = drawing_runs["best"], drawing_runs["weaker"]
    model = draw_page.selectbox(key="draw_model")
    assert model.label == "Model"
    assert model.value == best.run_id, "the most accurate run, although another one is newer"
    assert len(model.options) == 2
    first, second = model.options
    for label, info in ((first, best), (second, weaker)):
        assert info.name in label and info.preset in label
        assert f"{info.test_accuracy:.2%}" in label, (label, info.test_accuracy)

    draw_page.selectbox(key="draw_model").set_value(weaker.run_id).run()
    assert not draw_page.exception
    assert draw_page.selectbox(key="draw_model").value == weaker.run_id


def test_draw_empty_canvas_asks_for_a_digit(draw_page):
    assert "Draw a digit" in infos(draw_page)
    assert prediction(draw_page) is None, "never a prediction of nothing"
    assert not draw_page.get("plotly_chart") and not chart_support.titles(draw_page)
    assert [button.label for button in draw_page.button] == ["Clear", "Fine-tune on my digits"]
    assert draw_page.button[1].disabled, "fine-tuning needs ten kept digits"
    assert not draw_page.pills, "nothing to keep yet"


@pytest.mark.parametrize(("label", "style"), [(7, "normal"), (3, "slanted"), (0, "top-left"), (4, "small")])
def test_draw_prediction_is_what_the_predictor_says(draw_page, best_predictor, label, style):
    png = canvas_png(drawn(label, style).strokes)
    at = put_on_canvas(draw_page, data_url(png))
    assert not at.exception, [item.value for item in at.exception]
    assert not at.warning

    image = to_mnist(np.asarray(Image.open(io.BytesIO(png))))  # (28, 28)
    digit, probability, probabilities = best_predictor.predict(image)
    value = prediction(at)
    assert value in [str(d) for d in range(10)]
    assert value == str(digit)
    assert any(markdown.value == f"**{probability:.1%}** sure" for markdown in at.markdown)
    assert "Draw a digit" not in infos(at)

    bars = plotly_spec(at, "probabilities")["data"][0]
    assert [int(x) for x in plotly_array(bars["x"])] == list(range(10))
    assert np.allclose(plotly_array(bars["y"]), probabilities, atol=1e-6)
    # The 28x28 image shown is the one the network was given (to the shade: a PNG's pixels are whole numbers).
    [seen] = [pixels[:, :, 0] / 255 for alt, pixels in chart_support.pictures(at) if alt.startswith("What the network")]
    assert np.allclose(seen, image, atol=0.5 / 255 + 1e-9)


@pytest.mark.parametrize("label", [1, 7])
def test_draw_clear_digit_is_predicted_correctly(draw_page, label):
    at = put_on_canvas(draw_page, data_url(canvas_png(drawn(label).strokes)))
    assert not at.exception, [item.value for item in at.exception]
    assert prediction(at) == str(label)


@pytest.mark.parametrize("url", [
    pytest.param("data:image/png;base64,AAAA", id="not-an-image"),  # three zero bytes
    pytest.param("data:image/png;base64,not*base64", id="bad-base64"),  # wrong padding
    pytest.param("data:image/png,plain text", id="no-base64-part"),
    pytest.param(data_url(canvas_png(drawn(8).strokes)[:200]), id="truncated-png"),
])
def test_draw_unreadable_drawing_warns_instead_of_failing(draw_page, url):
    at = put_on_canvas(draw_page, url)
    assert not at.exception, [item.value for item in at.exception]
    assert any("could not be read" in warning.value for warning in at.warning)
    assert prediction(at) is None
    assert "Draw a digit" in infos(at)


def test_draw_clear_mounts_a_new_empty_canvas(draw_page):
    at = put_on_canvas(draw_page, data_url(canvas_png(drawn(2).strokes)))
    assert prediction(at) is not None
    assert at.session_state["canvas_version"] == 0

    [clear] = [button for button in at.button if button.label == "Clear"]
    clear.click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert at.session_state["canvas_version"] == 1, "a new canvas key"
    assert "canvas_1" in at.session_state
    assert at.session_state["canvas_1"]["drawing"]["data"] is None
    assert prediction(at) is None
    assert "Draw a digit" in infos(at)

    # The new canvas answers a drawing as the first one did.
    at = put_on_canvas(at, data_url(canvas_png(drawn(7).strokes)))
    assert prediction(at) is not None


def dot_png() -> bytes:
    return canvas_png((((140.0, 140.0),),))


def scribble_png() -> bytes:
    zigzag = tuple((float(x), float(y)) for index, y in enumerate(range(10, 280, 20))
                   for x in ((10, 270) if index % 2 == 0 else (270, 10)))
    return canvas_png((zigzag,))


@pytest.mark.parametrize(("png", "hint"), [(dot_png, "That is a dot"), (scribble_png, "covers most of the pad")])
def test_draw_dot_or_scribble_gives_a_hint_not_an_answer(draw_page, png, hint):
    at = put_on_canvas(draw_page, data_url(png()))
    assert not at.exception, [item.value for item in at.exception]
    assert prediction(at) is None
    assert any(hint in warning.value for warning in at.warning), [warning.value for warning in at.warning]
    assert not at.pills, "a scribble is not kept"


def test_a_stroke_reruns_only_the_drawing_fragment(draw_page, best_predictor, monkeypatch):
    """A drawing reruns the fragment with the pad and its answer: the run store is not listed again and the Model
    box and My digits are not redrawn (the browser keeps them as they were)."""
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData
    from streamlit.testing.v1 import local_script_runner

    listed = []
    original_list = RunStore.list
    monkeypatch.setattr(RunStore, "list", lambda store: listed.append(1) or original_list(store))
    [fragment_id] = draw_page._fragment_storage._fragments  # the page's one fragment: the pad and its answer
    monkeypatch.setattr(local_script_runner, "RerunData", lambda **fields: RerunData(
        **fields, fragment_id_queue=[fragment_id], is_fragment_scoped_rerun=True))

    png = canvas_png(drawn(3).strokes)
    at = put_on_canvas(draw_page, data_url(png))
    assert not at.exception, [item.value for item in at.exception]
    digit, _, _ = best_predictor.predict(to_mnist(np.asarray(Image.open(io.BytesIO(png)))))
    assert prediction(at) == str(digit)
    assert not listed, "a stroke does not list the run store"
    assert not at.selectbox, "the Model box is not rerun"
    assert "My digits" not in [header.value for header in at.subheader], "nor is My digits"


@pytest.fixture(scope="module")
def three_runs(drawing_runs, mnist, tmp_path_factory) -> list[RunInfo]:
    """The module's two runs (a small convnet and a tiny softmax) and a small dense network, in their own store."""
    folder = tmp_path_factory.mktemp("three-runs")
    for info in drawing_runs.values():
        shutil.copytree(info.path, folder / info.run_id)
    store = RunStore(folder)
    train_small(store, mnist, "five-layer-relu-adam", "Small dense", 2000)
    return store.list()


def test_every_networks_opinion_lists_each_run_best_first(three_runs, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(three_runs[0].path.parent))
    st.cache_resource.clear()
    try:
        at = open_app(DRAW)
        at.toggle(key="draw_compare").set_value(True).run()
        assert not at.exception, [item.value for item in at.exception]
        assert any("Draw a digit to see every network" in caption.value for caption in at.caption)
        png = canvas_png(drawn(7).strokes)
        at = put_on_canvas(at, data_url(png))
        assert not at.exception, [item.value for item in at.exception]
        [table] = at.dataframe
        rows = table.value
        ranked = sorted(three_runs, key=lambda info: info.test_accuracy, reverse=True)
        assert list(rows["Network"]) == [info.name for info in ranked], "the most accurate network first"
        assert sorted(rows["Kind"]) == ["convolutional", "dense", "softmax"]
        image = to_mnist(np.asarray(Image.open(io.BytesIO(png))))
        for info, answer, confidence in zip(ranked, rows["Answer"], rows["Confidence"], strict=True):
            digit, probability, _ = Predictor(info.path / "model.keras").predict(image)
            assert (answer, confidence) == (str(digit), pytest.approx(probability, abs=1e-5))
        # Only the ones the learner picks.
        at.multiselect(key="draw_compare_runs").set_value([ranked[-1].run_id]).run()
        assert list(at.dataframe[0].value["Network"]) == [ranked[-1].name]
    finally:
        st.cache_resource.clear()


def test_keep_a_drawing_in_my_digits_then_remove_it(draw_page, drawing_runs):
    at = put_on_canvas(draw_page, data_url(canvas_png(drawn(7).strokes)))
    at.pills(key="keep_label_0").set_value(1).run()
    [keep] = [button for button in at.button if button.label == "Add to my digits"]
    keep.click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert at.session_state["canvas_version"] == 1, "the pad is cleared for the next digit"
    owner = owner_of(at.session_state["identity"])
    [kept] = MyDigits(RunStore(drawing_runs["best"].path.parent), owner).list()
    assert kept.label == 1, "kept as the digit the learner says, not the network's answer"
    assert kept.path.parent == drawing_runs["best"].path.parent / "_digits" / owner
    assert any("1 of at most 200" in caption.value for caption in at.caption)
    assert len(at.selectbox(key="draw_model").options) == 2, "the digits folder is not a run"

    at.multiselect(key="my_digits_remove").set_value([kept.digit_id]).run()
    [delete] = [button for button in at.button if button.label == "Delete"]
    delete.click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert MyDigits(RunStore(drawing_runs["best"].path.parent), owner).list() == []
    assert any("0 of at most 200" in caption.value for caption in at.caption)


def test_the_server_keeps_keras_warm_between_script_runs(monkeypatch):
    """Streamlit would clear Keras's session (a full garbage collection and TensorFlow's kernel cache) after every
    run; the dashboard replaces that clean-up once it loads a model."""
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    def empty_page():
        import streamlit as st

        st.write("a script run")

    # Streamlit's own runner calls this hook after every script run: replacing it is what takes effect.
    calls = []
    monkeypatch.setattr(script_runner, "_clean_problem_modules", lambda: calls.append(1))
    AppTest.from_function(empty_page).run()
    assert calls, "Streamlit's runner no longer calls the clean-up the dashboard replaces"
    monkeypatch.undo()

    def number(name: str) -> int:  # Keras names layers dense, dense_1, dense_2, ... until its session is cleared
        return int(name.rsplit("_", 1)[1]) if "_" in name else 0

    state.keep_keras_warm()
    keras.layers.Dense(1)
    before = number(keras.layers.Dense(1).name)
    AppTest.from_function(empty_page).run()  # a real script run through Streamlit's runner
    after = number(keras.layers.Dense(1).name)
    assert after == before + 1 > 1, f"Keras's session was cleared by the script run (layer {before}, then {after})"


@pytest.mark.slow
def test_fine_tune_on_my_digits_runs_through_the_queue_and_shows_before_and_after(draw_page, drawing_runs):
    at = draw_page
    weaker = drawing_runs["weaker"]
    at.selectbox(key="draw_model").set_value(weaker.run_id).run()
    store = RunStore(weaker.path.parent)
    digits = MyDigits(store, owner_of(at.session_state["identity"]))
    for index in range(10):
        digits.add(to_mnist(render(drawn(index % 10).strokes)), index % 10)
    at.run()
    [fine_tune] = [button for button in at.button if button.label == "Fine-tune on my digits"]
    assert fine_tune.disabled, "a copy of somebody else's run (here the command line's) is not this learner's to make"
    assert any("one of your own runs" in caption.value for caption in at.caption)
    store.add_owner(weaker.run_id, owner_of(at.session_state["identity"]))  # now it is this learner's run
    at.run()
    [fine_tune] = [button for button in at.button if button.label == "Fine-tune on my digits"]
    assert not fine_tune.disabled
    fine_tune.click().run()
    assert not at.exception, [item.value for item in at.exception]
    [job] = state.job_queue().jobs_of(owner_of(at.session_state["identity"]))
    assert state.job_queue().wait_idle(300)
    try:
        assert store.progress(job.run_id).status == "completed", store.progress(job.run_id).error
        train = store.load_configs(job.run_id)[1]
        assert train.fine_tune_from == weaker.run_id
        assert (store.folder(job.run_id) / "base_model.keras").is_file()
        at.run()
        assert not at.exception, [item.value for item in at.exception]
        [table] = at.table
        text = str(table.value)
        assert "your held-out digits (3" in text and "MNIST test set" in text, text
        assert len(at.selectbox(key="draw_model").options) == 3, "the fine-tuned copy is a run of its own"
    finally:
        store.remove_owner(weaker.run_id, owner_of(at.session_state["identity"]))
        digits.delete([digit.digit_id for digit in digits.list()])
        shutil.rmtree(store.folder(job.run_id))


def test_train_shows_the_keras_code_of_exactly_its_settings(runs_folder):
    from mnist_models.code_in import read_code
    from mnist_models.presets import get_preset as preset_named

    at = choose_preset(open_app(), "conv")
    set_numbers(at, epochs=7)
    at.toggle(key="train_code_show").set_value(True).run()
    assert not at.exception, [item.value for item in at.exception]
    [code] = [block.value for block in at.code]
    model, train = read_code(code)
    expected_model, expected_train = preset_named("conv").configs()
    expected_train.epochs = 7
    assert (model, train) == (expected_model, expected_train), "the code is the settings the page shows"
