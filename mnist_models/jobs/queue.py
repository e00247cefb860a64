"""JobQueue: the server's side of training. Jobs wait first come, first served; a few run at once, each in a
worker started by an executor; only a job's owner (or a teacher) may stop it; everyone may watch.

The queue keeps no state that the run folders do not also hold: a queued job is a run folder with status
"queued", so a restarted server finds its queue, its running workers and its finished runs where it left them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from mnist_models.architecture import count_params
from mnist_models.budget import budget_problems
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.jobs.local import AdoptedWorker, Executor, LocalExecutor, WorkerHandle
from mnist_models.jobs.settings import max_jobs_setting, threads_per_job
from mnist_models.store.progress import ACTIVE_STATUSES, FAILED, FINAL_STATUSES, INTERRUPTED, QUEUED, RUNNING, STARTING
from mnist_models.store.runs import RunNotFoundError, RunStore

log = logging.getLogger(__name__)

MAX_WAITING_PER_OWNER = 1  # one job waiting or running per learner keeps a class's queue fair
MAX_SERIES = 2  # ... or one series of jobs queued together (the overfitting lesson: without, then with dropout)
POLL_SECONDS = 0.2


class NotYourJobError(PermissionError):
    """Only a job's owner, or a teacher, may stop or cancel it."""


class QueueFullError(RuntimeError):
    """The learner already has a job waiting or running."""


@dataclass(frozen=True)
class Job:
    """A job the queue knows: waiting (with its place in the queue) or running."""

    run_id: str
    name: str
    status: str
    owner: str | None  # the owner key of the learner who submitted it (dashboard.identity makes it)
    position: int | None  # 1 for the next to start; None once running
    created: float

    def owned_by(self, owner: str | None) -> bool:
        return owner is not None and self.owner == owner


@dataclass(frozen=True)
class JobSpec:
    """One job to queue: what to train, and how to list it."""

    model: ModelConfig
    train: TrainConfig
    preset: str | None = None
    name: str | None = None
    files: dict[str, bytes] | None = None  # put into the run's folder before it can start (RunStore.create)


_live: set[JobQueue] = set()  # every queue not shut down yet (their scheduler threads keep them alive)
_live_lock = threading.Lock()


def shared_queue(store: RunStore, **options) -> JobQueue:
    """This process's one queue for the store's folder, made on first use with `options`.

    Two schedulers over one runs folder would start each waiting job twice; the dashboard's cache of shared
    objects can be cleared (Streamlit's "Clear cache"), so it asks here rather than making a queue itself.
    """
    folder = store.root.resolve()
    with _live_lock:
        for queue in _live:
            if queue.store.root.resolve() == folder:
                return queue
    return JobQueue(store, **options)


def shutdown_all(**options) -> None:
    """Shut down every queue of this process (tests, and scripts that made queues)."""
    with _live_lock:
        queues = list(_live)
    for queue in queues:
        queue.shutdown(**options)


