"""The value types every part shares, free of TensorFlow: run statuses, curve points, progress snapshots, scoring.

The worker writes these into its run folder; the job queue, the dashboard and the command line read them back,
so this module imports nothing of the project but stays a leaf that both sides can use.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# A run's life: queued -> starting -> running (-> stopping) -> completed | stopped | failed.
# "interrupted" is never written by a worker: readers give it to an active run whose worker has gone.
QUEUED = "queued"
STARTING = "starting"
RUNNING = "running"
STOPPING = "stopping"
COMPLETED = "completed"
STOPPED = "stopped"
FAILED = "failed"
INTERRUPTED = "interrupted"
ACTIVE_STATUSES = (STARTING, RUNNING, STOPPING)  # a worker owns the run folder
FINAL_STATUSES = (COMPLETED, STOPPED, FAILED, INTERRUPTED)
CURVES = ("train", "validation", "test")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class CurvePoint:
    """One point of a curve; `epoch` is fractional (1.5 = half-way through the second epoch)."""

    epoch: float
    step: int
    loss: float
    accuracy: float

    def as_dict(self) -> dict[str, float]:
        return {"epoch": self.epoch, "step": self.step, "loss": self.loss, "accuracy": self.accuracy}

    @classmethod
    def from_dict(cls, point: Mapping[str, Any]) -> CurvePoint:
        # A diverged run stores NaN as null (JSON has no NaN): read it back as NaN.
        def number(key: str) -> float:
            value = point.get(key)
            return float(value) if isinstance(value, int | float) else math.nan

        step = point.get("step")
        whole = isinstance(step, int | float) and not isinstance(step, bool) and math.isfinite(step)
        return cls(epoch=number("epoch"), step=int(step) if whole else 0, loss=number("loss"),
                   accuracy=number("accuracy"))


@dataclass(frozen=True)
class Progress:
    """An immutable snapshot of a training run, as its worker last published it."""

    run_id: str
    status: str
    epoch: int  # epochs fully completed
    epochs: int
    batch: int  # batches done in the current epoch
    batches_per_epoch: int
    step: int  # batches done in all
    elapsed_seconds: float
    eta_seconds: float | None
    learning_rate: float | None
    device: str
    train: tuple[CurvePoint, ...] = ()
    validation: tuple[CurvePoint, ...] = ()
    test: tuple[CurvePoint, ...] = ()
    test_accuracy: float | None = None
    test_loss: float | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        total = self.epochs * self.batches_per_epoch
        return min(1.0, self.step / total) if total else 0.0

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def waiting(self) -> bool:
        return self.status == QUEUED

    def curves(self) -> dict[str, list[dict[str, float]]]:
        return {name: [point.as_dict() for point in getattr(self, name)] for name in CURVES}


def progress_from_files(run_id: str, status: str, meta: Mapping[str, Any], history: Mapping[str, Any],
                        now: float | None = None) -> Progress:
    """A Progress from a run folder's meta.json and history.json (as written by the worker's reporter).

    `status` is the status the reader settled on (an active run whose worker died reads as "interrupted").
    Values of the wrong type are read as missing rather than raising: a damaged file must not break a page.
    """
    now = time.time() if now is None else now

    def number(key: str) -> float | None:
        value = meta.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    def count(key: str) -> int:
        value = number(key)
        return int(value) if value is not None and math.isfinite(value) else 0

    elapsed = number("seconds") or 0.0
    heartbeat = number("heartbeat")
    if status in ACTIVE_STATUSES and heartbeat is not None:
        # The worker publishes about twice a second; between two writes the clock keeps running.
        elapsed += max(0.0, now - heartbeat)
    curves = {}
    for name in CURVES:
        points = history.get(name) if isinstance(history, Mapping) else None
        curves[name] = tuple(CurvePoint.from_dict(point) for point in points or () if isinstance(point, Mapping))
    error = meta.get("error")
    return Progress(
        run_id=run_id, status=status, epoch=count("epochs_completed"), epochs=count("epochs"),
        batch=count("batch"), batches_per_epoch=count("batches_per_epoch"), step=count("step"),
        elapsed_seconds=elapsed, eta_seconds=number("eta_seconds") if status in ACTIVE_STATUSES else None,
        learning_rate=number("learning_rate"), device=str(meta.get("device") or ""), **curves,
        test_accuracy=number("test_accuracy"), test_loss=number("test_loss"),
        error=str(error) if error is not None else None,
    )


def scores(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of (n, 10) probabilities against (n,) labels, as Keras computes them."""
    picked = probabilities[np.arange(len(labels)), labels]
    # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log; do the same so the numbers agree.
    loss = float(-np.log(np.clip(picked, 1e-7, 1 - 1e-7)).mean())
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    return loss, accuracy
