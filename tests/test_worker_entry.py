"""Tests for mnist_models.worker.entry: `python -m mnist_models.worker` takes one job line from stdin and trains it.

The worker redirects its stderr into the run folder and handles SIGTERM, so every test runs it in its own process,
as the job queue does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _worker(stdin: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mnist_models.worker"], input=stdin, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_an_empty_stdin_ends_the_worker_quietly():
    done = _worker("")
    assert done.returncode == 0
    assert done.stdout == ""
    assert "Traceback" not in done.stderr and "mnist_models.worker" not in done.stderr


@pytest.mark.parametrize("line", ["[1, 2]", '{"root": "runs"}', "hello"],
                         ids=["not-an-object", "no-run-id", "not-json"])
def test_a_line_that_is_not_a_job_exits_2_with_a_message(line):
    done = _worker(line + "\n")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert f"mnist_models.worker: not a job: {line}" in done.stderr.splitlines()
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_run_job_trains_a_tiny_softmax_run_to_completed(runs_dir):
    store = RunStore(runs_dir)
    train = TrainConfig(optimizer="sgd", learning_rate=0.5, batch_size=100, epochs=1, train_size=1000,
                        validation_size=100)
    run_id = store.create(ModelConfig(hidden_units=[]), train, preset="softmax", params=7850)
    process = subprocess.Popen([sys.executable, "-m", "mnist_models.worker"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, text=True)
    job = {"root": str(runs_dir), "run_id": run_id, "threads": 1}
    try:
        stdout, stderr = process.communicate(json.dumps(job) + "\n", timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    info = store.get(run_id)
    assert (info.status, info.epochs_completed, info.has_model, info.error) == ("completed", 1, True, None)
    assert info.test_accuracy > 0.5  # 10 steps of SGD at 0.5 on 1,000 images: 76% here, chance is 10%
    progress = store.progress(run_id)
    assert (progress.step, progress.batches_per_epoch) == (10, 10)
    assert [(point.epoch, point.step) for point in progress.test] == [(1.0, 10)]
    assert progress.device.startswith("CPU (") or progress.device.startswith("GPU: ")
    # The worker named itself in the run, and wrote what it printed beside it, not to the server's stderr.
    meta = json.loads((store.root / run_id / "meta.json").read_text())
    assert meta["pid"] == process.pid
    assert store.worker_log_path(run_id).is_file()
    assert stdout == ""
