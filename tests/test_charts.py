"""The Plotly figure builders of dashboard/charts.py, checked as pure functions: traces, styles, titles, marks."""

from __future__ import annotations

import pytest

from dashboard import charts


def point(epoch: float, loss: float, accuracy: float) -> dict[str, float]:
    return {"epoch": epoch, "step": int(epoch * 100), "loss": loss, "accuracy": accuracy}


# Test loss is lowest at epoch 2 and climbs afterwards: the overfitting shape the star and the line point out.
OVERFITTING = {
    "train": [point(0.5, 0.9, 0.75), point(1.0, 0.4, 0.88), point(2.0, 0.2, 0.94), point(3.0, 0.05, 0.99)],
    "validation": [point(0.5, 0.8, 0.78), point(1.0, 0.35, 0.90), point(2.0, 0.3, 0.92)],
    "test": [point(1.0, 0.35, 0.90), point(2.0, 0.30, 0.92), point(3.0, 0.33, 0.93)],
}
# Test loss still falling at the last epoch: the best point is the latest one.
IMPROVING = {
    "train": [point(0.5, 0.9, 0.75), point(1.0, 0.4, 0.88)],
    "test": [point(1.0, 0.35, 0.90), point(2.0, 0.25, 0.93)],
}


def traces_by_name(figure):
    return {trace.name: trace for trace in figure.data}


def star_traces(figure):
    return [trace for trace in figure.data if trace.marker is not None and trace.marker.symbol == "star"]


def vertical_lines(figure):
    return [shape for shape in figure.layout.shapes if shape.x0 is not None and shape.x0 == shape.x1]


@pytest.mark.parametrize("build", [charts.accuracy_figure, charts.loss_figure])
def test_curves_get_one_trace_each_with_their_style(build):
    traces = traces_by_name(build(OVERFITTING))
    train, validation, test = traces["train (smoothed)"], traces["validation"], traces["test"]
    assert test.line.dash in (None, "solid"), "test is the curve that matters: a solid line"
    assert validation.line.dash == "dot"
    assert train.line.dash in (None, "solid")
    assert test.line.width > train.line.width
    assert "markers" in test.mode
    assert (test.line.color, validation.line.color, train.line.color) == (
        charts.TEST_COLOUR, charts.VALIDATION_COLOUR, charts.TRAIN_COLOUR)
    assert all(trace.hovertemplate for trace in (train, validation, test)), "hover values are shown"


def test_curves_carry_the_epochs_and_values():
    accuracy = traces_by_name(charts.accuracy_figure(OVERFITTING))
    loss = traces_by_name(charts.loss_figure(OVERFITTING))
    assert list(accuracy["test"].x) == [1.0, 2.0, 3.0]
    assert list(accuracy["test"].y) == [0.90, 0.92, 0.93]
    assert list(loss["test"].y) == [0.35, 0.30, 0.33]
    assert list(loss["train (smoothed)"].x) == [0.5, 1.0, 2.0, 3.0]


def test_titles_and_axes():
    accuracy = charts.accuracy_figure(OVERFITTING)
    loss = charts.loss_figure(OVERFITTING)
    assert accuracy.layout.title.text == "Accuracy"
    assert loss.layout.title.text == "Loss"
    assert accuracy.layout.xaxis.title.text == loss.layout.xaxis.title.text == "epoch"
    assert accuracy.layout.yaxis.tickformat == ".0%"
    # Readable on a classroom projector.
    assert accuracy.layout.font.size >= 14 and loss.layout.font.size >= 14


def test_missing_curves_are_left_out():
    figure = charts.accuracy_figure({"test": IMPROVING["test"]})
    assert [trace.name for trace in figure.data] == ["test"]


def test_best_test_point_is_the_lowest_test_loss():
    assert charts.best_test_point(OVERFITTING)["epoch"] == 2.0
    assert charts.best_test_point(IMPROVING)["epoch"] == 2.0
    assert charts.best_test_point({"train": OVERFITTING["train"]}) is None
    assert charts.best_test_point({}) is None


