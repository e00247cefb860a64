"""What the live view rebuilds: a run's status is re-read at least every 5 seconds (its worker may have died without a
word), but its Accuracy and Loss figures, its weights and its digit wall are drawn from what its worker published,
and are built again only when it publishes: a page showing a finished run no longer rebuilds its figures."""

from __future__ import annotations

import time
import types

import pytest
import streamlit as st

from dashboard import live_view, state
from mnist_models.presets import get_preset

POINT = {"epoch": 1.0, "step": 10, "loss": 0.5, "accuracy": 0.9}


@pytest.fixture
def run_id(runs_dir):
    st.cache_resource.clear()  # the run store is cached: this test's own folder
    model, train = get_preset("softmax").configs()
    run_id = state.run_store().create(model, train, preset="softmax")
    state.run_store().update(run_id, history={"train": [POINT], "test": [POINT]})
    yield run_id
    st.cache_resource.clear()


def test_time_alone_changes_the_status_key_but_not_the_published_one(run_id, monkeypatch):
    published, status = state.published_version(run_id), state.run_version(run_id)
    monkeypatch.setattr(state, "time", types.SimpleNamespace(time=lambda: time.time() + 10))
    assert state.published_version(run_id) == published
    assert state.run_version(run_id) != status


def test_a_run_s_figures_are_built_again_only_when_it_publishes(run_id, monkeypatch):
    built = []
    figure = live_view.charts.accuracy_figure
    monkeypatch.setattr(live_view.charts, "accuracy_figure",
                        lambda *args, **kwargs: built.append(1) or figure(*args, **kwargs))

    def figures():
        return live_view.run_figures(run_id, None, False)

    first = figures()
    monkeypatch.setattr(state, "time", types.SimpleNamespace(time=lambda: time.time() + 60))
    assert figures() == first and len(built) == 1
    time.sleep(0.01)  # a new modification time for the curves file
    state.run_store().update(run_id, history={"train": [POINT, {**POINT, "step": 20, "epoch": 2.0}], "test": [POINT]})
    assert figures() != first and len(built) == 2
