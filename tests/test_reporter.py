"""Tests for mnist_models.worker.reporter: a worker's live state, published into the run folder for every reader."""

from __future__ import annotations

import json
import math
import os
import threading
import time

import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.files import HOST, INSIGHT_FILE, META_FILE
from mnist_models.store.progress import CurvePoint
from mnist_models.store.runs import RunStore
from mnist_models.worker.reporter import PUBLISH_SECONDS, STOP_CHECK_SECONDS, RunReporter


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


def _reporter(store: RunStore, epochs: int = 2, **options) -> RunReporter:
    run_id = store.create(ModelConfig(hidden_units=[]), TrainConfig(epochs=epochs), preset="softmax")
    return RunReporter(store, run_id, epochs=epochs, **options)


def _meta(store: RunStore, run_id: str) -> dict:
    return json.loads((store.root / run_id / META_FILE).read_text())


def test_counters_and_points_reach_the_run_folder(store):
    reporter = _reporter(store)
    reporter.set_device("CPU (1 threads)")
    reporter.begin(batches_per_epoch=10, learning_rate=0.1)
    read = store.progress(reporter.run_id)
    assert (read.status, read.batches_per_epoch, read.learning_rate, read.device) == ("running", 10, 0.1,
                                                                                      "CPU (1 threads)")
    for batch in range(1, 5):
        reporter.batch_done(batch)
    reporter.add_point("train", CurvePoint(0.4, 4, 1.5, 0.6), learning_rate=0.09)
    reporter.add_point("validation", CurvePoint(0.4, 4, 1.6, 0.55))
    reporter.publish()
    read = store.progress(reporter.run_id)
    assert (read.status, read.epoch, read.epochs, read.batch, read.step) == ("running", 0, 2, 4, 4)
    assert read.train == (CurvePoint(0.4, 4, 1.5, 0.6),)
    assert read.validation == (CurvePoint(0.4, 4, 1.6, 0.55),)
    assert read.test == ()
    assert read.learning_rate == 0.09
    assert read.fraction == pytest.approx(0.2)
    assert store.load_learning_rates(reporter.run_id) == [{"epoch": 0.4, "step": 4, "rate": 0.09}]
    # The worker names itself, so that readers can tell a live run from one whose process died.
    meta = _meta(store, reporter.run_id)
    assert (meta["pid"], meta["host"]) == (os.getpid(), HOST)
    # What the folder says is what the reporter holds.
    assert read.curves() == reporter.snapshot().curves()


def test_a_test_point_sets_the_run_scores(store):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=0.1)
    for batch in range(1, 11):
        reporter.batch_done(batch)
    reporter.add_point("test", CurvePoint(1.0, 10, 0.35, 0.9))
    reporter.epoch_done(1)  # publishes at once
    read = store.progress(reporter.run_id)
    assert (read.epoch, read.step, read.test_accuracy, read.test_loss) == (1, 10, 0.9, 0.35)
    info = store.get(reporter.run_id)
    assert (info.epochs_completed, info.test_accuracy, info.test_loss, info.status) == (1, 0.9, 0.35, "running")


def test_an_unknown_curve_is_refused(store):
    reporter = _reporter(store)
    with pytest.raises(ValueError, match="Unknown curve 'training'; expected one of train, validation, test"):
        reporter.add_point("training", CurvePoint(0.1, 1, 1.0, 0.5))


def test_a_diverged_point_is_published_and_read_back_as_nan(store):
    reporter = _reporter(store)
    reporter.add_point("train", CurvePoint(0.1, 1, math.nan, math.nan))
    reporter.publish()
    (point,) = store.progress(reporter.run_id).train
    assert (point.epoch, point.step) == (0.1, 1)
    assert math.isnan(point.loss) and math.isnan(point.accuracy)


@pytest.mark.parametrize(
    ("calls", "step", "batch"),
    [
        ([1, 2, 3], 3, 3),
        # steps_per_execution = 4 (a GPU): one call every 4 batches, and a short last call.
        ([4, 8, 10], 10, 10),
        # A count below the last one is a new epoch.
        ([4, 8, 10, 4], 14, 4),
        ([10, 1, 2], 12, 2),
    ],
)
def test_batch_done_counts_steps_across_calls_and_epochs(store, calls, step, batch):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=None)
    for call in calls:
        reporter.batch_done(call)
    assert (reporter.step, reporter.snapshot().step, reporter.snapshot().batch) == (step, step, batch)


def test_eta_only_while_training(store):
    reporter = _reporter(store)
    assert reporter.snapshot().eta_seconds is None  # starting
    reporter.begin(batches_per_epoch=10, learning_rate=None)
    assert reporter.snapshot().eta_seconds is None  # no batch yet
    reporter.batch_done(1)
    reporter.batch_done(2)
    assert reporter.snapshot().eta_seconds >= 0
    reporter.finish()
    assert reporter.snapshot().eta_seconds is None
    assert store.progress(reporter.run_id).eta_seconds is None


