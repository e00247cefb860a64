"""Tests of the class board, from a temporary store with real run folders and a queue whose jobs never start: the
learners' rows, the queue in order, the 99% challenge's two leaderboards, the guesses per step, and its version."""

from __future__ import annotations

import pytest
from lab_support import ParkedExecutor

from mnist_models import class_board, course
from mnist_models.class_board import board_version, build_board, network_line, time_to_reach
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS
from mnist_models.store.learners import LearnerBook
from mnist_models.store.progress import COMPLETED, QUEUED, RUNNING, STOPPED
from mnist_models.store.runs import RunStore

ANN, BOB, CAT, DAN = "a" * 24, "b" * 24, "c" * 24, "d" * 24
OWN_MODEL = ModelConfig(conv_layers=[ConvLayer(12, 5, 1), ConvLayer(24, 3, 2)], hidden_units=[200], dropout_rate=0.25)
OWN_TRAIN = TrainConfig(optimizer="adam", learning_rate=0.003, epochs=2, train_size=1000, validation_size=500)


def curves(test: list[tuple[int, float]], last_step: int) -> dict[str, list[dict]]:
    """A history whose test curve has these (step, accuracy) points and whose train curve ends at `last_step`."""
    return {"train": [{"epoch": 1.0, "step": step, "loss": 0.1, "accuracy": 0.9} for step in (1, last_step)],
            "validation": [],
            "test": [{"epoch": step / last_step, "step": step, "loss": 0.05, "accuracy": value}
                     for step, value in test]}


def finished(store: RunStore, owner: str, preset: str | None, accuracy: float, *, model: ModelConfig | None = None,
             train: TrainConfig | None = None, seconds: float = 100.0, history: dict | None = None,
             status: str = COMPLETED, created: float = 1_000.0, name: str | None = None) -> str:
    if model is None:
        model, train = PRESETS[preset].configs()
    run_id = store.create(model, train, preset=preset, owner=owner, name=name)
    store.update(run_id, status=status, test_accuracy=accuracy, seconds=seconds, created=created,
                 history=history or curves([(10, accuracy)], 10))
    return run_id


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


@pytest.fixture
def book(store) -> LearnerBook:
    return LearnerBook(store, step_ids=[step.id for step in course.steps()])


@pytest.fixture
def queue(store):
    queue = JobQueue(store, executor=ParkedExecutor(), max_running=1)
    yield queue
    queue.shutdown()


def test_a_network_in_one_line():
    assert network_line(OWN_MODEL, OWN_TRAIN) == "conv 12x5s1, 24x3s2 · dense 200 · dropout 0.25 · adam 0.003"
    assert network_line(*PRESETS["softmax"].configs()) == "softmax only · sgd 0.5"
    assert network_line(*PRESETS["five-layer-sigmoid"].configs()).startswith("dense 200, 100, 60, 30 · sigmoid · sgd")
    fast = network_line(*PRESETS["fast-99"].configs())
    assert "batch norm" in fast and fast.endswith("one cycle")
    pooled = ModelConfig(conv_layers=[ConvLayer(8, 3, 1, pool_size=2)], hidden_units=[])
    assert network_line(pooled, TrainConfig(optimizer="sgd", learning_rate=0.1)) == "conv 8x3s1p2 · sgd 0.1"


def test_time_to_99_is_the_runs_seconds_at_the_first_test_point_past_99():
    history = curves([(100, 0.98), (200, 0.9912), (300, 0.9935)], last_step=400)
    assert time_to_reach(history, seconds=80.0) == pytest.approx(40.0)
    assert time_to_reach(history, seconds=80.0, target=0.993) == pytest.approx(60.0)
    assert time_to_reach(curves([(100, 0.985)], 100), seconds=80.0) is None
    assert time_to_reach({"train": [], "validation": [], "test": []}, seconds=10.0) is None
    damaged = {"train": [], "validation": [],
               "test": [{"step": None, "accuracy": 0.995}, {"step": 5, "accuracy": None}]}
    assert time_to_reach(damaged, seconds=10.0) is None


