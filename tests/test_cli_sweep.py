"""Tests for `python -m mnist_models sweep`: a line per finished training, then one JSON object with every run and
the summary; bad values exit 2 with a one-line message, and nothing is queued."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_models import cli
from mnist_models import config as configs
from mnist_models.presets import get_preset
from mnist_models.store.runs import RunStore
from mnist_models.sweep import list_sweeps

ROOT = Path(__file__).resolve().parents[1]


def sweep_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    # MNIST_RUNS_DIR comes from the autouse fixture in conftest.py, so runs land in the test's folder.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MNIST_MAX_JOBS": "1"}
    return subprocess.run([sys.executable, "-m", "mnist_models", "sweep", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_a_sweep_prints_a_line_per_training_then_its_runs_and_summary(runs_dir):
    result = sweep_cli("--preset", "softmax", "--vary", "learning_rate=0.003,0.3", "--seeds", "0", "1",
                       "--epochs", "1", "--train-size", "300", "--name", "cli sweep")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("Sweep ") and "(4 trainings, 1 at a time, local)" in lines[0]
    finished = [line for line in lines if line.startswith("[")]
    assert [line.split()[0] for line in finished] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert all("completed: test acc" in line for line in finished)
    summary = json.loads(lines[-1])
    assert summary["axes"] == {"learning_rate": [0.003, 0.3]} and summary["seeds"] == [0, 1]
    assert summary["trainings"] == 4 and summary["executor"] == "local" and summary["preset"] == "softmax"
    runs = summary["runs"]
    assert [(run["learning_rate"], run["seed"]) for run in runs] == [(0.003, 0), (0.003, 1), (0.3, 0), (0.3, 1)]
    store = RunStore(runs_dir)
    for run in runs:
        info = store.get(run["run_id"])
        _, train = store.load_configs(run["run_id"])
        assert run["status"] == info.status == "completed" and run["test_accuracy"] == info.test_accuracy
        assert (train.learning_rate, train.seed, train.epochs, train.train_size) == (
            run["learning_rate"], run["seed"], 1, 300)
        assert run["best_accuracy"] == run["test_accuracy"], "one epoch: the best is the last"
        assert run["seconds"] > 0 and run["epochs_completed"] == 1 and info.name.startswith("cli sweep · ")
    best = summary["summary"]["val_best"]
    assert [point["values"] for point in best] == [{"learning_rate": 0.003}, {"learning_rate": 0.3}]
    scores = [run["best_accuracy"] for run in runs[2:]]
    assert best[1]["mean"] == pytest.approx(statistics.fmean(scores))
    assert (best[1]["low"], best[1]["high"], best[1]["count"]) == (min(scores), max(scores), 2)
    assert set(summary["summary"]) == {"val_best", "val_final", "gap"}
    record = list_sweeps(store, None)[0]
    assert record.id == summary["sweep_id"] and record.run_ids == [run["run_id"] for run in runs]


@pytest.mark.slow
def test_a_sweep_of_a_config_file_over_two_settings(tmp_path, runs_dir):
    model, train = get_preset("softmax").configs()
    train.train_size, train.validation_size, train.epochs, train.seed = 200, 100, 1, 7
    path = tmp_path / "config.json"
    path.write_text(configs.dumps(model, train))
    result = sweep_cli("--config", str(path), "--vary", "batch_size=50,100", "--vary", "learning_rate=0.1")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["axes"] == {"batch_size": [50, 100], "learning_rate": [0.1]} and summary["seeds"] == [7]
    assert [point["values"] for point in summary["summary"]["val_final"]] == [
        {"batch_size": 50, "learning_rate": 0.1}, {"batch_size": 100, "learning_rate": 0.1}]
    assert [RunStore(runs_dir).load_configs(run["run_id"])[1].batch_size for run in summary["runs"]] == [50, 100]


@pytest.mark.parametrize(("args", "fragment"), [
    (["--preset", "softmax"], "the following arguments are required: --vary"),
    (["--preset", "nope", "--vary", "epochs=1"], "invalid choice: 'nope'"),
    (["--preset", "softmax", "--vary", "momentum=0.9"], "'momentum' cannot be swept: choose one of learning_rate"),
    (["--preset", "softmax", "--vary", "learning_rate"], "write a setting, '=' and its values"),
    (["--preset", "softmax", "--vary", "learning_rate=fast"], "'fast' is not a number"),
    (["--preset", "softmax", "--vary", "learning_rate=0.1", "--vary", "learning_rate=0.2"], "is given twice"),
    (["--preset", "softmax", "--vary", "epochs=1", "--vary", "batch_size=10", "--vary", "learning_rate=0.1"],
     "one or two settings"),
    (["--preset", "softmax", "--vary", "learning_rate=1e-4:1:13"], "13 trainings (13 values), more than the 12"),
    (["--preset", "softmax", "--vary", "learning_rate=0.1,20"], "With learning_rate=20: Learning rate 20.0"),
    (["--preset", "five-layer-relu-adam", "--vary", "epochs=150,200"],
     "With epochs=200: Training would take about 1.3 times the work"),
    (["--preset", "softmax", "--vary", "learning_rate=0.1", "--seeds", "1", "1"], "seed is listed more than once"),
    (["--preset", "softmax", "--vary", "dropout_rate=0.1,0.2"], "this network has none"),
    (["--preset", "softmax", "--vary", "epochs=1", "--train-size", "5"], "at least 10 images"),
    (["--preset", "softmax", "--vary", "epochs=1", "--ray", "256.0.0.1:1"], "No Ray cluster answers at 256.0.0.1:1"),
])
def test_bad_values_exit_2_with_one_line_and_queue_nothing(args, fragment, runs_dir, capsys):
    try:
        code = cli.main(["sweep", *args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    error = capsys.readouterr().err
    assert code == 2
    assert len(error.strip().splitlines()) == 1 and fragment in error, error
    assert RunStore(runs_dir).list() == [] and list_sweeps(RunStore(runs_dir), None) == []


def test_the_cap_is_the_environment_s(monkeypatch, capsys):
    monkeypatch.setenv("MNIST_MAX_SWEEP", "3")
    assert cli.main(["sweep", "--preset", "softmax", "--vary", "learning_rate=0.1,0.2", "--seeds", "0", "1"]) == 2
    assert "4 trainings (2 values × 2 seeds), more than the 3" in capsys.readouterr().err
    monkeypatch.setenv("MNIST_MAX_SWEEP", "lots")
    assert cli.main(["sweep", "--preset", "softmax", "--vary", "learning_rate=0.1"]) == 2
    assert "MNIST_MAX_SWEEP='lots' is not a number of trainings in a sweep" in capsys.readouterr().err


def test_help_lists_the_settings():
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sweep", "--help"])
    assert exit_.value.code == 0
