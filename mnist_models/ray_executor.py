"""RayExecutor: each job a Ray task, for a class that needs more than one machine. Imported only when asked for.

A Ray worker may not share the server's disk, so the task trains into a run folder of its own (the same
worker code as on the server) and a small mailbox actor carries that folder's changed files to the server,
where a relay thread writes them into the real run folder; the Stop button's request travels back the same
way. The server's run store therefore fills exactly as it does for a local worker.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from mnist_models.runs import RunNotFoundError, RunStore, write_atomic

PACKAGE = Path(__file__).resolve().parent
SYNCED_FILES = ("meta.json", "history.json", "model.keras", "insight.json")
TENSORBOARD_DIR = "tensorboard"  # its event files travel too (as "tensorboard/<file name>")
RELAY_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 3.0
RUNTIME_ENV = {"py_modules": [str(PACKAGE)], "excludes": ["__pycache__", "*.pyc"],
               "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}}
CPUS_ENV = "MNIST_RAY_CPUS_PER_JOB"
GPUS_ENV = "MNIST_RAY_GPUS_PER_JOB"
ADDRESS_HELP = ("Use 'local' (start Ray on this machine), 'auto' (join the cluster this machine belongs to), "
                "'host:port' or 'ray://host:port'.")


class ExecutorUnavailable(RuntimeError):
    """The Ray cluster cannot be reached or started; the message says what to do."""


def check_address(address: str) -> tuple[str, int] | None:
    """Validate a Ray address; for 'host:port' forms, return (host, port) to probe. Raises ValueError."""
    address = (address or "").strip()
    if address in ("local", "auto"):
        return None
    parsed = urlparse(address if "://" in address else f"tcp://{address}")
    if parsed.scheme not in ("tcp", "ray") or not parsed.hostname or parsed.path not in ("", "/"):
        raise ValueError(f"{address!r} is not a Ray address. {ADDRESS_HELP}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if port is None:
        raise ValueError(f"{address!r} has no valid port. {ADDRESS_HELP}")
    return parsed.hostname, port


def probe(host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """Raise ExecutorUnavailable within `timeout` seconds unless something accepts connections there.
    (ray.init towards nothing can block for minutes.)"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as error:
        raise ExecutorUnavailable(
            f"No Ray cluster answers at {host}:{port} ({error.strerror or error}). Start one there with "
            f"`ray start --head --port={port}`, or unset MNIST_RAY_ADDRESS to train on this machine."
        ) from error


def _connect(address: str):
    target = check_address(address)
    if target is not None:
        probe(*target)
    import ray

    if ray.is_initialized():
        return ray
    # The project travels with the job (Ray uploads the package, bundled MNIST included), so cluster nodes need
    # only the requirements installed, not a copy of this repository.
    options = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True,
               "runtime_env": RUNTIME_ENV}
    try:
        if address == "local":
            ray.init(num_cpus=os.cpu_count() or 1, **options)
        else:
            ray.init(address=address, **options)
    except Exception as error:
        raise ExecutorUnavailable(f"Ray could not {'start' if address == 'local' else 'join ' + address}: "
                                  f"{str(error).strip().splitlines()[0] if str(error).strip() else error}") from error
    return ray


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


def _synced_names(folder: Path) -> list[str]:
    events = folder / TENSORBOARD_DIR
    extra = sorted(f"{TENSORBOARD_DIR}/{path.name}" for path in events.iterdir()) if events.is_dir() else []
    return [*SYNCED_FILES, *extra]


def _send_changes(folder: Path, seen: dict[str, int], send) -> None:
    for name in _synced_names(folder):
        path = folder / name
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

    from mnist_models.runs import STOP_FILE
    from mnist_models.training import set_thread_count, train_run

    set_thread_count(threads)
    with tempfile.TemporaryDirectory(prefix="mnist-ray-") as root:
        folder = Path(root) / run_id
        folder.mkdir()
        for name, data in files.items():
            (folder / name).write_bytes(data)
        done = threading.Event()
        seen: dict[str, int] = {}

        def mirror() -> None:
            while not done.wait(RELAY_SECONDS):
                _send_changes(folder, seen, lambda name, data: mailbox.put.remote(name, data))
                if not (folder / STOP_FILE).exists() and ray.get(mailbox.stop_requested.remote()):
                    (folder / STOP_FILE).write_text("requested through Ray\n")

        thread = threading.Thread(target=mirror, daemon=True)
        thread.start()
        train_run(RunStore(root), run_id)
        done.set()
        thread.join()
        return {name: (folder / name).read_bytes() for name in _synced_names(folder) if (folder / name).is_file()}


