"""A worker process: `python -m mnist_models.worker` gets ready, takes one job from stdin, trains it, exits.

Getting ready means importing TensorFlow and loading MNIST (about 3 s), so the job queue keeps one worker
ready ahead of time and a learner's first point shows within a second or two of pressing Train. The job is
one JSON line, {"root": runs folder, "run_id": ..., "threads": CPU threads}; an empty stdin (the server went
away before there was work) ends the worker quietly. Everything the worker learns goes into the run folder.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading

IDLE_SECONDS = 600


def get_ready():
    """Import what training needs and load the data, before any job is known. Returns the dataset."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401  (imported for its start-up cost, here, not when the learner waits)

    from mnist_models.data import load_mnist
    from mnist_models.worker import callback, models  # noqa: F401

    return load_mnist()


def run_job(job: dict, data=None) -> int:
    """Do one job as the queue described it; returns the process's exit code (0 once the run is saved)."""
    from mnist_models.store.runs import RunStore
    from mnist_models.worker.tasks import run_task
    from mnist_models.worker.training import set_thread_count

    store = RunStore(job["root"])
    run_id = job["run_id"]
    # From here on, anything TensorFlow or Python prints lands beside the run, for whoever looks into a failure.
    log = os.open(store.worker_log_path(run_id), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 2)
    os.close(log)
    set_thread_count(int(job.get("threads") or 1))
    stop = threading.Event()
    # SIGTERM (a shutdown, a cluster taking its node back) stops like the Stop button: the run is saved.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    run_task(store, run_id, data=data, stop_event=stop)  # a training, or a learning-rate range test
    return 0


def main() -> int:
    data = get_ready()
    # No job yet (a worker made ready ahead of time): rehearse one training step while nobody waits for it, so that
    # the learner's first batch does not pay for TensorFlow's first graph and kernels (here, not in get_ready: a
    # worker started for a waiting job would pay for the rehearsal too).
    if not select.select([sys.stdin], [], [], 0)[0]:
        from mnist_models.worker.rehearsal import rehearse

        rehearse()
    # A ready worker nobody hands a job to gives its memory back after a while (its queue starts another).
    if not select.select([sys.stdin], [], [], IDLE_SECONDS)[0]:
        return 0
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    try:
        job = json.loads(line)
    except ValueError:
        job = None
    if not isinstance(job, dict) or not {"root", "run_id"} <= set(job):
        print(f"mnist_models.worker: not a job: {line.strip()[:200]}", file=sys.stderr)
        return 2
    return run_job(job, data)

