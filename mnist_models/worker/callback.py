"""The Keras callback that measures a fit as it runs and reports the numbers to a RunReporter."""

from __future__ import annotations

import math
import time

import keras
import numpy as np

from mnist_models.config import VALIDATION_CHECKS_PER_EPOCH, VALIDATION_SAMPLE
from mnist_models.data import Split
from mnist_models.store.progress import CurvePoint, TrainingDiverged, scores
from mnist_models.worker.insight_recorder import InsightRecorder
from mnist_models.worker.models import current_learning_rate
from mnist_models.worker.reporter import RunReporter

REPORT_INTERVAL_SECONDS = 0.5  # how often a smoothed training point is recorded (and after the first batch)
EVAL_BATCH = 1000
CHECKPOINT_SECONDS = 30.0
SMOOTHING = 0.95  # weight of the past in the training curve's moving average (about 20 batches)


def predict_probabilities(model, images) -> np.ndarray:
    """(n, 28, 28) -> (n, 10) in chunks through the model's compiled predict step (no metric side effects)."""
    chunks = [np.asarray(model.predict_on_batch(images[start:start + EVAL_BATCH]))
              for start in range(0, len(images), EVAL_BATCH)]
    return np.concatenate(chunks)


class ProgressCallback(keras.callbacks.Callback):
    """Turns Keras's per-batch logs into curve points for the reporter, scores the validation sample a few times
    per epoch and the test set after each epoch, checkpoints the model, and stops the fit when asked."""

    def __init__(self, reporter: RunReporter, split: Split, insight: InsightRecorder | None = None):
        super().__init__()
        self.reporter = reporter
        self.split = split
        self.insight = insight
        self.test_probabilities: np.ndarray | None = None  # of the last test point (the digit wall reads them)
        self.x_val_sample = split.x_val[:VALIDATION_SAMPLE]
        self.y_val_sample = split.y_val[:VALIDATION_SAMPLE]
        self.steps = 1
        self.checkpoints: set[int] = set()
        self.epoch = 0
        self.count = 0  # batches done in this epoch
        self.previous = (0, 0.0, 0.0)  # (count, loss mean, accuracy mean) Keras logged after the last batch
        self.smoothed: tuple[float, float] | None = None  # moving averages of the per-batch loss and accuracy
        self.last_point_at = 0.0
        self.last_checkpoint_at = -math.inf
        self.tested_at_step = -1

    def on_train_begin(self, logs=None):
        self.steps = max(1, int(self.params.get("steps") or 1))
        # Batch counts after which the validation sample is scored: 5 evenly spaced points, the last at the
        # epoch's end (fewer when an epoch has fewer than 5 batches).
        self.checkpoints = {max(1, round(i * self.steps / VALIDATION_CHECKS_PER_EPOCH))
                            for i in range(1, VALIDATION_CHECKS_PER_EPOCH + 1)}
        # The first batch gives a point at once: a learner who just pressed Train sees the curves begin as soon
        # as anything has been measured, not half a second later.
        self.last_point_at = -math.inf
        if self.insight is not None:
            self.insight.record(self.model, epoch=0.0, step=0)  # the weights as initialised
        self.reporter.begin(self.steps, current_learning_rate(self.model))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.count = 0
        self.previous = (0, 0.0, 0.0)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # With steps_per_execution = k (on a GPU), Keras calls this once every k batches: `batch` is then the
        # last of the k (Keras 3.15 counts a short last call as a full one, hence the cap), and every count below
        # is crossed rather than hit exactly.
        before, self.count = self.count, min(batch + 1, self.steps)
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"The loss became {loss} at epoch {self.epoch + 1}, batch {self.count}: the learning rate "
                f"({current_learning_rate(self.model):.3g}) is probably too high for this network; lower it "
                "(for example by 10x) and train again."
            )
        now = time.monotonic()
        self.reporter.batch_done(self.count)
        self._smooth(loss, float(logs.get("accuracy", math.nan)))
        if now - self.last_point_at >= REPORT_INTERVAL_SECONDS or self.count == self.steps:
            self._add_train_point(now)
        if any(before < checkpoint <= self.count for checkpoint in self.checkpoints):
            self._add_validation_point()
        if self.reporter.should_stop():
            # Keras checks this flag after every batch, so the loop ends with the batch that just ran.
            self.model.stop_training = True
        self.reporter.publish_if_due()

    def on_epoch_end(self, epoch, logs=None):
        if self.count < self.steps:
            return  # Stopped part-way: finish() scores the test set once, after the loop has ended.
        self._add_test_point()
        now = time.monotonic()
        # A checkpoint lets an interrupted run still be used on Draw; saving takes longer than a tiny epoch,
        # so short epochs checkpoint at most every CHECKPOINT_SECONDS (the final model is always saved).
        if now - self.last_checkpoint_at >= CHECKPOINT_SECONDS:
            self.reporter.save_model(self.model)
            self.last_checkpoint_at = now
        self._record_insight()
        self.reporter.epoch_done(epoch + 1)

    def finish(self) -> None:
        """Called once fit returns: score what the last epoch did not, save the model and the final status."""
        if self.tested_at_step != self.reporter.step:
            self._add_test_point()
            self._record_insight()
        if self.insight is not None:
            self.insight.close()
        self.reporter.save_model(self.model)
        self.reporter.finish(current_learning_rate(self.model))

    def _record_insight(self) -> None:
        if self.insight is None:
            return
        progress = self.reporter.snapshot()
        scalars = {"learning_rate": progress.learning_rate}
        for curve in ("train", "validation", "test"):
            points = getattr(progress, curve)
            if points:
                scalars[f"loss/{curve}"] = points[-1].loss
                scalars[f"accuracy/{curve}"] = points[-1].accuracy
        self.insight.record(self.model, epoch=self._fractional_epoch(), step=progress.step,
                            test_probabilities=self.test_probabilities, scalars=scalars)

    def _fractional_epoch(self) -> float:
        return self.epoch + self.count / self.steps

    def _smooth(self, loss_mean: float, accuracy_mean: float) -> None:
        # Keras logs the mean over the epoch so far; the last batch alone scored
        # (count x mean now - previous count x previous mean) / (batches since). An exponential moving
        # average of those per-batch values (about the last 20 batches) gives a curve that follows
        # training closely without the noise of single batches.
        count0, loss_mean0, accuracy_mean0 = self.previous
        batches = self.count - count0
        if batches <= 0:
            return
        loss = (loss_mean * self.count - loss_mean0 * count0) / batches
        accuracy = (accuracy_mean * self.count - accuracy_mean0 * count0) / batches
        self.previous = (self.count, loss_mean, accuracy_mean)
        if self.smoothed is None:
            self.smoothed = (loss, accuracy)
        else:
            old_loss, old_accuracy = self.smoothed
            self.smoothed = (SMOOTHING * old_loss + (1 - SMOOTHING) * loss,
                             SMOOTHING * old_accuracy + (1 - SMOOTHING) * accuracy)

    def _add_train_point(self, now: float) -> None:
        if self.smoothed is None:
            return
        loss, accuracy = self.smoothed
        self.last_point_at = now
        point = CurvePoint(self._fractional_epoch(), self.reporter.step, loss, accuracy)
        self.reporter.add_point("train", point, learning_rate=current_learning_rate(self.model))

    def _add_validation_point(self) -> None:
        loss, accuracy = scores(predict_probabilities(self.model, self.x_val_sample), self.y_val_sample)
        self.reporter.add_point("validation", CurvePoint(self._fractional_epoch(), self.reporter.step, loss, accuracy))

    def _add_test_point(self) -> None:
        self.test_probabilities = predict_probabilities(self.model, self.split.x_test)
        loss, accuracy = scores(self.test_probabilities, self.split.y_test)
        step = self.reporter.step
        self.reporter.add_point("test", CurvePoint(self._fractional_epoch(), step, loss, accuracy))
        self.tested_at_step = step
