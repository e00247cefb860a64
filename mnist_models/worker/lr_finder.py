"""The worker's side of a learning-rate range test: train a throwaway copy of the network while the rate grows,
record each batch's own loss, and publish what it measures into the run folder as it goes.

Each batch goes through `train_on_batch`, which in Keras 3 resets the loss's running mean before the batch, so the
loss it returns is that batch's own. `fit`'s per-batch logs would not do: since TF 2.2 they hold the mean of the
epoch so far (tensorflow#58098), a lagging curve that pushes a suggestion towards rates that are too high.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import keras
import numpy as np

from mnist_models import lr_find
from mnist_models.config import TrainConfig
from mnist_models.data import Mnist, load_mnist, make_split
from mnist_models.lr_range import RangeRecorder, RangeResult, RangeSettings
from mnist_models.store.files import BASE_MODEL_FILE
from mnist_models.store.progress import Progress
from mnist_models.store.runs import RunStore
from mnist_models.worker import models
from mnist_models.worker.reporter import PUBLISH_SECONDS, RunReporter
from mnist_models.worker.training import device_report, readable_error


def throwaway_copy(model: keras.Model, train: TrainConfig) -> keras.Model:
    """A copy of `model` with the same weights (batch norm's statistics too), compiled with a fresh optimiser of
    `train`'s kind at a constant rate that the test then changes: training it leaves `model` as it was."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return models.compile_model(copy, dataclasses.replace(train, lr_schedule="constant"))


def range_test(model: keras.Model, x: np.ndarray, y: np.ndarray, train: TrainConfig, settings: RangeSettings, *,
               shuffle_seed: int | None = None, on_batch: Callable[[RangeRecorder], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> RangeResult:
    """Run the range test on a throwaway copy of `model` with batches of `train.batch_size` images of (n, 28, 28)
    `x` and their labels `y` (in a seeded random order, or as given when `shuffle_seed` is None, starting over when
    they run out). The rate grows from settings.start to settings.end over settings.batches batches; the test stops
    early when the loss diverges or `should_stop()` says so. `on_batch` hears of every batch."""
    rates = settings.rates()
    batch_size = train.batch_size
    full_batches = len(x) // batch_size
    if full_batches < 1:
        raise ValueError(f"A range test needs at least one batch of {batch_size} images (got {len(x)}).")
    order = (np.arange(len(x)) if shuffle_seed is None else np.random.default_rng(shuffle_seed).permutation(len(x)))
    copy = throwaway_copy(model, train)
    recorder = RangeRecorder()
    started = time.monotonic()
    for index, rate in enumerate(rates):
        if should_stop is not None and should_stop():
            break
        first = (index % full_batches) * batch_size
        batch = order[first:first + batch_size]
        copy.optimizer.learning_rate = rate
        logs = copy.train_on_batch(x[batch], y[batch], return_dict=True)
        diverged = recorder.add(rate, float(logs["loss"]))
        if on_batch is not None:
            on_batch(recorder)
        if diverged:
            break
    return result_of(recorder, settings, batch_size, time.monotonic() - started, finished=True)


def result_of(recorder: RangeRecorder, settings: RangeSettings, batch_size: int, seconds: float, *,
              finished: bool) -> RangeResult:
    return RangeResult(settings, tuple(recorder.rates), tuple(recorder.losses), recorder.diverged, finished,
                       batch_size, seconds)


def start_model(store: RunStore, run_id: str) -> keras.Model:
    """The network the run's test starts from: built afresh from its config, or with the weights of the run it
    fine-tunes (the copy of that run's model file put into this run's folder when it was queued)."""
    model_config, train = store.load_configs(run_id)
    model = models.build_model(model_config)
    if train.fine_tune_from:
        base = keras.saving.load_model(store.folder(run_id) / BASE_MODEL_FILE, compile=False, safe_mode=True)
        try:
            model.set_weights(base.get_weights())
        except ValueError as error:
            raise ValueError(f"The base run's model does not fit this run's network ({error}).") from None
    return model


def lr_find_run(store: RunStore, run_id: str, *, data: Mnist | None = None, reporter: RunReporter | None = None,
                stop_event: threading.Event | None = None) -> Progress:
    """Run the range test whose folder `store` holds and return how it ended; nothing raises.

    The run's status, heartbeat and batch count go through a RunReporter as a training's do (the queue and the
    pages read them); the rates and losses go into the run's range-test file about twice a second, and once more,
    durably, before the final status, so a reader that sees the run finished finds all of it.
    """
    reporter = reporter if reporter is not None else RunReporter(store, run_id, epochs=1, stop_event=stop_event)
    try:
        model_config, train = store.load_configs(run_id)
        model_config.validate()
        train.validate()
        folder = store.folder(run_id)
        settings = lr_find.load_settings(folder)
        data = data if data is not None else load_mnist()
        reporter.set_device(device_report())
        split = make_split(data, train.train_size, train.validation_size)
        # One seed fixes the starting weights, the order of the batches and dropout's masks.
        keras.utils.set_random_seed(train.seed)
        model = start_model(store, run_id)
        reporter.begin(settings.batches, settings.start)
        started = time.monotonic()
        published = [started]

        def on_batch(recorder: RangeRecorder) -> None:
            reporter.batch_done(len(recorder.losses))
            now = time.monotonic()
            if now - published[0] >= PUBLISH_SECONDS:
                published[0] = now
                partial = result_of(recorder, settings, train.batch_size, now - started, finished=False)
                lr_find.save_result(folder, partial, durable=False)
                reporter.publish()

        result = range_test(model, split.x_train, split.y_train, train, settings, shuffle_seed=train.seed,
                            on_batch=on_batch, should_stop=reporter.should_stop)
        lr_find.save_result(folder, result)
        reporter.finish(result.rates[-1] if result.rates else None)
    except Exception as error:
        reporter.fail(readable_error(error))
    return reporter.snapshot()
