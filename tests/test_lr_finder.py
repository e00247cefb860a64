"""Tests for the worker's range test on real MNIST with real Keras: each batch's own loss is recorded (not Keras's
running mean), it stops when the loss diverges, the network it was given (and a fine-tuned run's model file) is
left untouched, and its result file is written into the run folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import keras
import numpy as np
import pytest

from mnist_models import lr_find
from mnist_models.config import ConfigError, TrainConfig
from mnist_models.lr_range import RangeSettings
from mnist_models.presets import get_preset
from mnist_models.store.progress import scores
from mnist_models.store.run_info import LR_FIND_TASK
from mnist_models.store.runs import RunStore
from mnist_models.worker import models
from mnist_models.worker.lr_finder import lr_find_run, range_test
from mnist_models.worker.training import TrainingThread

pytestmark = pytest.mark.slow


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [np.array(weight) for weight in model.get_weights()]


def one_digit_batches(mnist, batch_size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` batches, the first all 0s, the next all 1s, ...: batches whose losses differ a lot."""
    xs, ys = [], []
    for index in range(count):
        digit = index % 10
        picked = np.flatnonzero(mnist.y_train == digit)[index // 10 * batch_size:][:batch_size]
        xs.append(mnist.x_train[picked])
        ys.append(mnist.y_train[picked])
    return np.concatenate(xs), np.concatenate(ys)


def range_test_run(store: RunStore, model, train, settings: RangeSettings) -> str:
    spec = lr_find.range_test_spec(model, train, settings=settings, store=store)
    return store.create(spec.model, spec.train, name=spec.name, files=spec.files, job_key=spec.key, task=spec.task)


def test_each_batch_s_own_loss_is_recorded_not_the_running_mean(mnist):
    keras.utils.set_random_seed(1)
    model = models.build_model(get_preset("softmax").configs()[0])
    batch_size, count = 20, 30
    x, y = one_digit_batches(mnist, batch_size, count)
    # Rates so small that the weights stay put: each batch's own loss is then the untrained network's loss on it,
    # which numpy computes independently of Keras's metrics.
    settings = RangeSettings(1e-12, 1e-11, count)
    result = range_test(model, x, y, TrainConfig(optimizer="sgd", batch_size=batch_size), settings)
    expected = [scores(np.asarray(model.predict_on_batch(x[start:start + batch_size])),
                       y[start:start + batch_size])[0] for start in range(0, count * batch_size, batch_size)]
    assert result.batches_run == count
    assert result.losses == pytest.approx(expected, abs=1e-4)
    running_means = np.cumsum(expected) / np.arange(1, count + 1)
    assert max(abs(np.asarray(result.losses) - running_means)) > 0.2, "a running mean would look very different"
    assert result.rates == pytest.approx(settings.rates())


def test_the_network_given_is_left_untouched(mnist):
    keras.utils.set_random_seed(2)
    model_config, train = get_preset("five-layer-relu-adam").configs()
    model = models.compile_model(models.build_model(model_config), train)
    before = weights_of(model)
    iterations = int(model.optimizer.iterations.numpy())
    result = range_test(model, mnist.x_train[:3000], mnist.y_train[:3000], train, RangeSettings(1e-4, 1.0, 60),
                        shuffle_seed=0)
    assert min(result.losses) < result.losses[0] - 0.5, "the copy learned ..."
    after = weights_of(model)
    assert all(np.array_equal(old, new) for old, new in zip(before, after, strict=True)), "... the original did not"
    assert int(model.optimizer.iterations.numpy()) == iterations
    assert models.current_learning_rate(model) == pytest.approx(train.learning_rate)


def test_a_range_test_run_stops_on_divergence_and_writes_its_result(runs_dir, mnist):
    store = RunStore(runs_dir)
    model, train = get_preset("five-layer-relu-adam").configs()
    train.train_size, train.validation_size = 2000, 500
    run_id = range_test_run(store, model, train, RangeSettings(1e-5, 10.0, 200))
    progress = lr_find_run(store, run_id, data=mnist)
    assert progress.status == "completed", progress.error
    result = lr_find.load_result(store, run_id)
    assert result is not None and result.finished and result.diverged
    assert 30 < result.batches_run < 200, "it stopped on divergence, well before the last batch"
    assert result.batch_size == 100 and result.rates[-1] < 10.0
    assert all(np.isfinite(result.losses[:-1]))
    saved = json.loads((store.folder(run_id) / "lr_find.json").read_text())
    assert saved["rates"] == pytest.approx(list(result.rates))
    # A range test is a run folder of its own kind: no model, not listed with the trainings.
    info = store.get(run_id)
    assert (info.task, info.has_model) == (LR_FIND_TASK, False)
    assert store.list() == [] and [item.run_id for item in store.list(task=LR_FIND_TASK)] == [run_id]
    summary = result.summary()
    assert summary["suggested_learning_rate"] is not None and summary["range"]["stopped_on_divergence"] is True


def test_a_fine_tuned_run_s_test_starts_from_its_weights_and_leaves_its_model_file_alone(runs_dir, mnist):
    store = RunStore(runs_dir)
    model, train = get_preset("softmax").configs()
    train.epochs, train.train_size, train.validation_size = 1, 2000, 500
    base = TrainingThread(model, train, store=store, preset="softmax", name="Base", data=mnist).start()
    assert base.wait(180).status == "completed"
    model_file = store.model_path(base.run_id)
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    tuned = dataclasses.replace(train, fine_tune_from=base.run_id)
    run_id = range_test_run(store, model, tuned, RangeSettings(1e-6, 1.0, 40))
    assert lr_find_run(store, run_id, data=mnist).status == "completed"
    result = lr_find.load_result(store, run_id)
    # An untrained softmax starts near ln(10) = 2.3; the base run's weights start far lower.
    assert result.losses[0] < 1.0
    assert hashlib.sha256(model_file.read_bytes()).hexdigest() == digest
    assert store.get(base.run_id).has_model and [info.run_id for info in store.list()] == [base.run_id]


def test_a_run_that_is_not_there_cannot_be_fine_tuned_from(runs_dir):
    model, train = get_preset("softmax").configs()
    train.fine_tune_from = "20240101-000000-softmax-abcdef"
    with pytest.raises(ConfigError, match="has no saved model"):
        lr_find.range_test_spec(model, train, store=RunStore(runs_dir))
