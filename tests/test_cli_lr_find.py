"""Tests for `python -m mnist_models lr-find`: a tiny range test end to end (progress lines, then one JSON object
with the suggestion, the rule and the range tried), and exit code 2 with a one-line message on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models.lr_range import RULE
from mnist_models.store.run_info import LR_FIND_TASK
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # MNIST_RUNS_DIR comes from the autouse fixture in conftest.py, so runs land in the test's folder.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_a_tiny_range_test_prints_progress_then_its_suggestion_as_json(runs_dir):
    result = cli("lr-find", "--preset", "five-layer-relu-adam", "--train-size", "2000", "--batches", "80",
                 "--last-rate", "10", "--seed", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Range test of five-layer-relu-adam (185,300 parameters) as run ")
    assert any(line.startswith("batch 25/80  rate ") for line in lines), lines
    summary = json.loads(lines[-1])
    assert summary["status"] == "completed" and summary["error"] is None
    assert summary["rule"] == RULE
    tried = summary["range"]
    assert tried["first_rate"] == pytest.approx(1e-6) and tried["batches_planned"] == 80
    # It stops early exactly when the loss diverged (a dense Adam network may instead die at a loss near 2.3).
    assert isinstance(tried["stopped_on_divergence"], bool)
    assert (tried["batches_run"] < 80) == tried["stopped_on_divergence"]
    assert tried["last_rate"] <= 10 and tried["batch_size"] == 100
    rate = summary["suggested_learning_rate"]
    assert tried["first_rate"] <= rate <= tried["last_rate"]
    assert f"Suggested learning rate: {rate:.2g}" in result.stdout
    # The run is a range test's: in the runs folder, but not among the trainings `runs` lists.
    store = RunStore(runs_dir)
    assert store.get(summary["run_id"]).task == LR_FIND_TASK
    assert cli("runs", "--json").stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--preset", "softmax", "--batches", "5"], "between 30 and 2,000 batches"),
    (["--preset", "softmax", "--first-rate", "0"], "first rate must be a positive number"),
    (["--preset", "softmax", "--last-rate", "100"], "last rate must be a positive number up to 10"),
    (["--preset", "softmax", "--first-rate", "0.1", "--last-rate", "0.2"], "at least ten times the first"),
    (["--preset", "softmax", "--batch-size", "0"], "Batch size must be a whole number"),
    (["--preset", "softmax", "--batches", "many"], "invalid int value"),
    (["--preset", "nope"], "invalid choice"),
    (["--config", "no/such/config.json"], "Cannot read it"),
    ([], "one of the arguments --preset --config is required"),
])
def test_bad_values_exit_2_with_one_line(args, message):
    result = cli("lr-find", *args, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert result.stdout == ""


def test_a_config_that_fine_tunes_a_missing_run_is_refused(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"hidden_units": []},
                                  "train": {"fine_tune_from": "20240101-000000-softmax-abcdef"}}))
    result = cli("lr-find", "--config", str(config), timeout=120)
    assert result.returncode == 2 and "has no saved model" in result.stderr
