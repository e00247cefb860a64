"""dashboard/charts.py's overfitting gap: known small curves give known gaps, one coloured trace per run."""

from __future__ import annotations

import math

import pytest

from dashboard import charts


def point(step: int, loss: float, accuracy: float) -> dict[str, float]:
    return {"epoch": step / 100, "step": step, "loss": loss, "accuracy": accuracy}


# Train points every half epoch, test points every epoch. The test point at step 150 falls between train points:
# the train value to compare with is the last one at or before it (step 100), not the next one.
OVERFITTING = {
    "train": [point(50, 0.9, 0.75), point(100, 0.4, 0.88), point(200, 0.2, 0.94), point(300, 0.05, 0.99)],
    "validation": [point(100, 0.35, 0.90)],
    "test": [point(100, 0.35, 0.90), point(150, 0.32, 0.91), point(200, 0.30, 0.92), point(300, 0.33, 0.93)],
}
# Train accuracy (measured with dropout) below test accuracy: the gap is negative, and stays so.
DROPOUT = {
    "train": [point(100, 0.5, 0.85), point(200, 0.4, 0.88)],
    "test": [point(100, 0.3, 0.90), point(200, 0.25, 0.92)],
}


def traces_by_name(figure):
    return {trace.name: trace for trace in figure.data}


def test_accuracy_gap_is_train_minus_test_in_points():
    epochs, gaps = charts.overfitting_gap(OVERFITTING, "accuracy")
    assert epochs == [1.0, 1.5, 2.0, 3.0]
    # 88 - 90, 88 - 91 (the train point at step 100), 94 - 92, 99 - 93.
    assert gaps == pytest.approx([-2.0, -3.0, 2.0, 6.0])


def test_loss_gap_is_test_minus_train():
    epochs, gaps = charts.overfitting_gap(OVERFITTING, "loss")
    assert epochs == [1.0, 1.5, 2.0, 3.0]
    assert gaps == pytest.approx([-0.05, -0.08, 0.10, 0.28])


def test_test_points_before_the_first_train_point_are_left_out():
    curves = {"train": [point(100, 0.4, 0.88)], "test": [point(50, 0.5, 0.8), point(100, 0.35, 0.9)]}
    assert charts.overfitting_gap(curves, "loss") == ([1.0], [pytest.approx(-0.05)])


def test_train_points_out_of_order_are_matched_by_step():
    curves = {"train": list(reversed(OVERFITTING["train"])), "test": OVERFITTING["test"]}
    assert charts.overfitting_gap(curves, "accuracy") == charts.overfitting_gap(OVERFITTING, "accuracy")


def test_diverged_points_are_skipped_not_plotted():
    # A diverged run stores null (or NaN) values: no gap at the bad test point, and the bad train point is passed
    # over for the last good one before it.
    curves = {
        "train": [point(100, 0.4, 0.88), {"epoch": 2.0, "step": 200, "loss": None, "accuracy": None}],
        "test": [point(100, 0.35, 0.90), point(200, 0.5, 0.85), {"epoch": 3.0, "step": 300, "loss": math.nan,
                                                                  "accuracy": math.nan}],
    }
    epochs, gaps = charts.overfitting_gap(curves, "loss")
    assert epochs == [1.0, 2.0]
    assert gaps == pytest.approx([-0.05, 0.1])


def test_a_run_without_curves_has_no_gap():
    assert charts.overfitting_gap({}, "accuracy") == ([], [])
    assert charts.overfitting_gap({"train": [], "test": [point(100, 0.3, 0.9)]}, "accuracy") == ([], [])


def test_gap_figure_has_one_trace_per_run_with_its_gaps_and_colour():
    figure = charts.gap_figure({"no dropout": OVERFITTING, "dropout": DROPOUT}, "accuracy")
    traces = traces_by_name(figure)
    assert list(traces) == ["no dropout", "dropout"]
    assert list(traces["no dropout"].x) == [1.0, 1.5, 2.0, 3.0]
    assert list(traces["no dropout"].y) == pytest.approx([-2.0, -3.0, 2.0, 6.0])
    assert list(traces["dropout"].y) == pytest.approx([-5.0, -4.0])
    # The same colours, in the same order, as the comparison charts above it.
    assert [trace.line.color for trace in figure.data] == list(charts.COMPARE_COLOURS[:2])
    assert all("markers" in trace.mode and trace.hovertemplate for trace in figure.data)


@pytest.mark.parametrize(("metric", "title", "y_title", "values"), [
    ("accuracy", "Overfitting gap: accuracy", "train − test accuracy (points)", [-2.0, -3.0, 2.0, 6.0]),
    ("loss", "Overfitting gap: loss", "test − train loss", [-0.05, -0.08, 0.10, 0.28]),
])
def test_gap_figure_titles_and_values(metric, title, y_title, values):
    figure = charts.gap_figure({"run": OVERFITTING}, metric)
    assert figure.layout.title.text == title
    assert figure.layout.yaxis.title.text == y_title
    assert figure.layout.xaxis.title.text == "epoch"
    assert list(figure.data[0].y) == pytest.approx(values)


def test_gap_figure_marks_zero_the_no_gap_line():
    figure = charts.gap_figure({"run": OVERFITTING}, "loss")
    assert [(shape.y0, shape.y1) for shape in figure.layout.shapes] == [(0, 0)]


def test_gap_figure_of_no_runs_is_an_empty_chart():
    figure = charts.gap_figure({}, "loss")
    assert not figure.data
    assert figure.layout.title.text == "Overfitting gap: loss"


@pytest.mark.parametrize("build", [charts.gap_figure, charts.overfitting_gap])
def test_unknown_metric_is_refused(build):
    with pytest.raises(ValueError, match="metric must be 'accuracy' or 'loss'"):
        build({"run": OVERFITTING} if build is charts.gap_figure else OVERFITTING, "precision")
