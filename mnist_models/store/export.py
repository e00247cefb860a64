"""Turn a run's curves into files a learner can take away: one CSV row per curve point, for a spreadsheet or pandas."""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from mnist_models.store.progress import CURVES

COLUMNS = ("curve", "epoch", "step", "loss", "accuracy")


def _cell(value: Any) -> Any:
    # A diverged run stores NaN as null (JSON has no NaN); a spreadsheet reads an empty cell as "no value".
    if value is None or (isinstance(value, numbers.Real) and not math.isfinite(value)):
        return ""
    return value


def history_csv(history: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The curves as CSV text with the columns curve, epoch, step, loss, accuracy: one row per point.

    `history` is what `RunStore.load_history` returns ({"train": [...], "validation": [...], "test": [...]}, each a
    list of points with epoch, step, loss and accuracy). Rows come curve by curve (train, validation, test), each
    in step order; a missing or infinite value is an empty cell. Other keys (e.g. learning rates) are left out.
    """
    if not isinstance(history, Mapping):
        raise ValueError(f"The curves must be a mapping of curve name to points, not {type(history).__name__}.")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for curve in CURVES:
        points = history.get(curve) or ()
        # sorted() is stable: points that share a step keep the order they were recorded in.
        for point in sorted(points, key=lambda point: point.get("step") or 0):
            writer.writerow([curve, *(_cell(point.get(column)) for column in COLUMNS[1:])])
    return buffer.getvalue()
