"""Regression tests for hostile or broken input: no lost updates to a run, damaged runs that do not break pages,
and damaged models that Draw reports instead of crashing (user text on every page: test_hostile_text.py)."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.runs import RunNotFoundError, RunStore

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture
def app_store(runs_dir, monkeypatch):
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    st.cache_resource.clear()
    yield RunStore(runs_dir)
    st.cache_resource.clear()


def test_concurrent_updates_are_never_lost(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create(ModelConfig(), TrainConfig(epochs=1))

    def writer(name: str) -> None:
        for index in range(40):
            store.update(run_id, **{f"{name}_{index}": index})

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("worker", "rename", "third")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    meta = json.loads((store.folder(run_id) / "meta.json").read_text())
    assert all(meta[f"{name}_{index}"] == index for name in ("worker", "rename", "third") for index in range(40))


def test_run_ids_must_match_whole(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create(ModelConfig(), TrainConfig(epochs=1))
    for bad in (run_id + "\n", run_id + "/..", "../" + run_id, run_id[:-1]):
        with pytest.raises(RunNotFoundError):
            store.folder(bad)


def test_a_history_that_is_a_list_is_a_clear_error_not_a_crash(app_store):
    run_id = app_store.create(ModelConfig(), TrainConfig(epochs=1), name="damaged")
    app_store.update(run_id, status="completed")
    (app_store.folder(run_id) / "history.json").write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="damaged"):
        app_store.load_history(run_id)
    assert app_store.progress(run_id).train == ()
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/runs.py")
    at.session_state["runs_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert any("cannot be read" in error.value for error in at.error)
    assert not any(str(app_store.root) in error.value for error in at.error), "no server paths in messages"


def test_a_disk_error_on_train_is_a_message_not_an_exception(app_store, monkeypatch):
    import errno

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/train.py").run()
    monkeypatch.setattr(RunStore, "create", full)
    at.selectbox(key="preset").select("softmax").run()
    [train] = [button for button in at.button if button.label == "Train"]
    train.click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert any("No space left on device" in warning.value for warning in at.warning)
    assert [button.disabled for button in at.button if button.label == "Train"] == [False], "try again later"


@pytest.mark.parametrize("page", ["app_pages/draw.py", "app_pages/inspect.py"])
def test_a_damaged_model_is_reported_without_server_paths(app_store, page):
    run_id = app_store.create(ModelConfig(), TrainConfig(epochs=1), name="broken model")
    app_store.update(run_id, status="completed", test_accuracy=0.9)
    (app_store.folder(run_id) / "model.keras").write_bytes(b"this is not a Keras file")
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(page)
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert any("cannot be loaded" in error.value for error in at.error)
    assert not any("/" in error.value for error in at.error), [error.value for error in at.error]


def test_server_settings_bound_messages_and_keep_the_live_view_cheap():
    import tomllib

    settings = tomllib.loads((Path(APP).parents[1] / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["maxMessageSize"] <= 50, "a runaway page must not send 200 MB to every browser"
    assert settings["server"]["enableStaticServing"] is True, "the live charts load plotly.js from there"
    assert settings["runner"]["postScriptGC"] is False, "a full gc.collect after every tick of every tab"


def test_a_lesson_run_deleted_meanwhile_drops_out_of_the_lab_s_charts(app_store):
    from dashboard.identity import owner_of
    from mnist_models import course

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["identity"] = "learner-lesson"
    at.run()
    owner = owner_of("learner-lesson")
    first, second = course.overfitting_lesson("dropout")
    ids = [app_store.create(spec.model, spec.train, preset=spec.preset, name=spec.name, owner=owner,
                            status="completed") for spec in (first, second)]
    at.session_state["lab_step"] = "five-layer-dropout"
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert any("Your latest lesson" in caption.value for caption in at.caption)
    app_store.delete(ids[1], owner=owner)
    at.run()
    assert not at.exception, [item.value for item in at.exception]


def test_a_job_cancelled_meanwhile_leaves_a_note_not_an_error(app_store):
    # Training, as far as the folder says (this process stands in for its worker), until it is deleted.
    run_id = app_store.create(ModelConfig(), TrainConfig(epochs=1), name="Soon gone", status="running")

    def page(run_id: str):
        from dashboard import live_view

        live_view.progress_bar_ui(run_id, "Soon gone")
        live_view.live_ui(run_id, key="gone")

    at = AppTest.from_function(page, args=(run_id,), default_timeout=60).run()
    assert not at.exception, [item.value for item in at.exception]
    shutil.rmtree(app_store.folder(run_id))
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    assert any("no longer there" in caption.value for caption in at.caption)