def test_overfitting_gets_a_star_and_a_vertical_line_at_the_lowest_test_loss():
    figure = charts.loss_figure(OVERFITTING)
    [star] = star_traces(figure)
    assert (list(star.x), list(star.y)) == ([2.0], [0.30])
    [line] = vertical_lines(figure)
    assert line.x0 == 2.0
    assert any("overfitting" in note.text for note in figure.layout.annotations)


def test_still_improving_gets_the_star_but_no_vertical_line():
    figure = charts.loss_figure(IMPROVING)
    [star] = star_traces(figure)
    assert (list(star.x), list(star.y)) == ([2.0], [0.25])
    assert vertical_lines(figure) == []
    assert not any("overfitting" in note.text for note in figure.layout.annotations)


def test_accuracy_has_no_best_epoch_mark():
    figure = charts.accuracy_figure(OVERFITTING)
    assert star_traces(figure) == []
    assert vertical_lines(figure) == []


def test_codelab_target_is_a_horizontal_line_with_its_figure():
    figure = charts.accuracy_figure(OVERFITTING, target=0.98)
    [line] = figure.layout.shapes
    assert line.y0 == line.y1 == 0.98
    assert line.line.dash == "dash"
    assert any("98.0%" in annotation.text for annotation in figure.layout.annotations)
    assert figure.layout.yaxis.range[1] >= 0.98, "the target stays inside the view"


def test_no_target_no_line():
    figure = charts.accuracy_figure(OVERFITTING)
    assert not figure.layout.shapes
    assert not figure.layout.annotations


def test_accuracy_zooms_onto_the_top_once_past_chance():
    low, high = charts.accuracy_figure(OVERFITTING).layout.yaxis.range
    # The view follows validation and test (lowest 0.78), not the noisy early training batches.
    assert low == pytest.approx(0.76) and high >= 1.0
    early = {"test": [point(1.0, 2.0, 0.3)]}
    assert charts.accuracy_figure(early).layout.yaxis.range[0] == 0.0


def test_loss_view_starts_at_zero_and_keeps_every_test_point():
    low, high = charts.loss_figure(OVERFITTING).layout.yaxis.range
    assert low == 0
    assert high >= max(p["loss"] for p in OVERFITTING["test"])


@pytest.mark.parametrize("curves", [{}, {"train": [], "validation": [], "test": []}])
def test_empty_curves_draw_empty_charts(curves):
    accuracy = charts.accuracy_figure(curves, target=0.92)
    loss = charts.loss_figure(curves)
    assert list(accuracy.data) == [] and list(loss.data) == []
    assert accuracy.layout.title.text == "Accuracy" and loss.layout.title.text == "Loss"
    accuracy.to_json()
    loss.to_json()


def test_single_point_curves():
    curves = {"train": [point(0.1, 2.3, 0.1)], "test": [point(1.0, 0.5, 0.85)]}
    figure = charts.loss_figure(curves)
    assert len(star_traces(figure)) == 1
    assert vertical_lines(figure) == []
    figure.to_json()


def test_comparison_has_one_test_trace_per_run():
    runs = {"softmax (abc123)": IMPROVING, "dropout (def456)": OVERFITTING}
    figure = charts.comparison_figure(runs, "accuracy")
    assert [trace.name for trace in figure.data] == list(runs)
    assert list(figure.data[1].y) == [0.90, 0.92, 0.93]
    assert figure.data[0].line.color != figure.data[1].line.color
    assert figure.layout.title.text == "Test accuracy"
    loss = charts.comparison_figure(runs, "loss")
    assert loss.layout.title.text == "Test loss"
    assert list(loss.data[0].y) == [0.35, 0.25]


def test_comparison_of_more_runs_than_colours_reuses_them():
    runs = {f"run {index}": IMPROVING for index in range(len(charts.COMPARE_COLOURS) + 1)}
    figure = charts.comparison_figure(runs, "loss")
    assert len(figure.data) == len(runs)
    assert figure.data[-1].line.color == figure.data[0].line.color


def test_comparison_of_nothing_is_an_empty_chart():
    assert list(charts.comparison_figure({}, "accuracy").data) == []


def test_comparison_rejects_an_unknown_metric():
    with pytest.raises(ValueError, match="accuracy"):
        charts.comparison_figure({"a": IMPROVING}, "precision")
