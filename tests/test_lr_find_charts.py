"""Tests for the range test's chart, built without Streamlit: a log rate axis, each batch's loss and the smoothed
loss (NaN left out), the suggestion marked at its rate, and a loss axis the final explosion does not flatten."""

from __future__ import annotations

import math

import pytest

from dashboard.lr_find_charts import HEADROOM, loss_axis_top, range_test_figure
from mnist_models.lr_range import SKIP_START, RangeResult, RangeSettings, suggest

SETTINGS = RangeSettings(1e-5, 1.0, 60)
RATES = tuple(SETTINGS.rates())


def result_of(losses: list[float]) -> RangeResult:
    return RangeResult(SETTINGS, RATES[:len(losses)], tuple(losses), diverged=True, finished=True, batch_size=100)


def falling_then_exploding() -> list[float]:
    losses = [2.3 - 2.0 * index / 40 for index in range(40)] + [0.3 * 3 ** index for index in range(12)]
    return [*losses, float("nan")]


def test_the_chart_has_a_log_rate_axis_both_curves_and_the_suggestion():
    result = result_of(falling_then_exploding())
    suggestion = result.suggestion()
    assert suggestion.rate is not None
    figure = range_test_figure(result, suggestion)
    assert figure.layout.xaxis.type == "log"
    raw, smoothed, marked = figure.data
    assert raw.name == "each batch's loss" and len(raw.x) == result.batches_run - 1, "the NaN loss is left out"
    assert smoothed.name == "smoothed" and smoothed.x[0] == pytest.approx(RATES[SKIP_START])
    assert list(marked.x) == [suggestion.rate, suggestion.rate]
    assert marked.name == f"suggested {suggestion.rate:.2g}"


def test_the_loss_axis_ends_above_the_descent_not_at_the_explosion():
    result = result_of(falling_then_exploding())
    top = loss_axis_top(result)
    smoothed = [value for value in result.smoothed if math.isfinite(value)]
    lowest = smoothed.index(min(smoothed))
    assert top == pytest.approx(HEADROOM * max(smoothed[:lowest + 1]))
    assert top < max(loss for loss in result.losses if math.isfinite(loss)) / 10
    assert tuple(range_test_figure(result, result.suggestion()).layout.yaxis.range) == pytest.approx((0, top))


def test_no_suggestion_draws_no_mark():
    flat = [2.3] * 60
    figure = range_test_figure(result_of(flat), suggest(RATES, flat))
    assert [trace.name for trace in figure.data] == ["each batch's loss", "smoothed"]
