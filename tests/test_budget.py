"""Tests for the compute budget: the presets fit, hostile networks and settings are refused with a message that
says which setting to lower, by the queue, the command line and the Train page alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.budget import LIMITS, budget_problems, estimate, limits
from mnist_models.config import ConfigError, ConvLayer, ModelConfig, TrainConfig
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
# Six layers of 256 3x3 filters at stride 1: within the parameter limit (about 4.2 M), far beyond any budget.
HUGE_CONV = ModelConfig(conv_layers=[ConvLayer(256, 3, 1)] * 6, padding="valid", hidden_units=[])


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_the_default_budget(name):
    model, train = PRESETS[name].configs()
    assert budget_problems(model, train) == []


def test_known_costs():
    # The codelab's first network: 784 x 10 multiply-adds per image, outputs 784 (flatten) + 10.
    model, train = PRESETS["softmax"].configs()
    cost = estimate(model, train)
    assert (cost.madds_per_image, cost.activations_per_image) == (7840, 794)
    assert cost.batch_memory_bytes == 794 * train.batch_size * 4 * 3
    # Each epoch trains every image (three passes' worth) and scores the validation sample five times and the
    # 10,000 test images once.
    scored = 5 * min(1000, train.validation_size) + 10_000
    assert cost.total_work == 7840 * (3 * train.train_size + scored) * train.epochs
    # 26x26x256 outputs of 3x3x1 kernels, then 24x24 ... 16x16 outputs of 3x3x256 kernels, then the output layer.
    expected = 26 * 26 * 256 * 9 + sum(size * size * 256 * 9 * 256 for size in (24, 22, 20, 18, 16)) \
        + 16 * 16 * 256 * 10
    assert HUGE_CONV.problems() == []
    assert estimate(HUGE_CONV, TrainConfig()).madds_per_image == expected


def test_hostile_settings_are_refused_naming_what_to_lower():
    [per_image] = budget_problems(HUGE_CONV, TrainConfig(batch_size=10))
    assert "multiply-adds per image" in per_image and "fewer filters" in per_image
    wide = ModelConfig(hidden_units=[2048] * 3)
    [memory] = budget_problems(ModelConfig(conv_layers=[ConvLayer(64, 3, 1)], hidden_units=[10]),
                               TrainConfig(batch_size=10_000))
    assert "lower the batch size to" in memory
    [work] = budget_problems(wide, TrainConfig(epochs=200))
    assert "lower the epochs (to" in work


def test_scoring_counts_too_so_a_tiny_training_set_cannot_run_for_hours():
    # Ten images trained per epoch, but 1,000 validation and 10,000 test images scored: the training alone was
    # within the limit while the whole job did 13.5 times it.
    model = ModelConfig(conv_layers=[ConvLayer(64, 5, 1), ConvLayer(64, 3, 1)], hidden_units=[])
    train = TrainConfig(train_size=10, epochs=200, batch_size=10)
    cost = estimate(model, train)
    assert cost.madds_per_image * 3 * train.train_size * train.epochs < LIMITS["MNIST_MAX_TOTAL_WORK"]
    assert cost.total_work > 10 * LIMITS["MNIST_MAX_TOTAL_WORK"]
    [work] = budget_problems(model, train)
    assert "times the work this server allows" in work and "lower the epochs (to" in work
    # The epochs it suggests fit.
    epochs = int(work.split("lower the epochs (to ")[1].split(" ")[0].replace(",", ""))
    assert budget_problems(model, TrainConfig(train_size=10, epochs=epochs, batch_size=10)) == []


def test_limits_come_from_the_environment(monkeypatch):
    assert limits() == LIMITS
    monkeypatch.setenv("MNIST_MAX_MADDS_PER_IMAGE", "5000")
    model, train = PRESETS["softmax"].configs()
    [message] = budget_problems(model, train)
    assert "needs 7,840 multiply-adds per image, more than the 5,000 this server allows" in message
    monkeypatch.setenv("MNIST_MAX_MADDS_PER_IMAGE", "3e9")
    monkeypatch.setenv("MNIST_MAX_TOTAL_WORK", "1e15")
    assert not budget_problems(HUGE_CONV, TrainConfig(batch_size=1, epochs=1, train_size=100))
    for bad in ("lots", "-1", "0"):
        monkeypatch.setenv("MNIST_MAX_TOTAL_WORK", bad)
        with pytest.raises(ValueError, match="MNIST_MAX_TOTAL_WORK"):
            limits()


def test_the_queue_refuses_before_queueing(runs_dir):
    queue = JobQueue(RunStore(runs_dir), max_running=1)
    try:
        with pytest.raises(ConfigError, match="multiply-adds per image"):
            queue.submit(HUGE_CONV, TrainConfig(), owner="ann")
        assert queue.jobs() == [] and RunStore(runs_dir).list() == []
    finally:
        queue.shutdown()


def test_the_command_line_refuses_with_exit_code_2(tmp_path, runs_dir):
    config = tmp_path / "config.json"
    from mnist_models import config as configs

    config.write_text(configs.dumps(HUGE_CONV, TrainConfig()))
    result = subprocess.run([sys.executable, "-m", "mnist_models", "train", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "multiply-adds per image" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = subprocess.run([sys.executable, "-m", "mnist_models", "train", "--preset", "conv", "--batch-size",
                             "10000", "--epochs", "200"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "MNIST_MAX_BATCH_MEMORY_MB": "100"})
    assert result.returncode == 2 and "lower the batch size" in result.stderr