class JobQueue:
    """Submit, watch, stop and cancel training jobs; at most `max_running` run at once.

    A scheduler thread starts waiting jobs as slots free up and notices workers that ended without saving
    their result (killed, out of memory), marking their runs failed so that the queue moves on.
    """

    def __init__(self, store: RunStore | None = None, *, executor: Executor | None = None,
                 max_running: int | None = None, threads: int | None = None, poll_seconds: float = POLL_SECONDS):
        self.store = store if store is not None else RunStore()
        self.executor = executor if executor is not None else LocalExecutor()
        self.max_running = max_running if max_running is not None else max_jobs_setting()
        if self.max_running < 1:
            raise ValueError(f"At least one job must be able to run, not {self.max_running}.")
        self.threads = threads if threads is not None else threads_per_job(self.max_running)
        self.poll_seconds = poll_seconds
        self._lock = threading.Condition()
        self._waiting: list[str] = []
        self._running: dict[str, WorkerHandle] = {}
        self._info: dict[str, Job] = {}
        self._closed = False
        self._adopt()
        self._thread = threading.Thread(target=self._loop, name="job-queue", daemon=True)
        self._thread.start()
        with _live_lock:
            _live.add(self)

    def submit(self, model: ModelConfig, train: TrainConfig, *, owner: str | None = None, preset: str | None = None,
               name: str | None = None, files: dict[str, bytes] | None = None) -> str:
        """Queue a job and return its run id; it starts as soon as a slot is free. Bad configs raise ConfigError.
        `files` go into the run's folder before the job can start (see RunStore.create)."""
        return self.submit_series([JobSpec(model, train, preset, name, files)], owner=owner)[0]

    def submit_series(self, specs: list[JobSpec], *, owner: str | None = None) -> list[str]:
        """Queue several jobs one after the other (a lesson comparing two runs) and return their run ids.

        A learner may have one job at a time, or one series of at most MAX_SERIES when nothing else of theirs is
        waiting or running. Every config is checked before any is queued, so a bad one queues nothing.
        """
        if not 1 <= len(specs) <= MAX_SERIES:
            raise ValueError(f"Queue between 1 and {MAX_SERIES} jobs at once, not {len(specs)}.")
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
            if key is not None:
                self._reap_locked()
                # A worker writes its final status a moment before its process ends: such a job is over.
                mine = [job for job in self._info.values() if job.owner == key and not self._ended(job.run_id)]
                if len(mine) >= MAX_WAITING_PER_OWNER:
                    raise QueueFullError(f"You already have a training {mine[0].status} ({mine[0].name}). Stop it, "
                                         "or wait for it to finish, before starting another.")
            for spec in specs:
                run_id = self.store.create(spec.model, spec.train, preset=spec.preset, name=spec.name,
                                           params=count_params(spec.model), status=QUEUED, owner=key,
                                           executor=self.executor.name, files=spec.files)
                info = self.store.get(run_id)
                self._waiting.append(run_id)
                self._info[run_id] = Job(run_id, info.name, QUEUED, key, len(self._waiting), info.created)
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
        key = owner
        return [job for job in self.jobs() if key is not None and job.owner == key and not self._ended(job.run_id)]

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
            return job.owner == key
        try:
            return self.store.get(run_id).owner == key
        except RunNotFoundError:
            return False


    def stop(self, run_id: str, owner: str | None = None, *, teacher: bool = False) -> str:
        """Stop a running job after its current batch, or cancel a waiting one. Returns "stopping" or
        "cancelled". Raises NotYourJobError for anybody but the owner or a teacher."""
        if not self.can_control(run_id, owner, teacher):
            raise NotYourJobError("Only the learner who started this training, or a teacher, can stop it.")
        with self._lock:
            if run_id in self._waiting:
                self._cancel_locked(run_id)
                return "cancelled"
        # Running here, or a run this queue does not hold (a command-line run): the stop file reaches its worker.
        self.store.request_stop(run_id)
        return "stopping"

    def cancel(self, run_id: str, owner: str | None = None, *, teacher: bool = False) -> None:
        """Take a waiting job out of the queue (its run folder goes too: nothing was trained)."""
        if not self.can_control(run_id, owner, teacher):
            raise NotYourJobError("Only the learner who queued this training, or a teacher, can cancel it.")
        with self._lock:
            if run_id not in self._waiting:
                raise ValueError("This training is no longer waiting: it has started (use Stop) or ended.")
            self._cancel_locked(run_id)

    def _cancel_locked(self, run_id: str) -> None:
        self._waiting.remove(run_id)
        self._info.pop(run_id, None)
        with contextlib.suppress(RunNotFoundError):
            self.store.discard(run_id)
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
        with _live_lock:
            _live.discard(self)
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


    def _loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                try:
                    self._reap_locked()
                    self._launch_locked()
                except Exception:  # the scheduler must outlive any single job's trouble
                    log.exception("Job queue scheduler error")
                # A ready worker for the next job: when a slot is free, and when jobs wait (it gets ready while
                # the current job trains, so the next one does not start cold).
                want_ready = len(self._running) < self.max_running or bool(self._waiting)
                self._lock.wait(self.poll_seconds)
            if want_ready:
                # Outside the lock: starting a ready worker takes a moment, and nobody should wait on it.
                with contextlib.suppress(Exception):
                    self.executor.prepare()

    def _reap_locked(self) -> None:
        for run_id, handle in list(self._running.items()):
            code = handle.poll()
            if code is None:
                continue
            del self._running[run_id]
            self._info.pop(run_id, None)
            self._lock.notify_all()
            # A worker that ended without writing its final status was killed or crashed.
            self.store.fail_unless_finished(run_id, handle.exit_reason(code))

    def _launch_locked(self) -> None:
        while self._waiting and len(self._running) < self.max_running:
            run_id = self._waiting.pop(0)
            job = self._info.get(run_id)
            try:
                self.store.update(run_id, status=STARTING, durable=False)
                handle = self.executor.start(self.store, run_id, self.threads)
            except RunNotFoundError:
                self._info.pop(run_id, None)
                continue
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
                self._info[run_id] = Job(run_id, job.name, RUNNING, job.owner, None, job.created)
            self._lock.notify_all()

    def _ended(self, run_id: str) -> bool:
        try:
            return self.store.get(run_id).status in FINAL_STATUSES
        except RunNotFoundError:
            return True

    def _with_position(self, run_id: str) -> Job:
        job = self._info[run_id]
        return Job(job.run_id, job.name, QUEUED, job.owner, self._waiting.index(run_id) + 1, job.created)

    def _adopt(self) -> None:
        """Take over what an earlier server left: its queue, and its local workers still training."""
        for info in sorted(self.store.list(), key=lambda info: info.created):
            if info.status == QUEUED:
                self._waiting.append(info.run_id)
                self._info[info.run_id] = Job(info.run_id, info.name, QUEUED, info.owner, None, info.created)
            elif info.status in ACTIVE_STATUSES:
                meta_pid = self.store.worker_pid(info.run_id)
                if info.executor == "local" and meta_pid is not None:
                    self._running[info.run_id] = AdoptedWorker(meta_pid)
                    self._info[info.run_id] = Job(info.run_id, info.name, info.status, info.owner, None,
                                                  info.created)
                elif info.executor != "local":
                    # A Ray task ends with the driver that started it: that server is gone, so is the task.
                    self.store.update(info.run_id, status=INTERRUPTED, finished=time.time(),
                                      error="The server restarted while this run trained on the Ray cluster.")

