"""Tests for mnist_models.store.files: atomic writes, JSON without NaN, the run folder's lock, process liveness."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_models.store import files
from mnist_models.store.files import LOCK_FILE, finite_or_none, locked, pid_alive, write_atomic, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]

# Tries the lock without waiting, as another process would: prints "busy" or "free".
PROBE = """
import fcntl, sys
with open(sys.argv[1], "a") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("busy")
    else:
        print("free")
"""


def _probe(folder: Path) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, str(folder / LOCK_FILE)], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize("durable", [True, False])
def test_write_atomic_writes_and_leaves_no_temp_file(tmp_path, durable):
    path = tmp_path / "meta.json"
    write_atomic(path, b"first", durable=durable)
    write_atomic(path, b"second, longer", durable=durable)
    assert path.read_bytes() == b"second, longer"
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "history.json"
    write_atomic(path, b"old content")
    with pytest.raises(TypeError):
        write_atomic(path, "text, not bytes")  # fails inside the temp file's write
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]


def test_failed_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "meta.json"
    write_atomic(path, b"old content")

    def no_rename(source, target):
        raise OSError("rename failed")

    monkeypatch.setattr(files.os, "replace", no_rename)
    with pytest.raises(OSError, match="rename failed"):
        write_atomic(path, b"new content")
    assert path.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_write_json_atomic_stores_nan_as_null(tmp_path):
    path = tmp_path / "history.json"
    write_json_atomic(path, {"train": [{"loss": math.nan, "accuracy": 0.5}], "seconds": math.inf}, durable=False)
    assert path.read_text() == '{"train":[{"loss":null,"accuracy":0.5}],"seconds":null}'


def test_finite_or_none_replaces_every_non_finite_float():
    value = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": math.nan, "e": "nan"}, "f": True,
             "g": 10**400, "h": 1e308, "i": None}
    assert finite_or_none(value) == {"a": None, "b": [1.5, None, [None, 2]], "c": {"d": None, "e": "nan"},
                                     "f": True, "g": 10**400, "h": 1e308, "i": None}
    assert finite_or_none(math.nan) is None
    assert finite_or_none(0.0) == 0.0
    # The result is JSON without NaN; tuples became lists.
    assert json.loads(json.dumps(finite_or_none((math.nan, 1.0)), allow_nan=False)) == [None, 1.0]


def test_locked_excludes_another_process(tmp_path):
    with locked(tmp_path):
        assert (tmp_path / LOCK_FILE).is_file()
        assert _probe(tmp_path) == "busy"
    assert _probe(tmp_path) == "free"


def test_a_second_process_waits_for_the_lock(tmp_path):
    # The other process takes the same lock through the library, and writes a file once it has it.
    got = tmp_path / "got-it"
    code = ("import sys, pathlib\nfrom mnist_models.store.files import locked\n"
            "with locked(pathlib.Path(sys.argv[1])):\n    pathlib.Path(sys.argv[2]).write_text('yes')\n")
    with locked(tmp_path):
        other = subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(got)], cwd=ROOT)
        try:
            time.sleep(1.0)  # ample time to import and reach the lock
            assert other.poll() is None and not got.exists()
        except BaseException:
            other.kill()
            raise
    assert other.wait(timeout=60) == 0
    assert got.read_text() == "yes"


def test_the_lock_is_released_when_the_body_raises(tmp_path):
    with pytest.raises(RuntimeError, match="inside"), locked(tmp_path):
        raise RuntimeError("inside")
    assert _probe(tmp_path) == "free"


def test_pid_alive_for_this_process_and_for_numbers_that_are_no_process():
    assert pid_alive(os.getpid())
    assert not pid_alive(0)
    assert not pid_alive(-1)
    assert not pid_alive(-os.getpid())


def test_an_ended_child_is_not_alive():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert pid_alive(child.pid)
    finally:
        child.kill()
    # Not yet collected: a zombie, which is no longer alive either.
    stat = Path(f"/proc/{child.pid}/stat")
    deadline = time.monotonic() + 10
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)
