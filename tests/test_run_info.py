"""Tests for mnist_models.store.run_info: what a reader may believe of a run from its meta.json."""

from __future__ import annotations

import math
import os
import subprocess
import time

import pytest

from mnist_models.store.files import HOST, MODEL_FILE
from mnist_models.store.run_info import STALE_AFTER_SECONDS, RunInfo, clean_name, effective_status, info_from_meta

RUN_ID = "20240102-030405-softmax-a1b2c3"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def _alive(**meta) -> dict:
    """Meta of a run this process trains, heartbeat fresh, with `meta` changed."""
    return {"status": "running", "pid": os.getpid(), "host": HOST, "heartbeat": time.time(), **meta}


def test_empty_meta_is_all_defaults(tmp_path):
    folder = tmp_path / RUN_ID
    folder.mkdir()
    assert info_from_meta(folder, {}) == RunInfo(
        run_id=RUN_ID, name=RUN_ID, preset=None, status="interrupted", created=0.0, finished=None, device="",
        params=0, epochs=0, epochs_completed=0, seconds=0.0, test_accuracy=None, test_loss=None, error=None,
        has_model=False, path=folder, owner=None, executor="local",
    )


def test_odd_fields_are_defaulted(tmp_path):
    folder = tmp_path / RUN_ID
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(b"a model")
    meta = {"name": "", "preset": 5, "status": "completed", "created": "yesterday", "finished": math.nan,
            "device": None, "params": True, "epochs": 3.0, "epochs_completed": math.inf, "seconds": -math.inf,
            "test_accuracy": "0.9", "test_loss": [0.3], "error": 0, "owner": 1234, "executor": ""}
    info = info_from_meta(folder, meta)
    assert (info.name, info.preset, info.status, info.created, info.finished) == (RUN_ID, None, "completed", 0.0,
                                                                                   None)
    assert (info.device, info.params, info.epochs, info.epochs_completed, info.seconds) == ("", 0, 3, 0, 0.0)
    assert (info.test_accuracy, info.test_loss, info.error) == (None, None, "0")
    assert (info.owner, info.executor, info.has_model) == (None, "local", True)


def test_good_fields_are_read(tmp_path):
    folder = tmp_path / RUN_ID
    folder.mkdir()
    meta = {"name": "mine", "preset": "softmax", "status": "failed", "created": 1700000000, "finished": 1700000060.5,
            "device": "CPU (2 threads)", "params": 7850, "epochs": 5, "epochs_completed": 2, "seconds": 60.5,
            "test_accuracy": 0.9, "test_loss": 0.35, "error": "Out of memory", "owner": "abc123", "executor": "ray"}
    info = info_from_meta(folder, meta)
    assert info == RunInfo(
        run_id=RUN_ID, name="mine", preset="softmax", status="failed", created=1700000000.0, finished=1700000060.5,
        device="CPU (2 threads)", params=7850, epochs=5, epochs_completed=2, seconds=60.5, test_accuracy=0.9,
        test_loss=0.35, error="Out of memory", has_model=False, path=folder, owner="abc123", executor="ray",
        owners=("abc123",),
    )
    assert info.label == "mine · softmax · 90.00% · failed"


def test_label_leaves_out_a_preset_that_is_the_name_and_a_missing_score(tmp_path):
    info = info_from_meta(tmp_path, {"name": "softmax", "preset": "softmax", "status": "queued"})
    assert info.label == "softmax · no test score · queued"


@pytest.mark.parametrize("status", ["weird", None, 3, "", "RUNNING"])
def test_an_unknown_status_is_interrupted(status):
    assert effective_status(_alive(status=status)) == "interrupted"


@pytest.mark.parametrize("status", ["starting", "running", "stopping"])
def test_an_active_run_of_a_live_worker_keeps_its_status(status):
    assert effective_status(_alive(status=status)) == status


@pytest.mark.parametrize("status", ["starting", "running", "stopping"])
def test_an_active_run_whose_worker_on_this_host_died_is_interrupted(status, dead_pid):
    assert effective_status(_alive(status=status, pid=dead_pid)) == "interrupted"


def test_a_dead_pid_on_another_host_means_nothing_here(dead_pid):
    assert effective_status(_alive(pid=dead_pid, host=f"not-{HOST}")) == "running"


def test_a_pid_that_is_not_a_number_is_not_checked(dead_pid):
    # true is an int to Python, but it names no process; such a meta is judged by its heartbeat alone.
    assert effective_status(_alive(pid=True)) == "running"
    assert effective_status(_alive(pid=str(dead_pid))) == "running"


def test_a_stale_heartbeat_is_interrupted():
    now = time.time()
    assert effective_status(_alive(heartbeat=now - STALE_AFTER_SECONDS - 5)) == "interrupted"
    assert effective_status(_alive(heartbeat=now - STALE_AFTER_SECONDS + 60)) == "running"


@pytest.mark.parametrize("heartbeat", [None, "now", [1.0]])
def test_an_active_run_without_a_heartbeat_is_interrupted(heartbeat):
    assert effective_status(_alive(heartbeat=heartbeat)) == "interrupted"


@pytest.mark.parametrize("status", ["completed", "stopped", "failed", "interrupted", "queued"])
def test_finished_and_queued_runs_keep_their_status_whatever_their_worker(status, dead_pid):
    assert effective_status(_alive(status=status, pid=dead_pid, heartbeat=0)) == status


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("  My\tfirst\nnetwork  ", "My first network"),
        ("bell\x07and\x00null\x7f", "bell and null"),
        ("", "fallback"),
        ("   \n\t ", "fallback"),
        (None, "fallback"),
        ("x" * 200, "x" * 80),
        ("café ✓ 数字", "café ✓ 数字"),
    ],
)
def test_clean_name(name, expected):
    assert clean_name(name, "fallback") == expected


def test_clean_name_cuts_before_it_falls_back():
    # 80 characters of spaces and then a word: the cut keeps the word, since spaces are collapsed first.
    assert clean_name(" " * 100 + "late", "fallback") == "late"
    assert clean_name("\x1b" * 5, "fallback") == "fallback"


def test_clean_name_drops_bidi_overrides_that_would_reverse_the_text_around_it():
    assert clean_name("abc\u202eevil\u2066x\u2069", "f") == "abc evil x"
