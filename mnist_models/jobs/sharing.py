"""One training for identical requests: a learner who asks for a training identical to one waiting or running
joins it, and one identical to a finished run may take that result.

On a CPU the same configs and seed give the same run, so thirty learners pressing the same Lab step need one
training, not thirty taking turns. The run then counts for each of them (its owners), and a learner who stops it
only leaves it: the training stops when nobody is left, or when the teacher stops it.
"""

from __future__ import annotations

import dataclasses

from mnist_models.jobs.job import JobSpec
from mnist_models.store.progress import COMPLETED
from mnist_models.store.run_info import RunInfo


class Sharing:
    """JobQueue's part that shares trainings; it uses the queue's store and its lock-guarded job lists."""

    def _join_locked(self, key: str, owner: str | None) -> str | None:
        """The run id of a waiting or running job with this key, now counting for `owner` too; None if none."""
        for run_id in [*self._running, *self._waiting]:
            job = self._info.get(run_id)
            if job is None or job.key != key or self._ended(run_id):
                continue
            if owner is not None and not job.owned_by(owner):
                self.store.add_owner(run_id, owner)
                self._info[run_id] = dataclasses.replace(job, owners=(*job.owners, owner))
            return run_id
        return None

    def _leave_locked(self, run_id: str, owner: str | None) -> bool:
        """Take `owner` off a job that others share (it trains on for them); False if they are its only owner."""
        job = self._info.get(run_id)
        if job is None or not job.owned_by(owner) or len(job.owners) < 2:
            return False
        self.store.remove_owner(run_id, owner)
        self._info[run_id] = dataclasses.replace(job, owners=tuple(item for item in job.owners if item != owner))
        return True

    def identical_result(self, spec: JobSpec) -> RunInfo | None:
        """The newest completed run, with its model, of a training identical to `spec`; None if there is none."""
        key = spec.key
        return next((info for info in self.store.list()
                     if info.job_key == key and info.status == COMPLETED and info.has_model), None)

    def take_result(self, run_id: str, owner: str) -> RunInfo:
        """Credit a completed run to `owner` as if they had trained it (an identical training's result)."""
        info = self.store.get(run_id)
        if info.status != COMPLETED:
            raise ValueError(f"Run {info.name!r} has not completed: its result cannot be taken.")
        self.store.add_owner(run_id, owner)
        return self.store.get(run_id)
