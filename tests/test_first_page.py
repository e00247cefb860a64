"""The first page a fresh server draws: it imports no TensorFlow, and the job queue's ready worker (which imports
TensorFlow) starts only once that page is drawn, never while it draws. Each case runs in a fresh Python process,
as a freshly started `streamlit run` would; the ready "worker" there is a stand-in that only waits for its job."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"

FIRST_PAGE = textwrap.dedent("""
    import json, sys, time
    from streamlit.testing.v1 import AppTest
    from mnist_models.jobs.local import LocalExecutor

    # A stand-in for the worker process, which would import TensorFlow: it waits for a job that never comes.
    LocalExecutor.command = (sys.executable, "-c", "import sys; sys.stdin.read()")
    from dashboard import state

    state.warm_up_gate.delay = 3600  # released by hand below, so that nothing here depends on the machine's speed
    at = AppTest.from_file({app!r}, default_timeout=60)
    if {page!r}:
        at.switch_page({page!r})
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    queue = state.job_queue()
    time.sleep(5 * queue.poll_seconds)  # the queue's scheduler would have started a ready worker by now
    seen = {{"tensorflow": "tensorflow" in sys.modules or "keras" in sys.modules,
            "ready_before_release": queue.executor.ready is not None}}
    state.warm_up_gate.release()
    deadline = time.monotonic() + 30
    while queue.executor.ready is None and time.monotonic() < deadline:
        time.sleep(0.05)
    seen["ready_after_release"] = queue.executor.ready is not None
    queue.shutdown()
    print(json.dumps(seen))
""")


def first_page(page: str | None, runs: Path) -> dict[str, bool]:
    """What the first-page script found (its last line), run in a fresh process on `runs`."""
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs), "TF_CPP_MIN_LOG_LEVEL": "2"}
    script = FIRST_PAGE.format(app=str(APP), page=page or "")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("page", [None, "app_pages/train.py"], ids=["Lab", "Train"])
def test_the_first_page_imports_no_tensorflow_and_leaves_the_ready_worker_for_later(page, tmp_path):
    seen = first_page(page, tmp_path / "runs")
    assert not seen["tensorflow"], "the first page must appear without TensorFlow"
    assert not seen["ready_before_release"], "no ready worker may start before the first page is drawn"
    assert seen["ready_after_release"], "once the first page is drawn, the queue prepares its ready worker"
