"""What a sweep shows: one measure per training (best or final test accuracy, or the train–test gap), and per
combination of values the mean over its seeds with a band; pure functions over Progress snapshots.

The measures read the curve the pages draw as the thick "test" line: the whole 10,000-image test set, scored
after every epoch (and once more when a training is stopped part-way). The "validation" curve is only a
1,000-image sample scored during epochs, too noisy to rank settings by.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_models.store.progress import CurvePoint, Progress

if TYPE_CHECKING:
    from mnist_models.store.sweeps import SweepRecord

# Labels for the UI, in the order a select box lists them; the first is the default.
MEASURES = {
    "val_best": "Best test accuracy (over the epochs)",
    "val_final": "Final test accuracy (last epoch)",
    "gap": "Overfitting gap (train − test accuracy, at the end)",
}
DEFAULT_MEASURE = "val_best"


@dataclass(frozen=True)
class SummaryPoint:
    """One combination of a sweep's values, its seeds folded: the mean of the measure and a band around it.

    The band is the range over the seeds (`low` = the smallest value, `high` = the largest), not mean ± std:
    with two or three seeds a standard deviation says little, and the range shows every seed's result. `std`,
    the sample standard deviation over the seeds, is there for whoever wants it (0 with one seed). `count` is
    how many of the combination's trainings have a value yet; `run_ids` are those trainings.
    """

    values: dict  # {setting: value}, without the seed
    mean: float
    low: float
    high: float
    std: float
    count: int
    run_ids: tuple[str, ...]


def _finite(points: tuple[CurvePoint, ...]) -> list[CurvePoint]:
    return [point for point in points if math.isfinite(point.accuracy)]


def measure_value(progress: Progress, measure: str) -> float | None:
    """The measure of one training (accuracies as fractions, 0.98 = 98%; the gap in the same unit, positive when
    the network does better on its training images); None while it has no test point yet.

    The gap compares the last test point with the last training point at or before it (the smoothed training
    curve the pages draw), like the Train page's overfitting chart.
    """
    if measure not in MEASURES:
        raise ValueError(f"Unknown measure {measure!r}: choose one of {', '.join(MEASURES)}.")
    tested = _finite(progress.test)
    if not tested:
        return None
    if measure == "val_best":
        return max(point.accuracy for point in tested)
    last = tested[-1]
    if measure == "val_final":
        return last.accuracy
    trained = [point for point in _finite(progress.train) if point.step <= last.step]
    return trained[-1].accuracy - last.accuracy if trained else None


def summarise(record: SweepRecord, progress_by_run: Mapping[str, Progress], measure: str = DEFAULT_MEASURE,
              ) -> list[SummaryPoint]:
    """Per combination of the sweep's values (seeds folded), in the sweep's order: the mean of `measure` over
    its trainings with the band of their range. Trainings without a test point yet, or missing from
    `progress_by_run` (cancelled, deleted), are left out; partly trained ones count with what they have."""
    if measure not in MEASURES:
        raise ValueError(f"Unknown measure {measure!r}: choose one of {', '.join(MEASURES)}.")
    fields = list(record.axes)
    groups: dict[tuple, list[tuple[str, float]]] = {}
    for point, run_id in zip(record.points, record.run_ids, strict=True):
        key = tuple(point.get(name) for name in fields)
        found = groups.setdefault(key, [])
        progress = progress_by_run.get(run_id)
        value = measure_value(progress, measure) if progress is not None else None
        if value is not None and math.isfinite(value):
            found.append((run_id, value))
    summary = []
    for key, measured in groups.items():
        if not measured:
            continue
        values = [value for _, value in measured]
        summary.append(SummaryPoint(
            values=dict(zip(fields, key, strict=True)),
            mean=statistics.fmean(values),
            low=min(values),
            high=max(values),
            std=statistics.stdev(values) if len(values) > 1 else 0.0,
            count=len(values),
            run_ids=tuple(run_id for run_id, _ in measured),
        ))
    return summary
