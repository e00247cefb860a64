"""The run folder's layout: every file name in it, and the atomic writes, locks and liveness checks on them.

This module is the one place a run folder's file names are written; every other part asks the run store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import socket
import uuid
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"  # {"model": {...}, "train": {...}}: what to train, as the config classes write it
HISTORY_FILE = "history.json"  # the curves: train, validation and test points, and the learning rate applied
META_FILE = "meta.json"  # status, owner, name, counters, worker pid and host, heartbeat, final scores
MODEL_FILE = "model.keras"  # the trained network, saved after epochs and at the end
STOP_FILE = "stop-requested"  # its presence asks the run's worker to stop after the current batch
INSIGHT_FILE = "insight.json"  # weight percentiles and the digit wall, written by the worker at epoch ends
WORKER_LOG = "worker.log"  # what the worker process printed, for whoever looks into a failure
TENSORBOARD_DIR = "tensorboard"  # TensorBoard's event files
LOCK_FILE = ".lock"  # the advisory lock every writer of meta.json takes
QUEUE_LOCK_FILE = ".queue.lock"  # in the runs folder: held by the one server process that schedules its jobs
# A fine-tuning run's own files, put in at submit (the digits and the model it starts from) or written at the end.
SNAPSHOT_FILE = "my_digits.npz"
BASE_MODEL_FILE = "base_model.keras"
RESULT_FILE = "fine_tune.json"
# A learning-rate range test's own files: the rates to try, put in at submit, and what it measured (each batch's
# rate and own loss, rewritten as it runs).
LR_FIND_SETTINGS_FILE = "lr_find_settings.json"
LR_FIND_FILE = "lr_find.json"
DIGITS_DIR = "_digits"  # beside the runs: each owner's kept drawings (not a run id, so the store skips it)
LEARNERS_DIR = "_learners"  # beside the runs: each learner's chosen name, Lab step and guesses
SWEEPS_DIR = "_sweeps"  # beside the runs: each owner's sweeps, one JSON record each (which runs, which values)
SWEEPS_WITHOUT_OWNER = "_command-line"  # in SWEEPS_DIR: the sweeps of nobody in particular (the command line's)

# The files a worker writes that readers elsewhere (another machine's server) need, besides TensorBoard's.
PUBLISHED_FILES = (META_FILE, HISTORY_FILE, MODEL_FILE, INSIGHT_FILE, RESULT_FILE, LR_FIND_FILE)
# The files a job's worker needs to start: what the store writes at submit (a fine-tune's inputs included).
JOB_INPUT_FILES = (CONFIG_FILE, META_FILE, HISTORY_FILE, SNAPSHOT_FILE, BASE_MODEL_FILE, LR_FIND_SETTINGS_FILE)
RESERVED_FILES = frozenset({CONFIG_FILE, HISTORY_FILE, META_FILE, MODEL_FILE, STOP_FILE, INSIGHT_FILE, WORKER_LOG,
                            LOCK_FILE, RESULT_FILE, LR_FIND_FILE})

# A run id: when it was made, the preset's slug, and random hex; checked before any id becomes a path.
RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}-[0-9a-f]{6}$")
HOST = socket.gethostname()


def folder_state(root: Path) -> tuple[tuple[str, int], ...]:
    """Every run folder under `root` with its meta.json's modification time (ns), sorted: it changes whenever a run
    is made, deleted or publishes, so a reader can cache what it built from the runs under it (one stat a run)."""
    found = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(root) as entries:
        for entry in entries:
            if RUN_ID.fullmatch(entry.name):
                with contextlib.suppress(OSError):  # a run deleted meanwhile, or one still being made
                    found.append((entry.name, os.stat(os.path.join(entry.path, META_FILE)).st_mtime_ns))
    return tuple(sorted(found))


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a half-written one.

    `durable=False` skips the fsync: the rename alone is atomic against a crash of the writing process, which is
    all the twice-a-second progress files need; final results are written durably (a power cut keeps them too).
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json_atomic(path: Path, value: Any, *, durable: bool = True) -> None:
    # NaN and infinity are not JSON: a diverging run's last points are stored as null, so it can still be saved.
    write_atomic(path, json.dumps(finite_or_none(value), separators=(",", ":"), allow_nan=False).encode(),
                 durable=durable)


def finite_or_none(value: Any) -> Any:
    """`value` with every NaN or infinite float (nested in dicts and lists too) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


@contextlib.contextmanager
def locked(folder: Path):
    """Hold the run folder's advisory lock (every writer of meta.json takes it, in any process)."""
    with (folder / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def try_lock(path: Path):
    """An open handle holding an exclusive lock on `path` (made if missing), or None if another holder has it.

    The lock lasts while the handle stays open (closing it, or the process ending, lets it go), so a crashed
    holder never leaves it taken. The holder's pid is written into the file for messages.
    """
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (a zombie, ended but not collected, does not)."""
    if pid <= 0:
        return False  # 0 and negative numbers name process groups, never a worker
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
