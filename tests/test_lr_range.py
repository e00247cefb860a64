"""Tests for the range test's arithmetic: the exponential schedule, the smoothing, the stopping rule and the
suggestion on synthetic curves (a clean descent, an early spike, a flat curve, one that diverges), and the result's
JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mnist_models import lr_range
from mnist_models.lr_range import (
    DIVERGE_FACTOR,
    MINIMUM,
    NONE,
    RULE,
    SKIP_START,
    SMOOTHING,
    STEEPEST,
    RangeRecorder,
    RangeResult,
    RangeSettings,
    smooth,
    suggest,
)

RATES = RangeSettings().rates()  # 1e-6 to 1 over 300 batches
STEEPEST_RATE = 10 ** -3.5  # where the synthetic curves below fall fastest


def descent(rate: float) -> float:
    """A loss that stays at 2.3 (chance for ten digits) for small rates, falls fastest at STEEPEST_RATE, and
    settles at 0.2; then, past 0.03, blows up as a too-large rate does."""
    x = math.log10(rate)
    loss = 0.2 + 2.1 / (1 + math.exp(3 * (x - math.log10(STEEPEST_RATE))))
    if x > -1.5:
        loss += 15 * (x + 1.5) ** 2
    return loss


def noisy(curve: list[float], level: float = 0.08, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [value * (1 + level * rng.standard_normal()) for value in curve]


def record(rates: list[float], losses: list[float]) -> RangeRecorder:
    recorder = RangeRecorder()
    for rate, loss in zip(rates, losses, strict=True):
        if recorder.add(rate, loss):
            break
    return recorder


def test_the_schedule_grows_by_one_factor_from_the_first_rate_to_the_last():
    rates = RangeSettings(1e-5, 1e-1, 100).rates()
    assert len(rates) == 100
    assert rates[0] == pytest.approx(1e-5) and rates[-1] == pytest.approx(1e-1)
    ratios = np.asarray(rates[1:]) / np.asarray(rates[:-1])
    assert ratios == pytest.approx(np.full(99, 10 ** (4 / 99)))
    assert RATES[0] == pytest.approx(1e-6) and RATES[-1] == pytest.approx(1.0) and len(RATES) == 300


@pytest.mark.parametrize(("settings", "message"), [
    (RangeSettings(start=0), "first rate must be a positive number"),
    (RangeSettings(start=float("nan")), "first rate must be a positive number"),
    (RangeSettings(end=20), "last rate must be a positive number up to 10"),
    (RangeSettings(start=1e-3, end=5e-3), "at least ten times the first"),
    (RangeSettings(batches=5), "between 30 and 2,000 batches"),
    (RangeSettings(batches=300.5), "between 30 and 2,000 batches"),
])
def test_bad_settings_are_refused_with_a_message(settings, message):
    assert any(message in problem for problem in settings.problems()), settings.problems()
    with pytest.raises(ValueError, match=message):
        settings.rates()


def test_smoothing_is_a_bias_corrected_moving_average():
    losses = [2.0, 4.0, 3.0, 1.0]
    # By hand: the average a_n = 0.9 a_(n-1) + 0.1 x_n from a_0 = 0, divided by 1 - 0.9^n.
    average, expected = 0.0, []
    for count, loss in enumerate(losses, start=1):
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        expected.append(average / (1 - SMOOTHING ** count))
    assert smooth(losses) == pytest.approx(expected)
    assert smooth(losses)[0] == pytest.approx(2.0), "without the bias correction the first value would be 0.2"
    assert smooth([1.5] * 50) == pytest.approx([1.5] * 50), "a constant loss stays where it is"
    assert math.isnan(smooth([1.0, float("nan"), 1.0])[2]), "after a NaN the curve has diverged"


def test_the_test_stops_once_the_smoothed_loss_is_four_times_its_lowest():
    losses = [descent(rate) for rate in RATES]
    recorder = record(RATES, losses)
    assert recorder.diverged
    stop = len(recorder.losses)
    assert stop < len(RATES), "it stopped before the last batch"
    curve = lr_range.smoothed_curve(recorder.losses)
    assert curve[-1] > DIVERGE_FACTOR * min(curve[SKIP_START:-1]), "it stopped because the loss had diverged ..."
    before = lr_range.smoothed_curve(recorder.losses[:-1])
    assert before[-1] <= DIVERGE_FACTOR * min(before[SKIP_START:]), "... and not one batch earlier"


def test_a_nan_or_infinite_loss_stops_the_test_at_once():
    for bad in (float("nan"), float("inf")):
        recorder = record(RATES[:5], [2.3, 2.2, bad, 2.0, 1.9])
        assert recorder.diverged and len(recorder.losses) == 3


def test_an_early_spike_neither_stops_the_test_nor_decides_the_suggestion():
    losses = [descent(rate) for rate in RATES]
    losses[1:5] = [40.0, 60.0, 30.0, 10.0]  # Lightning#1767: a spike in the first batches
    recorder = record(RATES, losses)
    assert len(recorder.losses) > 100, "the spike came before the stopping rule looks"
    found = suggest(recorder.rates, recorder.losses)
    assert found.method == STEEPEST
    assert found.rate == pytest.approx(STEEPEST_RATE, rel=0.5)
    # The spike would have fooled the naive rule (the steepest slope of the smoothed loss over every batch).
    naive = int(np.argmin(np.gradient(smooth(recorder.losses))))
    assert naive < SKIP_START


@pytest.mark.parametrize("seed", range(5))
def test_the_suggestion_is_the_steepest_descent_before_the_divergence(seed):
    recorder = record(RATES, noisy([descent(rate) for rate in RATES], seed=seed))
    assert recorder.diverged
    found = suggest(recorder.rates, recorder.losses)
    assert found.method == STEEPEST
    assert found.rate == pytest.approx(STEEPEST_RATE, rel=0.6), found
    assert found.rate == recorder.rates[found.index]
    lowest = SKIP_START + int(np.nanargmin(lr_range.smoothed_curve(recorder.losses)[SKIP_START:]))
    assert found.index < lowest, "on the way down, never in the explosion after the lowest point"


def test_a_flat_curve_gets_no_suggestion_and_says_why():
    flat = noisy([2.3] * 300, level=0.02)
    recorder = record(RATES, flat)
    assert not recorder.diverged and len(recorder.losses) == 300
    found = suggest(RATES, flat)
    assert (found.rate, found.method) == (None, NONE)
    assert "never fell" in found.reason and "higher rates" in found.reason


def test_a_curve_that_only_rises_gets_no_suggestion_and_asks_for_lower_rates():
    rising = [2.3 * (1 + index / 20) for index in range(60)]
    found = suggest(RATES[:60], rising)
    assert (found.rate, found.method) == (None, NONE) and "lower rate" in found.reason


def test_a_minimum_too_early_to_measure_falls_back_to_a_tenth_of_its_rate():
    # The loss falls for a few batches after the skipped ones, is lowest, then climbs: no descent to measure.
    losses = [2.3] * SKIP_START + [2.0, 1.5, 1.0, 0.9] + [1.0 + 0.4 * index for index in range(40)]
    found = suggest(RATES[:len(losses)], losses)
    assert found.method == MINIMUM
    lowest = SKIP_START + int(np.nanargmin(lr_range.smoothed_curve(losses)[SKIP_START:]))
    assert found.index == lowest and found.rate == pytest.approx(RATES[lowest] / 10)


def test_a_test_that_ended_at_once_suggests_nothing():
    found = suggest(RATES[:3], [2.3, 2.4, float("nan")])
    assert found.rate is None and "too early" in found.reason


def test_the_rule_is_one_sentence():
    assert RULE.count(". ") == 0 and RULE.endswith(".") and str(SKIP_START) in RULE


def test_a_result_survives_json_with_its_nan_and_its_summary():
    recorder = record(RATES, [descent(rate) for rate in RATES[:40]] + [float("nan")])
    result = RangeResult(RangeSettings(), tuple(recorder.rates), tuple(recorder.losses), recorder.diverged, True,
                         100, 1.5)
    from mnist_models.store.files import finite_or_none

    text = json.dumps(finite_or_none(result.as_dict()), allow_nan=False)
    back = RangeResult.from_dict(json.loads(text))
    assert back.rates == result.rates and back.batches_run == 41 and math.isnan(back.losses[-1])
    assert (back.diverged, back.finished, back.batch_size, back.seconds) == (True, True, 100, 1.5)
    summary = back.summary()
    assert summary["rule"] == RULE
    assert summary["range"] == {"first_rate": RATES[0], "last_rate": RATES[40], "batches_run": 41,
                                "batches_planned": 300, "stopped_on_divergence": True, "batch_size": 100}
    with pytest.raises(ValueError, match="as many losses as rates"):
        RangeResult.from_dict({"rates": [1e-3], "losses": [], "settings": {}})