def test_one_row_per_learner_with_their_step_best_results_and_names(store, book):
    book.record_step(ANN, "conv")
    book.set_name(ANN, "Ann")
    book.record_step(BOB, "softmax")
    finished(store, ANN, "softmax", 0.9101)
    finished(store, ANN, "softmax", 0.9213)
    finished(store, ANN, "conv", 0.9876, status=STOPPED)
    finished(store, CAT, "softmax", 0.90, created=1.0)  # a learner with runs and no record: from her first run
    board = build_board(store, book.all(), [])
    assert [step.id for step in board.steps] == [step.id for step in course.steps() if step.preset]
    rows = {row.owner: row for row in board.learners}
    assert [row.owner for row in board.learners] == [CAT, ANN, BOB], "in the order they first appeared"
    assert (rows[ANN].name, rows[BOB].name, rows[CAT].name) == ("Ann", "Learner 3", "Learner 1")
    assert (rows[ANN].step, rows[ANN].step_title) == ("conv", course.get_step("conv").title)
    assert (rows[CAT].step, rows[CAT].step_title) == (None, None)
    best = dict(zip([step.id for step in board.steps], rows[ANN].best, strict=True))
    assert best["softmax"] == 0.9213 and best["conv"] == 0.9876
    assert [value for value in best.values() if value is not None] == [0.9213, 0.9876]
    assert all(value is None for value in rows[BOB].best)
    assert all(row.job is None for row in board.learners) and board.queue == ()


def test_the_queue_in_order_and_each_learners_job(store, book, queue):
    book.set_name(ANN, "Ann")
    book.set_name(BOB, "[x](http://e.vil)")
    model, train = PRESETS["softmax"].configs()
    running = queue.submit(model, train, owner=ANN, preset="softmax", name="Ann's softmax")
    waiting = queue.submit(OWN_MODEL, OWN_TRAIN, owner=BOB, preset="custom", name="Bob's convnet")
    board = build_board(store, book.all(), queue.jobs())
    first, second = board.queue
    assert (first.run_id, first.learners, first.waiting, first.summary) == (
        running, ("Ann",), False, "getting ready (loading the data)")
    assert (second.run_id, second.learners, second.run_name, second.position) == (
        waiting, ("[x](http://e.vil)",), "Bob's convnet", 1)
    assert second.summary == "waiting, number 1 in the queue"
    # The worker publishes its progress: the board says which epoch and how long is left.
    store.update(running, status=RUNNING, step=150, batches_per_epoch=100, epochs=5, eta_seconds=42.0)
    board = build_board(store, book.all(), queue.jobs())
    rows = {row.owner: row for row in board.learners}
    assert rows[ANN].job.summary == "training, epoch 2 of 5, about 42 s left"
    assert rows[BOB].job.summary == "waiting, number 1 in the queue"
    queue.stop(running, teacher=True)
    assert build_board(store, book.all(), queue.jobs()).queue[0].summary == "stopping after this batch"


def test_the_best_own_network_counts_only_learners_own_settings(store, book):
    own = finished(store, ANN, "custom", 0.9912, model=OWN_MODEL, train=OWN_TRAIN, name="Ann's convnet")
    finished(store, ANN, "custom", 0.9850, model=OWN_MODEL, train=OWN_TRAIN)
    finished(store, ANN, "conv-batchnorm", 0.9950)  # a preset's unchanged settings: not her own network
    shared = finished(store, BOB, None, 0.9890, model=OWN_MODEL, train=OWN_TRAIN, name="Bob's")
    store.add_owner(shared, DAN)  # Dan asked for the identical training and joined it: it counts for him too
    tuned = TrainConfig(optimizer="adam", learning_rate=0.0006, epochs=3, train_size=1000, fine_tune_from=own)
    finished(store, CAT, None, 0.9990, model=OWN_MODEL, train=tuned)  # a fine-tuning of Ann's run: not Cat's
    queued = store.create(OWN_MODEL, OWN_TRAIN, preset="custom", owner=CAT, status=QUEUED)
    board = build_board(store, book.all(), [])
    assert [(entry.owner, entry.test_accuracy) for entry in board.best_own] == [(ANN, 0.9912), (BOB, 0.9890),
                                                                                 (DAN, 0.9890)]
    top = board.best_own[0]
    assert (top.run_id, top.run_name, top.network) == (own, "Ann's convnet",
                                                        "conv 12x5s1, 24x3s2 · dense 200 · dropout 0.25 · adam 0.003")
    assert queued not in {entry.run_id for entry in board.best_own}


