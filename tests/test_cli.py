"""Tests for `python -m mnist_models`: presets, train (its JSON last line), runs, and exit code 2 on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = {"run_id", "preset", "test_accuracy", "test_loss", "epochs_completed", "seconds", "params", "device"}


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # MNIST_RUNS_DIR comes from the autouse fixture in conftest.py, so runs land in the test's folder.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def last_json_line(stdout: str) -> dict:
    lines = stdout.strip().splitlines()
    assert lines, "no output"
    return json.loads(lines[-1])


def test_presets_lists_every_preset():
    result = cli("presets")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.strip().splitlines()
    assert rows[0].split()[:2] == ["name", "params"]
    names = [row.split()[0] for row in rows[1:]]
    assert names == list(PRESETS)
    by_name = dict(zip(names, rows[1:], strict=True))
    assert "7,850" in by_name["softmax"]
    assert "185,300" in by_name["five-layer-relu-adam"]
    assert "244,076" in by_name["conv-bigger-dropout"]
    assert "99.3%" in by_name["conv-bigger-dropout"]


def test_runs_with_no_runs_says_how_to_start(runs_dir):
    result = cli("runs")
    assert result.returncode == 0, result.stderr
    assert str(runs_dir) in result.stdout
    assert "train --preset" in result.stdout
    assert cli("runs", "--json").stdout == ""


@pytest.mark.slow
def test_train_prints_epochs_then_a_json_summary(runs_dir):
    result = cli("train", "--preset", "softmax", "--epochs", "1", "--train-size", "2000", "--seed", "3",
                 "--name", "cli test")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("epoch 1/1") for line in lines[:-1]), lines
    summary = last_json_line(result.stdout)
    assert set(summary) >= SUMMARY_KEYS
    assert summary["preset"] == "softmax"
    assert summary["status"] == "completed"
    assert summary["epochs_completed"] == 1
    assert summary["params"] == 7850
    assert summary["test_accuracy"] > 0.8
    assert 0 < summary["test_loss"] < 1
    assert summary["seconds"] > 0
    assert summary["device"].startswith(("CPU (", "GPU: "))
    assert (runs_dir / summary["run_id"] / "model.keras").is_file()

    listed = cli("runs")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(summary["run_id"]))
    assert "completed" in row and "cli test" in row
    assert f"{summary['test_accuracy']:.2%}" in row
    as_json = [json.loads(line) for line in cli("runs", "--json").stdout.splitlines()]
    assert [(run["run_id"], run["status"], run["name"]) for run in as_json] == [
        (summary["run_id"], "completed", "cli test")]
    assert as_json[0]["test_accuracy"] == summary["test_accuracy"]
    assert summary["executor"] == "local"

    # The run's config.json trains the same network again, with the same seed to the same result (on a CPU).
    again = cli("train", "--config", str(runs_dir / summary["run_id"] / "config.json"), "--name", "again")
    assert again.returncode == 0, again.stderr
    repeat = last_json_line(again.stdout)
    assert repeat["run_id"] != summary["run_id"] and repeat["preset"] == "custom"
    assert repeat["params"] == 7850 and repeat["epochs_completed"] == 1
    if summary["device"].startswith("CPU"):
        assert repeat["test_accuracy"] == summary["test_accuracy"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["train", "--preset", "nope"], "invalid choice"),
        (["train", "--preset", "softmax", "--epochs", "0"], "Epochs must be"),
        (["train", "--preset", "softmax", "--epochs", "x"], "invalid int value"),
        (["train"], "--preset"),
        (["train", "--preset", "softmax", "--learning-rate", "nan"], "Learning rate must be a positive number"),
        (["train", "--preset", "softmax", "--batch-size", "-5"], "Batch size"),
        (["train", "--preset", "softmax", "--train-size", "60000"], "add up to more than"),
        (["train", "--preset", "softmax", "--unknown"], "unrecognized arguments"),
        ([], "command"),
        (["fly"], "invalid choice"),
    ],
    ids=["unknown-preset", "epochs-0", "epochs-x", "missing-preset", "lr-nan", "batch-negative", "too-much-data",
         "unknown-flag", "no-command", "unknown-command"],
)
def test_bad_arguments_exit_2_with_one_line(args, fragment, runs_dir):
    result = cli(*args, timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "Cannot read"),
        ("{not json", "not valid JSON"),
        ('["model"]', "JSON object"),
        ('{"model": {"hidden_units": [-3]}, "train": {}}', "neurons"),
        ('{"model": {}, "train": {"epochs": "abc"}}', "Epochs must be"),
        ('{"model": {"conv_layers": [{"filters": 0}]}, "train": {}}', "filters"),
        ('{"model": {"activation": "magic"}, "train": {}}', "Unknown activation 'magic'"),
    ],
    ids=["missing", "not-json", "not-object", "bad-units", "bad-epochs", "bad-filters", "bad-activation"],
)
def test_a_bad_config_file_exits_2_naming_the_field(tmp_path, runs_dir, content, fragment):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    result = cli("train", "--config", str(path), timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_preset_and_config_exclude_each_other(tmp_path):
    result = cli("train", "--preset", "softmax", "--config", str(tmp_path / "x.json"), timeout=60)
    assert result.returncode == 2 and "not allowed with" in result.stderr


@pytest.mark.parametrize("command", [[], ["presets"], ["train"], ["runs"]])
def test_help(command):
    result = cli(*command, "--help", timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m mnist_models")


@pytest.mark.slow
def test_softmax_one_epoch_on_all_the_data_reaches_90_percent():
    # The acceptance: `python -m mnist_models train --preset softmax --epochs 1` reports >= 0.90.
    result = cli("train", "--preset", "softmax", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    summary = last_json_line(result.stdout)
    assert summary["epochs_completed"] == 1
    assert summary["test_accuracy"] >= 0.90


@pytest.mark.slow
def test_an_identical_training_is_followed_or_its_result_taken(runs_dir):
    args = ("train", "--preset", "softmax", "--epochs", "3", "--train-size", "3000")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first.stdout.readline()  # "Training softmax ... as run ...": its run folder exists
        second = cli(*args)  # the same training asked for again while it runs: followed, not repeated
    finally:
        out, _ = first.communicate(timeout=300)
    one, two = last_json_line(out), last_json_line(second.stdout)
    assert second.returncode == 0 and "is under way as run" in second.stdout
    assert two["run_id"] == one["run_id"] and two["shared"] == "joined" and one["shared"] is None
    assert two["status"] == "completed" and two["epochs_completed"] == 3

    reused = cli(*args, "--reuse")
    assert reused.returncode == 0 and last_json_line(reused.stdout)["run_id"] == one["run_id"]
    assert last_json_line(reused.stdout)["shared"] == "reused" and "epoch 1/" not in reused.stdout
    again = cli(*args)  # told, then trained anew as asked
    assert "--reuse takes its result" in again.stdout and last_json_line(again.stdout)["run_id"] != one["run_id"]
    other_seed = cli(*args, "--seed", "1", "--reuse")  # another seed is another training
    assert last_json_line(other_seed.stdout)["shared"] is None
