"""Tests for the job queue and its local worker processes: order, places, cancel, owners, stop, crashes.

Every job here is a real training in a real worker process (a small softmax network on a few images), read
back through the run folder as the dashboard reads it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from queue_support import wait_for

from mnist_models import jobs
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.jobs.local import LocalExecutor
from mnist_models.jobs.queue import JobQueue, NotYourJobError, QueueFullError
from mnist_models.presets import get_preset
from mnist_models.store.runs import NotYourRunError, RunNotFoundError, RunStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
WAIT = 180  # seconds; a cold worker imports TensorFlow first, and CI's two cores are busy


def softmax(epochs: int, train_size: int = 1000, seed: int = 0) -> tuple[ModelConfig, TrainConfig]:
    """A small softmax training; jobs of different learners take different seeds (identical ones would share)."""
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size, train.seed = epochs, train_size, 100, seed
    return model, train


def meta(store: RunStore, run_id: str) -> dict:
    return json.loads((store.folder(run_id) / "meta.json").read_text())


@pytest.fixture
def store(runs_dir) -> RunStore:
    return RunStore(runs_dir)


@pytest.fixture
def make_queue(store):
    """JobQueues over the test's store, each shut down (its workers stopped) at the end of the test."""
    made: list[JobQueue] = []

    def make(**options) -> JobQueue:
        options.setdefault("max_running", 1)
        queue = JobQueue(store, **options)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.shutdown(stop_running=True)



def test_first_come_first_served_with_places_cancel_and_stop(store, make_queue):
    queue = make_queue()
    first = queue.submit(*softmax(epochs=200, train_size=3000), owner="ann", name="first")
    second = queue.submit(*softmax(epochs=1, seed=1), owner="bob", name="second")
    third = queue.submit(*softmax(epochs=1, seed=2), owner="cat", name="third")
    wait_for(lambda: store.progress(first).status == "running", what="the first job to run")
    assert [(job.name, job.position) for job in queue.jobs()] == [("first", None), ("second", 1), ("third", 2)]
    assert (queue.position(second), queue.position(third), queue.position(first)) == (1, 2, None)
    assert store.get(second).status == "queued" and store.progress(second).waiting

    # Only its owner may cancel a waiting job; then it is gone, and the one behind it moves up.
    with pytest.raises(NotYourJobError):
        queue.cancel(second, "cat")
    queue.cancel(second, "bob")
    with pytest.raises(RunNotFoundError):
        store.get(second)
    assert queue.position(third) == 1
    with pytest.raises(ValueError, match="no longer waiting"):
        queue.cancel(first, "ann")

    # Stopping the running job frees the slot for the next one.
    assert queue.stop(first, "ann") == "stopping"
    assert queue.wait_idle(WAIT)
    done_first, done_third = store.get(first), store.get(third)
    assert (done_first.status, done_third.status) == ("stopped", "completed")
    assert done_first.has_model and done_third.has_model
    assert meta(store, third)["created"] > meta(store, first)["created"]
    assert done_third.finished > done_first.finished, "the third started only after the first had ended"
    assert queue.jobs() == []


def test_one_waiting_or_running_job_per_learner(make_queue):
    queue = make_queue()
    queue.submit(*softmax(epochs=200, train_size=3000), owner="ann")
    with pytest.raises(QueueFullError, match="already have a training"):
        queue.submit(*softmax(epochs=1), owner="ann")
    queue.submit(*softmax(epochs=1), owner="bob")  # somebody else may queue


def test_bad_configs_are_refused_before_queueing(store, make_queue):
    queue = make_queue()
    with pytest.raises(ValueError, match="Epochs"):
        queue.submit(ModelConfig(), TrainConfig(epochs=0), owner="ann")
    assert store.list() == [] and queue.jobs() == []