def test_the_fastest_to_99_is_estimated_from_the_step_count(store, book):
    finished(store, ANN, "custom", 0.9930, model=OWN_MODEL, train=OWN_TRAIN, seconds=120.0,
             history=curves([(100, 0.985), (300, 0.991), (600, 0.993)], 600))  # 99% at half-way: 60 s
    finished(store, ANN, "custom", 0.9920, model=OWN_MODEL, train=OWN_TRAIN, seconds=400.0,
             history=curves([(100, 0.992)], 100))  # slower: 400 s
    quick = finished(store, BOB, "fast-99", 0.9905, seconds=40.0, history=curves([(100, 0.9901)], 400))
    finished(store, CAT, "custom", 0.9890, model=OWN_MODEL, train=OWN_TRAIN, seconds=10.0,
             history=curves([(100, 0.989)], 100))  # never reached 99%
    # A stopped run that passed 99% before its last test point fell back under it still reached it.
    finished(store, DAN, "custom", 0.9880, model=OWN_MODEL, train=OWN_TRAIN, seconds=90.0, status=STOPPED,
             history=curves([(100, 0.9902), (300, 0.9880)], 300))
    board = build_board(store, book.all(), [])
    assert [(entry.owner, round(entry.seconds_to_99, 6)) for entry in board.fastest] == [
        (BOB, 10.0), (DAN, 30.0), (ANN, 60.0)]
    assert board.fastest[0].run_id == quick and board.fastest[0].preset == "fast-99"
    assert board.fastest[0].network == network_line(*PRESETS["fast-99"].configs())


def test_the_guesses_of_a_step_beside_the_class_results(store, book):
    book.record_guess(ANN, "softmax", 0.90, "b")
    book.record_guess(BOB, "softmax", 0.95, "a")
    book.record_guess(DAN, "softmax", 0.97, "b")
    book.record_guess(ANN, "conv", 0.99, "a")
    finished(store, ANN, "softmax", 0.92)
    finished(store, BOB, "softmax", 0.90)
    finished(store, BOB, "softmax", 0.88)
    finished(store, CAT, "softmax", 0.93)
    board = build_board(store, book.all(), [])
    assert set(board.guesses) == {step.id for step in course.steps()}
    softmax = board.guesses["softmax"]
    assert sorted(softmax.accuracies) == [0.90, 0.95, 0.97]
    assert softmax.choices == (("b", 2), ("a", 1))
    assert (softmax.best, softmax.median, softmax.results) == (0.93, 0.92, 3)
    data = board.guesses["data"]
    assert (data.accuracies, data.choices, data.best, data.median, data.results) == ((), (), None, None, 0)


def test_the_version_changes_with_runs_learners_and_the_queue(store, book, queue):
    run_id = finished(store, ANN, "softmax", 0.92)
    first = board_version(store, book, queue.jobs())
    assert board_version(store, book, queue.jobs()) == first
    store.update(run_id, name="renamed")
    second = board_version(store, book, queue.jobs())
    assert second != first
    book.set_name(ANN, "Ann")
    third = board_version(store, book, queue.jobs())
    assert third != second
    model, train = PRESETS["softmax"].configs()
    queue.submit(model, train, owner=BOB, preset="softmax")
    assert board_version(store, book, queue.jobs()) != third


def test_an_empty_class_has_an_empty_board(store, book):
    board = build_board(store, book.all(), [])
    assert (board.learners, board.queue, board.best_own, board.fastest) == ((), (), (), ())
    assert class_board.duration(75) == "1 min 15 s" and class_board.duration(42.4) == "42 s"
