"""What a worker does with a run, as its meta.json says: train it, or run a learning-rate range test."""

from __future__ import annotations

import threading

from mnist_models.data import Mnist
from mnist_models.store.progress import Progress
from mnist_models.store.run_info import LR_FIND_TASK, TRAIN_TASK, RunNotFoundError
from mnist_models.store.runs import RunStore
from mnist_models.worker.reporter import RunReporter
from mnist_models.worker.training import train_run


def run_task(store: RunStore, run_id: str, *, data: Mnist | None = None,
             stop_event: threading.Event | None = None) -> Progress:
    """Do the run's task (every executor's worker calls this: a local process, a Ray task) and return how it ended;
    like `train_run`, nothing raises and every outcome is written into the run folder."""
    try:
        task = store.get(run_id).task
    except (RunNotFoundError, OSError, ValueError):
        task = TRAIN_TASK  # train_run says in the run what is wrong with it
    if task == LR_FIND_TASK:
        from mnist_models.worker.lr_finder import lr_find_run

        return lr_find_run(store, run_id, data=data, stop_event=stop_event)
    if task != TRAIN_TASK:
        return RunReporter(store, run_id, epochs=0).fail(
            f"This server does not know how to run a {task!r} job: it may have been queued by a newer version.")
    return train_run(store, run_id, data=data, stop_event=stop_event)
