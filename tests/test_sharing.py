"""Tests for mnist_models.jobs.sharing: identical requests share one training, every learner is credited, a stop
by one only leaves it, and a finished identical run's result may be taken instead of training again.

Every job is a real training in a real worker process, read back through the run folder."""

from __future__ import annotations

import dataclasses

import pytest
from queue_support import wait_for

from mnist_models import course
from mnist_models.jobs import JobQueue, JobSpec
from mnist_models.jobs.job import LEFT
from mnist_models.presets import get_preset
from mnist_models.store.runs import RunStore

pytestmark = pytest.mark.slow

WAIT = 180


def softmax(epochs: int, train_size: int = 1000, seed: int = 0) -> JobSpec:
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size, train.seed = epochs, train_size, 100, seed
    return JobSpec(model, train, "softmax", "1 layer: softmax")


@pytest.fixture
def store(runs_dir) -> RunStore:
    return RunStore(runs_dir)


@pytest.fixture
def queue(store):
    made = JobQueue(store, max_running=1)
    yield made
    made.shutdown(stop_running=True)


def test_the_key_is_what_determines_the_result():
    spec = softmax(epochs=2)
    assert spec.key == softmax(epochs=2).key
    assert dataclasses.replace(spec, name="another name", preset="custom").key == spec.key, "names do not train"
    for changed in (softmax(epochs=3), softmax(epochs=2, seed=1), softmax(epochs=2, train_size=2000),
                    dataclasses.replace(spec, model=dataclasses.replace(spec.model, dropout_rate=0.25)),
                    dataclasses.replace(spec, files={"my_digits.npz": b"digits"})):
        assert changed.key != spec.key


def test_three_learners_asking_for_the_same_step_share_one_training(store, queue):
    blocker = queue.submit_series([softmax(epochs=200, train_size=3000)], owner="zoe")[0]
    wait_for(lambda: queue.position(blocker) is None, "the first job to start")
    # Ann and Bob ask while the identical job waits; Cat while it trains.
    ann = queue.submit_series([softmax(epochs=2)], owner="ann")[0]
    bob = queue.submit_series([softmax(epochs=2)], owner="bob")[0]
    assert bob == ann and [job.run_id for job in queue.jobs()] == [blocker, ann], "one waiting job, not two"
    queue.stop(blocker, "zoe")
    wait_for(lambda: store.progress(ann).status == "running", "the shared job to train")
    cat = queue.submit_series([softmax(epochs=2)], owner="cat")[0]
    assert cat == ann
    assert {job.run_id for job in queue.jobs_of("cat")} == {ann}, "the shared job is Cat's to watch too"
    assert queue.wait_idle(WAIT)
    info = store.get(ann)
    assert info.status == "completed" and set(info.owners) == {"ann", "bob", "cat"}
    assert len([run for run in store.list() if run.preset == "softmax" and run.run_id != blocker]) == 1
    step = next(step for step in course.steps() if step.preset == "softmax")
    for learner in ("ann", "bob", "cat"):
        assert course.best_run(step, store.list(), learner).run_id == ann, f"{learner} is credited"


def test_a_different_seed_or_setting_is_a_training_of_its_own(queue):
    first = queue.submit_series([softmax(epochs=200, train_size=3000)], owner="ann")[0]
    other_seed = queue.submit_series([softmax(epochs=200, train_size=3000, seed=1)], owner="bob")[0]
    other_size = queue.submit_series([softmax(epochs=200, train_size=2000)], owner="cat")[0]
    assert len({first, other_seed, other_size}) == 3


def test_a_stop_by_one_of_two_leaves_it_and_by_both_stops_it(store, queue):
    shared = queue.submit_series([softmax(epochs=200, train_size=3000)], owner="ann")[0]
    assert queue.submit_series([softmax(epochs=200, train_size=3000)], owner="bob")[0] == shared
    wait_for(lambda: store.progress(shared).step > 0, "the shared job to train")
    assert queue.stop(shared, "ann") == LEFT
    step = store.progress(shared).step
    wait_for(lambda: store.progress(shared).step > step + 20, "the training to go on for Bob")
    assert not store.stop_requested(shared) and store.get(shared).owners == ("bob",)
    assert queue.jobs_of("ann") == [] and [job.run_id for job in queue.jobs_of("bob")] == [shared]
    assert queue.stop(shared, "bob") == "stopping"
    assert queue.wait_idle(WAIT) and store.get(shared).status == "stopped"


def test_a_teacher_s_stop_ends_a_shared_training_for_everybody(store, queue):
    shared = queue.submit_series([softmax(epochs=200, train_size=3000)], owner="ann")[0]
    queue.submit_series([softmax(epochs=200, train_size=3000)], owner="bob")
    assert queue.stop(shared, teacher=True) in ("stopping", "cancelled")
    assert queue.wait_idle(WAIT)


def test_a_finished_identical_run_is_taken_or_trained_again_with_another_seed(store, queue):
    spec = softmax(epochs=1)
    first = queue.submit_series([spec], owner="ann")[0]
    assert queue.wait_idle(WAIT) and store.get(first).status == "completed"
    found = queue.identical_result(spec)
    assert found is not None and found.run_id == first
    taken = queue.take_result(first, "bob")  # instantly, credited to Bob
    assert set(taken.owners) == {"ann", "bob"} and queue.jobs() == []
    again = dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=spec.train.seed + 1))
    assert queue.identical_result(again) is None
    second = queue.submit_series([again], owner="cat")[0]
    assert second != first and queue.wait_idle(WAIT)
    assert store.get(second).status == "completed"
