"""What a worker records to show inside a network while it learns: weight percentiles and a wall of test digits.

Numpy only: the training callback feeds it arrays, the dashboard reads what it produced from the run folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

PERCENTILES = (0, 10, 25, 50, 75, 90, 100)  # min, the deciles and quartiles around the median, max
WALL_PER_DIGIT = 10  # test images of each digit on the wall: 100 in all, as the codelab's visualiser showed


def percentile_rows(epoch: float, weights: Iterable[tuple[str, str, np.ndarray]]) -> list[dict[str, Any]]:
    """One row per (layer, kind) array: its PERCENTILES at `epoch`; `kind` is "weights" or "biases"."""
    rows = []
    for layer, kind, values in weights:
        flat = np.asarray(values, dtype=np.float64).ravel()
        if flat.size == 0:
            continue
        rows.append({"epoch": float(epoch), "layer": layer, "kind": kind,
                     "percentiles": [float(value) for value in np.percentile(flat, PERCENTILES)]})
    return rows


def digit_wall(labels: Sequence[int], per_digit: int = WALL_PER_DIGIT) -> np.ndarray:
    """Indices of the first `per_digit` test images of each digit, digit by digit: the same wall every run."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"Expected a 1-D array of labels, got shape {labels.shape}.")
    picked = [np.flatnonzero(labels == digit)[:per_digit] for digit in range(10)]
    return np.concatenate(picked).astype(np.int64)


def layer_names(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The layers that have statistics, in the order they first appear (the network's order)."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(str(row.get("layer")), None)
    return list(seen)
