"""How a job queue shares its runs folder with other processes: one leads (schedules), the others follow.

The leader holds the folder's queue lock. A follower (a second server on the same folder, or a restart that
overlaps the old server) still queues jobs into the folder and shows them; when the leader goes, its lock is
free and a follower takes over: it adopts the queue and the local workers still training.
"""

from __future__ import annotations

import time

from mnist_models.jobs.job import Job
from mnist_models.jobs.local import AdoptedWorker
from mnist_models.store.files import QUEUE_LOCK_FILE, try_lock
from mnist_models.store.progress import ACTIVE_STATUSES, INTERRUPTED, QUEUED
from mnist_models.store.run_info import RunInfo

SYNC_SECONDS = 2.0  # how often the queue reads the folder for jobs another process queued, started or cancelled


def job_of(info: RunInfo) -> Job:
    """The queue's entry for a run waiting on disk (another process queued it, or an earlier server)."""
    return Job(info.run_id, info.name, QUEUED, info.owners, None, info.created, info.job_key, info.task)


class Takeover:
    """JobQueue's part that leads or follows; it uses the queue's store, lock-guarded lists and `_lease`."""

    @property
    def leading(self) -> bool:
        """Whether this queue schedules its runs folder (else another process does, and this one waits)."""
        return self._lease is not None

    def _lead_or_follow_locked(self) -> None:
        """Take the folder's lock when its holder has gone; meanwhile, and every few seconds after, follow what
        other processes did to the folder's queue."""
        if self._lease is None:
            self._lease = try_lock(self.store.root / QUEUE_LOCK_FILE)
            if self._lease is not None:
                self._adopt()
                self._synced_at = 0.0
        if time.monotonic() - self._synced_at >= SYNC_SECONDS:
            self._synced_at = time.monotonic()
            self._sync_locked()

    def _sync_locked(self) -> None:
        queued = {info.run_id: info for info in self.store.list(task=None) if info.status == QUEUED}
        for run_id in [run_id for run_id in self._waiting if run_id not in queued]:
            self._waiting.remove(run_id)  # started or cancelled by another process
            self._info.pop(run_id, None)
        for info in sorted(queued.values(), key=lambda info: info.created):
            if info.run_id not in self._info:
                self._waiting.append(info.run_id)
                self._info[info.run_id] = job_of(info)

    def _adopt(self) -> None:
        """Take over what an earlier server left: its queue, and its local workers still training."""
        for info in sorted(self.store.list(task=None), key=lambda info: info.created):
            if info.run_id in self._info:
                continue
            if info.status == QUEUED:
                self._waiting.append(info.run_id)
                self._info[info.run_id] = job_of(info)
            elif info.status in ACTIVE_STATUSES:
                meta_pid = self.store.worker_pid(info.run_id)
                if info.executor == "local" and meta_pid is not None:
                    self._running[info.run_id] = AdoptedWorker(meta_pid)
                    self._info[info.run_id] = Job(info.run_id, info.name, info.status, info.owners, None,
                                                  info.created, info.job_key, info.task)
                elif info.executor != "local":
                    # A Ray task ends with the driver that started it: that server is gone, so is the task.
                    self.store.update(info.run_id, status=INTERRUPTED, finished=time.time(),
                                      error="The server restarted while this run trained on the Ray cluster.")

