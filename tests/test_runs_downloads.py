"""The Runs page under AppTest: a selected run offers its model and curves as downloads that load back (the same
predictions, the same curve points), a run without a model says why, and comparing runs adds the overfitting gap.

The page passes callables to `st.download_button`, so nothing is read until a learner clicks. AppTest keeps no
handle on the media file manager that holds those callables (it builds one per run of the script), so these tests
record each manager it builds and then do what a browser's click does: ask the manager to run the button's
callable (`execute_deferred`), and read the file it stored.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import ClassVar

import chart_support
import numpy as np
import pytest
import streamlit as st
import streamlit.testing.v1.app_test as app_test
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryFile
from streamlit.testing.v1 import AppTest

from dashboard import charts
from dashboard.runs_parallel import HEADING
from mnist_models.presets import get_preset
from mnist_models.store.runs import RunInfo, RunNotFoundError, RunStore
from mnist_models.worker.training import TrainingThread

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
RUNS = "app_pages/runs.py"
TIMEOUT = 60  # the first run imports pandas, plotly and the core package; a loaded 2-core machine needs headroom

pytestmark = pytest.mark.slow  # the module trains a (tiny) network once


class RecordingMediaFileManager(MediaFileManager):
    """The media file manager AppTest builds for each script run, remembered so a test can play the browser."""

    built: ClassVar[list[MediaFileManager]] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RecordingMediaFileManager.built.append(self)


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory, mnist) -> dict[str, RunInfo]:
    """A real softmax run trained for one epoch on 500 images, and, newer, a run that failed before saving a model."""
    store = RunStore(tmp_path_factory.mktemp("download-runs"))
    model, train = get_preset("softmax").configs()
    train.train_size = 500
    train.epochs = 1
    job = TrainingThread(model, train, store=store, preset="softmax", name="Tiny softmax", data=mnist).start()
    progress = job.wait(300)
    assert progress.status == "completed", progress.error
    failed = store.create(model, train, preset="softmax", name="Failed early")
    assert store.fail_unless_finished(failed, "The worker was killed before its first epoch ended.")
    return {"trained": store.get(job.run_id), "failed": store.get(failed)}


@pytest.fixture
def runs_page(saved_runs, monkeypatch) -> AppTest:
    """The Runs page over the module's runs, with a fresh cache and the media file managers recorded."""
    monkeypatch.setenv("MNIST_RUNS_DIR", str(saved_runs["trained"].path.parent))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setattr(app_test, "MediaFileManager", RecordingMediaFileManager)
    RecordingMediaFileManager.built.clear()
    st.cache_resource.clear()
    # Straight to Runs: the Train page (the default) would start the server's job queue, which Runs never needs.
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).switch_page(RUNS).run()
    assert not at.exception, [item.value for item in at.exception]
    assert [title.value for title in at.title] == ["Saved runs"]
    yield at
    st.cache_resource.clear()


def select(at: AppTest, info: RunInfo) -> AppTest:
    """Select the run's row in the runs table, as a click on it would (through the table's selection state)."""
    row = list(at.dataframe[0].value["run id"]).index(info.run_id)
    at.session_state["runs_table"] = {"selection": {"rows": [row]}}
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert [header.value for header in at.subheader if header.value != HEADING] == [info.name]
    return at


def download_buttons(at: AppTest) -> dict[str, object]:
    return {button.label: button for button in at.get("download_button")}


def download(at: AppTest, label: str) -> MemoryFile:
    """What the browser receives when the learner clicks the button: the manager runs its callable then."""
    button = download_buttons(at)[label]
    assert button.proto.HasField("deferred_file_id"), "the file is made on click, not on every run of the page"
    manager = RecordingMediaFileManager.built[-1]  # the one from the run that drew this button
    url = manager.execute_deferred(button.proto.deferred_file_id)
    stored = manager.read_file(Path(url).stem)
    assert stored is not None, url
    return stored


def test_no_run_selected_no_downloads(runs_page):
    assert not runs_page.get("download_button")


def test_selected_run_offers_its_model_and_curves_without_reading_them(runs_page, saved_runs):
    at = select(runs_page, saved_runs["trained"])
    buttons = download_buttons(at)
    assert list(buttons) == ["Download model (.keras)", "Download curves (.csv)"]
    for button in buttons.values():
        # Nothing is read or stored while the page draws: no URL until a click asks for the file.
        assert button.proto.deferred_file_id and not button.proto.url
        assert not button.disabled


def test_downloaded_model_loads_back_and_predicts_like_the_stored_one(runs_page, saved_runs, mnist, tmp_path):
    import keras

    info = saved_runs["trained"]
    stored = download(select(runs_page, info), "Download model (.keras)")
    assert (stored.filename, stored.mimetype) == (f"{info.run_id}.keras", "application/octet-stream")
    model_path = RunStore(info.path.parent).model_path(info.run_id)
    assert stored.content == model_path.read_bytes()

    downloaded = tmp_path / "downloaded.keras"
    downloaded.write_bytes(stored.content)
    images = np.asarray(mnist.x_test[:16])
    expected = keras.saving.load_model(model_path, safe_mode=True).predict(images, verbose=0)
    got = keras.saving.load_model(downloaded, safe_mode=True).predict(images, verbose=0)
    np.testing.assert_array_equal(got, expected)
    # A trained network, not a blank one: it gets most of these digits right.
    assert (got.argmax(axis=1) == mnist.y_test[:16]).mean() > 0.5


