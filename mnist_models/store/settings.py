"""The run store's settings from the environment: where the runs live, and how many runs a learner keeps."""

from __future__ import annotations

import os
from pathlib import Path

RUNS_ENV = "MNIST_RUNS_DIR"
MAX_RUNS_ENV = "MNIST_MAX_RUNS_PER_LEARNER"
DEFAULT_MAX_RUNS = 100  # a learner's kept runs: a whole Lab several times over, small enough for a class's disk


def default_root() -> Path:
    """`$MNIST_RUNS_DIR` if set, else ./runs (shared by the CLI and the dashboard)."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def max_runs_per_owner() -> int:
    """MNIST_MAX_RUNS_PER_LEARNER, or the default; a bad value raises ValueError saying what to set."""
    text = os.environ.get(MAX_RUNS_ENV, "").strip()
    value = int(text) if text.isdigit() else (DEFAULT_MAX_RUNS if not text else 0)
    if value < 1:
        raise ValueError(f"{MAX_RUNS_ENV}={text!r} is not a whole number of runs above 0; unset it for the "
                         f"default ({DEFAULT_MAX_RUNS}).")
    return value
