"""The objects every browser session shares: one run store and one job queue per server process."""

from __future__ import annotations

import sys
import threading
import time

import streamlit as st

from mnist_models.jobs import JobQueue, make_executor, shared_queue
from mnist_models.jobs.local import LocalExecutor
from mnist_models.store.progress import Progress
from mnist_models.store.runs import RunNotFoundError, RunStore


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """The run store under ./runs or $MNIST_RUNS_DIR, shared with the command line."""
    return RunStore()


@st.cache_resource(show_spinner=False)
def job_queue() -> JobQueue:
    """The server's job queue. Trainings run in worker processes (or Ray tasks), never in this process, so
    they survive page changes, refreshes and even a restart of the server."""
    # A bad setting or an unreachable Ray cluster raises a clear message here; the Train page shows it.
    choice = make_executor()
    warm_up_gate.hold(choice.executor)
    return shared_queue(run_store(), executor=choice.executor, max_running=choice.max_running,
                        threads=choice.threads)


class WarmUpGate:
    """Opens a moment after this process has drawn its first page: local executors prepare their ready worker only
    then (`LocalExecutor.warm_after`).

    A ready worker imports TensorFlow as soon as its queue exists (about 2.5 s of a core, more on a busy machine);
    when the first page to make the queue was still drawing, that took one of two cores from the page and from
    the browser. A job submitted in the meantime still starts (in a worker of its own); from then on the queue
    keeps one ready as before, so later presses of Train find one waiting.
    """

    def __init__(self, delay: float):
        self.delay = delay
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self._drawn = False  # a page has been drawn: the release is under way or done

    def hold(self, executor: object) -> None:
        """Keep `executor` (a local one; others have no ready worker) from preparing one before the release."""
        if isinstance(executor, LocalExecutor) and executor.warm_after is None:
            executor.warm_after = self.opened

    def page_drawn(self) -> None:
        """Called after every page; the first call opens the gate `delay` seconds later."""
        with self._lock:
            if self._drawn:
                return
            self._drawn = True
        timer = threading.Timer(self.delay, self.release)
        timer.daemon = True
        timer.start()

    def release(self) -> None:
        self.opened.set()  # the queue's scheduler starts a ready worker at its next poll


# Long enough for the browser to finish drawing what the first script run sent (a few tenths of a second).
WARM_UP_DELAY_SECONDS = 1.0
warm_up_gate = WarmUpGate(WARM_UP_DELAY_SECONDS)


def page_drawn() -> None:
    """The entry script calls this after every page: the first one lets the job queue's ready worker start."""
    warm_up_gate.page_drawn()


def published_version(run_id: str) -> tuple[int, int]:
    """Changes whenever the run's worker publishes (its curves, weights, digit wall): what is drawn from those."""
    return run_store().version(run_id)


def run_version(run_id: str) -> tuple[int, int, int]:
    """Changes whenever the run's worker publishes, and at least every 5 seconds: an active run's status can
    change without a write, when its worker dies."""
    return (*published_version(run_id), int(time.time() // 5))


@st.cache_resource(show_spinner=False, max_entries=256)
def _progress(run_id: str, version: tuple[int, int, int]) -> Progress:
    return run_store().progress(run_id)


def progress(run_id: str) -> Progress:
    """A run's progress, read from its folder once per change however many browsers watch it."""
    return _progress(run_id, run_version(run_id))


def progress_if_any(run_id: str) -> Progress | None:
    """The run's progress, or None when its folder has gone (a cancelled job, a deleted run)."""
    try:
        return progress(run_id)
    except RunNotFoundError:
        return None


@st.cache_resource(show_spinner=False, max_entries=64)
def insight_at(run_id: str, version: tuple[int, int]) -> tuple[dict, list]:
    """`insight` as of `version` (the run's `published_version`), for what is drawn from it."""
    return run_store().load_insight(run_id), run_store().load_learning_rates(run_id)


def insight(run_id: str) -> tuple[dict, list]:
    """The run's weight percentiles and digit wall, and its learning rates, read once per change."""
    return insight_at(run_id, published_version(run_id))


# Draw compares up to ten networks at each stroke: they all stay loaded, with room for the one in the Model box.
MAX_LOADED_MODELS = 12


@st.cache_resource(show_spinner="Loading the network…", max_entries=MAX_LOADED_MODELS)
def predictor(run_id: str, modified: float):
    """A loaded model for a run; `modified` (the model file's mtime) reloads it after the run saved a newer one."""
    from mnist_models.predict import Predictor

    keep_keras_warm()
    return Predictor(run_store().model_path(run_id))


def _clean_problem_modules_but_keras() -> None:
    """What Streamlit's own clean-up does after each script run, except clearing Keras's session."""
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_warm() -> None:
    """Stop Streamlit clearing Keras's session after every script run, once this process loads a model.

    Streamlit calls `keras.backend.clear_session()` after each run (fragment runs included) whenever Keras is
    imported. Here that cost 205 ms of garbage collection after every stroke on Draw, and emptied TensorFlow's
    kernel cache, so the next prediction took 14 ms instead of 0.7 ms (measured). The server never builds or
    trains a model (workers do), so it has no Keras state worth clearing. The function replaced is private to
    Streamlit: tests/test_app.py fails if it disappears, instead of the page silently slowing down again.
    """
    from streamlit.runtime.scriptrunner import script_runner

    script_runner._clean_problem_modules = _clean_problem_modules_but_keras
