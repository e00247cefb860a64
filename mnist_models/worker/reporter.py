"""RunReporter: a worker's live state of one run, published into the run folder about twice a second."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import threading
import time
from dataclasses import dataclass, field

from mnist_models.insight import PERCENTILES
from mnist_models.store.files import HOST
from mnist_models.store.progress import (
    COMPLETED,
    CURVES,
    FAILED,
    RUNNING,
    STARTING,
    STOPPED,
    STOPPING,
    CurvePoint,
    Progress,
)
from mnist_models.store.runs import RunStore

# The run folder is the one source of truth for live progress: the worker rewrites its curves and counters
# this often (and at once on every change of status), so every reader (a page, the CLI, another machine's
# relay) is at most this far behind. Without fsync a write costs well under a millisecond.
PUBLISH_SECONDS = 0.5
# A stop is asked for with a file in the run folder; looking for it costs a stat, so do it this often at most.
STOP_CHECK_SECONDS = 0.05


@dataclass
class _State:
    """Mutable progress, guarded by RunReporter._lock."""

    status: str = STARTING
    epoch: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    step: int = 0
    started: float = field(default_factory=time.time)
    first_batch_at: float | None = None
    learning_rate: float | None = None
    device: str = ""
    train: list[CurvePoint] = field(default_factory=list)
    validation: list[CurvePoint] = field(default_factory=list)
    test: list[CurvePoint] = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None
    error: str | None = None
    finished: float | None = None
    learning_rates: list[dict[str, float]] = field(default_factory=list)  # the rate applied at each train point
    insight: dict = field(default_factory=lambda: {"percentiles": list(PERCENTILES), "weights": [], "digits": {}})
    insight_changed: bool = False

    def eta(self, epochs: int, now: float) -> float | None:
        total = epochs * self.batches_per_epoch
        if self.first_batch_at is None or not self.step or not total or self.status not in (RUNNING, STOPPING):
            return None
        return (now - self.first_batch_at) / self.step * max(0, total - self.step)


class RunReporter:
    """What the training callback reports to: counters, curve points, status, stop requests.

    It keeps the state in memory (an in-process TrainingThread reads snapshots from it) and publishes it into the
    run folder, so that any other process sees the same numbers. It knows nothing of Keras or of any UI.
    """

    def __init__(self, store: RunStore, run_id: str, epochs: int, stop_event: threading.Event | None = None):
        self.store = store
        self.run_id = run_id
        self.epochs = epochs
        self._stop_event = stop_event or threading.Event()
        self._lock = threading.Lock()
        self._state = _State()
        self._published_at = 0.0
        self._first_point_waiting = False  # the first train point is in, not yet in the run folder
        self._stop_checked_at = 0.0

    def snapshot(self) -> Progress:
        with self._lock:
            state = self._state
            now = state.finished or time.time()
            return Progress(
                run_id=self.run_id, status=state.status, epoch=state.epoch, epochs=self.epochs, batch=state.batch,
                batches_per_epoch=state.batches_per_epoch, step=state.step, elapsed_seconds=now - state.started,
                eta_seconds=state.eta(self.epochs, now), learning_rate=state.learning_rate, device=state.device,
                train=tuple(state.train), validation=tuple(state.validation), test=tuple(state.test),
                test_accuracy=state.test_accuracy, test_loss=state.test_loss, error=state.error,
            )

    @property
    def step(self) -> int:
        with self._lock:
            return self._state.step

    @property
    def done(self) -> bool:
        with self._lock:
            return self._state.status in (COMPLETED, STOPPED, FAILED)

    def request_stop(self) -> None:
        """Ask for a stop from this process (the CLI's Ctrl-C, an in-process job's stop())."""
        self._stop_event.set()
        self._mark_stopping()

    def should_stop(self) -> bool:
        """True once a stop was asked for, here or by the stop file any other process can write."""
        if self._stop_event.is_set():
            return True
        now = time.monotonic()
        if now - self._stop_checked_at >= STOP_CHECK_SECONDS:
            self._stop_checked_at = now
            if self.store.stop_requested(self.run_id):
                self._stop_event.set()
                self._mark_stopping()
                return True
        return False

    def _mark_stopping(self) -> None:
        with self._lock:
            if self._state.status not in (STARTING, RUNNING):
                return
            self._state.status = STOPPING
        self.publish()  # readers see at once that the stop was heard

    def set_device(self, device: str) -> None:
        """The worker is ready (TensorFlow imported, data loaded) and trains on `device`: the run's clock starts
        here, so a worker made ready ahead of time and a cold one report the same training time."""
        with self._lock:
            self._state.device = device
            self._state.started = time.time()
        self.publish()

    def begin(self, batches_per_epoch: int, learning_rate: float | None) -> None:
        with self._lock:
            state = self._state
            state.batches_per_epoch = batches_per_epoch
            state.learning_rate = learning_rate
            if state.status == STARTING:
                state.status = RUNNING
        self.publish()

    def batch_done(self, batch_in_epoch: int) -> None:
        with self._lock:
            state = self._state
            if state.first_batch_at is None:
                state.first_batch_at = time.time()
            # Batches since the last call: 1 on the CPU, k with steps_per_execution = k (on a GPU); a count
            # below the last one means a new epoch began.
            state.step += batch_in_epoch - state.batch if batch_in_epoch > state.batch else batch_in_epoch
            state.batch = batch_in_epoch

    def add_point(self, curve: str, point: CurvePoint, learning_rate: float | None = None) -> None:
        if curve not in CURVES:
            raise ValueError(f"Unknown curve {curve!r}; expected one of {', '.join(CURVES)}.")
        with self._lock:
            state = self._state
            getattr(state, curve).append(point)
            if curve == "train" and len(state.train) == 1:
                self._first_point_waiting = True
            if curve == "test":
                state.test_loss, state.test_accuracy = point.loss, point.accuracy
            if learning_rate is not None:
                state.learning_rate = learning_rate
                state.learning_rates.append({"epoch": point.epoch, "step": point.step, "rate": learning_rate})

    def set_wall(self, indices: list[int], labels: list[int]) -> None:
        """The fixed test digits whose answers `set_digits` reports (indices into the test set, and their labels)."""
        with self._lock:
            self._state.insight["digits"] = {"indices": indices, "labels": labels, "predicted": [], "epoch": None}
            self._state.insight_changed = True

    def set_digits(self, epoch: float, predicted: list[int]) -> None:
        with self._lock:
            self._state.insight["digits"].update(predicted=predicted, epoch=epoch)
            self._state.insight_changed = True

    def add_weights(self, rows: list[dict]) -> None:
        """Percentile rows of each layer's weights and biases at one epoch (see insight.percentile_rows)."""
        with self._lock:
            self._state.insight["weights"].extend(rows)
            self._state.insight_changed = True

    def insight(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._state.insight))

    def epoch_done(self, epochs_completed: int) -> None:
        with self._lock:
            self._state.epoch = epochs_completed
        self.publish()

    def save_model(self, model) -> None:
        self.store.save_model(self.run_id, model)

    def finish(self, learning_rate: float | None = None) -> Progress:
        """The loop ended normally: completed, or stopped if a stop cut it short. (A stop that came after the
        last batch cut nothing: the run is complete.)"""
        with self._lock:
            state = self._state
            trained_all = state.batches_per_epoch > 0 and state.step >= self.epochs * state.batches_per_epoch
            state.status = STOPPED if self._stop_event.is_set() and not trained_all else COMPLETED
            state.finished = time.time()
            if learning_rate is not None:
                state.learning_rate = learning_rate
        self.publish(final=True)
        return self.snapshot()

    def fail(self, reason: str) -> Progress:
        with self._lock:
            state = self._state
            state.status = FAILED
            state.error = reason
            state.finished = time.time()
        try:
            self.publish(final=True)
        except OSError:
            # A full or unwritable disk: the curves may not fit, but a few bytes of status often still do, and a
            # run must not be left "running" with nobody training it.
            with contextlib.suppress(OSError):
                self.store.update(self.run_id, durable=True, status=FAILED, error=reason, finished=time.time())
        return self.snapshot()

    def publish_if_due(self) -> None:
        """Publish when PUBLISH_SECONDS have passed since the last time, and at once for the first train point:
        the learner who just pressed Train is waiting for it (the charts are still empty)."""
        if self._first_point_waiting or time.monotonic() - self._published_at >= PUBLISH_SECONDS:
            self.publish()

    def publish(self, final: bool = False) -> None:
        """Write curves and counters into the run folder (durably, with the final status, at the end)."""
        self._published_at = time.monotonic()
        with self._lock:
            self._first_point_waiting = False
            state = self._state
            now = state.finished or time.time()
            history = {name: [point.as_dict() for point in getattr(state, name)] for name in CURVES}
            history["learning_rate"] = list(state.learning_rates)
            insight = copy.deepcopy(state.insight) if state.insight_changed or final else None
            state.insight_changed = False
            meta = {
                "status": state.status,
                "epochs_completed": state.epoch,
                "batch": state.batch,
                "batches_per_epoch": state.batches_per_epoch,
                "step": state.step,
                "seconds": now - state.started,
                "eta_seconds": state.eta(self.epochs, now),
                "learning_rate": state.learning_rate,
                "device": state.device,
                "test_accuracy": state.test_accuracy,
                "test_loss": state.test_loss,
                "error": state.error,
                "finished": state.finished,
                # The worker names itself, so a reader can tell a live run from one whose process died.
                "pid": os.getpid(),
                "host": HOST,
            }
        if insight is not None:
            # Only when it changed (at epoch ends): the wall and the weight statistics are larger than the curves.
            self.store.save_insight(self.run_id, insight, durable=final)
        self.store.update(self.run_id, history=history, durable=final, **meta)

