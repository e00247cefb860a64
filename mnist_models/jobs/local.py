"""Executors start a worker for a queued run: local worker processes by default, Ray tasks when asked for.

An executor's `start` returns a handle the job queue polls; the run itself speaks only through its folder
(progress, the stop file, the final status), so the queue treats every executor alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from mnist_models.store.files import HOST, pid_alive
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[2]
MAX_BACKOFF_SECONDS = 300.0  # the longest pause between ready workers that keep dying


class WorkerHandle(Protocol):
    """A started worker, as the job queue sees it."""

    pid: int | None
    host: str

    def poll(self) -> int | None:
        """None while the worker runs, else its exit code (negative: the signal that killed it)."""

    def kill(self) -> None:
        """End the worker at once (the run keeps what it last published)."""

    def exit_reason(self, code: int) -> str:
        """Words for a learner on why a worker that did not save its result ended."""


class Executor(Protocol):
    name: str

    def start(self, store: RunStore, run_id: str, threads: int) -> WorkerHandle: ...

    def prepare(self) -> None:
        """Get ready for the next start (a local executor warms up a worker process)."""

    def close(self) -> None: ...


class LocalWorker:
    """A worker process on this machine."""

    def __init__(self, process: subprocess.Popen, early_log):
        self.process = process
        self.pid = process.pid
        self.host = HOST
        self._early_log = early_log  # stderr from before the worker had a run folder to write into
        self.log_path: Path | None = None

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def exit_reason(self, code: int) -> str:
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (the machine may have run out of memory)" if -code == signal.SIGKILL else ""
            return f"The training process was killed by {name}{hint}. Train again, perhaps with a smaller network."
        last = self._last_log_line()
        detail = f": {last}" if last else ""
        return f"The training process ended with exit code {code} before saving its result{detail}."

    def _last_log_line(self) -> str:
        # The early log (TensorFlow's start-up noise) comes first: the run's own log holds the last words.
        texts = []
        with contextlib.suppress(OSError, ValueError):
            self._early_log.seek(0)
            texts.append(self._early_log.read().decode(errors="replace"))
        if self.log_path is not None and self.log_path.is_file():
            texts.append(self.log_path.read_text(errors="replace"))
        lines = [line.strip() for text in texts for line in text.splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


def worker_environment(threads: int | None = None) -> dict[str, str]:
    """The environment of a worker process: this one's, quieter TensorFlow, and the project importable."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    if threads:
        # Read by numpy's BLAS and oneDNN when they start; TensorFlow's own pools are set by the worker.
        env["OMP_NUM_THREADS"] = str(threads)
    return env


class LocalExecutor:
    """Starts each job in a fresh worker process, keeping one process ready (TensorFlow imported) ahead of time.

    Workers start in their own session, so a Ctrl-C meant for the server, or the server's crash, does not end
    a training: the worker finishes and saves its run, and a restarted server finds it.
    """

    name = "local"
    command = (sys.executable, "-m", "mnist_models.worker")

    def __init__(self, warm: bool = True, threads: int | None = None, warm_after: threading.Event | None = None):
        self.warm = warm
        self.threads = threads  # CPU threads each worker's BLAS and TensorFlow may use (None: the library's choice)
        # No ready worker before this is set (the dashboard sets it once its first page is drawn): importing
        # TensorFlow takes a core for seconds. A job still starts meanwhile, in a worker of its own.
        self.warm_after = warm_after
        self._lock = threading.Lock()
        self._spare: LocalWorker | None = None
        self._failures = 0  # ready workers in a row that died before they were given a job
        self._next_spawn = 0.0  # monotonic time before which no ready worker is started (backing off)
        self._idle = False  # the last ready worker gave its memory back unused: wait for work before another

    def _spawn(self) -> LocalWorker:
        # Kept open by the handle for as long as the worker lives (its stderr until it has a run folder).
        early_log = tempfile.TemporaryFile()  # noqa: SIM115
        process = subprocess.Popen(
            list(self.command), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=early_log, cwd=ROOT, env=worker_environment(self.threads), start_new_session=True,
        )
        return LocalWorker(process, early_log)

    @property
    def ready(self) -> LocalWorker | None:
        """The worker kept ready for the next job, if one is."""
        return self._spare

    @property
    def failures(self) -> int:
        """Ready workers in a row that died before they were given a job."""
        return self._failures

    def prepare(self) -> None:
        """Keep one worker ready. One that died getting ready (a broken install, no memory) is replaced after a
        growing pause, not at once; one that ended because nobody needed it is replaced only once a job starts.
        Nothing happens before `warm_after` is set."""
        if not self.warm or (self.warm_after is not None and not self.warm_after.is_set()):
            return
        with self._lock:
            if self._spare is not None:
                code = self._spare.poll()
                if code is None:
                    return
                self._spare = None
                if code == 0:
                    self._idle = True
                else:
                    self._failures += 1
                    self._next_spawn = time.monotonic() + min(MAX_BACKOFF_SECONDS, 2.0 ** self._failures)
            if self._idle or time.monotonic() < self._next_spawn:
                return
            self._spare = self._spawn()

    def start(self, store: RunStore, run_id: str, threads: int) -> LocalWorker:
        with self._lock:
            worker, self._spare = self._spare, None
            self._idle = False
            if worker is not None and worker.poll() is None:
                self._failures = 0
        if worker is None or worker.poll() is not None:
            worker = self._spawn()
        job = {"root": str(store.root.resolve()), "run_id": run_id, "threads": threads}
        try:
            worker.process.stdin.write((json.dumps(job) + "\n").encode())
            worker.process.stdin.close()
        except (BrokenPipeError, OSError):
            # The ready worker died in the meantime: one fresh try.
            worker = self._spawn()
            worker.process.stdin.write((json.dumps(job) + "\n").encode())
            worker.process.stdin.close()
        worker.log_path = store.worker_log_path(run_id)
        return worker

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            with contextlib.suppress(OSError):
                spare.process.stdin.close()  # an empty stdin ends a ready worker quietly
            with contextlib.suppress(subprocess.TimeoutExpired):
                spare.process.wait(10)
            if spare.poll() is None:
                spare.kill()


class AdoptedWorker:
    """A local worker started by an earlier server process: only its pid is known."""

    def __init__(self, pid: int):
        self.pid = pid
        self.host = HOST

    def poll(self) -> int | None:
        with contextlib.suppress(ChildProcessError):
            # Our own child after all (a queue re-created in the same process): collect it once it ends.
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        return None if pid_alive(self.pid) else 0

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGKILL)

    def exit_reason(self, code: int) -> str:
        return "The training process ended without saving its result."
