"""Tests for range tests in the job queue: owned and counted like a training (one job per learner), never shared
with a training, shared with an identical range test, not listed with the runs, kept to a few per learner, and
run by a real worker process (its dispatch on the task), which a stop ends with what it measured."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from lab_support import ParkedExecutor
from queue_support import wait_for

from mnist_models import lr_find
from mnist_models.jobs.job import JobSpec, QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.lr_range import RangeSettings
from mnist_models.presets import get_preset
from mnist_models.store.progress import COMPLETED
from mnist_models.store.run_info import LR_FIND_TASK, TRAIN_TASK
from mnist_models.store.runs import RunLimitError, RunStore

WAIT = 180


def softmax(seed: int = 0):
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size, train.seed = 1, 1000, 100, seed
    return model, train


@pytest.fixture
def store(runs_dir) -> RunStore:
    return RunStore(runs_dir)


@pytest.fixture
def parked(store):
    queue = JobQueue(store, executor=ParkedExecutor(), max_running=10)
    yield queue
    queue.shutdown()


def test_a_range_test_never_shares_a_key_with_the_training_of_the_same_network():
    model, train = softmax()
    spec = lr_find.range_test_spec(model, train)
    assert spec.task == LR_FIND_TASK
    assert spec.key != JobSpec(spec.model, spec.train).key, "same configs, but one trains and one tests"
    assert spec.key != JobSpec(model, train).key
    # What a range test does not read (the schedule, the epochs, the rate) does not make it another test...
    other = lr_find.range_test_spec(model, dataclasses.replace(train, epochs=7, learning_rate=0.1,
                                                               lr_schedule="exponential"))
    assert other.key == spec.key
    # ... what it does read does.
    assert lr_find.range_test_spec(model, softmax(seed=1)[1]).key != spec.key
    assert lr_find.range_test_spec(model, train, settings=RangeSettings(batches=100)).key != spec.key


def test_a_range_test_is_owned_counted_and_shared_only_with_an_identical_test(store, parked):
    model, train = softmax()
    spec = lr_find.range_test_spec(model, train, name="Range test: softmax")
    test_id = lr_find.submit_range_test(parked, spec, "ann")
    [job] = parked.jobs_of("ann")
    assert (job.run_id, job.task, job.owners) == (test_id, LR_FIND_TASK, ("ann",))
    # One job at a time per learner: the range test counts.
    with pytest.raises(QueueFullError, match="already have"):
        parked.submit(model, train, owner="ann")
    # Bob's training of the very same network is a training of its own; his identical range test joins Ann's.
    training_id = parked.submit(model, train, owner="bob")
    assert training_id != test_id
    assert lr_find.submit_range_test(parked, lr_find.range_test_spec(model, train), "cat") == test_id
    assert store.get(test_id).owners == ("ann", "cat")
    assert not parked.can_control(test_id, "bob") and parked.can_control(test_id, "ann")
    # The runs list (every page, the CLI's `runs`, the class board, Draw) shows trainings only.
    assert [info.run_id for info in store.list()] == [training_id]
    assert [info.run_id for info in store.list(task=LR_FIND_TASK)] == [test_id]
    assert {info.run_id for info in store.list(task=None)} == {test_id, training_id}
    assert store.get(training_id).task == TRAIN_TASK
    assert json.loads((store.folder(test_id) / "meta.json").read_text())["task"] == LR_FIND_TASK


def test_a_restarted_server_takes_over_a_waiting_range_test(store):
    first = JobQueue(store, executor=ParkedExecutor(), max_running=1)
    model, train = softmax()
    first.submit(model, train, owner="bob")  # takes the one slot
    test_id = lr_find.submit_range_test(first, lr_find.range_test_spec(model, train), "ann")
    first.shutdown()
    again = JobQueue(store, executor=ParkedExecutor(), max_running=1)
    try:
        # Bob's parked job had no worker to adopt, so the range test has the slot now.
        [job] = again.jobs()
        assert (job.run_id, job.task, job.owners) == (test_id, LR_FIND_TASK, ("ann",))
        assert store.get(test_id).status == "starting"
    finally:
        again.shutdown()


def test_a_run_from_before_tasks_reads_as_a_training(store):
    model, train = softmax()
    run_id = store.create(model, train, name="old run")
    meta_path = store.folder(run_id) / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["task"]
    meta_path.write_text(json.dumps(meta))
    assert store.get(run_id).task == TRAIN_TASK and [info.run_id for info in store.list()] == [run_id]


def test_a_learner_keeps_a_few_range_tests(store):
    model, train = softmax()
    made = []
    for seed in range(lr_find.KEEP_PER_LEARNER + 2):
        spec = lr_find.range_test_spec(model, softmax(seed)[1])
        made.append(store.create(spec.model, spec.train, owner="ann", files=spec.files, job_key=spec.key,
                                 task=spec.task, status=COMPLETED))
        time.sleep(0.01)  # distinct creation times, newest last
    shared = store.create(model, train, owner="ann", task=LR_FIND_TASK, status=COMPLETED)
    store.add_owner(shared, "bob")
    lr_find.tidy(store, "ann", keep=2)
    assert [info.run_id for info in store.list(task=LR_FIND_TASK)] == [shared, made[-1]], "the newest two are kept"
    lr_find.tidy(store, "ann", keep=0)
    assert [info.run_id for info in store.list(task=LR_FIND_TASK)] == [shared]
    assert store.get(shared).owners == ("bob",), "a test shared with another learner is only left"
    assert lr_find.latest(store, "bob").run_id == shared and lr_find.latest(store, "ann") is None


def test_range_tests_do_not_count_towards_a_learner_s_kept_runs(store, parked, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_LEARNER", "1")
    model, train = softmax()
    store.create(model, train, owner="ann", status=COMPLETED)
    with pytest.raises(RunLimitError, match="You keep 1 runs"):
        parked.submit(model, softmax(seed=1)[1], owner="ann")
    test_id = lr_find.submit_range_test(parked, lr_find.range_test_spec(model, train), "ann")
    assert store.get(test_id).task == LR_FIND_TASK


@pytest.mark.slow
def test_a_worker_process_runs_the_range_test_and_a_stop_keeps_what_it_measured(store):
    queue = JobQueue(store, max_running=1)
    try:
        model, train = softmax()
        train.batch_size = 10
        # Rates too small to diverge over many batches: the test runs until it is stopped.
        spec = lr_find.range_test_spec(model, train, settings=RangeSettings(1e-9, 1e-8, 2000))
        run_id = lr_find.submit_range_test(queue, spec, "ann")
        wait_for(lambda: (result := lr_find.load_result(store, run_id)) is not None and result.batches_run > 0,
                 "the first batches")
        assert queue.stop(run_id, "ann") == "stopping"
        assert queue.wait_idle(WAIT)
    finally:
        queue.shutdown(stop_running=True)
    info = store.get(run_id)
    assert info.status == "stopped", info.error
    result = lr_find.load_result(store, run_id)
    assert result.finished and not result.diverged and 0 < result.batches_run < 2000
    assert store.list() == [] and not info.has_model


@pytest.mark.slow
def test_a_range_test_through_ray_sends_its_result_back(store):
    import ray

    from mnist_models.jobs.ray_executor import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        executor = RayExecutor("local")  # joins the cluster started here
        queue = JobQueue(store, executor=executor, max_running=1, threads=executor.cpus)
        try:
            model, train = softmax()
            spec = lr_find.range_test_spec(model, train, settings=RangeSettings(1e-5, 10.0, 120))
            run_id = lr_find.submit_range_test(queue, spec, "ann")
            wait_for(lambda: not queue.jobs(), "the Ray task to end", timeout=240)
        finally:
            queue.shutdown(stop_running=True)
    finally:
        ray.shutdown()
    info = store.get(run_id)
    assert (info.status, info.executor, info.task) == ("completed", "ray", LR_FIND_TASK), info.error
    result = lr_find.load_result(store, run_id)
    assert result is not None and result.finished and result.batches_run > 30, "lr_find.json came back from the task"
