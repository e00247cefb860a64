"""Tests for mnist_models.store.progress: statuses, curve points, progress read back from files, scoring."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mnist_models.store import progress
from mnist_models.store.files import finite_or_none
from mnist_models.store.progress import CurvePoint, Progress, progress_from_files, scores

ALL_STATUSES = {"queued", "starting", "running", "stopping", "completed", "stopped", "failed", "interrupted"}


def _progress(**fields) -> Progress:
    values = {"run_id": "r", "status": "running", "epoch": 0, "epochs": 2, "batch": 0, "batches_per_epoch": 10,
              "step": 0, "elapsed_seconds": 0.0, "eta_seconds": None, "learning_rate": None, "device": ""}
    return Progress(**{**values, **fields})


def test_status_tuples_are_disjoint_and_cover_every_status():
    assert set(progress.ACTIVE_STATUSES) == {"starting", "running", "stopping"}
    assert set(progress.FINAL_STATUSES) == {"completed", "stopped", "failed", "interrupted"}
    assert not set(progress.ACTIVE_STATUSES) & set(progress.FINAL_STATUSES)
    assert progress.QUEUED not in (*progress.ACTIVE_STATUSES, *progress.FINAL_STATUSES)
    assert {*progress.ACTIVE_STATUSES, *progress.FINAL_STATUSES, progress.QUEUED} == ALL_STATUSES
    assert progress.CURVES == ("train", "validation", "test")


def test_curve_point_round_trips_through_a_dict_and_json():
    point = CurvePoint(epoch=1.5, step=825, loss=0.2875, accuracy=0.9125)
    assert point.as_dict() == {"epoch": 1.5, "step": 825, "loss": 0.2875, "accuracy": 0.9125}
    assert CurvePoint.from_dict(point.as_dict()) == point
    assert CurvePoint.from_dict(json.loads(json.dumps(point.as_dict()))) == point


def test_a_diverged_point_stored_as_null_reads_back_as_nan():
    # JSON has no NaN: the store writes null (finite_or_none), and a reader gets NaN back, not None or 0.
    diverged = CurvePoint(epoch=0.25, step=3, loss=math.nan, accuracy=math.inf)
    stored = json.dumps(finite_or_none(diverged.as_dict()), allow_nan=False)
    assert json.loads(stored) == {"epoch": 0.25, "step": 3, "loss": None, "accuracy": None}
    back = CurvePoint.from_dict(json.loads(stored))
    assert (back.epoch, back.step) == (0.25, 3)
    assert math.isnan(back.loss) and math.isnan(back.accuracy)


def test_curve_point_from_an_odd_dict():
    point = CurvePoint.from_dict({"epoch": "1", "loss": "0.5", "accuracy": 1})
    assert math.isnan(point.epoch) and math.isnan(point.loss)
    assert (point.step, point.accuracy) == (0, 1.0)
    assert CurvePoint.from_dict({"epoch": 2, "step": 7.0, "loss": 0, "accuracy": 0.5}) == CurvePoint(2.0, 7, 0.0, 0.5)


@pytest.mark.parametrize("step", ["x", float("nan"), [1], float("inf"), True, None])
def test_a_damaged_step_reads_as_zero_instead_of_raising(step):
    point = CurvePoint.from_dict({"epoch": 1.0, "step": step, "loss": 0.5, "accuracy": 0.9})
    assert (point.epoch, point.step, point.loss, point.accuracy) == (1.0, 0, 0.5, 0.9)
    progress = progress_from_files("run", "completed", {}, {"test": [{"epoch": 1, "step": step}]})
    assert progress.test[0].step == 0


def test_progress_from_empty_files_is_all_defaults():
    read = progress_from_files("run-1", "running", {}, {}, now=100.0)
    assert read == _progress(run_id="run-1", epochs=0, batches_per_epoch=0)
    assert read.fraction == 0.0 and not read.done and not read.waiting


def test_progress_from_files_reads_what_the_reporter_writes():
    meta = {"epochs_completed": 1, "epochs": 3, "batch": 4, "batches_per_epoch": 10, "step": 14, "seconds": 12.5,
            "eta_seconds": 20.0, "learning_rate": 0.003, "device": "CPU (2 threads)", "test_accuracy": 0.91,
            "test_loss": 0.3, "error": None, "heartbeat": 1000.0}
    history = {"train": [{"epoch": 1.4, "step": 14, "loss": 0.4, "accuracy": 0.88}],
               "validation": [{"epoch": 1.2, "step": 12, "loss": 0.45, "accuracy": 0.86}],
               "test": [{"epoch": 1.0, "step": 10, "loss": 0.3, "accuracy": 0.91}]}
    read = progress_from_files("run-2", "running", meta, history, now=1002.0)
    assert (read.epoch, read.epochs, read.batch, read.batches_per_epoch, read.step) == (1, 3, 4, 10, 14)
    # The clock kept running for the 2 s since the last heartbeat.
    assert read.elapsed_seconds == pytest.approx(14.5)
    assert (read.eta_seconds, read.learning_rate, read.device) == (20.0, 0.003, "CPU (2 threads)")
    assert (read.test_accuracy, read.test_loss, read.error) == (0.91, 0.3, None)
    assert read.train == (CurvePoint(1.4, 14, 0.4, 0.88),)
    assert read.validation == (CurvePoint(1.2, 12, 0.45, 0.86),)
    assert read.test == (CurvePoint(1.0, 10, 0.3, 0.91),)
    assert read.fraction == pytest.approx(14 / 30)
    assert read.curves() == {name: history[name] for name in ("train", "validation", "test")}


def test_a_finished_run_has_no_eta_and_its_clock_stops():
    meta = {"seconds": 12.5, "eta_seconds": 20.0, "heartbeat": 1000.0}
    read = progress_from_files("r", "completed", meta, {}, now=5000.0)
    assert read.elapsed_seconds == 12.5
    assert read.eta_seconds is None
    assert read.done
    # A heartbeat in the reader's future (clocks of two machines) never makes the time go backwards.
    assert progress_from_files("r", "running", meta, {}, now=900.0).elapsed_seconds == 12.5


def test_progress_from_files_reads_odd_values_as_missing():
    meta = {"epochs_completed": "2", "epochs": True, "batch": None, "batches_per_epoch": 7.9, "step": math.nan,
            "seconds": "long", "eta_seconds": [1], "learning_rate": False, "device": None, "test_accuracy": "0.9",
            "error": 42}
    history = {"train": [3, "x", None, {"epoch": 0.5, "step": 2, "loss": 1.0, "accuracy": 0.5}],
               "validation": "not a list of points", "test": None}
    read = progress_from_files("r", "running", meta, history, now=0.0)
    assert (read.epoch, read.epochs, read.batch, read.batches_per_epoch, read.step) == (0, 0, 0, 7, 0)
    assert (read.elapsed_seconds, read.eta_seconds, read.learning_rate) == (0.0, None, None)
    assert (read.device, read.test_accuracy, read.error) == ("", None, "42")
    assert read.train == (CurvePoint(0.5, 2, 1.0, 0.5),)
    assert read.validation == () and read.test == ()


@pytest.mark.parametrize("history", [[], "text", None, 7])
def test_a_history_that_is_not_an_object_has_no_curves(history):
    read = progress_from_files("r", "failed", {"error": "boom"}, history, now=0.0)
    assert (read.train, read.validation, read.test) == ((), (), ())
    assert read.error == "boom"


@pytest.mark.parametrize(("step", "epochs", "batches", "fraction"),
                         [(5, 2, 10, 0.25), (20, 2, 10, 1.0), (25, 2, 10, 1.0), (5, 0, 10, 0.0), (5, 2, 0, 0.0)])
def test_fraction_is_capped_and_safe_without_totals(step, epochs, batches, fraction):
    assert _progress(step=step, epochs=epochs, batches_per_epoch=batches).fraction == fraction


def test_done_and_waiting_follow_the_status():
    assert [_progress(status=status).done for status in ("queued", "running", "stopped", "interrupted")] == [
        False, False, True, True]
    assert [_progress(status=status).waiting for status in ("queued", "starting")] == [True, False]


def test_scores_of_known_probabilities():
    probabilities = np.zeros((2, 10))
    probabilities[0, [2, 5]] = 0.8, 0.2  # label 2: right, loss -ln 0.8
    probabilities[1, [1, 4]] = 0.6, 0.4  # label 4: wrong (argmax 1), loss -ln 0.4
    loss, accuracy = scores(probabilities, np.array([2, 4]))
    assert loss == pytest.approx((-math.log(0.8) - math.log(0.4)) / 2) == pytest.approx(0.5697171)
    assert accuracy == 0.5


def test_scores_clip_like_keras():
    # A zero probability for the right class costs -ln(1e-7), not infinity; a certain right answer costs ~1e-7.
    certain = np.eye(10)[[0, 3]]
    loss, accuracy = scores(certain, np.array([0, 7]))
    assert loss == pytest.approx((-math.log(1 - 1e-7) - math.log(1e-7)) / 2)
    assert loss == pytest.approx(8.0590479)
    assert accuracy == 0.5
    assert scores(certain, np.array([0, 3])) == (pytest.approx(1e-7), 1.0)
