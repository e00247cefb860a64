"""TensorBoard's HParams data for a run: its settings and its final results, so `tensorboard --logdir runs` lists
every run (a sweep's side by side) in its HParams tab, as a table, parallel coordinates and a scatter matrix.

Each run writes its settings as one HParams session (`hp.hparams`) and its results as scalars beside the curves
the insight recorder writes. No run writes an experiment config (`hp.hparams_config`): every run has a folder of
its own, and TensorBoard takes one such config from whichever run it reads first, hiding the settings of runs it
does not list; without one it builds the experiment from every run's session and every scalar they hold.
"""

from __future__ import annotations

import logging
import time

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.progress import Progress
from mnist_models.store.runs import RunStore
from mnist_models.sweep_summary import measure_value

log = logging.getLogger(__name__)

HParamValue = bool | int | float | str

# The results as scalar tags (the HParams tab's metric columns); the curves' own tags hold the last points too.
METRICS = {
    "final/test_accuracy": "test accuracy at the end",
    "final/best_test_accuracy": "best test accuracy over the epochs",
    "final/test_loss": "test loss at the end",
    "final/train_test_gap": "train minus test accuracy at the end (overfitting)",
}


def run_hparams(model: ModelConfig, train: TrainConfig, preset: str | None = None) -> dict[str, HParamValue]:
    """The run's settings as HParams values (numbers, text, booleans): what a sweep varies, and what tells runs
    apart otherwise (layers written as text, like "200-100-60-30")."""
    values: dict[str, HParamValue] = {
        "preset": preset or "custom",
        "optimizer": train.optimizer,
        "learning_rate": float(train.learning_rate),
        "lr_schedule": train.lr_schedule,
        "batch_size": int(train.batch_size),
        "epochs": int(train.epochs),
        "train_size": int(train.train_size),
        "seed": int(train.seed),
        "activation": model.activation,
        "dropout_rate": float(model.dropout_rate),
        "batch_norm": bool(model.batch_norm),
        "hidden_layers": "-".join(str(units) for units in model.hidden_units) or "none",
        "conv_layers": "-".join(f"{layer.filters}x{layer.kernel_size}s{layer.stride}"
                                for layer in model.conv_layers) or "none",
    }
    if train.lr_schedule == "inverse_time":
        values["lr_decay"] = float(train.lr_decay)
    if train.lr_schedule in ("exponential", "one_cycle"):
        values["min_learning_rate"] = float(train.min_learning_rate)
    if model.hidden_units:
        values["hidden_width"] = int(model.hidden_units[0])
    if model.conv_layers:
        values["conv_filters"] = int(model.conv_layers[0].filters)
    return values


def final_metrics(progress: Progress) -> dict[str, float]:
    """The run's results under METRICS's tags; a result the run has not got (no test point) is left out."""
    found = {
        "final/test_accuracy": measure_value(progress, "val_final"),
        "final/best_test_accuracy": measure_value(progress, "val_best"),
        "final/test_loss": progress.test[-1].loss if progress.test else None,
        "final/train_test_gap": measure_value(progress, "gap"),
    }
    return {tag: float(value) for tag, value in found.items() if value is not None and value == value}


def write_hparams(store: RunStore, run_id: str, model: ModelConfig, train: TrainConfig, progress: Progress) -> bool:
    """Write the run's HParams session and final results among its event files; True if written.

    Called once a training has ended (completed or stopped): a failure here is logged and never fails the run,
    whose model and curves are saved already."""
    try:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        settings = run_hparams(model, train, store.get(run_id).preset)
        writer = tf.summary.create_file_writer(str(store.tensorboard_dir(run_id)))
        try:
            with writer.as_default(step=progress.step):
                start = time.time() - progress.elapsed_seconds
                hp.hparams(settings, trial_id=run_id, start_time_secs=int(start))
                for tag, value in final_metrics(progress).items():
                    tf.summary.scalar(tag, value, description=METRICS[tag])
        finally:
            writer.close()
    except Exception:  # the run is saved already: its HParams are a bonus, never a reason to fail it
        log.exception("Could not write the HParams of run %s", run_id)
        return False
    return True
