"""The figures of dashboard/inspect_charts.py that the Draw page shares, checked as pure functions (the Inspect
page's other bars are checked in test_inspection.py, the pictures in test_pictures.py)."""

from __future__ import annotations

from dashboard import charts, inspect_charts


def test_probabilities_highlight_the_most_likely_digit():
    probabilities = [0.01] * 10
    probabilities[7] = 0.91
    figure = inspect_charts.probability_figure(probabilities)
    [bars] = figure.data
    assert list(bars.x) == [str(digit) for digit in range(10)]
    colours = list(bars.marker.color)
    assert colours[7] == charts.TEST_COLOUR
    assert colours.count(charts.TEST_COLOUR) == 1
    assert bars.text[7] == "91%"


def test_probabilities_of_nothing_do_not_crash():
    figure = inspect_charts.probability_figure([])
    assert list(figure.data[0].y) == []
