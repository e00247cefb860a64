"""The learning-rate range test's arithmetic: the exponential schedule, the smoothed loss, when to stop and which
rate to suggest. No TensorFlow: the worker feeds it each batch's own loss; the pages and the command line read it.

The test (Leslie Smith's, as fastai's `lr_find` runs it) trains a throwaway copy of a network for a few hundred
batches while the learning rate grows exponentially, and watches the loss: too small a rate barely moves it, a
good one makes it fall fast, too large a one makes it explode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_START = 1e-6
DEFAULT_END = 1.0
DEFAULT_BATCHES = 300
MIN_BATCHES = 30  # fewer leave too little after the skipped start to find a descent in
MAX_BATCHES = 2000
MAX_RATE = 10.0  # the highest learning rate a training accepts (config.TrainConfig)
SMOOTHING = 0.9  # weight of the past in the moving average of the loss (about the last ten batches)
DIVERGE_FACTOR = 4.0  # the test stops once the smoothed loss is this many times its lowest value so far
SKIP_START = 10  # batches the stopping rule and the suggestion leave out: an early spike must not decide either
SLOPE_SPAN = 3  # the slope at a batch is measured over this many batches either side (single steps are noisy)
MIN_DROP = 0.05  # a loss that never falls below its start by this share is flat: no rate is suggested

# Shown by the Train page and printed by the command line, so that nobody has to take the number on trust.
RULE = (f"The suggested rate is where the smoothed loss falls fastest on its way down to its lowest point, leaving "
        f"out the first {SKIP_START} batches so that an early spike cannot mislead it; when there is no such "
        "descent to measure, it is a tenth of the rate at the lowest loss.")
NOTE = ("A starting point, not an answer: the rate that trains best for several epochs is often a little lower, "
        "and it depends on the schedule, the batch size and the epochs; only training at it (Try three) tells.")

STEEPEST = "steepest descent"
MINIMUM = "minimum / 10"
NONE = "none"


@dataclass(frozen=True)
class RangeSettings:
    """The rates tried: from `start` to `end`, growing by the same factor after each of `batches` batches."""

    start: float = DEFAULT_START
    end: float = DEFAULT_END
    batches: int = DEFAULT_BATCHES

    def problems(self) -> list[str]:
        """Every problem with these settings, as sentences; empty when they are valid."""
        found = []
        finite = [_is_finite(value) for value in (self.start, self.end)]
        if not finite[0] or self.start <= 0:
            found.append(f"The first rate must be a positive number, like 1e-6 (got {self.start!r}).")
        if not finite[1] or self.end <= 0 or self.end > MAX_RATE:
            found.append(f"The last rate must be a positive number up to {MAX_RATE:g}, like 1 (got {self.end!r}).")
        if all(finite) and self.start > 0 and 0 < self.end <= MAX_RATE and self.end < self.start * 10:
            found.append(f"The last rate ({self.end:g}) must be at least ten times the first ({self.start:g}): the "
                         "test needs a range to grow over.")
        if not _is_int(self.batches) or not MIN_BATCHES <= self.batches <= MAX_BATCHES:
            found.append(f"The test runs between {MIN_BATCHES} and {MAX_BATCHES:,} batches (got {self.batches!r}).")
        return found

    def validate(self) -> RangeSettings:
        """Return self, or raise ValueError naming every problem."""
        problems = self.problems()
        if problems:
            raise ValueError(" ".join(problems))
        return self

    def rates(self) -> list[float]:
        """The rate of each batch: start x (end / start) ^ (i / (batches - 1)), so the last batch gets `end`."""
        self.validate()
        return exponential_rates(self.start, self.end, self.batches)

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "batches": self.batches}

    @classmethod
    def from_dict(cls, data: Any) -> RangeSettings:
        """Settings from JSON (a missing value takes the default); invalid ones raise ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError("The range test's settings must be a JSON object with start, end and batches.")
        defaults = cls()
        return cls(data.get("start", defaults.start), data.get("end", defaults.end),
                   data.get("batches", defaults.batches)).validate()


