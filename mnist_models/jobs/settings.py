"""The server's training settings from the environment, and the one function that makes the executor they ask for.

Both the dashboard and the command line call `make_executor`, so MNIST_RAY_ADDRESS, MNIST_MAX_JOBS and the
threads each worker gets mean the same everywhere.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

from mnist_models.jobs.local import Executor, LocalExecutor

MAX_JOBS_ENV = "MNIST_MAX_JOBS"
RAY_ENV = "MNIST_RAY_ADDRESS"
MAX_WAITING_ENV = "MNIST_MAX_WAITING"
DEFAULT_MAX_WAITING = 60  # twice a class of thirty: every learner's job, and a lesson series each
SMALL_MACHINE_CORES = 4


def gpu_count() -> int:
    """NVIDIA GPUs this machine's driver lists, without importing TensorFlow (honours CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([device for device in visible.split(",") if device.strip() and device.strip() != "-1"])
    with contextlib.suppress(OSError):
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    return 0


def default_max_jobs(cores: int | None = None, gpus: int | None = None) -> int:
    """One job per GPU; on CPUs, one job per two cores (a job on fewer threads gains little from running)."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    gpus = gpus if gpus is not None else gpu_count()
    return gpus if gpus > 0 else max(1, cores // 2)


def whole_number_setting(name: str, default: int, low: int, high: int, what: str) -> int:
    """The environment variable `name` as a whole number from `low` to `high`, or `default` when unset; a bad
    value raises ValueError saying what to set."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    value = int(text) if text.isdigit() else low - 1
    if not low <= value <= high:
        raise ValueError(f"{name}={text!r} is not a number of {what} from {low} to {high:,}; unset it for the "
                         f"default ({default:,} on this machine).")
    return value


def max_jobs_setting() -> int:
    """MNIST_MAX_JOBS (trainings at once), or the default for this machine."""
    return whole_number_setting(MAX_JOBS_ENV, default_max_jobs(), 1, 256, "jobs")


def max_waiting_setting() -> int:
    """MNIST_MAX_WAITING (trainings waiting, all learners together), or the default."""
    return whole_number_setting(MAX_WAITING_ENV, DEFAULT_MAX_WAITING, 1, 100_000, "waiting trainings")


def threads_per_job(max_running: int, cores: int | None = None) -> int:
    """Each running job's share of the CPU threads, so that jobs running together do not fight over cores.

    On a small machine (four cores or fewer) one core is left to the web server and the pages it draws:
    measured on 2 cores, TensorFlow's two threads lost a quarter of their speed to a single watching browser
    tab (one thread waits for the other whenever the tab takes a core), while one thread trained the dense
    presets faster than two even on an idle machine and the convnets only 8% slower.
    """
    cores = cores if cores is not None else (os.cpu_count() or 1)
    usable = cores - 1 if 1 < cores <= SMALL_MACHINE_CORES else cores
    return max(1, usable // max(1, max_running))


@dataclass(frozen=True)
class ExecutorChoice:
    """An executor with how many jobs it runs at once and how many threads each gets."""

    executor: Executor
    max_running: int
    threads: int


    def start(self, store, run_id: str, what: str = "training"):
        """Start `run_id`'s worker (the command line's one job, outside a queue) and note its process in the run;
        if it cannot start, the run is marked failed (`The <what> could not be started: ...`), the executor
        closed, and the error raised."""
        try:
            handle = self.executor.start(store, run_id, self.threads)
            if handle.pid is not None:
                store.update(run_id, pid=handle.pid, host=handle.host, durable=False)
        except Exception as error:
            store.fail_unless_finished(run_id, f"The {what} could not be started: {error}")
            self.executor.close()
            raise
        return handle


def make_executor(ray_address: str | None = None) -> ExecutorChoice:
    """The executor the settings ask for: Ray at `ray_address` (or MNIST_RAY_ADDRESS) if given, else local
    worker processes. MNIST_MAX_JOBS overrides how many run at once. A bad setting or an unreachable cluster
    raises ValueError or ExecutorUnavailable with a message saying what to do."""
    address = (ray_address if ray_address is not None else os.environ.get(RAY_ENV, "")).strip()
    if address:
        from mnist_models.jobs.ray_executor import RayExecutor

        executor = RayExecutor(address)
        limit = max_jobs_setting() if os.environ.get(MAX_JOBS_ENV, "").strip() else executor.max_running()
        return ExecutorChoice(executor, limit, executor.cpus)
    limit = max_jobs_setting()
    threads = threads_per_job(limit)
    return ExecutorChoice(LocalExecutor(threads=threads), limit, threads)
