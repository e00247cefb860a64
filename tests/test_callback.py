"""Tests for mnist_models.worker.callback: a real (tiny) Keras fit reports its curves, epochs and stops."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.data import Split, make_split
from mnist_models.store.progress import CurvePoint, TrainingDiverged, scores
from mnist_models.store.runs import RunStore
from mnist_models.worker.callback import ProgressCallback, predict_probabilities
from mnist_models.worker.models import build_model, compile_model
from mnist_models.worker.reporter import RunReporter

# 500 images in batches of 100: 5 batches an epoch, so the validation sample is scored after every batch.
TRAIN = TrainConfig(optimizer="sgd", learning_rate=0.5, batch_size=100, epochs=2, train_size=500,
                    validation_size=100)
SOFTMAX = ModelConfig(hidden_units=[])


@pytest.fixture(scope="module")
def split(mnist) -> Split:
    # The test set cut to 2,000 images keeps each test point cheap.
    full = make_split(mnist, TRAIN.train_size, TRAIN.validation_size)
    return Split(full.x_train, full.y_train, full.x_val, full.y_val, full.x_test[:2000], full.y_test[:2000])


def _fit(split: Split, stop: bool = False) -> tuple[RunStore, RunReporter, keras.Model]:
    store = RunStore()
    run_id = store.create(SOFTMAX, TRAIN, preset="softmax")
    reporter = RunReporter(store, run_id, epochs=TRAIN.epochs)
    if stop:
        reporter.request_stop()
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(SOFTMAX), TRAIN)
    callback = ProgressCallback(reporter, split)
    model.fit(split.x_train, split.y_train, batch_size=TRAIN.batch_size, epochs=TRAIN.epochs, shuffle=True,
              verbose=0, callbacks=[callback])
    callback.finish()
    return store, reporter, model


def test_a_fit_records_its_points_and_epochs(split):
    store, reporter, model = _fit(split)
    progress = reporter.snapshot()
    assert (progress.status, progress.epoch, progress.step, progress.batches_per_epoch) == ("completed", 2, 10, 5)
    # Five validation points an epoch (one per batch here), at fractional epochs.
    assert [(point.epoch, point.step) for point in progress.validation] == [
        (pytest.approx(step / 5), step) for step in range(1, 11)]
    # One test point at each epoch's end, and none added by finish().
    assert [(point.epoch, point.step) for point in progress.test] == [(1.0, 5), (2.0, 10)]
    # A train point after the very first batch, then at least at each epoch's end (more if a batch took over half
    # a second).
    assert (progress.train[0].epoch, progress.train[0].step) == (pytest.approx(0.2), 1)
    assert {(1.0, 5), (2.0, 10)} <= {(point.epoch, point.step) for point in progress.train}
    assert progress.train[-1].epoch == 2.0
    assert [point.step for point in progress.train] == sorted(point.step for point in progress.train)
    assert all(math.isfinite(point.loss) and 0 <= point.accuracy <= 1 for point in progress.train)
    assert store.load_learning_rates(reporter.run_id)[-1] == {"epoch": 2.0, "step": 10, "rate": 0.5}
    # The last test point scores the final model; the run folder says the same and holds the model.
    loss, accuracy = scores(predict_probabilities(model, split.x_test), split.y_test)
    assert progress.test[-1] == CurvePoint(2.0, 10, pytest.approx(loss), pytest.approx(accuracy))
    assert (progress.test_accuracy, progress.test_loss) == (pytest.approx(accuracy), pytest.approx(loss))
    assert accuracy > 0.5  # 10 steps of SGD at 0.5 on a softmax layer: 75% here, far above chance (10%)
    # Scored as Keras scores (its clipping included), without touching the model's metrics.
    keras_loss, keras_accuracy = model.evaluate(split.x_test, split.y_test, verbose=0)
    assert (loss, accuracy) == (pytest.approx(keras_loss, rel=1e-4), pytest.approx(keras_accuracy))
    info = store.get(reporter.run_id)
    assert (info.status, info.epochs_completed, info.has_model) == ("completed", 2, True)
    assert store.progress(reporter.run_id).test == progress.test


def test_a_stop_ends_the_fit_after_one_batch(split):
    store, reporter, _ = _fit(split, stop=True)
    progress = reporter.snapshot()
    assert (progress.status, progress.epoch, progress.step) == ("stopped", 0, 1)
    assert [(point.epoch, point.step) for point in progress.validation] == [(0.2, 1)]
    # The cut epoch is not scored at its end; finish() scores the test set once.
    assert [(point.epoch, point.step) for point in progress.test] == [(0.2, 1)]
    info = store.get(reporter.run_id)
    assert (info.status, info.has_model) == ("stopped", True)


def test_a_nan_loss_stops_with_advice(split):
    broken = Split(np.full_like(split.x_train[:100], np.nan), split.y_train[:100], split.x_val, split.y_val,
                   split.x_test, split.y_test)
    store = RunStore()
    run_id = store.create(SOFTMAX, TRAIN, preset="softmax")
    model = compile_model(build_model(SOFTMAX), TRAIN)
    callback = ProgressCallback(RunReporter(store, run_id, epochs=1), broken)
    with pytest.raises(TrainingDiverged, match=r"The loss became nan at epoch 1, batch 1: the learning rate \(0.5\)"):
        model.fit(broken.x_train, broken.y_train, batch_size=100, epochs=1, verbose=0, callbacks=[callback])


def test_predict_probabilities_matches_predict_across_chunks(split):
    # 2,000 images are two chunks of EVAL_BATCH; 1,234 ends with a short one.
    keras.utils.set_random_seed(0)
    model = build_model(ModelConfig(hidden_units=[8]))
    for images in (split.x_test, split.x_test[:1234]):
        probabilities = predict_probabilities(model, images)
        assert probabilities.shape == (len(images), 10)
        np.testing.assert_allclose(probabilities, model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