def test_publish_if_due_publishes_at_most_every_publish_seconds(store):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=None)  # publishes
    reporter.batch_done(1)
    reporter.publish_if_due()
    assert store.progress(reporter.run_id).step == 0
    time.sleep(PUBLISH_SECONDS)
    reporter.publish_if_due()
    assert store.progress(reporter.run_id).step == 1


def test_the_first_train_point_is_published_at_once_later_ones_when_due(store):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=None)  # publishes
    reporter.batch_done(1)
    reporter.add_point("train", CurvePoint(0.1, 1, 2.2, 0.15))
    reporter.publish_if_due()  # well within PUBLISH_SECONDS of begin(): the learner is waiting for this point
    assert [point.step for point in store.progress(reporter.run_id).train] == [1]
    reporter.batch_done(2)
    reporter.add_point("train", CurvePoint(0.2, 2, 2.0, 0.3))
    reporter.publish_if_due()
    assert [point.step for point in store.progress(reporter.run_id).train] == [1], "the second one waits"
    time.sleep(PUBLISH_SECONDS)
    reporter.publish_if_due()
    assert [point.step for point in store.progress(reporter.run_id).train] == [1, 2]


def test_a_stop_file_is_seen_and_published(store):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=None)
    reporter.batch_done(1)
    assert not reporter.should_stop()
    store.request_stop(reporter.run_id)  # as another process (the server) asks
    time.sleep(STOP_CHECK_SECONDS)
    assert reporter.should_stop()
    assert reporter.should_stop()  # it stays asked for
    assert store.progress(reporter.run_id).status == "stopping"
    assert reporter.finish().status == "stopped"
    assert store.get(reporter.run_id).status == "stopped"
    assert reporter.done


def test_a_stop_asked_in_this_process_needs_no_file(store):
    event = threading.Event()
    reporter = _reporter(store, stop_event=event)
    assert not reporter.should_stop()
    event.set()  # a TrainingThread's owner sets the shared event
    assert reporter.should_stop()
    other = _reporter(store)
    other.begin(batches_per_epoch=10, learning_rate=None)
    other.request_stop()
    assert other.should_stop()
    assert store.progress(other.run_id).status == "stopping"
    assert not store.stop_requested(other.run_id)


def test_a_stop_before_training_began_is_heard(store):
    reporter = _reporter(store)
    reporter.request_stop()
    assert store.progress(reporter.run_id).status == "stopping"
    reporter.begin(batches_per_epoch=10, learning_rate=None)
    assert reporter.snapshot().status == "stopping"


def test_a_stop_after_the_last_batch_leaves_the_run_completed(tmp_path):
    store = RunStore(tmp_path)
    for stop_at, expected in ((20, "completed"), (13, "stopped")):
        run_id = store.create(ModelConfig(), TrainConfig(epochs=2))
        reporter = RunReporter(store, run_id, epochs=2)
        reporter.begin(batches_per_epoch=10, learning_rate=0.1)
        for step in range(1, stop_at + 1):
            reporter.batch_done((step - 1) % 10 + 1)
        reporter.request_stop()  # pressed after the batch counted last
        assert reporter.finish().status == expected
        assert store.get(run_id).status == expected


def test_a_stop_after_the_run_ended_changes_nothing(store):
    reporter = _reporter(store, epochs=1)
    reporter.begin(batches_per_epoch=2, learning_rate=None)
    reporter.batch_done(1)
    reporter.batch_done(2)
    reporter.finish(learning_rate=0.01)
    reporter.request_stop()
    assert reporter.snapshot().status == "completed"
    info = store.get(reporter.run_id)
    assert info.status == "completed" and info.finished is not None
    assert store.progress(reporter.run_id).learning_rate == 0.01


def test_fail_writes_failed_with_the_reason(store):
    reporter = _reporter(store)
    reporter.begin(batches_per_epoch=10, learning_rate=None)
    reason = "Out of memory: use a smaller batch size, fewer neurons or filters, or a larger stride."
    snapshot = reporter.fail(reason)
    assert (snapshot.status, snapshot.error) == ("failed", reason)
    assert reporter.done
    info = store.get(reporter.run_id)
    assert (info.status, info.error) == ("failed", reason)
    assert info.finished is not None
    assert store.progress(reporter.run_id).error == reason


def test_insight_is_published_when_it_changed_and_at_the_end(store):
    reporter = _reporter(store)
    reporter.set_wall([3, 7], [1, 2])
    reporter.set_digits(1.0, [1, 5])
    row = {"layer": "output", "kind": "weights", "epoch": 1.0, "values": [0.1, 0.2]}
    reporter.add_weights([row])
    reporter.publish()
    insight = store.load_insight(reporter.run_id)
    assert insight["digits"] == {"indices": [3, 7], "labels": [1, 2], "predicted": [1, 5], "epoch": 1.0}
    assert insight["weights"] == [row]
    assert reporter.insight()["digits"]["predicted"] == [1, 5]
    # Unchanged insight is not rewritten at every publish; the final publish writes it again.
    path = store.root / reporter.run_id / INSIGHT_FILE
    path.unlink()
    reporter.publish()
    assert not path.exists()
    reporter.finish()
    assert json.loads(path.read_text())["digits"]["predicted"] == [1, 5]
