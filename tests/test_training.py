"""Tests for mnist_models.worker.training: real (small) runs, progress snapshots, stop, failures, reproducibility."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.data import make_split
from mnist_models.presets import get_preset
from mnist_models.store.runs import RunStore
from mnist_models.worker import callback as progress_callback
from mnist_models.worker.training import TrainingThread, device_report

WAIT_SECONDS = 180


def _configs(preset: str, **train_overrides) -> tuple[ModelConfig, TrainConfig]:
    model, train = get_preset(preset).configs()
    for key, value in train_overrides.items():
        setattr(train, key, value)
    return model, train


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _finished(job: TrainingThread):
    progress = job.wait(WAIT_SECONDS)
    assert progress.done, progress.status
    assert not job._thread.is_alive()
    return progress



@pytest.fixture(scope="module")
def completed(tmp_path_factory, mnist):
    """five-layer-relu-adam on 2,000 images for 2 epochs: a real run, small enough to take a couple of seconds."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    model, train = _configs("five-layer-relu-adam", train_size=2000, validation_size=500, epochs=2)
    job = TrainingThread(model, train, store=store, preset="five-layer-relu-adam", name="short", data=mnist).start()
    return job, _finished(job), store


def test_short_run_beats_chance_by_far(completed):
    _, progress, _ = completed
    assert progress.status == "completed", progress.error
    assert progress.error is None
    # Chance is 10%; two epochs on 2,000 images get well above 80%.
    assert progress.test_accuracy > 0.8
    assert progress.test_loss < 0.8


def test_progress_counters(completed):
    _, progress, _ = completed
    assert (progress.epoch, progress.epochs) == (2, 2)
    assert progress.batches_per_epoch == 20  # 2,000 images / 100 per batch
    assert progress.batch == 20
    assert progress.step == 40
    assert progress.fraction == 1.0
    assert progress.eta_seconds is None
    assert progress.elapsed_seconds > 0
    assert progress.learning_rate == pytest.approx(0.003)
    assert progress.device.startswith(("CPU (", "GPU: "))


def test_progress_curves(completed):
    _, progress, _ = completed
    # Validation at least 5 times per epoch, the last at the epoch's end.
    for epoch in (1, 2):
        points = [p for p in progress.validation if epoch - 1 < p.epoch <= epoch]
        assert len(points) >= 5, epoch
        assert points[-1].epoch == epoch
    # The full test set at every epoch end.
    assert [(p.epoch, p.step) for p in progress.test] == [(1.0, 20), (2.0, 40)]
    assert (progress.test_loss, progress.test_accuracy) == (progress.test[-1].loss, progress.test[-1].accuracy)
    # Train points move forward and end at the last batch.
    assert progress.train[-1].epoch == 2.0 and progress.train[-1].step == 40
    assert all(a.step < b.step for a, b in zip(progress.train, progress.train[1:], strict=False))
    for point in progress.train + progress.validation + progress.test:
        assert np.isfinite(point.loss) and 0 <= point.accuracy <= 1
    # Learning shows: the last validation point is better than the first.
    assert progress.validation[-1].accuracy > progress.validation[0].accuracy


def test_reported_metrics_are_the_saved_models(completed, mnist):
    import keras

    job, progress, store = completed
    model = keras.saving.load_model(store.model_path(job.run_id), safe_mode=True)
    split = make_split(mnist, 2000, 500)
    test_probabilities = model.predict(np.asarray(split.x_test), batch_size=1000, verbose=0)
    assert (test_probabilities.argmax(axis=1) == split.y_test).mean() == pytest.approx(progress.test_accuracy)
    keras_loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(split.y_test, test_probabilities)))
    assert keras_loss == pytest.approx(progress.test_loss, rel=1e-4)
    # The validation sample is scored with the same model after the last batch.
    val_probabilities = model.predict(np.asarray(split.x_val), batch_size=1000, verbose=0)
    assert (val_probabilities.argmax(axis=1) == split.y_val).mean() == pytest.approx(progress.validation[-1].accuracy)


def test_completed_run_is_saved(completed):
    job, progress, store = completed
    info = store.get(job.run_id)
    assert info.status == "completed"
    assert info.name == "short" and info.preset == "five-layer-relu-adam"
    assert info.has_model and (info.path / "model.keras").is_file()
    assert (info.epochs, info.epochs_completed) == (2, 2)
    assert info.params == 185_300
    assert info.test_accuracy == progress.test_accuracy
    assert info.device == progress.device
    assert info.finished is not None and info.seconds > 0
    history = store.load_history(job.run_id)
    assert history == {name: [point.as_dict() for point in getattr(progress, name)]
                       for name in ("train", "validation", "test")}
    model, train = store.load_configs(job.run_id)
    assert (model, train) == (job.model_config, job.train_config)