def test_two_learners_train_at_the_same_time_and_both_runs_are_saved(store, make_queue):
    queue = make_queue(max_running=2)
    assert queue.threads == jobs.threads_per_job(2), "each worker gets its share of the cores"
    runs = [queue.submit(*softmax(epochs=200, train_size=3000, seed=seed), owner=owner, name=owner)
            for seed, owner in enumerate(("ann", "bob"))]
    # Both train at one moment (one after the other would never show two running with steps done).
    wait_for(lambda: all(store.progress(run_id).status == "running" and store.progress(run_id).step > 0
                         for run_id in runs), what="both jobs to train at the same time")
    assert {meta(store, run_id)["pid"] for run_id in runs} != {os.getpid()} and \
        meta(store, runs[0])["pid"] != meta(store, runs[1])["pid"], "two worker processes"
    for run_id, owner in zip(runs, ("ann", "bob"), strict=True):
        queue.stop(run_id, owner)
    assert queue.wait_idle(WAIT)
    for run_id in runs:
        info = store.get(run_id)
        assert info.status == "stopped", info.error
        assert info.has_model and info.test_accuracy is not None
        assert info.device == f"CPU ({queue.threads} threads)" or info.device.startswith("GPU")


def test_only_the_owner_or_a_teacher_can_stop(store, make_queue):
    queue = make_queue()
    run_id = queue.submit(*softmax(epochs=200, train_size=3000), owner="ann")
    wait_for(lambda: store.progress(run_id).status == "running", what="the job to run")
    assert queue.can_control(run_id, "ann") and not queue.can_control(run_id, "bob")
    assert not queue.can_control(run_id, None)
    with pytest.raises(NotYourJobError):
        queue.stop(run_id, "bob")
    with pytest.raises(NotYourJobError):
        queue.stop(run_id, None)
    # A refused stop leaves no stop request for the worker to find, and the training goes on past it.
    assert not store.stop_requested(run_id)
    step = store.progress(run_id).step
    wait_for(lambda: store.progress(run_id).step > step + 20, what="the training to go on")
    assert store.progress(run_id).status == "running", "a refused stop changes nothing"
    assert queue.stop(run_id, "bob", teacher=True) == "stopping"
    assert queue.wait_idle(WAIT)
    assert store.get(run_id).status == "stopped"


def test_stop_is_heard_within_a_second_and_ends_after_the_batch(store, make_queue):
    queue = make_queue()
    run_id = queue.submit(*softmax(epochs=200, train_size=5000), owner="ann")
    wait_for(lambda: store.progress(run_id).step >= 60, what="training to be under way")
    asked = time.monotonic()
    queue.stop(run_id, "ann")
    heard = wait_for(lambda: store.progress(run_id).status in ("stopping", "stopped") and time.monotonic(),
                     what="the stop to be heard")
    # The worker looks for the stop file between batches (at most every 50 ms) and says so at once.
    assert heard - asked < 1.0, f"the stop took {heard - asked:.2f} s to be heard"
    step_when_heard = store.progress(run_id).step
    assert queue.wait_idle(WAIT)
    final = store.progress(run_id)
    assert final.status == "stopped"
    assert final.step - step_when_heard <= 1
    assert final.test and final.test[-1].step == final.step, "the test set is scored where it stopped"
    assert store.get(run_id).has_model



def test_a_killed_worker_fails_its_run_and_the_queue_moves_on(store, make_queue):
    queue = make_queue()
    doomed = queue.submit(*softmax(epochs=200, train_size=3000), owner="ann", name="doomed")
    after = queue.submit(*softmax(epochs=1), owner="bob", name="after")
    wait_for(lambda: store.progress(doomed).step > 0, what="the first job to train")
    worker_pid = meta(store, doomed)["pid"]
    assert worker_pid != os.getpid(), "the training runs in a worker process, not in the server's"
    os.kill(worker_pid, signal.SIGKILL)
    assert queue.wait_idle(WAIT)
    failed = store.get(doomed)
    assert failed.status == "failed"
    assert "killed by SIGKILL" in failed.error and "memory" in failed.error
    assert store.load_history(doomed)["train"], "the curves published before the crash are kept"
    assert store.get(after).status == "completed"


