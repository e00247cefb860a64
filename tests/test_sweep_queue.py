"""Tests for mnist_models.jobs.sweep_jobs: a sweep queued as one series of a learner's, trained side by side in
real worker processes, shared with identical trainings, refused as a whole, and stopped as a whole."""

from __future__ import annotations

import pytest
from queue_support import wait_for

from mnist_models.config import ConfigError
from mnist_models.jobs.job import NotYourJobError, QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.jobs.sweep_jobs import stop_sweep, submit_sweep
from mnist_models.presets import get_preset
from mnist_models.store.run_info import RunLimitError, RunNotFoundError
from mnist_models.store.runs import RunStore
from mnist_models.sweep import Axis, Sweep, list_sweeps, summarise, sweep_progress

pytestmark = pytest.mark.slow

WAIT = 240  # seconds; cold workers import TensorFlow first, and CI's two cores are busy
ANN, BOB = "a0a0a0a0", "b0b0b0b0"


def softmax_sweep(values=(0.001, 0.01, 0.1), seeds=(0,), epochs: int = 1, train_size: int = 300,
                  name: str = "LR") -> Sweep:
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size = epochs, train_size, 100
    return Sweep(model, train, axes=(Axis("learning_rate", tuple(values)),), seeds=tuple(seeds), name=name,
                 preset="softmax")


@pytest.fixture
def store(runs_dir) -> RunStore:
    return RunStore(runs_dir)


@pytest.fixture
def make_queue(store):
    made: list[JobQueue] = []

    def make(**options) -> JobQueue:
        options.setdefault("max_running", 1)
        queue = JobQueue(store, **options)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.shutdown(stop_running=True)


def test_a_sweep_trains_as_one_series_side_by_side_and_its_record_finds_it(store, make_queue):
    queue = make_queue(max_running=2)
    sweep = softmax_sweep(values=(0.003, 0.3), seeds=(0, 1))
    record = submit_sweep(queue, sweep, owner=ANN)
    assert len(record.run_ids) == 4 and len(set(record.run_ids)) == 4, "two seeds are two trainings"
    assert [record.id] == [found.id for found in list_sweeps(store, ANN)]
    with pytest.raises(QueueFullError, match="already have a training"):
        submit_sweep(queue, softmax_sweep(values=(0.5,)), owner=ANN)  # one series per learner at a time
    wait_for(lambda: sum(job.position is None for job in queue.jobs()) == 2, "two trainings side by side")
    assert queue.wait_idle(WAIT)
    infos = [store.get(run_id) for run_id in record.run_ids]
    assert all(info.status == "completed" and info.owned_by(ANN) for info in infos)
    assert [info.name for info in infos] == ["LR · learning_rate=0.003 · seed 0", "LR · learning_rate=0.003 · seed 1",
                                             "LR · learning_rate=0.3 · seed 0", "LR · learning_rate=0.3 · seed 1"]
    assert [store.load_configs(run_id)[1].seed for run_id in record.run_ids] == [0, 1, 0, 1]
    summary = summarise(record, sweep_progress(store, record), "val_best")
    assert [point.values for point in summary] == [{"learning_rate": 0.003}, {"learning_rate": 0.3}]
    for point, infos_of_value in zip(summary, (infos[:2], infos[2:]), strict=True):
        finals = [info.test_accuracy for info in infos_of_value]
        assert point.count == 2 and point.low == min(finals) and point.high == max(finals), \
            "one epoch: the best test accuracy is the final one"


def test_an_identical_training_in_another_learner_s_sweep_is_shared_and_left_on_stop(store, make_queue):
    queue = make_queue()
    ann = submit_sweep(queue, softmax_sweep(values=(0.01, 0.1)), owner=ANN)
    bob = submit_sweep(queue, softmax_sweep(values=(0.1, 0.5), name="Bob's"), owner=BOB)
    assert bob.run_ids[0] == ann.run_ids[1], "the same settings and seed train once"
    assert bob.run_ids[1] not in ann.run_ids
    assert set(store.get(ann.run_ids[1]).owners) == {ANN, BOB}
    # Ann stops her sweep: her own training stops, and she only leaves the one Bob shares.
    assert stop_sweep(queue, ann, ANN) == {ann.run_ids[0]: "stopping", ann.run_ids[1]: "left"}
    assert queue.wait_idle(WAIT)
    shared = store.get(ann.run_ids[1])
    assert shared.status == "completed" and shared.owners == (BOB,), "it trained on for Bob"
    assert store.get(bob.run_ids[1]).status == "completed"
    assert len(store.list()) == 3


def test_a_sweep_is_refused_as_a_whole(store, make_queue, monkeypatch):
    queue = make_queue(max_waiting=4)
    with pytest.raises(ConfigError, match=r"With learning_rate=20: Learning rate 20\.0 is far too large"):
        submit_sweep(queue, softmax_sweep(values=(0.01, 20.0)), owner=ANN)
    with pytest.raises(ConfigError, match="more than the 12 a sweep may have"):
        submit_sweep(queue, softmax_sweep(values=(0.01, 0.02, 0.03, 0.04, 0.05), seeds=(0, 1, 2)), owner=ANN)
    with pytest.raises(QueueFullError, match="do not fit in the queue"):
        submit_sweep(queue, softmax_sweep(values=(0.01, 0.02, 0.03, 0.04, 0.05)), owner=ANN)
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_LEARNER", "2")
    with pytest.raises(RunLimitError, match="would make 3 runs of yours"):
        submit_sweep(queue, softmax_sweep(), owner=ANN)
    assert store.list() == [] and queue.jobs() == [] and list_sweeps(store, ANN) == [], "nothing was queued"
    with pytest.raises(ValueError, match="between 1 and 2 jobs"):
        queue.submit_series(softmax_sweep().specs(), owner=ANN)  # other series keep their limit of two


def test_the_owner_or_a_teacher_stops_the_whole_sweep(store, make_queue):
    queue = make_queue()
    record = submit_sweep(queue, softmax_sweep(values=(0.001, 0.01, 0.1), epochs=200, train_size=3000),
                          owner=ANN)
    first, *waiting = record.run_ids
    wait_for(lambda: store.progress(first).status == "running", "the first training to run")
    with pytest.raises(NotYourJobError):
        stop_sweep(queue, record, BOB)
    with pytest.raises(NotYourJobError):
        stop_sweep(queue, record, None)
    assert stop_sweep(queue, record, ANN) == {waiting[0]: "cancelled", waiting[1]: "cancelled", first: "stopping"}
    assert queue.wait_idle(WAIT)
    assert store.get(first).status == "stopped"
    for run_id in waiting:
        with pytest.raises(RunNotFoundError):
            store.get(run_id)
    assert stop_sweep(queue, record, ANN) == {}, "nothing is left to stop"
    # A teacher may stop anybody's sweep.
    other = submit_sweep(queue, softmax_sweep(values=(0.002, 0.02), epochs=200, train_size=3000), owner=BOB)
    wait_for(lambda: store.progress(other.run_ids[0]).status == "running", "Bob's first training to run")
    assert stop_sweep(queue, other, None, teacher=True) == {other.run_ids[1]: "cancelled",
                                                            other.run_ids[0]: "stopping"}
    assert queue.wait_idle(WAIT)
