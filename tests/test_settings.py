"""Tests for mnist_models.jobs.settings: limits from cores and GPUs, the environment's settings, the executor."""

from __future__ import annotations

import pytest

from mnist_models.jobs import settings
from mnist_models.jobs.local import LocalExecutor


def test_default_limits_follow_cores_and_gpus():
    assert settings.default_max_jobs(cores=2, gpus=0) == 1
    assert settings.default_max_jobs(cores=1, gpus=0) == 1
    assert settings.default_max_jobs(cores=16, gpus=0) == 8
    assert settings.default_max_jobs(cores=16, gpus=2) == 2
    # Small machines keep a core for the web server; large ones share every core out.
    assert settings.threads_per_job(1, cores=1) == 1
    assert settings.threads_per_job(1, cores=2) == 1
    assert settings.threads_per_job(2, cores=2) == 1
    assert settings.threads_per_job(1, cores=4) == 3
    assert settings.threads_per_job(8, cores=2) == 1
    assert settings.threads_per_job(8, cores=16) == 2
    assert settings.threads_per_job(1, cores=16) == 16


def test_max_jobs_setting_reads_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_MAX_JOBS", "3")
    assert settings.max_jobs_setting() == 3
    for bad in ("zero", "0", "-1", "1.5", "1000"):
        monkeypatch.setenv("MNIST_MAX_JOBS", bad)
        with pytest.raises(ValueError, match="MNIST_MAX_JOBS"):
            settings.max_jobs_setting()
    monkeypatch.delenv("MNIST_MAX_JOBS")
    assert settings.max_jobs_setting() == settings.default_max_jobs()


def test_gpu_count_honours_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert settings.gpu_count() == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert settings.gpu_count() == 0


def test_make_executor_is_local_by_default_and_follows_max_jobs(monkeypatch):
    monkeypatch.delenv(settings.RAY_ENV, raising=False)
    monkeypatch.setenv(settings.MAX_JOBS_ENV, "3")
    choice = settings.make_executor()
    try:
        assert isinstance(choice.executor, LocalExecutor)
        assert (choice.max_running, choice.threads) == (3, settings.threads_per_job(3))
    finally:
        choice.executor.close()


def test_make_executor_says_what_is_wrong_with_a_bad_ray_address(monkeypatch):
    monkeypatch.setenv(settings.RAY_ENV, "not an address")
    with pytest.raises(ValueError, match="Use 'local'"):
        settings.make_executor()
    # An explicit empty address means this machine, whatever the environment says (the CLI without --ray).
    choice = settings.make_executor("")
    assert isinstance(choice.executor, LocalExecutor)
    choice.executor.close()
