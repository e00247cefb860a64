"""RayExecutor: each job a Ray task, for a class that needs more than one machine. Imported only when asked for.

A Ray worker may not share the server's disk, so the task trains into a run folder of its own (the same
worker code as on the server) and a small mailbox actor carries that folder's changed files to the server,
where a relay thread writes them into the real run folder; the Stop button's request travels back the same
way. The server's run store therefore fills exactly as it does for a local worker.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from mnist_models.jobs.ray_connect import connect
from mnist_models.store.runs import RunNotFoundError, RunStore

PACKAGE = Path(__file__).resolve().parents[1]  # the whole mnist_models package travels to the cluster
RELAY_SECONDS = 0.5
RUNTIME_ENV = {"py_modules": [str(PACKAGE)], "excludes": ["__pycache__", "*.pyc"],
               "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}}
CPUS_ENV = "MNIST_RAY_CPUS_PER_JOB"
GPUS_ENV = "MNIST_RAY_GPUS_PER_JOB"
class _Mailbox:
    """The Ray actor between a task and the server: the newest bytes of each changed file, and the stop flag."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.stop = False

    def put(self, name: str, data: bytes) -> None:
        self.files[name] = data

    def take(self) -> dict[str, bytes]:
        files, self.files = self.files, {}
        return files

    def request_stop(self) -> None:
        self.stop = True

    def stop_requested(self) -> bool:
        return self.stop


def _send_changes(store: RunStore, run_id: str, seen: dict[str, int], send) -> None:
    for name, path in store.published_files(run_id):
        with contextlib.suppress(FileNotFoundError):
            mtime = path.stat().st_mtime_ns
            if seen.get(name) != mtime:
                data = path.read_bytes()
                seen[name] = mtime
                send(name, data)


def _remote_train(files: dict[str, bytes], run_id: str, threads: int, mailbox) -> dict[str, bytes]:
    """The Ray task: rebuild the run folder here, train it with the worker's code, mirror it to the mailbox."""
    import tempfile

    import ray

    from mnist_models.worker.tasks import run_task
    from mnist_models.worker.training import set_thread_count

    set_thread_count(threads)
    with tempfile.TemporaryDirectory(prefix="mnist-ray-") as root:
        store = RunStore(root)
        store.receive(run_id, files)
        done = threading.Event()
        seen: dict[str, int] = {}

        def mirror() -> None:
            while not done.wait(RELAY_SECONDS):
                _send_changes(store, run_id, seen, lambda name, data: mailbox.put.remote(name, data))
                if not store.stop_requested(run_id) and ray.get(mailbox.stop_requested.remote()):
                    store.request_stop(run_id)

        thread = threading.Thread(target=mirror, daemon=True)
        thread.start()
        run_task(store, run_id)  # a training, or a learning-rate range test
        done.set()
        thread.join()
        return {name: path.read_bytes() for name, path in store.published_files(run_id)}


class RayWorker:
    """The server's view of one Ray task: a relay thread copies its files in and its stop request out."""

    def __init__(self, ray, ref, mailbox, store: RunStore, run_id: str):
        self.pid = None
        self.host = "ray"
        self._ray, self.ref, self.mailbox = ray, ref, mailbox  # the task, and the actor that carries its files
        self._store, self._run_id = store, run_id
        self._error: str | None = None
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._relay, name=f"ray-relay-{run_id}", daemon=True)
        self._thread.start()

    def poll(self) -> int | None:
        if not self._finished.is_set():
            return None
        return 1 if self._error else 0

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self._ray.cancel(self.ref, force=True)

    def exit_reason(self, code: int) -> str:
        return f"The Ray task ended without saving its result: {self._error or 'no reason given'}"

    def _relay(self) -> None:
        ray = self._ray
        stop_sent = False
        try:
            while True:
                ready, _ = ray.wait([self.ref], timeout=RELAY_SECONDS)
                if ready:
                    self._apply(ray.get(self.mailbox.take.remote()))
                    self._apply(ray.get(self.ref))  # the final files, whatever the mailbox last held
                    return
                self._apply(ray.get(self.mailbox.take.remote(), timeout=30))
                if not stop_sent and self._store.stop_requested(self._run_id):
                    self.mailbox.request_stop.remote()
                    stop_sent = True
        except RunNotFoundError:
            return
        except Exception as error:
            text = str(error).strip().splitlines()
            self._error = f"{type(error).__name__}: {text[0] if text else ''}"[:300]
            # The run is marked failed: a task left training on the cluster would hold its CPUs for nothing.
            self.kill()
        finally:
            with contextlib.suppress(Exception):
                ray.kill(self.mailbox)
            self._finished.set()

    def _apply(self, files: dict[str, bytes]) -> None:
        self._store.apply_published(self._run_id, files)


class RayExecutor:
    """Runs each job as a Ray task with `cpus` CPUs (and `gpus` GPUs) reserved for it."""

    name = "ray"

    def __init__(self, address: str, *, cpus: int | None = None, gpus: float | None = None):
        self.address = address
        self._ray = connect(address, RUNTIME_ENV)
        ray = self._ray
        resources = ray.cluster_resources()
        self.cpus = cpus if cpus is not None else _env_number(CPUS_ENV, 2, int)
        self.gpus = gpus if gpus is not None else _env_number(GPUS_ENV, 1 if resources.get("GPU", 0) else 0, float)
        if self.cpus < 1 or self.gpus < 0:
            raise ValueError(f"A Ray job needs at least 1 CPU and no negative GPUs (got {self.cpus}, {self.gpus}).")
        self.cluster_cpus = int(resources.get("CPU", 0))
        self.cluster_gpus = float(resources.get("GPU", 0))
        self._mailbox_class = ray.remote(num_cpus=0)(_Mailbox)
        # max_calls=1: a fresh worker process per job, so each gets its thread count and gives its memory back.
        self._task = ray.remote(max_calls=1)(_remote_train)

    def max_running(self) -> int:
        """How many jobs the cluster holds at once: its CPUs, and its GPUs when each job asks for some (a job
        waiting inside Ray for a GPU would look stale to the queue)."""
        by_cpu = self.cluster_cpus // self.cpus
        by_gpu = int(self.cluster_gpus // self.gpus) if self.gpus > 0 else by_cpu
        return max(1, min(by_cpu, by_gpu))

    def prepare(self) -> None:
        pass

    def start(self, store: RunStore, run_id: str, threads: int) -> RayWorker:
        files = store.job_inputs(run_id)
        mailbox = self._mailbox_class.remote()
        ref = self._task.options(num_cpus=self.cpus, num_gpus=self.gpus).remote(
            files, run_id, self.cpus, mailbox)
        return RayWorker(self._ray, ref, mailbox, store, run_id)

    def close(self) -> None:
        pass


def _env_number(name: str, default, kind):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number.") from None