SERVER_SCRIPT = textwrap.dedent("""
    import sys, time
    from mnist_models.jobs.queue import JobQueue
    from mnist_models.presets import get_preset
    from mnist_models.store.runs import RunStore

    store = RunStore(sys.argv[1])
    queue = JobQueue(store, max_running=1)
    model, train = get_preset("softmax").configs()
    train.train_size, train.validation_size = 1000, 100
    train.epochs = 40
    running = queue.submit(model, train, owner="ann", name="running")
    train.epochs = 1
    waiting = queue.submit(model, train, owner="bob", name="waiting")
    while store.progress(running).step < 20:
        time.sleep(0.05)
    print(running, waiting, flush=True)
    time.sleep(600)
""")


def test_server_killed_mid_training_loses_nothing(store, make_queue):
    server = subprocess.Popen([sys.executable, "-c", SERVER_SCRIPT, str(store.root)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        running, waiting = server.stdout.readline().split()
    finally:
        server.kill()  # SIGKILL: no clean-up of any kind
        server.wait(30)
    # The worker trains on without its server and saves its run; the waiting job is still queued on disk.
    wait_for(lambda: store.get(running).status == "completed", what="the orphaned worker to finish its run")
    assert store.get(running).has_model and store.get(running).epochs_completed == 40
    assert store.get(waiting).status == "queued"
    # A restarted server finds the queue where the old one left it, and runs it.
    queue = make_queue()
    assert [job.run_id for job in queue.jobs()] == [waiting]
    assert queue.wait_idle(WAIT)
    assert store.get(waiting).status == "completed"


def test_a_restarted_server_adopts_a_worker_still_training(store, make_queue):
    old = make_queue()
    run_id = old.submit(*softmax(epochs=200, train_size=3000), owner="ann")
    wait_for(lambda: store.progress(run_id).step > 0, what="the job to train")
    old.shutdown()  # the server goes away; the worker does not
    new = make_queue()
    [job] = new.jobs()
    assert job.run_id == run_id and job.position is None
    assert new.can_control(run_id, "ann") and not new.can_control(run_id, "bob")
    queued = new.submit(*softmax(epochs=1), owner="bob")
    assert new.position(queued) == 1, "the adopted worker holds the slot"
    new.stop(run_id, "ann")
    assert new.wait_idle(WAIT)
    assert store.get(run_id).status == "stopped" and store.get(queued).status == "completed"



def test_a_command_line_run_shows_live_in_the_run_folder_and_stops_from_the_queue(store, make_queue):
    env = {**os.environ, "MNIST_RUNS_DIR": str(store.root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cli = subprocess.Popen([sys.executable, "-m", "mnist_models", "train", "--preset", "softmax", "--epochs", "200",
                            "--train-size", "1000"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        [info] = wait_for(store.list, what="the CLI's run folder")
        first = wait_for(lambda: (p := store.progress(info.run_id)).train and p, what="a first curve point")
        assert first.status == "running"
        later = wait_for(lambda: (p := store.progress(info.run_id)).step > first.step and p, what="more steps")
        assert len(later.train) >= len(first.train)
        # The dashboard's queue sees it as nobody's job: only a teacher may stop it.
        queue = make_queue()
        assert not queue.can_control(info.run_id, "ann")
        assert queue.stop(info.run_id, None, teacher=True) == "stopping"
        out, _ = cli.communicate(timeout=WAIT)
    finally:
        if cli.poll() is None:
            cli.kill()
    summary = json.loads(out.strip().splitlines()[-1])
    assert cli.returncode == 0
    assert summary["status"] == "stopped" and summary["executor"] == "local"
    assert summary["run_id"] == info.run_id
    assert store.get(info.run_id).status == "stopped"


class CountingExecutor(LocalExecutor):
    """A real local executor that also records which runs it started."""

    def __init__(self, started: list[str]):
        super().__init__()
        self.started = started

    def start(self, store, run_id, threads):
        self.started.append(run_id)
        return super().start(store, run_id, threads)


def test_two_servers_on_one_folder_start_each_job_once(store, make_queue):
    started: list[str] = []
    first = make_queue(executor=CountingExecutor(started))
    second = make_queue(executor=CountingExecutor(started))
    assert first.leading and not second.leading, "one scheduler per runs folder"
    # A job queued through the second server is still run, by the first; each job starts exactly once.
    ids = [second.submit(*softmax(epochs=1), owner="ann"), first.submit(*softmax(epochs=1, seed=1), owner="bob"),
           second.submit(*softmax(epochs=1, seed=2), owner="cat")]
    wait_for(lambda: all(store.get(run_id).status == "completed" for run_id in ids), what="all three jobs")
    assert sorted(started) == sorted(ids)
    wait_for(lambda: not second.jobs(), timeout=10, what="the follower to see the jobs started")
    # When the first server goes, the second takes over and schedules by itself.
    first.shutdown(stop_running=True)
    wait_for(lambda: second.leading, timeout=10, what="the second server to take over")
    later = second.submit(*softmax(epochs=1, seed=3), owner="dan")
    assert second.wait_idle(WAIT) and store.get(later).status == "completed"
    assert started.count(later) == 1


def test_a_hung_worker_loses_its_slot_and_the_queue_moves_on(store, make_queue):
    queue = make_queue(hung_after=3.0)
    hung = queue.submit(*softmax(epochs=200, train_size=3000), owner="ann", name="hung")
    after = queue.submit(*softmax(epochs=1), owner="bob", name="after")
    wait_for(lambda: store.progress(hung).step > 0, what="the first job to train")
    os.kill(meta(store, hung)["pid"], signal.SIGSTOP)  # alive, but silent: a deadlock looks the same
    assert queue.wait_idle(WAIT)
    info = store.get(hung)
    assert info.status == "failed" and "stopped responding" in info.error
    assert store.get(after).status == "completed"


def test_a_job_that_cannot_be_started_stays_waiting_and_can_be_cancelled(store, make_queue, monkeypatch):
    def disk_full(run_id):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "claim", disk_full)
    queue = make_queue()
    run_id = queue.submit(*softmax(epochs=1), owner="ann")
    time.sleep(1.0)  # several scheduler rounds, each failing to start it
    assert [job.run_id for job in queue.jobs()] == [run_id] and queue.position(run_id) == 1
    assert store.get(run_id).status == "queued"
    queue.cancel(run_id, "ann")
    assert queue.jobs() == []
    with pytest.raises(RunNotFoundError):
        store.get(run_id)


def test_the_waiting_list_has_a_cap_for_everybody_together(store, make_queue):
    queue = make_queue(max_waiting=2)
    queue.submit(*softmax(epochs=200, train_size=3000), owner="ann")
    wait_for(lambda: queue.position(queue.jobs()[0].run_id) is None, what="the first job to start")
    queue.submit(*softmax(epochs=1, seed=1), owner="bob")
    queue.submit(*softmax(epochs=1, seed=2), owner="cat")
    with pytest.raises(QueueFullError, match="2 trainings are waiting already"):
        queue.submit(*softmax(epochs=1, seed=3), owner="dan")  # a fresh identity (a private window) does not help
    assert len(queue.jobs()) == 3


def test_stop_and_cancel_by_anybody_else_are_refused_in_the_library(store, make_queue):
    queue = make_queue()
    running = queue.submit(*softmax(epochs=200, train_size=3000), owner="ann")
    waiting = queue.submit(*softmax(epochs=1), owner="bob")
    for action in (queue.stop, queue.cancel):
        with pytest.raises(NotYourRunError):
            action(waiting, "ann")
    with pytest.raises(NotYourJobError):
        queue.stop(running, "bob")
    with pytest.raises(NotYourJobError):
        queue.stop(running, None)
    assert store.get(waiting).status == "queued" and not store.stop_requested(running)
    assert queue.stop(running, teacher=True) == "stopping"
