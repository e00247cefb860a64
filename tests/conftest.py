"""Shared fixtures: every test gets its own runs folder, and the MNIST arrays are loaded once per session."""

from __future__ import annotations

import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU features) would bury pytest's output; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

from mnist_models.data import Mnist, load_mnist


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    """Point MNIST_RUNS_DIR at a fresh folder, so no test reads or writes the project's ./runs."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The bundled dataset, loaded (and checksum-verified) once for the whole session."""
    return load_mnist()
