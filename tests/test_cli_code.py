"""Tests for `python -m mnist_models code` and `read-code`: their output, JSON last lines and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mnist_models import config as configs
from mnist_models.budget import budget_problems
from mnist_models.code_in import MAX_SOURCE_CHARS
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.presets import get_preset

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    # MNIST_RUNS_DIR comes from the autouse fixture in conftest.py, so runs land in the test's folder.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _usage_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_code_prints_the_preset_s_code_then_a_json_line(tmp_path):
    result = cli("code", "--preset", "conv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"preset": "conv", "params": get_preset("conv").params,
                                     "lines": result.stdout.count("\n") - 2}
    assert "model = keras.Sequential(" in result.stdout
    # Saved as it is, the output is a script that read-code reads back into the preset's configs.
    script = tmp_path / "conv.py"
    script.write_text(result.stdout)
    compile(result.stdout, "conv.py", "exec")
    read = cli("read-code", str(script))
    assert read.returncode == 0, read.stderr
    assert read.stdout.count("\n") == 1
    assert configs.loads(read.stdout) == get_preset("conv").configs()


def test_code_reads_a_config_file(tmp_path):
    model = ModelConfig(hidden_units=[64], activation="tanh", dropout_rate=0.1)
    train = TrainConfig(optimizer="rmsprop", lr_schedule="inverse_time", lr_decay=0.01, batch_size=64)
    run = tmp_path / "20261129-071713-custom-abcdef"
    run.mkdir()
    (run / "config.json").write_text(configs.dumps(model, train))
    result = cli("code", "--config", str(run / "config.json"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["preset"] == "custom"
    assert 'LOG_DIR = "logs/20261129-071713-custom-abcdef"' in result.stdout
    assert "keras.optimizers.schedules.InverseTimeDecay(0.003, decay_steps=1, decay_rate=0.01)" in result.stdout


def test_code_writes_a_notebook(tmp_path):
    path = tmp_path / "fast.ipynb"
    result = cli("code", "--preset", "fast-99", "--notebook", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"Wrote the notebook {path} (12 cells)"
    assert json.loads(lines[-1]) == {"preset": "fast-99", "params": get_preset("fast-99").params,
                                     "notebook": str(path), "cells": 12}
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    assert "OneCycle" in book.cells[7].source
    assert [item.name for item in tmp_path.iterdir()] == ["fast.ipynb"]


@pytest.mark.parametrize(("args", "words"), [
    (["code"], ["one of the arguments --preset --config is required"]),
    (["code", "--preset", "nope"], ["invalid choice"]),
    (["code", "--preset", "conv", "--config", "x.json"], ["not allowed with"]),
    (["code", "--config", "/no/such/config.json"], ["/no/such/config.json", "Cannot read it"]),
    (["code", "--preset", "conv", "--notebook", "conv.txt"], [".ipynb"]),
    (["code", "--preset", "conv", "--notebook", "/no/such/folder/conv.ipynb"], ["Cannot write"]),
    (["read-code"], ["the following arguments are required: FILE.py"]),
    (["read-code", "/no/such/file.py"], ["Cannot read /no/such/file.py"]),
])
def test_bad_arguments_exit_2_with_one_line(args, words):
    _usage_error(cli(*args), *words)


def test_bad_config_files_exit_2_naming_the_file_and_the_problem(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    _usage_error(cli("code", "--config", str(broken)), str(broken), "not valid JSON")
    invalid = tmp_path / "invalid.json"
    invalid.write_text(json.dumps({"model": {"dropout_rate": 2}, "train": {"epochs": 0}}))
    _usage_error(cli("code", "--config", str(invalid)), "Dropout rate")


def test_read_code_refuses_hostile_code_with_its_line_and_never_runs_it(tmp_path):
    canary = tmp_path / "CANARY"
    script = tmp_path / "evil.py"
    script.write_text(f"import keras\nfrom keras import layers\nimport os\nos.system('touch {canary}')\n")
    line = _usage_error(cli("read-code", str(script), cwd=tmp_path), f"{script}, line 3:", "Importing os")
    assert line.startswith("python -m mnist_models read-code: error: ")
    script.write_text(f"model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
                      f"model.compile(optimizer=open('{canary}', 'w'), loss='sparse_categorical_crossentropy')\n")
    _usage_error(cli("read-code", str(script), cwd=tmp_path), "line 2:", "`open(...)` cannot be read")
    assert not canary.exists()


def test_read_code_refuses_non_utf8_huge_and_empty_files(tmp_path):
    script = tmp_path / "latin1.py"
    script.write_bytes("import keras\n# café\n".encode("latin-1"))
    _usage_error(cli("read-code", str(script)), "line 2:", "not UTF-8")
    script.write_bytes(b"#" * (MAX_SOURCE_CHARS + 1))
    _usage_error(cli("read-code", str(script)), "larger than 200,000 bytes")
    script.write_text("")
    _usage_error(cli("read-code", str(script)), "No keras.Sequential model found")
    _usage_error(cli("read-code", str(tmp_path)), "Cannot read")


@pytest.mark.slow
def test_read_code_s_json_trains_with_train_config(tmp_path):
    script = tmp_path / "softmax.py"
    script.write_text("import keras\nfrom keras import layers\n"
                      "model = keras.Sequential([layers.Flatten(input_shape=(28, 28)), "
                      "layers.Dense(10, activation='softmax')])\n"
                      "model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), "
                      "loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
                      "TRAIN_SIZE = 1000\n"
                      "model.fit(x_train, y_train, batch_size=100, epochs=1, validation_data=(x_val, y_val))\n")
    read = cli("read-code", str(script))
    assert read.returncode == 0, read.stderr
    model, train = configs.loads(read.stdout)
    assert budget_problems(model, train) == []
    config = tmp_path / "config.json"
    config.write_text(read.stdout)
    trained = cli("train", "--config", str(config))
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout.strip().splitlines()[-1])
    assert summary["epochs_completed"] == 1 and summary["params"] == 7850
    assert summary["test_accuracy"] > 0.7
