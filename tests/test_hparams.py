"""Tests for mnist_models.worker.hparams: every run's settings and final results reach TensorBoard's HParams tab,
read back with TensorBoard's own event reader and its HParams plugin's code (what `tensorboard --logdir runs`
serves), from real trainings."""

from __future__ import annotations

import pytest
from tensorboard import context
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.presets import get_preset
from mnist_models.store.progress import CurvePoint, Progress
from mnist_models.store.runs import RunStore
from mnist_models.worker.hparams import final_metrics, run_hparams, write_hparams
from mnist_models.worker.training import TrainingThread


def progress(test: list[float], train_accuracy: float) -> Progress:
    return Progress(run_id="r", status="completed", epoch=len(test), epochs=len(test), batch=0, batches_per_epoch=10,
                    step=10 * len(test), elapsed_seconds=1.0, eta_seconds=None, learning_rate=0.003, device="CPU",
                    train=tuple(CurvePoint(i + 0.9, 10 * i + 9, 0.1, train_accuracy) for i in range(len(test))),
                    test=tuple(CurvePoint(i + 1.0, 10 * (i + 1), 0.3 - i / 10, a) for i, a in enumerate(test)))


def test_the_settings_a_sweep_varies_are_hparams():
    model, train = get_preset("five-layer-decay").configs()
    values = run_hparams(model, train, "five-layer-decay")
    assert values["learning_rate"] == train.learning_rate and values["preset"] == "five-layer-decay"
    assert values["hidden_layers"] == "200-100-60-30" and values["hidden_width"] == 200
    assert values["conv_layers"] == "none" and "conv_filters" not in values
    assert all(isinstance(value, bool | int | float | str) for value in values.values())
    conv = run_hparams(*get_preset("conv").configs())
    assert conv["conv_layers"] == "4x5s1-8x5s2-12x4s2" and conv["conv_filters"] == 4 and conv["preset"] == "custom"
    assert "lr_decay" not in run_hparams(ModelConfig(), TrainConfig(lr_schedule="constant"))
    assert run_hparams(ModelConfig(), TrainConfig(lr_schedule="inverse_time", lr_decay=0.01))["lr_decay"] == 0.01


def test_the_final_results_are_the_summary_s_measures():
    metrics = final_metrics(progress([0.95, 0.97, 0.96], train_accuracy=0.99))
    assert metrics == {"final/test_accuracy": 0.96, "final/best_test_accuracy": 0.97,
                       "final/test_loss": pytest.approx(0.1), "final/train_test_gap": pytest.approx(0.03)}
    assert final_metrics(progress([], train_accuracy=0.5)) == {}, "no test point, no result"


def test_a_failure_to_write_never_fails_the_run(runs_dir):
    assert write_hparams(RunStore(runs_dir), "20250101-000000-softmax-abcdef", ModelConfig(), TrainConfig(),
                         progress([0.9], 0.9)) is False


@pytest.mark.slow
def test_two_trainings_show_side_by_side_in_tensorboard_s_hparams_tab(runs_dir, mnist):
    store = RunStore(runs_dir)
    ended = {}
    for rate in (0.003, 0.3):
        model, train = get_preset("softmax").configs()
        train.epochs, train.train_size, train.validation_size, train.learning_rate = 1, 300, 100, rate
        job = TrainingThread(model, train, store=store, preset="softmax", data=mnist).start()
        ended[job.run_id] = job.wait(timeout=300)
        assert ended[job.run_id].status == "completed"

    # What the HParams tab asks TensorBoard's backend for: the experiment, then the table's session groups.
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(runs_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(runs_dir))
    backend = backend_context.Context(base_plugin.TBContext(data_provider=provider, multiplexer=multiplexer,
                                                            logdir=str(runs_dir)))
    request = context.RequestContext()
    found = backend.hparams_metadata(request, "")
    experiment = backend.experiment_from_metadata(request, "", True, found,
                                                  backend.hparams_from_data_provider(request, "", 100))
    assert {"learning_rate", "batch_size", "seed", "preset", "hidden_layers"} <= {
        info.name for info in experiment.hparam_infos}
    assert {"final/test_accuracy", "final/best_test_accuracy", "final/test_loss", "final/train_test_gap"} <= {
        info.name.tag for info in experiment.metric_infos}
    groups = list_session_groups.Handler(request, backend, "", api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=10, include_metrics=True,
        allowed_statuses=[api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_RUNNING])).run()
    assert {group.name for group in groups.session_groups} == set(ended), "one session per run, named by its id"
    for group in groups.session_groups:
        run = ended[group.name]
        metrics = {metric.name.tag: metric.value for metric in group.metric_values}
        assert group.hparams["learning_rate"].number_value == store.load_configs(group.name)[1].learning_rate
        assert group.hparams["preset"].string_value == "softmax"
        assert metrics["final/test_accuracy"] == pytest.approx(run.test_accuracy, abs=1e-6)
        assert metrics["final/best_test_accuracy"] == pytest.approx(max(p.accuracy for p in run.test), abs=1e-6)
        assert metrics["final/test_loss"] == pytest.approx(run.test_loss, abs=1e-5)
