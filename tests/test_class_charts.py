"""Tests of the Class page's figures, without Streamlit: the guessed accuracies in percent with the class's best and
median results as lines, the answers as bars with the learners' text escaped, and the projector's larger style."""

from __future__ import annotations

import pytest

from dashboard import class_charts
from dashboard.charts import BEST_COLOUR, FONT_SIZE


def test_the_histogram_shows_guesses_in_percent_and_the_results_as_lines():
    figure = class_charts.guess_histogram([0.9, 0.95, 0.97], best=0.993, median=0.981)
    [bars] = figure.data
    assert list(bars.x) == pytest.approx([90.0, 95.0, 97.0])
    assert bars.xbins.size == class_charts.BIN_POINTS
    lines = {shape.line.color: shape.x0 for shape in figure.layout.shapes}
    assert lines == pytest.approx({BEST_COLOUR: 99.3, class_charts.MEDIAN_COLOUR: 98.1})
    assert sorted(annotation.text for annotation in figure.layout.annotations) == [
        "best result: 99.30%", "median result: 98.10%"]
    assert figure.layout.xaxis.title.text == "test accuracy (%)"


def test_without_results_there_is_no_line():
    figure = class_charts.guess_histogram([0.9])
    assert figure.layout.shapes == () and figure.layout.annotations == ()


def test_the_answers_are_bars_with_the_learners_text_escaped():
    figure = class_charts.choice_bars([("<a href='http://e.vil'>b</a>", 2), ("a", 1)])
    [bars] = figure.data
    assert list(bars.y) == ["&lt;a href='http://e.vil'&gt;b&lt;/a&gt;", "a"]
    assert list(bars.x) == [2, 1] and bars.orientation == "h"
    assert figure.layout.yaxis.autorange == "reversed", "the most chosen answer on top"


def test_a_title_is_escaped_too():
    figure = class_charts.choice_bars([], title="<b>Step</b>")
    assert figure.layout.title.text == "&lt;b&gt;Step&lt;/b&gt;"


def test_the_projector_style_is_larger_and_thicker():
    plain = class_charts.guess_histogram([0.9], best=0.95, median=0.93)
    projected = class_charts.guess_histogram([0.9], best=0.95, median=0.93, projector=True)
    assert plain.layout.font.size == FONT_SIZE
    assert projected.layout.font.size == round(FONT_SIZE * class_charts.PROJECTOR_SCALE)
    assert projected.layout.title.font.size > plain.layout.title.font.size
    assert [shape.line.width for shape in projected.layout.shapes] == pytest.approx(
        [width * class_charts.PROJECTOR_SCALE for width in (shape.line.width for shape in plain.layout.shapes)])
    assert class_charts.choice_bars([("a", 1)], projector=True).layout.font.size == projected.layout.font.size
