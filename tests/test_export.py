"""mnist_models/export.py: a run's curves as CSV, one row per point, that reads back with the csv module."""

from __future__ import annotations

import csv
import io
import math

import pytest

from mnist_models.store.export import COLUMNS, history_csv


def point(step: int, loss: float | None, accuracy: float | None, steps_per_epoch: int = 10) -> dict:
    return {"epoch": step / steps_per_epoch, "step": step, "loss": loss, "accuracy": accuracy}


# The train points are stored out of order on purpose: the CSV must list each curve by step.
HISTORY = {
    "train": [point(10, 0.4, 0.88), point(5, 0.9, 0.75), point(20, 0.2, 0.94)],
    "validation": [point(5, 0.8, 0.78), point(10, 0.35, 0.9)],
    "test": [point(10, 0.3, 0.91), point(20, 0.28, 0.93)],
}


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_header_is_the_five_columns():
    reader = csv.DictReader(io.StringIO(history_csv(HISTORY)))
    assert reader.fieldnames == ["curve", "epoch", "step", "loss", "accuracy"] == list(COLUMNS)


def test_one_row_per_point_in_curve_then_step_order():
    table = rows(history_csv(HISTORY))
    assert len(table) == sum(len(points) for points in HISTORY.values()) == 7
    assert [(row["curve"], int(row["step"])) for row in table] == [
        ("train", 5), ("train", 10), ("train", 20), ("validation", 5), ("validation", 10), ("test", 10), ("test", 20)]


def test_values_read_back_as_written():
    table = rows(history_csv(HISTORY))
    test_rows = [row for row in table if row["curve"] == "test"]
    assert [(float(row["epoch"]), float(row["loss"]), float(row["accuracy"])) for row in test_rows] == [
        (1.0, 0.3, 0.91), (2.0, 0.28, 0.93)]
    # Python writes floats with repr, so every digit of a stored value survives the trip.
    value = 0.10358681130548945
    [row] = rows(history_csv({"train": [point(1, value, value)]}))
    assert float(row["loss"]) == value


@pytest.mark.parametrize("missing", [math.nan, None, math.inf, -math.inf])
def test_missing_or_infinite_values_are_empty_cells(missing):
    history = {"train": [point(1, 0.5, 0.8), point(2, missing, missing)], "validation": [], "test": []}
    table = rows(history_csv(history))
    assert (table[1]["loss"], table[1]["accuracy"]) == ("", "")
    assert (table[0]["loss"], table[0]["accuracy"]) == ("0.5", "0.8")
    assert "nan" not in history_csv(history).lower()


def test_empty_or_partial_history_gives_the_header_only_or_what_there_is():
    assert history_csv({"train": [], "validation": [], "test": []}) == "curve,epoch,step,loss,accuracy\n"
    # A run with only test points (or an older file without some curve) still exports what it has.
    table = rows(history_csv({"test": [point(10, 0.3, 0.9)]}))
    assert [row["curve"] for row in table] == ["test"]


def test_other_keys_are_left_out():
    history = {**HISTORY, "learning_rate": [{"epoch": 1.0, "step": 10, "rate": 0.5}]}
    assert history_csv(history) == history_csv(HISTORY)


def test_a_non_mapping_is_refused_with_a_message():
    with pytest.raises(ValueError, match="mapping of curve name to points"):
        history_csv([point(1, 0.5, 0.8)])
