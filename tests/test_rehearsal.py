"""mnist_models.worker.rehearsal: a ready worker's tiny training step leaves no trace, in the run or on disk."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.worker import callback as progress_callback
from mnist_models.worker.rehearsal import REHEARSAL_MODEL, rehearse
from mnist_models.worker.training import TrainingThread

MODEL = ModelConfig(hidden_units=[16], dropout_rate=0.25)
TRAIN = TrainConfig(optimizer="adam", learning_rate=0.003, batch_size=100, epochs=1, train_size=300,
                    validation_size=100, seed=3)


def _curves(progress) -> dict:
    return {name: [(point.epoch, point.step, point.loss, point.accuracy) for point in getattr(progress, name)]
            for name in ("train", "validation", "test")}


@pytest.mark.slow
def test_a_run_after_the_rehearsal_is_the_run_without_it(mnist, monkeypatch):
    # A train point every batch, so that the curves do not depend on timing.
    monkeypatch.setattr(progress_callback, "REPORT_INTERVAL_SECONDS", 0.0)
    before = TrainingThread(MODEL, TRAIN, data=mnist).start().wait(300)
    loss = rehearse()
    after = TrainingThread(MODEL, TRAIN, data=mnist).start().wait(300)
    assert math.isfinite(loss)
    assert before.status == after.status == "completed"
    assert _curves(before) == _curves(after), "the job's seed is set after the rehearsal: the same weights, batches"


def test_the_rehearsal_leaves_no_event_files_behind():
    temp = Path(tempfile.gettempdir())
    left = set(temp.glob("mnist-rehearsal-*"))
    rehearse()
    assert set(temp.glob("mnist-rehearsal-*")) == left


def test_the_rehearsed_network_is_valid_and_tiny():
    from mnist_models.architecture import count_params

    REHEARSAL_MODEL.validate()
    assert REHEARSAL_MODEL.conv_layers and REHEARSAL_MODEL.batch_norm and REHEARSAL_MODEL.dropout_rate
    assert count_params(REHEARSAL_MODEL) < 5_000