def exponential_rates(start: float, end: float, batches: int) -> list[float]:
    """`batches` rates from `start` to `end`, each the previous one times the same factor."""
    if batches < 2:
        raise ValueError(f"An exponential range needs at least two batches (got {batches}).")
    ratio = math.log(end / start)
    # The last one is `end` itself, not a rounding error above it (10.000000000000005 would be too large a rate).
    return [start * math.exp(ratio * index / (batches - 1)) for index in range(batches - 1)] + [float(end)]


def smooth(losses: Sequence[float], beta: float = SMOOTHING) -> list[float]:
    """The exponential moving average of `losses` with fastai's bias correction: dividing by (1 - beta^n) stops
    the first values being pulled towards the average's starting zero. A NaN or infinite loss makes every later
    value NaN (the curve has diverged)."""
    average, smoothed = 0.0, []
    for count, loss in enumerate(losses, start=1):
        loss = float(loss) if _is_finite(loss) else math.nan
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** count))
    return smoothed


@dataclass
class RangeRecorder:
    """The rates and each batch's own loss as the test runs, and the stopping rule: stop once the loss is NaN or
    infinite, or once its smoothed value (from batch SKIP_START on) exceeds DIVERGE_FACTOR times its lowest."""

    rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    diverged: bool = False
    _average: float = 0.0
    _count: int = 0
    _best: float = math.inf

    def add(self, rate: float, loss: float) -> bool:
        """Record one batch; True when the loss has diverged and the test should stop."""
        self.rates.append(float(rate))
        self.losses.append(float(loss))
        if not _is_finite(loss):
            self.diverged = True
            return True
        if len(self.losses) <= SKIP_START:
            return False
        self._count += 1
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * float(loss)
        smoothed = self._average / (1 - SMOOTHING ** self._count)
        self._best = min(self._best, smoothed)
        if smoothed > DIVERGE_FACTOR * self._best:
            self.diverged = True
        return self.diverged


@dataclass(frozen=True)
class Suggestion:
    """A rate to start from (None when the curve gives none), how it was found, and why, in a sentence."""

    rate: float | None
    index: int | None  # the batch the rate belongs to (for the minimum rule: the lowest loss's batch)
    method: str  # STEEPEST, MINIMUM or NONE
    reason: str


def smoothed_curve(losses: Sequence[float]) -> list[float]:
    """The smoothed loss the suggestion reads: NaN for the first SKIP_START batches (left out, so a spike there
    cannot leak into the average), then the moving average of the batches after them."""
    return [math.nan] * min(SKIP_START, len(losses)) + smooth(losses[SKIP_START:])


def suggest(rates: Sequence[float], losses: Sequence[float]) -> Suggestion:
    """The rate RULE describes, from the rates tried and each batch's own loss."""
    if len(rates) != len(losses):
        raise ValueError(f"Every rate needs its loss ({len(rates)} rates, {len(losses)} losses).")
    curve = smoothed_curve(losses)
    # The part of the curve worth reading: from the first batch after the skipped ones to the last finite value.
    end = SKIP_START
    while end < len(curve) and math.isfinite(curve[end]):
        end += 1
    if end - SKIP_START < 2:
        return Suggestion(None, None, NONE, f"The test ended within {SKIP_START + 1} batches, too early to read "
                                            "anything: start the range at a lower rate.")
    values = np.asarray(curve[SKIP_START:end])
    logs = np.log(np.asarray(rates[SKIP_START:end], dtype=float))
    lowest = int(np.argmin(values))
    drop = (values[0] - values[lowest]) / max(abs(values[0]), 1e-12)
    if drop < MIN_DROP:
        rose = values[-1] > values[0] * (1 + MIN_DROP)
        hint = ("it only rose: start the range at a lower rate" if rose else
                "try a range reaching higher rates, or check that the network can learn at all")
        return Suggestion(None, None, NONE, f"The smoothed loss never fell {MIN_DROP:.0%} below where it started, "
                                            f"so the curve suggests no rate; {hint}.")
    # The slope against the logarithm of the rate (the rates grow by a constant factor), measured across
    # SLOPE_SPAN batches either side and only on the way down: past the lowest point the loss is rising.
    candidates = range(SLOPE_SPAN, lowest)
    slopes = [(values[min(i + SLOPE_SPAN, lowest)] - values[i - SLOPE_SPAN])
              / (logs[min(i + SLOPE_SPAN, lowest)] - logs[i - SLOPE_SPAN]) for i in candidates]
    if len(slopes) >= SLOPE_SPAN and min(slopes) < 0:
        index = SKIP_START + candidates[int(np.argmin(slopes))]
        return Suggestion(float(rates[index]), index, STEEPEST,
                          f"The smoothed loss fell fastest at batch {index + 1}, at a rate of {rates[index]:.2g}.")
    index = SKIP_START + lowest
    return Suggestion(float(rates[index]) / 10, index, MINIMUM,
                      f"The loss was lowest too soon to measure its descent (batch {index + 1}, rate "
                      f"{rates[index]:.2g}): a tenth of that rate.")


