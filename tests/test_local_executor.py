"""Tests for mnist_models.jobs.local: worker processes on this machine, their environment, and why they ended."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mnist_models.jobs.local import AdoptedWorker, LocalExecutor, LocalWorker, worker_environment
from mnist_models.store.files import HOST, pid_alive

ROOT = Path(__file__).resolve().parents[1]


def _until(condition, seconds: float = 20.0):
    """Poll `condition` until it returns something other than None (or the time is up); returns that."""
    deadline = time.monotonic() + seconds
    while (value := condition()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return value


def _worker(code: str) -> LocalWorker:
    """A LocalWorker around a Python process running `code`, its stderr in an early log as the executor does."""
    early_log = tempfile.TemporaryFile()  # noqa: SIM115  (the handle keeps it, as LocalExecutor._spawn does)
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=early_log)
    return LocalWorker(process, early_log)


def test_the_worker_environment_makes_the_project_importable(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    env = worker_environment()
    assert env["PYTHONPATH"] == os.pathsep.join([str(ROOT), "/somewhere/else"])
    assert env["PYTHONUNBUFFERED"] == "1"
    monkeypatch.delenv("PYTHONPATH")
    assert worker_environment()["PYTHONPATH"] == str(ROOT)


def test_a_process_started_elsewhere_with_it_imports_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONPATH", raising=False)
    code = "import mnist_models.architecture as a; print(a.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=worker_environment(), capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == str(ROOT / "mnist_models" / "architecture.py")


def test_threads_set_omp_num_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_environment(3)["OMP_NUM_THREADS"] == "3"
    assert "OMP_NUM_THREADS" not in worker_environment()
    assert "OMP_NUM_THREADS" not in worker_environment(0)


def test_tensorflow_is_quietened_unless_asked_otherwise(monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert worker_environment()["TF_CPP_MIN_LOG_LEVEL"] == "2"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert worker_environment()["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_exit_reason_for_a_signal():
    worker = _worker("import time; time.sleep(60)")
    assert worker.poll() is None
    assert (worker.pid, worker.host) == (worker.process.pid, HOST)
    worker.kill()
    code = worker.poll()
    assert code == -signal.SIGKILL
    assert worker.exit_reason(code) == ("The training process was killed by SIGKILL (the machine may have run out of "
                                        "memory). Train again, perhaps with a smaller network.")
    assert worker.exit_reason(-signal.SIGTERM) == ("The training process was killed by SIGTERM. Train again, "
                                                   "perhaps with a smaller network.")
    assert worker.exit_reason(-200) == ("The training process was killed by signal 200. Train again, perhaps with "
                                        "a smaller network.")


def test_exit_reason_for_an_exit_code_quotes_the_last_line_printed():
    worker = _worker("import sys; print('loading', file=sys.stderr); print('  bad thing  ', file=sys.stderr); "
                     "sys.exit(3)")
    assert worker.process.wait(60) == 3
    assert worker.exit_reason(3) == "The training process ended with exit code 3 before saving its result: bad thing."


def test_exit_reason_reads_the_runs_worker_log(tmp_path):
    worker = _worker("import sys; sys.exit(4)")
    worker.process.wait(60)
    assert worker.exit_reason(4) == "The training process ended with exit code 4 before saving its result."
    worker.log_path = tmp_path / "worker.log"
    worker.log_path.write_text("Traceback (most recent call last):\nRuntimeError: " + "x" * 400 + "\n\n")
    assert worker.exit_reason(4) == ("The training process ended with exit code 4 before saving its result: "
                                     "RuntimeError: " + "x" * 286 + ".")


def test_exit_reason_prefers_the_run_s_log_to_the_start_up_noise(tmp_path):
    # TensorFlow prints a line or two while the worker gets ready, before it has a run folder to write into.
    worker = _worker("import sys; print('I0000 cudart_stub.cc:31] Could not find cuda drivers', file=sys.stderr); "
                     "sys.exit(3)")
    worker.process.wait(60)
    worker.log_path = tmp_path / "worker.log"
    worker.log_path.write_text("Traceback (most recent call last):\nRuntimeError: the real reason\n")
    assert worker.exit_reason(3).endswith("before saving its result: RuntimeError: the real reason.")


def test_adopted_worker_polls_a_live_child_then_collects_its_end():
    child = subprocess.Popen(["sleep", "60"])
    adopted = AdoptedWorker(child.pid)
    assert (adopted.pid, adopted.host) == (child.pid, HOST)
    assert adopted.poll() is None
    adopted.kill()
    # Our own child after all: poll collects it and says which signal ended it.
    assert _until(adopted.poll) == -signal.SIGKILL
    assert not pid_alive(child.pid)
    assert adopted.exit_reason(-9) == "The training process ended without saving its result."


def test_adopted_worker_polls_a_process_that_is_not_its_child():
    # `sh` starts `sleep` in the background and exits: the sleep lives on, a child of some other process.
    started = subprocess.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!"], capture_output=True, text=True,
                             timeout=30, check=True)
    adopted = AdoptedWorker(int(started.stdout))
    assert adopted.poll() is None
    adopted.kill()
    # Once it has gone, all an adopter can say is that it ended (0: the code is its parent's to read).
    assert _until(adopted.poll) == 0


def test_adopted_worker_of_a_pid_that_has_gone():
    child = subprocess.Popen(["true"])
    child.wait()
    assert AdoptedWorker(child.pid).poll() == 0


def test_a_cold_executor_prepares_nothing():
    executor = LocalExecutor(warm=False)
    executor.prepare()
    assert executor.ready is None
    executor.close()


def _waiting_for_a_job(pid: int) -> bool | None:
    """True once the process sleeps in select() on its stdin (a ready worker), else None."""
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    waiting = Path(f"/proc/{pid}/wchan").read_text()
    return True if state == "S" and ("poll" in waiting or "select" in waiting) else None


def test_prepare_then_close_ends_the_ready_worker():
    executor = LocalExecutor()
    executor.prepare()
    spare = executor.ready
    try:
        assert spare is not None and spare.poll() is None
        executor.prepare()  # a live ready worker is kept, not doubled
        assert executor.ready is spare
        # Once it has imported TensorFlow and loaded the data, it waits for a job on its stdin.
        assert _until(lambda: _waiting_for_a_job(spare.pid), 120)
        executor.close()
        ended = spare.poll()
    finally:
        spare.kill()  # whatever happens above, leave no worker behind
    assert executor.ready is None
    # An empty stdin ends a ready worker quietly (close() would kill one that took over 10 s).
    assert ended == 0
    assert not pid_alive(spare.pid)