class RayWorker:
    """The server's view of one Ray task: a relay thread copies its files in and its stop request out."""

    def __init__(self, ray, ref, mailbox, store: RunStore, run_id: str):
        self.pid = None
        self.host = "ray"
        self._ray, self._ref, self._mailbox = ray, ref, mailbox
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
            self._ray.cancel(self._ref, force=True)

    def exit_reason(self, code: int) -> str:
        return f"The Ray task ended without saving its result: {self._error or 'no reason given'}"

    def _relay(self) -> None:
        ray = self._ray
        stop_sent = False
        try:
            while True:
                ready, _ = ray.wait([self._ref], timeout=RELAY_SECONDS)
                if ready:
                    self._apply(ray.get(self._mailbox.take.remote()))
                    self._apply(ray.get(self._ref))  # the final files, whatever the mailbox last held
                    return
                self._apply(ray.get(self._mailbox.take.remote(), timeout=30))
                if not stop_sent and self._store.stop_requested(self._run_id):
                    self._mailbox.request_stop.remote()
                    stop_sent = True
        except RunNotFoundError:
            return
        except Exception as error:
            text = str(error).strip().splitlines()
            self._error = f"{type(error).__name__}: {text[0] if text else ''}"[:300]
        finally:
            with contextlib.suppress(Exception):
                ray.kill(self._mailbox)
            self._finished.set()

    def _apply(self, files: dict[str, bytes]) -> None:
        import json

        folder = self._store.folder(self._run_id)
        for name, data in files.items():
            if name in ("model.keras", "history.json", "insight.json"):
                write_atomic(folder / name, data, durable=False)
            elif name.startswith(f"{TENSORBOARD_DIR}/") and "/" not in name[len(TENSORBOARD_DIR) + 1:] \
                    and not name.endswith((".", "/")):
                (folder / TENSORBOARD_DIR).mkdir(exist_ok=True)
                write_atomic(folder / name, data, durable=False)
        if "meta.json" in files:
            meta = json.loads(files["meta.json"])
            # The server's own fields (the name a learner may have changed meanwhile, the owner) stay as they are.
            for key in ("name", "owner", "run_id", "created", "executor", "heartbeat"):
                meta.pop(key, None)
            self._store.update(self._run_id, durable=meta.get("finished") is not None, **meta)


class RayExecutor:
    """Runs each job as a Ray task with `cpus` CPUs (and `gpus` GPUs) reserved for it."""

    name = "ray"

    def __init__(self, address: str, *, cpus: int | None = None, gpus: float | None = None):
        self.address = address
        self._ray = _connect(address)
        ray = self._ray
        resources = ray.cluster_resources()
        self.cpus = cpus if cpus is not None else _env_number(CPUS_ENV, 2, int)
        self.gpus = gpus if gpus is not None else _env_number(GPUS_ENV, 1 if resources.get("GPU", 0) else 0, float)
        if self.cpus < 1 or self.gpus < 0:
            raise ValueError(f"A Ray job needs at least 1 CPU and no negative GPUs (got {self.cpus}, {self.gpus}).")
        self.cluster_cpus = int(resources.get("CPU", 0))
        self._mailbox_class = ray.remote(num_cpus=0)(_Mailbox)
        # max_calls=1: a fresh worker process per job, so each gets its thread count and gives its memory back.
        self._task = ray.remote(max_calls=1)(_remote_train)

    def max_running(self) -> int:
        """How many jobs the cluster's CPUs hold at once."""
        return max(1, self.cluster_cpus // self.cpus)

    def prepare(self) -> None:
        pass

    def start(self, store: RunStore, run_id: str, threads: int) -> RayWorker:
        folder = store.folder(run_id)
        files = {name: (folder / name).read_bytes() for name in ("config.json", "meta.json", "history.json")}
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


def wait_for(handle, timeout: float) -> int | None:
    """Poll a worker handle until it ends (or `timeout` passes); returns its exit code or None."""
    deadline = time.monotonic() + timeout
    while (code := handle.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return code
