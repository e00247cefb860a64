"""Shared fixtures: every test gets its own runs folder, and the MNIST arrays are loaded once per session."""

from __future__ import annotations

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU features) would bury pytest's output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from hypothesis import HealthCheck, settings

from mnist_models.data import Mnist, load_mnist
from mnist_models.store.runs import RunStore

# Property-based tests (tests/test_properties.py). "ci", the default, is fixed and derandomized, so every run
# tries the same examples, sized to take seconds; `pytest --hypothesis-profile=long` tries ten times as many,
# freshly drawn. No deadline: TensorFlow's first traced call takes seconds. No example database either, so
# nothing is written into the project; a failure prints the line that replays it. The autouse `runs_dir`
# fixture is function-scoped but the properties never touch the runs folder, so sharing it between examples
# is harmless.
_PROFILE = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=100, derandomize=True, **_PROFILE)
settings.register_profile("long", max_examples=1000, **_PROFILE)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Point MNIST_RUNS_DIR at a fresh folder, so no test reads or writes the project's ./runs."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    yield folder
    # Queues a test made (an AppTest's page makes the dashboard's) stop their workers and their ready worker.
    from mnist_models import jobs

    jobs.shutdown_all(stop_running=True)


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The bundled dataset, loaded (and checksum-verified) once for the whole session."""
    return load_mnist()


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A fresh run store, and the pages' job queue replaced by one whose jobs never start."""
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "lab-runs"))
    import lab_support
    import streamlit as st

    from dashboard import state
    from mnist_models.jobs.queue import JobQueue

    st.cache_resource.clear()
    store = RunStore(tmp_path / "lab-runs")
    queue = JobQueue(store, executor=lab_support.ParkedExecutor(), max_running=50)
    monkeypatch.setattr(state, "job_queue", lambda: queue)
    yield store
    queue.shutdown()
    st.cache_resource.clear()