@pytest.mark.slow
def test_stop_ends_training_within_one_batch(mnist):
    store = RunStore()
    model, train = _configs("five-layer-relu-adam", train_size=2000, validation_size=200, epochs=50)
    job = TrainingThread(model, train, store=store, preset="five-layer-relu-adam", data=mnist).start()
    # Into the second epoch, so that a full epoch (with its test point and saved model) is behind us.
    _wait_for(lambda: job.progress().step >= 23)
    running = job.progress()
    assert running.status == "running"
    assert running.eta_seconds is not None and running.eta_seconds > 0
    before = job.progress().step
    job.stop()
    after = job.progress().step
    progress = _finished(job)
    # At most the batch that was running when stop() was called may finish. (Should a batch end exactly
    # between reading the counter and stop(), the counter read just after stop() is the reference.)
    reference = before if after == before else after
    assert progress.step - reference <= 1, (before, after, progress.step)
    assert progress.status == "stopped"
    assert progress.error is None
    assert progress.epoch == 1
    assert progress.step < train.epochs * progress.batches_per_epoch
    # Everything measured until the stop is kept: the first epoch's test point plus one at the stop.
    assert progress.test[0].epoch == 1.0
    assert 1.0 < progress.test[-1].epoch < 2.0 and progress.test[-1].step == progress.step
    assert len(progress.validation) >= 5
    assert progress.train and progress.train[-1].step <= progress.step

    info = store.get(job.run_id)
    assert info.status == "stopped"
    assert info.has_model
    assert info.epochs_completed == 1
    assert info.test_accuracy == progress.test_accuracy
    history = store.load_history(job.run_id)
    assert len(history["train"]) == len(progress.train)
    assert len(history["test"]) == len(progress.test)


def test_stop_before_the_first_batch(mnist):
    model, train = _configs("softmax", train_size=1000, validation_size=100, epochs=5)
    job = TrainingThread(model, train, data=mnist).start()
    job.stop()
    progress = _finished(job)
    assert progress.status == "stopped"
    assert progress.step <= 1
    assert RunStore().get(job.run_id).status == "stopped"



def test_divergence_ends_as_failed_with_a_reason(mnist):
    # A deep linear network with plain SGD at 10: the weights blow up within a few batches.
    model = ModelConfig(hidden_units=[200, 100], activation="linear")
    train = TrainConfig(optimizer="sgd", learning_rate=10.0, train_size=1000, validation_size=100, epochs=3)
    job = TrainingThread(model, train, data=mnist).start()
    progress = _finished(job)
    assert progress.status == "failed"
    assert "The loss became" in progress.error
    assert "learning rate" in progress.error and "lower it" in progress.error
    assert "Traceback" not in progress.error and "\n" not in progress.error
    assert progress.step < progress.batches_per_epoch
    store = RunStore()
    info = store.get(job.run_id)
    assert info.status == "failed"
    assert info.error == progress.error
    assert not info.has_model
    # The points measured before the failure are kept; a NaN loss is stored as null (JSON has no NaN).
    saved = store.load_history(job.run_id)["validation"]
    assert [point["step"] for point in saved] == [point.step for point in progress.validation]
    for point, kept in zip(progress.validation, saved, strict=True):
        assert kept["loss"] == (point.loss if np.isfinite(point.loss) else None)


def test_out_of_memory_ends_as_failed_with_advice(mnist, monkeypatch):
    from mnist_models.worker import models

    def exhausted(config):
        raise MemoryError("cannot allocate 2.00GiB")

    monkeypatch.setattr(models, "build_model", exhausted)
    job = TrainingThread(*_configs("softmax", train_size=1000, validation_size=100), data=mnist).start()
    progress = _finished(job)
    assert progress.status == "failed"
    assert progress.error.startswith("Out of memory:")
    assert "batch size" in progress.error
    assert RunStore().get(job.run_id).status == "failed"


def test_unexpected_error_is_reported_in_one_line(mnist, monkeypatch):
    from mnist_models.worker import models

    def broken(model, train, steps_per_execution=1):
        raise RuntimeError("something odd\nwith a second line")

    monkeypatch.setattr(models, "compile_model", broken)
    job = TrainingThread(*_configs("softmax", train_size=1000, validation_size=100), data=mnist).start()
    progress = _finished(job)
    assert progress.status == "failed"
    assert progress.error == "Training failed (RuntimeError): something odd"


def test_invalid_configs_are_refused_before_starting():
    with pytest.raises(ValueError, match="Epochs"):
        TrainingThread(ModelConfig(), TrainConfig(epochs=0))
    with pytest.raises(ValueError, match="neurons"):
        TrainingThread(ModelConfig(hidden_units=[-1]), TrainConfig())
    assert RunStore().list() == []