@dataclass(frozen=True)
class RangeResult:
    """A range test as its worker recorded it: the settings, each batch's rate and own loss, and how it ended."""

    settings: RangeSettings
    rates: tuple[float, ...]
    losses: tuple[float, ...]
    diverged: bool  # it stopped because the loss blew up (else it ran every batch, or was stopped)
    finished: bool  # False while the test still runs
    batch_size: int = 0
    seconds: float = 0.0

    @property
    def batches_run(self) -> int:
        return len(self.losses)

    @property
    def smoothed(self) -> list[float]:
        return smoothed_curve(self.losses)

    def suggestion(self) -> Suggestion:
        return suggest(self.rates, self.losses)

    def summary(self) -> dict[str, Any]:
        """What the command line prints last and the pages state: the suggestion, its rule and the range tried."""
        suggestion = self.suggestion()
        return {
            "suggested_learning_rate": suggestion.rate,
            "method": suggestion.method,
            "reason": suggestion.reason,
            "rule": RULE,
            "note": NOTE,
            "range": {"first_rate": self.rates[0] if self.rates else None,
                      "last_rate": self.rates[-1] if self.rates else None,
                      "batches_run": self.batches_run, "batches_planned": self.settings.batches,
                      "stopped_on_divergence": self.diverged, "batch_size": self.batch_size},
        }

    def as_dict(self) -> dict[str, Any]:
        return {"settings": self.settings.as_dict(), "rates": list(self.rates), "losses": list(self.losses),
                "diverged": self.diverged, "finished": self.finished, "batch_size": self.batch_size,
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: Any) -> RangeResult:
        """Read back what `as_dict` wrote (a NaN loss comes back from JSON's null); ValueError if it is damaged."""
        if not isinstance(data, Mapping):
            raise ValueError("A range test's result must be a JSON object.")
        rates, losses = data.get("rates"), data.get("losses")
        if not isinstance(rates, list) or not isinstance(losses, list) or len(rates) != len(losses):
            raise ValueError("A range test's result needs as many losses as rates.")
        if not all(_is_finite(rate) and rate > 0 for rate in rates):
            raise ValueError("A range test's rates must be positive numbers.")
        seconds = data.get("seconds")
        return cls(settings=RangeSettings.from_dict(data.get("settings")),
                   rates=tuple(float(rate) for rate in rates),
                   losses=tuple(float(loss) if _is_finite(loss) else math.nan for loss in losses),
                   diverged=data.get("diverged") is True, finished=data.get("finished") is True,
                   batch_size=data["batch_size"] if _is_int(data.get("batch_size")) else 0,
                   seconds=float(seconds) if _is_finite(seconds) else 0.0)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite(value: Any) -> bool:
    try:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:
        return False