def test_downloaded_curves_are_the_runs_history(runs_page, saved_runs):
    info = saved_runs["trained"]
    stored = download(select(runs_page, info), "Download curves (.csv)")
    assert (stored.filename, stored.mimetype) == (f"{info.run_id}-curves.csv", "text/csv")
    reader = csv.DictReader(io.StringIO(stored.content.decode("utf-8")))
    assert reader.fieldnames == ["curve", "epoch", "step", "loss", "accuracy"]
    rows = list(reader)

    history = RunStore(info.path.parent).load_history(info.run_id)
    expected = [(curve, point) for curve in ("train", "validation", "test")
                for point in sorted(history[curve], key=lambda point: point["step"])]
    assert len(rows) == len(expected) == sum(len(points) for points in history.values())
    assert history["test"], "a finished run has at least one test point"
    for row, (curve, point) in zip(rows, expected, strict=True):
        assert row["curve"] == curve
        assert int(row["step"]) == point["step"]
        assert float(row["epoch"]) == point["epoch"]
        assert float(row["loss"]) == point["loss"]
        assert float(row["accuracy"]) == point["accuracy"]


def test_run_without_a_model_says_why_and_still_offers_its_curves(runs_page, saved_runs):
    at = select(runs_page, saved_runs["failed"])
    assert list(download_buttons(at)) == ["Download curves (.csv)"]
    assert any(caption.value.startswith("No model to download") for caption in at.caption), \
        [caption.value for caption in at.caption]
    stored = download(at, "Download curves (.csv)")
    assert stored.content.decode("utf-8") == "curve,epoch,step,loss,accuracy\n"


def plotly_spec(at: AppTest, key: str) -> dict:
    """The figure of the chart with this widget key (a live chart: dashboard/live_chart.py)."""
    return chart_support.live_figure(at, key)


def test_comparing_runs_adds_the_overfitting_gap_charts(runs_page, saved_runs):
    trained, failed = saved_runs["trained"], saved_runs["failed"]
    labels = [f"{info.name} ({info.run_id[-6:]})" for info in (trained, failed)]
    at = runs_page
    at.multiselect(key="compare_runs").set_value(labels).run()
    assert not at.exception, [item.value for item in at.exception]

    history = RunStore(trained.path.parent).load_history(trained.run_id)
    for metric in ("accuracy", "loss"):
        spec = plotly_spec(at, f"compare_gap_{metric}")
        assert spec["layout"]["title"]["text"] == f"Overfitting gap: {metric}"
        traces = {trace["name"]: trace for trace in spec["data"]}
        assert list(traces) == labels
        epochs, gaps = charts.overfitting_gap(history, metric)
        assert epochs, "the trained run has a gap at its test point"
        assert traces[labels[0]]["x"] == epochs
        assert traces[labels[0]]["y"] == pytest.approx(gaps)
        assert not traces[labels[1]].get("x"), "a run without curves has no gap, and does not break the chart"
    assert any("by heart" in caption.value for caption in at.caption)


def test_rename_and_delete_are_offered_to_the_owner_and_the_teacher_only(saved_runs, monkeypatch, tmp_path):
    from dashboard.identity import owner_of

    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path))
    monkeypatch.setenv("MNIST_TEACHER_PASSWORD", "sesame")
    st.cache_resource.clear()
    store = RunStore(tmp_path)
    model, train = get_preset("softmax").configs()
    run_id = store.create(model, train, name="Ann's run", owner=owner_of("ann"), status="completed")

    def page_as(identity: str, teacher: bool = False) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.session_state["identity"] = identity
        at.session_state["teacher"] = teacher
        at.switch_page(RUNS).run()
        return select(at, store.get(run_id))

    stranger = page_as("bob")
    assert not [button for button in stranger.button if button.label in ("Save name", "Yes, delete")]
    assert not [box for box in stranger.text_input if box.label == "Rename"]
    ann = page_as("ann")
    ann.text_input(key=f"name_{run_id}").set_value("Ann's best").run()
    ann.button(key=f"rename_{run_id}").click().run()
    assert store.get(run_id).name == "Ann's best" and not ann.exception
    ann.text_input(key=f"name_{run_id}").set_value("Too late").run()  # Ann types while the teacher deletes
    teacher = page_as("carol", teacher=True)
    teacher.button(key=f"delete_{run_id}").click().run()
    assert not teacher.exception
    with pytest.raises(RunNotFoundError):
        store.get(run_id)
    # A stale page (the run deleted meanwhile) says so instead of raising.
    ann.button(key=f"rename_{run_id}").click().run()
    assert not ann.exception
    assert any("That did not work" in error.value for error in ann.error)
    st.cache_resource.clear()
