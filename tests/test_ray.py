"""Tests for training through Ray: a real local Ray cluster (started here), a real tiny training whose curves and
model reach the server's run store through the mailbox relay, Stop through Ray, and unreachable addresses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.jobs.queue import JobQueue
from mnist_models.jobs.ray_executor import ExecutorUnavailable, RayExecutor, check_address
from mnist_models.presets import get_preset
from mnist_models.store.runs import RunStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WAIT = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_addresses_are_checked():
    assert check_address("local") is None and check_address("auto") is None
    assert check_address("10.1.2.3:6379") == ("10.1.2.3", 6379)
    assert check_address("ray://head.example:10001") == ("head.example", 10001)
    for bad in ("", "nonsense", "host:", "host:port", "http://host:1", "ray://host:1/path"):
        with pytest.raises(ValueError, match=r"Ray address|valid port"):
            check_address(bad)


def test_an_unreachable_address_says_so_at_once():
    port = free_port()
    with pytest.raises(ExecutorUnavailable, match=f"No Ray cluster answers at 127.0.0.1:{port}"):
        RayExecutor(f"127.0.0.1:{port}")
    with pytest.raises(ExecutorUnavailable, match="ray start --head"):
        RayExecutor(f"ray://127.0.0.1:{port}")


def test_the_cli_refuses_an_unreachable_or_bad_address_with_exit_code_2():
    result = cli("train", "--preset", "softmax", "--ray", f"127.0.0.1:{free_port()}", timeout=60)
    assert result.returncode == 2
    assert "No Ray cluster answers" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = cli("train", "--preset", "softmax", "--ray", "nonsense", timeout=60)
    assert result.returncode == 2 and "'nonsense'" in result.stderr and "Use 'local'" in result.stderr


def test_a_tiny_training_through_ray_reaches_the_server_store(local_ray, runs_dir, mnist):
    import keras
    import numpy as np

    store = RunStore(runs_dir)
    executor = RayExecutor("local")  # joins the cluster this test started
    assert (executor.cpus, executor.gpus, executor.max_running()) == (2, 0, 1)
    queue = JobQueue(store, executor=executor, max_running=executor.max_running(), threads=executor.cpus)
    try:
        model, train = get_preset("softmax").configs()
        train.epochs, train.train_size, train.validation_size = 2, 2000, 200
        done = queue.submit(model, train, owner="ann", name="through ray")
        train.epochs = 200
        stopped = queue.submit(model, train, owner="bob", name="stopped through ray")
        # The relay copies the task's files in as it trains; the stop request travels back the same way.
        import time

        deadline = time.monotonic() + WAIT
        while store.progress(stopped).step < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.progress(stopped).step >= 30, store.progress(stopped)
        assert queue.stop(stopped, "bob") == "stopping"
        assert queue.wait_idle(WAIT)
    finally:
        queue.shutdown(stop_running=True)

    info = store.get(done)
    assert info.status == "completed", info.error
    assert info.executor == "ray" and info.name == "through ray"
    assert info.test_accuracy > 0.7 and info.epochs_completed == 2
    history = store.load_history(done)
    assert [point["epoch"] for point in history["test"]] == [1.0, 2.0]
    # The model trained on a Ray worker is in the server's run folder and predicts as it scored.
    loaded = keras.saving.load_model(store.model_path(done))
    predictions = loaded.predict(np.asarray(mnist.x_test), verbose=0).argmax(axis=1)
    assert (predictions == mnist.y_test).mean() == pytest.approx(info.test_accuracy)

    halted = store.get(stopped)
    assert halted.status == "stopped" and halted.has_model
    assert 0 < halted.epochs_completed < 200


def test_the_cli_trains_through_a_local_ray(runs_dir):
    result = cli("train", "--preset", "softmax", "--epochs", "1", "--train-size", "1000", "--ray", "local")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["executor"] == "ray" and summary["status"] == "completed"
    assert summary["test_accuracy"] > 0.7
    info = RunStore(runs_dir).get(summary["run_id"])
    assert info.has_model and info.executor == "ray"
