"""A sweep in the job queue: queued as one series of the learner's (up to the sweep cap), recorded so its runs can
be found again, and stopped as a whole.

The queue treats the sweep's trainings as any other jobs: they wait first come, first served, run side by side
when it has several slots (MNIST_MAX_JOBS, or a Ray cluster), and one identical to a training waiting or running
already (the same settings and seed) joins it instead of training twice.
"""

from __future__ import annotations

import contextlib

from mnist_models.config import ConfigError
from mnist_models.jobs.job import NotYourJobError, QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.store.progress import FINAL_STATUSES, STOPPING
from mnist_models.store.run_info import RunLimitError, RunNotFoundError
from mnist_models.store.settings import max_runs_per_owner
from mnist_models.store.sweeps import SweepRecord, get_sweep, save_sweep
from mnist_models.sweep import Sweep, max_trainings


def submit_sweep(queue: JobQueue, sweep: Sweep, *, owner: str | None = None) -> SweepRecord:
    """Check the whole sweep, queue its trainings as one series of `owner`'s and keep its record; return it.

    Nothing is queued unless everything passes: the sweep's own checks (ConfigError listing each problem), room
    in the queue and in the learner's kept runs (QueueFullError, RunLimitError), and the queue's rule of one
    series per learner at a time (QueueFullError).
    """
    cap = max_trainings()
    problems = sweep.problems(cap)
    if problems:
        raise ConfigError(problems)
    specs = sweep.specs()
    waiting = sum(job.position is not None for job in queue.jobs())
    if waiting + len(specs) > queue.max_waiting:
        raise QueueFullError(f"This sweep's {len(specs)} trainings do not fit in the queue ({waiting} are waiting, "
                             f"at most {queue.max_waiting} may): use fewer values or seeds, or try again when "
                             "some have started.")
    if owner is not None:
        limit = max_runs_per_owner()
        kept = sum(info.owned_by(owner) for info in queue.store.list())
        if kept + len(specs) > limit:
            raise RunLimitError(f"This sweep would make {kept + len(specs)} runs of yours, more than the {limit} "
                                "this server keeps for one learner: delete some on the Runs page first.")
    run_ids = queue.submit_series(specs, owner=owner, limit=cap)
    return get_sweep(queue.store, owner, save_sweep(queue.store, owner, sweep, run_ids))


def stop_sweep(queue: JobQueue, record: SweepRecord, owner: str | None, *, teacher: bool = False) -> dict[str, str]:
    """Stop every training of the sweep that is still waiting or running: waiting ones are cancelled first (so
    none starts meanwhile), then running ones stop after their current batch. A training other learners share
    goes on for them (this learner only leaves it), unless a teacher stops it. Returns what happened to each run
    touched ("cancelled", "stopping" or "left"); runs already over, or no longer this learner's, are skipped.
    Only the sweep's owner, or a teacher, may stop it (NotYourJobError)."""
    if not teacher and (owner is None or record.owner != owner):
        raise NotYourJobError("Only the learner who started this sweep, or a teacher, can stop it.")
    run_ids = list(dict.fromkeys(record.run_ids))
    waiting_first = sorted(run_ids, key=lambda run_id: queue.position(run_id) is None)
    outcomes = {}
    for run_id in waiting_first:
        try:
            info = queue.store.get(run_id)
        except RunNotFoundError:
            continue  # cancelled before, or deleted
        if info.status in FINAL_STATUSES or not (teacher or info.owned_by(owner)):
            continue
        try:
            outcomes[run_id] = queue.stop(run_id, owner, teacher=teacher)
        except NotYourJobError:
            continue
        except ValueError:
            # It started between our look and the cancel: stop it instead.
            with contextlib.suppress(RunNotFoundError, OSError):
                queue.store.request_stop(run_id)
                outcomes[run_id] = STOPPING
    return outcomes
