"""Tests of the local executor's ready worker: its thread count, its back-off after failures, its idle exit."""

from __future__ import annotations

import pathlib
import sys
import threading
import time

import pytest

from mnist_models.jobs.local import LocalExecutor


def _wait_ended(executor: LocalExecutor, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while (code := executor.ready.poll()) is None:
        assert time.monotonic() < deadline, "the ready worker did not end"
        time.sleep(0.05)
    return code


@pytest.mark.slow
def test_the_worker_s_thread_count_reaches_its_blas():
    executor = LocalExecutor(threads=1)
    executor.prepare()
    try:
        raw = pathlib.Path(f"/proc/{executor.ready.pid}/environ").read_bytes().decode()
        environ = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
        assert environ["OMP_NUM_THREADS"] == "1"
    finally:
        executor.close()


class Dying(LocalExecutor):
    """Ready workers that die while getting ready (a broken install, say)."""

    command = (sys.executable, "-c", "import sys; sys.exit(3)")


class Idle(LocalExecutor):
    """Ready workers that end as an unused one does after its idle time."""

    command = (sys.executable, "-c", "pass")


def test_ready_workers_that_keep_dying_are_replaced_after_a_growing_pause():
    executor = Dying()
    executor.prepare()
    first = executor.ready
    assert _wait_ended(executor) == 3
    executor.prepare()  # notices the death: no new worker during the pause
    assert executor.ready is None and executor.failures == 1
    executor.prepare()
    assert executor.ready is None, "no respawn before the pause is over"
    time.sleep(2.1)
    executor.prepare()
    assert executor.ready is not None and executor.ready is not first
    assert _wait_ended(executor) == 3
    executor.prepare()
    assert executor.failures == 2
    time.sleep(2.1)
    executor.prepare()
    assert executor.ready is None, "the second pause is longer than the first"
    executor.close()


def test_an_idle_ready_worker_is_not_replaced_until_there_is_work():
    executor = Idle()
    executor.prepare()
    assert _wait_ended(executor) == 0
    for _ in range(3):
        executor.prepare()
        assert executor.ready is None, "its memory stays free while nobody trains"
    assert executor.failures == 0
    executor.close()


class Waiting(LocalExecutor):
    """Ready workers that wait for a job that never comes (they would import TensorFlow)."""

    command = (sys.executable, "-c", "import sys; sys.stdin.read()")


def test_no_ready_worker_before_warm_after_is_set():
    gate = threading.Event()
    executor = Waiting(warm_after=gate)
    try:
        for _ in range(3):
            executor.prepare()
            assert executor.ready is None, "held back until the event is set (the dashboard's first page)"
        gate.set()
        executor.prepare()
        assert executor.ready is not None and executor.ready.poll() is None
    finally:
        executor.close()
