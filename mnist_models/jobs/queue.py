"""JobQueue: the server's side of training. Jobs wait first come, first served; a few run at once, each in a
worker started by an executor; only a job's owner (or a teacher) may stop it; everyone may watch.

The queue keeps no state that the run folders do not also hold: a queued job is a run folder with status
"queued", so a restarted server finds its queue, its running workers and its finished runs where it left them.
One process schedules a runs folder at a time (it holds the folder's queue lock); another server on the same
folder (a second `streamlit run`, an overlapping restart) queues into it and waits to take over, so no job is
ever started twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from typing import ClassVar

from mnist_models.architecture import count_params
from mnist_models.budget import budget_problems
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.jobs.job import LEFT, Job, JobSpec, NotYourJobError, QueueFullError
from mnist_models.jobs.local import Executor, LocalExecutor, WorkerHandle
from mnist_models.jobs.settings import max_jobs_setting, max_waiting_setting, threads_per_job
from mnist_models.jobs.sharing import Sharing
from mnist_models.jobs.takeover import Takeover
from mnist_models.store.files import QUEUE_LOCK_FILE, try_lock
from mnist_models.store.progress import (
    FAILED,
    FINAL_STATUSES,
    QUEUED,
    RUNNING,
    STARTING,
    STOPPING,
)
from mnist_models.store.run_info import STALE_AFTER_SECONDS
from mnist_models.store.runs import RunNotFoundError, RunStore

log = logging.getLogger(__name__)

MAX_WAITING_PER_OWNER = 1  # one job waiting or running per learner keeps a class's queue fair
MAX_SERIES = 2  # ... or one series of jobs queued together (the overfitting lesson: without, then with dropout)
POLL_SECONDS = 0.2
RETRY_SECONDS = 5.0  # after a job could not be started (a full disk), the queue tries again this much later
STARTUP_SECONDS = 120.0  # a starting worker silent longer than this (or than hung_after) has hung


class JobQueue(Takeover, Sharing):
    """Submit, watch, stop and cancel training jobs; at most `max_running` run at once.

    A scheduler thread starts waiting jobs as slots free up and notices workers that ended without saving
    their result (killed, out of memory), marking their runs failed so that the queue moves on.
    """

    live: ClassVar[set[JobQueue]] = set()  # every queue not shut down yet (their scheduler threads keep them alive)
    live_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: RunStore | None = None, *, executor: Executor | None = None,
                 max_running: int | None = None, threads: int | None = None, poll_seconds: float = POLL_SECONDS,
                 max_waiting: int | None = None, hung_after: float = STALE_AFTER_SECONDS):
        self.store = store if store is not None else RunStore()
        self.max_running = max_running if max_running is not None else max_jobs_setting()
        if self.max_running < 1:
            raise ValueError(f"At least one job must be able to run, not {self.max_running}.")
        self.threads = threads if threads is not None else threads_per_job(self.max_running)
        self.executor = executor if executor is not None else LocalExecutor(threads=self.threads)
        self.max_waiting = max_waiting if max_waiting is not None else max_waiting_setting()
        self.hung_after = hung_after  # a running job silent this long has hung: its worker is killed
        self.poll_seconds = poll_seconds
        self._lock = threading.Condition()
        self._waiting: list[str] = []
        self._running: dict[str, WorkerHandle] = {}
        self._info: dict[str, Job] = {}
        self._closed = False
        self._synced_at = 0.0
        self._retry_at = 0.0  # after a job could not be started (a full disk, say), when to try again
        self.store.root.mkdir(parents=True, exist_ok=True)
        self._lease = try_lock(self.store.root / QUEUE_LOCK_FILE)
        if self._lease is not None:
            self._adopt()
        self._thread = threading.Thread(target=self._loop, name="job-queue", daemon=True)
        self._thread.start()
        with JobQueue.live_lock:
            JobQueue.live.add(self)

    def submit(self, model: ModelConfig, train: TrainConfig, *, owner: str | None = None, preset: str | None = None,
               name: str | None = None, files: dict[str, bytes] | None = None) -> str:
        """Queue a job and return its run id; it starts as soon as a slot is free. Bad configs raise ConfigError.
        `files` go into the run's folder before the job can start (see RunStore.create)."""
        return self.submit_series([JobSpec(model, train, preset, name, files)], owner=owner)[0]

    def submit_series(self, specs: list[JobSpec], *, owner: str | None = None, limit: int = MAX_SERIES) -> list[str]:
        """Queue several jobs one after the other (a lesson comparing two runs) and return their run ids.

        A learner may have one job at a time, or one series of at most `limit` (MAX_SERIES; a sweep passes its
        own cap, see jobs/sweep_jobs.py) when nothing else of theirs is waiting or running. Every config is
        checked before any is queued, so a bad one queues nothing.
        """
        if not 1 <= len(specs) <= limit:
            raise ValueError(f"Queue between 1 and {limit} jobs at once, not {len(specs)}.")
        for spec in specs:
            spec.model.validate()
            spec.train.validate()
            over_budget = budget_problems(spec.model, spec.train)
            if over_budget:
                raise ConfigError(over_budget)
        key = owner or None
        run_ids = []
        with self._lock:
            if self._closed:
                raise RuntimeError("The job queue is shut down.")
            waiting = len(self._waiting)
            if waiting + len(specs) > self.max_waiting:
                raise QueueFullError(f"{waiting} trainings are waiting already, as many as this server queues: "
                                     "try again when some have started.")
            if key is not None:
                self._reap_locked()
                # A worker writes its final status a moment before its process ends: such a job is over.
                mine = [job for job in self._info.values() if job.owned_by(key) and not self._ended(job.run_id)]
                if len(mine) >= MAX_WAITING_PER_OWNER:
                    raise QueueFullError(f"You already have a training {mine[0].status} ({mine[0].name}). Stop it, "
                                         "or wait for it to finish, before starting another.")
            for spec in specs:
                job_key = spec.key
                joined = self._join_locked(job_key, key)  # an identical training is waiting or running: share it
                if joined is not None:
                    run_ids.append(joined)
                    continue
                run_id = self.store.create(spec.model, spec.train, preset=spec.preset, name=spec.name,
                                           params=count_params(spec.model), status=QUEUED, owner=key,
                                           executor=self.executor.name, files=spec.files, job_key=job_key,
                                           task=spec.task)
                info = self.store.get(run_id)
                self._waiting.append(run_id)
                self._info[run_id] = Job(run_id, info.name, QUEUED, info.owners, len(self._waiting), info.created,
                                         job_key, spec.task)
                run_ids.append(run_id)
            # With a free slot it starts now, so the page that submitted it already shows it training.
            self._launch_locked()
            self._lock.notify_all()
        return run_ids

    def jobs(self) -> list[Job]:
        """Running jobs first, then waiting ones in the order they will start."""
        with self._lock:
            running = [self._info[run_id] for run_id in self._running]
            waiting = [self._with_position(run_id) for run_id in self._waiting]
        return running + waiting

    def job(self, run_id: str) -> Job | None:
        """The job if it is waiting or running here, else None (finished, or never this queue's)."""
        with self._lock:
            if run_id in self._waiting:
                return self._with_position(run_id)
            return self._info.get(run_id) if run_id in self._running else None

    def position(self, run_id: str) -> int | None:
        """1 for the next job to start, 2 for the one after, ...; None if the job is not waiting."""
        with self._lock:
            return self._waiting.index(run_id) + 1 if run_id in self._waiting else None

    def jobs_of(self, owner: str | None) -> list[Job]:
        """This learner's jobs still waiting or training (one whose worker saved its result is over, although
        its process may take a moment more to end)."""
        return [job for job in self.jobs() if job.owned_by(owner) and not self._ended(job.run_id)]

    def can_control(self, run_id: str, owner: str | None, teacher: bool = False) -> bool:
        """Whether this learner may stop or cancel the run: its owner, or a teacher, may."""
        if teacher:
            return True
        key = owner
        if not key:
            return False
        with self._lock:
            job = self._info.get(run_id)
        if job is not None:
            return job.owned_by(key)
        try:
            return self.store.get(run_id).owned_by(key)
        except RunNotFoundError:
            return False


    def stop(self, run_id: str, owner: str | None = None, *, teacher: bool = False) -> str:
        """Stop a running job after its current batch, or cancel a waiting one. Returns "stopping" or
        "cancelled"; or "left" when other learners share the job: it goes on for them, no longer counting for
        this one. A teacher's stop stops it for everybody. Raises NotYourJobError for anybody else."""
        if not self.can_control(run_id, owner, teacher):
            raise NotYourJobError("Only the learner who started this training, or a teacher, can stop it.")
        with self._lock:
            if not teacher and self._leave_locked(run_id, owner):
                return LEFT
            if run_id in self._waiting:
                self._cancel_locked(run_id)
                return "cancelled"
        # Running here, or a run this queue does not hold (a command-line run): the stop file reaches its worker.
        self.store.request_stop(run_id)
        return STOPPING

    def cancel(self, run_id: str, owner: str | None = None, *, teacher: bool = False) -> None:
        """Take a waiting job out of the queue (its run folder goes too: nothing was trained)."""
        if not self.can_control(run_id, owner, teacher):
            raise NotYourJobError("Only the learner who queued this training, or a teacher, can cancel it.")
        with self._lock:
            if run_id not in self._waiting:
                raise ValueError("This training is no longer waiting: it has started (use Stop) or ended.")
            if teacher or not self._leave_locked(run_id, owner):
                self._cancel_locked(run_id)

    def _cancel_locked(self, run_id: str) -> None:
        try:
            discarded = self.store.discard_if_queued(run_id)
        except RunNotFoundError:
            discarded = True  # gone already: nothing is left to cancel
        if not discarded:
            raise ValueError("This training has just started: use Stop instead.")
        self._waiting.remove(run_id)
        self._info.pop(run_id, None)
        self._lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Block until no job waits or runs (tests and scripts); returns False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._waiting or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, self.poll_seconds))
        return True

    def shutdown(self, *, stop_running: bool = False, timeout: float = 30.0) -> None:
        """Stop scheduling. With `stop_running`, running jobs are stopped (saved as stopped) and, after
        `timeout` seconds, killed; otherwise they train on and save their runs by themselves."""
        with JobQueue.live_lock:
            JobQueue.live.discard(self)
        with self._lock:
            self._closed = True
            running = dict(self._running)
            self._lock.notify_all()
        if stop_running:
            for run_id in running:
                with contextlib.suppress(RunNotFoundError, OSError):
                    self.store.request_stop(run_id)
            deadline = time.monotonic() + timeout
            for handle in running.values():
                while handle.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if handle.poll() is None:
                    handle.kill()
        self._thread.join(timeout=5)
        self.executor.close()
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.close()


    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                try:
                    self._lead_or_follow_locked()
                    self._reap_locked()
                    self._launch_locked()
                except Exception:  # the scheduler must outlive any single job's trouble
                    log.exception("Job queue scheduler error")
                # A ready worker for the next job: when a slot is free, and when jobs wait (it gets ready while
                # the current job trains, so the next one does not start cold).
                want_ready = self.leading and (len(self._running) < self.max_running or bool(self._waiting))
                self._lock.wait(self.poll_seconds)
            if want_ready:
                # Outside the lock: starting a ready worker takes a moment, and nobody should wait on it.
                with contextlib.suppress(Exception):
                    self.executor.prepare()

    def _reap_locked(self) -> None:
        for run_id, handle in list(self._running.items()):
            code = handle.poll()
            if code is None and self._hung(run_id):
                # A worker that stopped publishing (deadlocked, stopped, stuck writing) loses its slot.
                handle.kill()
                self.store.fail_unless_finished(run_id, f"The training stopped responding for "
                                                        f"{self.hung_after:.0f} seconds and was ended.")
                code = handle.poll()
            if code is None:
                continue
            del self._running[run_id]
            self._info.pop(run_id, None)
            self._lock.notify_all()
            # A worker that ended without writing its final status was killed or crashed.
            self.store.fail_unless_finished(run_id, handle.exit_reason(code))

    def _hung(self, run_id: str) -> bool:
        # A worker still getting ready (importing TensorFlow on a busy machine) may be silent for a while.
        try:
            limit = self.hung_after if self.store.get(run_id).status != STARTING else max(self.hung_after,
                                                                                           STARTUP_SECONDS)
            return self.store.silent_for(run_id) > limit
        except (RunNotFoundError, OSError, ValueError):
            return False

    def _launch_locked(self) -> None:
        if not self.leading or time.monotonic() < self._retry_at:
            return
        while self._waiting and len(self._running) < self.max_running:
            run_id = self._waiting[0]
            job = self._info.get(run_id)
            try:
                if not self.store.claim(run_id):
                    raise RunNotFoundError(run_id)  # started or cancelled by another process meanwhile
            except RunNotFoundError:
                self._waiting.pop(0)
                self._info.pop(run_id, None)
                continue
            except OSError:
                # The folder cannot be written (a full disk): the job stays first in line, and cancellable.
                log.exception("Could not start %s; trying again shortly", run_id)
                self._retry_at = time.monotonic() + RETRY_SECONDS
                return
            self._waiting.pop(0)
            try:
                handle = self.executor.start(self.store, run_id, self.threads)
            except Exception as error:
                log.exception("Could not start a worker for %s", run_id)
                self._info.pop(run_id, None)
                with contextlib.suppress(Exception):
                    self.store.update(run_id, status=FAILED, finished=time.time(),
                                      error=f"The training could not be started: {error}")
                continue
            with contextlib.suppress(RunNotFoundError):
                # Until the worker publishes, the run names its process, so a reader can tell it is alive.
                self.store.update(run_id, pid=handle.pid, host=handle.host, durable=False)
            self._running[run_id] = handle
            if job is not None:
                self._info[run_id] = dataclasses.replace(job, status=RUNNING, position=None)
            self._lock.notify_all()

    def _ended(self, run_id: str) -> bool:
        try:
            return self.store.get(run_id).status in FINAL_STATUSES
        except RunNotFoundError:
            return True

    def _with_position(self, run_id: str) -> Job:
        job = self._info[run_id]
        return dataclasses.replace(job, status=QUEUED, position=self._waiting.index(run_id) + 1)
