"""The objects every browser session shares: one run store and one job manager per server process."""

from __future__ import annotations

import streamlit as st

from mnist_models.runs import RunStore
from mnist_models.training import JobManager


@st.cache_resource(show_spinner=False)
def run_store() -> RunStore:
    """The run store under ./runs or $MNIST_RUNS_DIR, shared with the command line."""
    return RunStore()


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """The jobs of this server: training survives page changes and browser refreshes because it lives here."""
    return JobManager(run_store())


@st.cache_resource(show_spinner="Loading the network…", max_entries=4)
def predictor(run_id: str, modified: float):
    """A loaded model for a run; `modified` (the model file's mtime) reloads it after the run saved a newer one."""
    from mnist_models.predict import Predictor

    return Predictor(run_store().model_path(run_id))
