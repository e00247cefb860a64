"""What the job-queue tests share: waiting for something a worker process does."""

from __future__ import annotations

import time

WAIT = 240  # seconds; a cold worker imports TensorFlow first, and CI's two cores are busy


def wait_for(condition, what: str = "the condition", timeout: float = WAIT):
    """Poll `condition` until it returns something true, and return that; AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return value
