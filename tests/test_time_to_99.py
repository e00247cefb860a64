"""Tests for benchmarks/time_to_99.py: its arguments, its recipes and its measurement on a tiny run.

The accuracy and timing targets themselves are measured by running the benchmark, not asserted here.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from mnist_models.config import TOTAL_TRAIN_IMAGES, ModelConfig, TrainConfig, dumps
from mnist_models.presets import get_preset

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_99.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("time_to_99", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_defaults_time_the_seed_recipe_against_fast_99_on_the_test_set(bench):
    args = bench.parse_args([])
    assert args.seeds == [0, 1, 2]
    assert (args.target, args.score_on, args.eval_every, args.epochs) == (0.99, "test", 3000, None)
    assert [recipe.name for recipe in args.recipes] == ["seed", "fast-99"]
    seed = args.recipes[0]
    # The seed's recipe: conv-bigger-dropout's network, batches of 32, Adam 0.003 with inverse-time decay 0.001.
    assert seed.model == get_preset("conv-bigger-dropout").model
    assert (seed.train.batch_size, seed.train.optimizer, seed.train.learning_rate) == (32, "adam", 0.003)
    assert (seed.train.lr_schedule, seed.train.lr_decay) == ("inverse_time", 0.001)
    assert args.recipes[1].model == get_preset("fast-99").model
    assert args.recipes[1].train == get_preset("fast-99").train


def test_presets_configs_epochs_and_the_validation_split(bench, tmp_path):
    config = tmp_path / "my-run" / "config.json"
    config.parent.mkdir()
    config.write_text(dumps(ModelConfig(hidden_units=[10]), TrainConfig(train_size=59_500, validation_size=500)))
    args = bench.parse_args(["--seeds", "4", "--preset", "conv-batchnorm", "--config", str(config), "--epochs", "2",
                             "--score-on", "validation", "--target", "0.985", "--eval-every", "1000"])
    assert [recipe.name for recipe in args.recipes] == ["seed", "fast-99", "conv-batchnorm", "my-run"]
    assert all(recipe.train.epochs == 2 for recipe in args.recipes)
    # Choosing on validation holds out 5,000 images, taking them from training where needed.
    assert all(recipe.train.validation_size == 5000 for recipe in args.recipes)
    assert all(recipe.train.train_size + 5000 <= TOTAL_TRAIN_IMAGES for recipe in args.recipes)
    assert (args.seeds, args.target, args.eval_every) == ([4], 0.985, 1000)
    only = bench.parse_args(["--no-default", "--preset", "softmax"])
    assert [recipe.name for recipe in only.recipes] == ["softmax"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "99"], "--target must be an accuracy above 0 and at most 1"),
        (["--target", "0"], "--target must be an accuracy"),
        (["--eval-every", "0"], "--eval-every must be a positive number"),
        (["--epochs", "0"], "--epochs must be from 1 to 200"),
        (["--seeds", "1", "1"], "--seeds must be distinct"),
        (["--seeds", "-1"], "--seeds must be distinct whole numbers of at least 0"),
        (["--no-default"], "--no-default needs at least one --preset or --config"),
        (["--preset", "fast-100"], "invalid choice: 'fast-100'"),
        (["--score-on", "train"], "invalid choice: 'train'"),
        (["--config", "/no/such/config.json"], "No such file"),
        (["--seeds"], "expected at least one argument"),
    ],
)
def test_bad_arguments_exit_with_code_2_and_a_message(bench, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_bad_config_file_is_a_usage_error(bench, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"hidden_units": [0]}, "train": {}}))
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--config", str(config)])
    assert exit_info.value.code == 2
    assert "Hidden layer 1 needs between 1 and 4096 neurons" in capsys.readouterr().err


def test_timing_reads_the_first_time_the_target_was_reached(bench):
    timing = bench.Timing(points=[(1.0, 0.1, 0.97), (2.0, 0.2, 0.991), (3.0, 0.3, 0.989), (4.0, 0.4, 0.993)],
                          seconds=4.5)
    assert timing.first_reaching(0.99) == 2.0
    assert timing.first_reaching(0.9925) == 4.0
    assert timing.first_reaching(0.995) is None
    assert timing.final_accuracy == 0.993


def test_a_tiny_run_is_scored_on_a_stopped_clock(bench, mnist):
    recipe = bench.Recipe("tiny", ModelConfig(hidden_units=[32]),
                          TrainConfig(batch_size=50, epochs=2, train_size=1000, validation_size=500, seed=3))
    timing = bench.time_recipe(recipe, 3, mnist, score_on="validation", eval_every=400)
    # Scored after 400, 800, 1200 (epoch 1.2), 1600 and 2000 images; the last point is the end of training.
    assert [round(epoch, 2) for _, epoch, _ in timing.points] == [0.4, 0.8, 1.2, 1.6, 2.0]
    seconds = [point[0] for point in timing.points]
    assert seconds == sorted(seconds) and seconds[-1] == timing.seconds > 0
    assert timing.final_accuracy > 0.8