def _curves(progress) -> dict[str, list[tuple]]:
    return {name: [(p.epoch, p.step, p.loss, p.accuracy) for p in getattr(progress, name)]
            for name in ("train", "validation", "test")}


@pytest.mark.slow
def test_seeded_runs_are_reproducible(mnist, monkeypatch):
    # A train point every batch, so that the train curve does not depend on timing.
    monkeypatch.setattr(progress_callback, "REPORT_INTERVAL_SECONDS", 0.0)
    # Dropout and shuffling both draw random numbers, so the seed has to fix them all.
    model, train = _configs("five-layer-dropout", train_size=1000, validation_size=200, epochs=2, seed=7)
    runs = [_finished(TrainingThread(model, train, data=mnist).start()) for _ in range(2)]
    train.seed = 8
    other = _finished(TrainingThread(model, train, data=mnist).start())
    first, second = runs
    assert first.status == second.status == other.status == "completed"
    assert len(first.train) == 20
    assert first.test_loss == second.test_loss
    assert first.test_accuracy == second.test_accuracy
    assert _curves(first) == _curves(second)
    assert first.test_loss != other.test_loss
    assert _curves(first)["train"] != _curves(other)["train"]



def test_device_report_names_the_device():
    import tensorflow as tf

    report = device_report()
    if tf.config.list_physical_devices("GPU"):
        assert report.startswith("GPU: ")
    else:
        threads = int(report.removeprefix("CPU (").removesuffix(" threads)"))
        assert report == f"CPU ({threads} threads)"
        assert threads >= 1



def test_a_full_disk_fails_the_run_with_advice_instead_of_leaving_it_running(mnist, monkeypatch):
    import errno

    def full(self, run_id, model):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(RunStore, "save_model", full)
    model, train = _configs("softmax", train_size=1000, validation_size=100, epochs=1)
    job = TrainingThread(model, train, data=mnist).start()
    progress = _finished(job)
    assert progress.status == "failed"
    assert "No space left on device" in progress.error and "Free some disk space" in progress.error
    info = RunStore().get(job.run_id)
    assert (info.status, info.error) == ("failed", progress.error)


def test_when_even_the_curves_cannot_be_written_the_status_still_is(mnist, monkeypatch):
    import errno

    from mnist_models.store import runs

    real = runs.write_json_atomic

    def no_room_for_curves(path, value, **options):
        if path.name == "history.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, value, **options)

    model, train = _configs("softmax", train_size=1000, validation_size=100, epochs=1)
    job = TrainingThread(model, train, data=mnist).start()  # its folder is made; from now on the disk is full
    monkeypatch.setattr(runs, "write_json_atomic", no_room_for_curves)
    progress = _finished(job)
    assert progress.status == "failed" and "No space left" in progress.error
    assert RunStore().get(job.run_id).status == "failed"



def test_steps_per_execution_is_one_on_the_cpu_and_a_few_on_a_gpu():
    from mnist_models.worker.training import GPU_STEPS_PER_EXECUTION, steps_per_execution

    assert steps_per_execution(["CPU"]) == 1
    assert steps_per_execution(["CPU"], steps_per_epoch=1000) == 1
    assert steps_per_execution(["CPU", "GPU"]) == GPU_STEPS_PER_EXECUTION > 1
    assert steps_per_execution(["CPU", "GPU", "GPU"], steps_per_epoch=1000) == GPU_STEPS_PER_EXECUTION
    # An epoch of 3 batches never waits for a 4th.
    assert steps_per_execution(["CPU", "GPU"], steps_per_epoch=3) == 3
    assert steps_per_execution(["CPU", "GPU"], steps_per_epoch=0) == 1


def test_progress_copes_with_batches_reported_every_few_steps(tmp_path, mnist, monkeypatch):
    # As on a GPU: Keras calls the callback once every 4 batches (23 batches an epoch: the last call covers 3).
    from mnist_models.worker import training

    monkeypatch.setattr(training, "steps_per_execution", lambda devices, steps=None: 4)
    model, train = _configs("five-layer-relu-adam", train_size=2300, validation_size=500, epochs=2, batch_size=100)
    job = TrainingThread(model, train, store=RunStore(tmp_path), data=mnist, record_insight=False).start()
    progress = _finished(job)
    assert progress.status == "completed", progress.error
    assert (progress.epoch, progress.batch, progress.batches_per_epoch) == (2, 23, 23)
    assert progress.step == 46
    # Five validation points an epoch although no checkpoint batch (5, 9, 14, 18, 23) but the last is hit exactly.
    assert len(progress.validation) == 10
    assert len(progress.test) == 2 and progress.test_accuracy > 0.8
    assert all(point.loss == point.loss for point in progress.train)  # no NaN from the skipped batches
