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
from mnist_models.jobs.ray_connect import ExecutorUnavailable, check_address
from mnist_models.jobs.ray_executor import RayExecutor
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


def test_identical_requests_through_ray_share_one_training_and_it_stops_when_the_last_learner_does(local_ray,
                                                                                                   runs_dir):
    import time

    from mnist_models.jobs import JobSpec
    from mnist_models.jobs.job import LEFT

    store = RunStore(runs_dir)
    executor = RayExecutor("local")
    queue = JobQueue(store, executor=executor, max_running=executor.max_running(), threads=executor.cpus)
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size = 200, 2000, 100  # far longer than the test
    spec = JobSpec(model, train, "softmax", "1 layer: softmax")
    try:
        [ann] = queue.submit_series([spec], owner="ann")
        deadline = time.monotonic() + WAIT
        while store.progress(ann).step < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert store.progress(ann).status == "running", store.progress(ann)
        [bob] = queue.submit_series([spec], owner="bob")  # while it trains on the cluster
        [cat] = queue.submit_series([spec], owner="cat")
        assert bob == cat == ann, "one training for three identical requests"
        assert set(store.get(ann).owners) == {"ann", "bob", "cat"}
        assert queue.stop(ann, "ann") == LEFT and queue.stop(ann, "bob") == LEFT, "Cat still wants it"
        assert store.progress(ann).status == "running"
        assert queue.stop(ann, "cat") == "stopping", "the last learner's stop stops it"
        assert queue.wait_idle(WAIT)
    finally:
        queue.shutdown(stop_running=True)
    info = store.get(ann)
    assert info.status == "stopped" and info.executor == "ray", info.error
    assert info.owners == ("cat",), "Ann and Bob left it"
    assert info.epochs_completed < 200, "stopped long before its 200 epochs"


def test_the_cli_trains_through_a_local_ray(runs_dir):
    result = cli("train", "--preset", "softmax", "--epochs", "1", "--train-size", "1000", "--ray", "local")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["executor"] == "ray" and summary["status"] == "completed"
    assert summary["test_accuracy"] > 0.7
    info = RunStore(runs_dir).get(summary["run_id"])
    assert info.has_model and info.executor == "ray"


def test_capacity_counts_the_gpus_each_job_asks_for(local_ray):
    executor = RayExecutor("local")
    executor.cluster_cpus, executor.cpus = 16, 2
    assert executor.max_running() == 8
    executor.cluster_gpus, executor.gpus = 1.0, 1.0
    assert executor.max_running() == 1, "seven jobs would otherwise wait inside Ray and look stale"
    executor.cluster_gpus, executor.gpus = 4.0, 0.5
    assert executor.max_running() == 8


def test_a_fine_tune_through_ray_gets_its_files_there_and_its_result_back(local_ray, runs_dir, mnist):
    import time

    import numpy as np

    from mnist_models.store import my_digits
    from mnist_models.worker.training import TrainingThread

    store = RunStore(runs_dir)
    owner = "0123456789abcdef01234567"
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size = 1, 2000
    base = TrainingThread(model, train, store=store, preset="softmax", name="Base", data=mnist, owner=owner).start()
    assert base.wait(WAIT).status == "completed"
    digits = my_digits.MyDigits(store, owner)
    for index in range(12):
        digits.add(np.asarray(mnist.x_test[index], dtype=np.float32) / 255.0, int(mnist.y_test[index]))
    model, fine_train, files, name = my_digits.fine_tune_job(store, base.run_id, digits.list(), owner=owner)
    fine_train.train_size = 1000
    executor = RayExecutor("local")
    queue = JobQueue(store, executor=executor, max_running=1, threads=executor.cpus)
    try:
        run_id = queue.submit(model, fine_train, owner=owner, name=name, files=files)
        deadline = time.monotonic() + WAIT
        while queue.jobs() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        queue.shutdown(stop_running=True)
    info = store.get(run_id)
    assert info.status == "completed", info.error
    result = my_digits.load_result(store, run_id)
    assert result is not None and result["base_run_id"] == base.run_id, "fine_tune.json came back from the task"
    assert (result["tuned"], result["held_out"]) == (8, 4)


def test_a_lost_mailbox_cancels_the_ray_task(local_ray, runs_dir):
    import time

    store = RunStore(runs_dir)
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size = 200, 2000, 200
    run_id = store.create(model, train, name="orphan", executor="ray")
    executor = RayExecutor("local")
    handle = executor.start(store, run_id, executor.cpus)
    deadline = time.monotonic() + WAIT
    while store.progress(run_id).step < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.progress(run_id).step >= 5
    local_ray.kill(handle.mailbox)  # the relay's next call fails
    deadline = time.monotonic() + 60
    while handle.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handle.poll() == 1 and "ActorDied" in handle.exit_reason(1)
    # The task itself was cancelled: it ends within seconds instead of training its 200 epochs on the cluster.
    ready, _ = local_ray.wait([handle.ref], timeout=30)
    assert ready, "the Ray task kept running after its mailbox was lost"
    with pytest.raises((local_ray.exceptions.TaskCancelledError, local_ray.exceptions.WorkerCrashedError)):
        local_ray.get(handle.ref)
