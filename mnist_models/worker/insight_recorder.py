"""InsightRecorder: at each epoch's end, the worker's look inside the network, for the dashboard and TensorBoard.

It records the percentiles of every layer's weights and biases, the network's answers on a fixed wall of test
digits, and writes TensorBoard event files (scalars and weight histograms, as the seed notebook's
`TensorBoard(histogram_freq=1)` did) into the run folder's `tensorboard/`, so `tensorboard --logdir runs`
shows every run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mnist_models.insight import digit_wall, percentile_rows
from mnist_models.worker.reporter import RunReporter


def weight_arrays(model) -> list[tuple[str, str, np.ndarray]]:
    """(layer name, "weights" | "biases", values) for every layer that learns a kernel or a bias."""
    arrays = []
    for layer in model.layers:
        for attribute, kind in (("kernel", "weights"), ("bias", "biases")):
            variable = getattr(layer, attribute, None)
            if variable is not None:
                arrays.append((layer.name, kind, np.asarray(variable.numpy())))
    return arrays


class InsightRecorder:
    """Called by the training callback with the model and the epoch's numbers; cheap enough for every epoch
    (a few milliseconds: percentiles of some 200,000 numbers and a histogram per layer)."""

    def __init__(self, reporter: RunReporter, test_labels: np.ndarray, log_dir: Path | None):
        self.reporter = reporter
        self.wall = digit_wall(test_labels)
        self.reporter.set_wall(self.wall.tolist(), np.asarray(test_labels)[self.wall].tolist())
        self._writer = None
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="insight")
        self._pending: list[Future] = []
        if log_dir is not None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(log_dir))

    def record(self, model, epoch: float, step: int, test_probabilities: np.ndarray | None = None,
               scalars: dict[str, float] | None = None) -> None:
        """Weights at `epoch` (0 = as initialised), after `step` batches; the wall's answers and TensorBoard's
        scalars when given. TensorBoard's x axis is the step (batches), the same for a run stopped mid-epoch.

        Only copying the weights happens here; the statistics and the event files are made in a background
        thread while training goes on (a worker trains on fewer threads than the machine has)."""
        arrays = weight_arrays(model)
        answers = test_probabilities[self.wall].argmax(axis=1).tolist() if test_probabilities is not None else None
        self._pending.append(self._background.submit(self._write, epoch, step, arrays, answers, dict(scalars or {})))

    def _write(self, epoch: float, step: int, arrays: list[tuple[str, str, np.ndarray]], answers: list[int] | None,
               scalars: dict[str, float]) -> None:
        self.reporter.add_weights(percentile_rows(epoch, arrays))
        if answers is not None:
            self.reporter.set_digits(epoch, answers)
        if self._writer is None:
            return
        import tensorflow as tf

        with self._writer.as_default(step=step):
            for name, value in scalars.items():
                if value is not None and np.isfinite(value):
                    tf.summary.scalar(name, value)
            for layer, kind, values in arrays:
                tf.summary.histogram(f"{layer}/{kind}", values)
        self._writer.flush()

    def close(self) -> None:
        """Wait for the background writes (raising what failed in them), then close the event file."""
        self._background.shutdown(wait=True)
        pending, self._pending = self._pending, []
        try:
            for future in pending:
                future.result()
        finally:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
