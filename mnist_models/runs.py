"""RunStore: one folder a training run (config, curves, model, metadata), written atomically and read defensively."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_models import config as configs
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.progress import ACTIVE_STATUSES, FINAL_STATUSES, INTERRUPTED, QUEUED, Progress, progress_from_files

log = logging.getLogger(__name__)

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "RunInfo", "RunNotFoundError", "RunStore"]

RUNS_ENV = "MNIST_RUNS_DIR"
# A live run refreshes its heartbeat about twice a second (more rarely while it scores the test set or saves);
# one silent for much longer has died. This is the only test for a worker on another machine (a Ray node).
STALE_AFTER_SECONDS = 300.0
STOP_FILE = "stop-requested"  # its presence asks the run's worker to stop after the current batch
INSIGHT_FILE = "insight.json"  # weight percentiles and the digit wall, written by the worker at epoch ends
MAX_NAME_LENGTH = 80
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}-[0-9a-f]{6}$")
HOST = socket.gethostname()
_OWN_FILES = {"config.json", "history.json", "meta.json", "model.keras", STOP_FILE, INSIGHT_FILE}


class RunNotFoundError(LookupError):
    """No run with that id in the store."""


@dataclass(frozen=True)
class RunInfo:
    """What the store knows of one run, from its meta.json."""

    run_id: str
    name: str
    preset: str | None
    status: str
    created: float
    finished: float | None
    device: str
    params: int
    epochs: int
    epochs_completed: int
    seconds: float
    test_accuracy: float | None
    test_loss: float | None
    error: str | None
    has_model: bool
    path: Path
    owner: str | None = None  # a hash of the owning browser session's identity; None for command-line runs
    executor: str = "local"

    @property
    def label(self) -> str:
        """A one-line description for select boxes: name, preset and test accuracy."""
        accuracy = f"{self.test_accuracy:.2%}" if self.test_accuracy is not None else "no test score"
        preset = f" · {self.preset}" if self.preset and self.preset != self.name else ""
        return f"{self.name}{preset} · {accuracy} · {self.status}"


def default_root() -> Path:
    """`$MNIST_RUNS_DIR` if set, else ./runs (shared by the CLI and the dashboard)."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


def clean_name(name: str | None, fallback: str) -> str:
    """A display name: control characters removed, spaces collapsed, at most 80 characters."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", name or "")
    text = " ".join(text.split())[:MAX_NAME_LENGTH]
    return text or fallback


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
    write_atomic(path, json.dumps(_finite_or_none(value), separators=(",", ":"), allow_nan=False).encode(),
                 durable=durable)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False  # 0 and negative numbers name process groups, never a worker
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A process that has exited but whose parent has not collected it yet (a zombie) is not alive either.
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class RunStore:
    """The runs under one folder. Run ids are generated here; no path ever comes from user input."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    # Writing ---------------------------------------------------------------------------------------------

    def create(self, model: ModelConfig, train: TrainConfig, *, preset: str | None = None, name: str | None = None,
               device: str = "", params: int = 0, status: str = "starting", owner: str | None = None,
               executor: str = "local", files: dict[str, bytes] | None = None) -> str:
        """Make a folder for a new run and return its id. A queued run waits for the job queue to start it;
        any other starts as `status` ("starting") with this process as its worker until a worker takes over.
        `files` (plain names to contents) are written into the folder first: what a job needs besides its
        config, such as a fine-tuning's starting model, so that the job never reads anything outside its run."""
        for file_name in files or {}:
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}", file_name) or file_name in _OWN_FILES:
                raise ValueError(f"{file_name!r} cannot be one of a new run's files.")
        self.root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", (preset or "custom").lower()).strip("-")[:40] or "custom"
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        # Written in a hidden folder and renamed into place, so that no reader ever sees a run without its meta.
        building = self.root / f".{run_id}.new"
        building.mkdir()
        try:
            write_atomic(building / "config.json", configs.dumps(model, train).encode())
            write_json_atomic(building / "history.json", {"train": [], "validation": [], "test": []})
            for file_name, content in (files or {}).items():
                write_atomic(building / file_name, content)
            now = time.time()
            self._write_meta(building, {
                "run_id": run_id,
                "name": clean_name(name, preset or "Custom network"),
                "preset": preset,
                "status": status,
                "owner": owner,
                "executor": executor,
                "created": now,
                "finished": None,
                "heartbeat": now,
                "pid": os.getpid(),
                "host": HOST,
                "device": device,
                "params": params,
                "epochs": train.epochs,
                "epochs_completed": 0,
                "seconds": 0.0,
                "test_accuracy": None,
                "test_loss": None,
                "error": None,
            })
            os.rename(building, folder)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return run_id

    def update(self, run_id: str, *, history: dict[str, list] | None = None, durable: bool = True,
               **meta: Any) -> None:
        """Save the curves (if given) and merge `meta` into meta.json, refreshing the heartbeat.

        The read-change-write of meta.json holds the run's lock, so that two writers (a worker publishing its
        progress and the server renaming the run, say) never lose each other's change.
        """
        folder = self.folder(run_id)
        if history is not None:
            write_json_atomic(folder / "history.json", history, durable=durable)
        with self._locked(folder):
            current = self._read_meta(folder)
            current.update(meta, heartbeat=time.time())
            self._write_meta(folder, current, durable=durable)

    def save_model(self, run_id: str, model: Any) -> None:
        """Save a Keras model as model.keras, atomically (Keras needs the .keras suffix on the temp file)."""
        folder = self.folder(run_id)
        tmp = folder / f".model.{uuid.uuid4().hex}.tmp.keras"
        try:
            model.save(tmp)
            os.replace(tmp, folder / "model.keras")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def rename(self, run_id: str, name: str) -> None:
        info = self.get(run_id)
        self.update(run_id, name=clean_name(name, info.name))

    def delete(self, run_id: str) -> None:
        """Remove a finished run's folder; a running or queued one must be stopped or cancelled first."""
        info = self.get(run_id)
        if info.status in ACTIVE_STATUSES:
            raise ValueError(f"Run {info.name!r} is still training: stop it before deleting it.")
        if info.status == QUEUED:
            raise ValueError(f"Run {info.name!r} is waiting in the queue: cancel it instead.")
        shutil.rmtree(info.path)

    def discard(self, run_id: str) -> None:
        """Remove a queued run that was cancelled before it started (the job queue's cancel)."""
        shutil.rmtree(self.folder(run_id))

    def fail_unless_finished(self, run_id: str, reason: str) -> bool:
        """Mark the run failed with `reason` unless its worker saved a final status; True if it was marked.
        (What a job queue does when a worker's process ended without a word: killed, out of memory.)"""
        with contextlib.suppress(RunNotFoundError):
            info = self.get(run_id)
            if info.status not in FINAL_STATUSES or info.status == INTERRUPTED:
                self.update(run_id, status="failed", error=reason, finished=time.time())
                return True
        return False

    def request_stop(self, run_id: str) -> None:
        """Ask the run's worker, wherever it runs, to stop after its current batch (it checks for this file)."""
        write_atomic(self.folder(run_id) / STOP_FILE, f"{time.time()}\n".encode(), durable=False)

    def stop_requested(self, run_id: str) -> bool:
        return (self.root / run_id / STOP_FILE).exists()

    # Reading ---------------------------------------------------------------------------------------------

    def folder(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise RunNotFoundError(f"{run_id!r} is not a run id.")
        folder = self.root / run_id
        if not (folder / "meta.json").is_file():
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.root}.")
        return folder

    def get(self, run_id: str) -> RunInfo:
        folder = self.folder(run_id)
        return self._info(folder, self._read_meta(folder))

    def list(self) -> list[RunInfo]:
        """Every readable run, newest first; unreadable folders are skipped with a logged warning."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if not folder.is_dir() or not _RUN_ID.fullmatch(folder.name):
                continue
            try:
                found.append(self._info(folder, self._read_meta(folder)))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("Skipping run folder %s: %s", folder, error)
        return sorted(found, key=lambda info: info.created, reverse=True)

    def load_history(self, run_id: str) -> dict[str, list[dict[str, float]]]:
        data = json.loads((self.folder(run_id) / "history.json").read_text())
        if not isinstance(data, dict):
            raise ValueError(f"The curves of run {run_id!r} are damaged (history.json is not a JSON object).")
        return {key: [point for point in data.get(key) or [] if isinstance(point, dict)]
                for key in ("train", "validation", "test")}

    def load_learning_rates(self, run_id: str) -> list[dict[str, float]]:
        """The learning rate applied at each train point: [{"epoch", "step", "rate"}], empty for older runs."""
        data = json.loads((self.folder(run_id) / "history.json").read_text())
        points = data.get("learning_rate") if isinstance(data, dict) else None
        return [point for point in points or []
                if isinstance(point, dict) and isinstance(point.get("rate"), int | float)]

    def load_insight(self, run_id: str) -> dict[str, Any]:
        """The run's weight percentiles and digit wall ({} parts when the run has none, e.g. an older run)."""
        empty: dict[str, Any] = {"percentiles": [], "weights": [], "digits": {}}
        try:
            data = json.loads((self.folder(run_id) / INSIGHT_FILE).read_text())
        except (FileNotFoundError, ValueError):
            return empty
        if not isinstance(data, dict):
            return empty
        return {"percentiles": list(data.get("percentiles") or []),
                "weights": [row for row in data.get("weights") or [] if isinstance(row, dict)],
                "digits": data.get("digits") if isinstance(data.get("digits"), dict) else {}}

    def load_configs(self, run_id: str) -> tuple[ModelConfig, TrainConfig]:
        return configs.loads((self.folder(run_id) / "config.json").read_text())

    def progress(self, run_id: str) -> Progress:
        """The run's live progress as its worker last published it into the folder (any process, any machine)."""
        folder = self.folder(run_id)
        meta = self._read_meta(folder)
        try:
            history = self.load_history(run_id)
        except (OSError, ValueError):
            history = {}
        return progress_from_files(run_id, _effective_status(meta), meta, history)

    def model_path(self, run_id: str) -> Path:
        path = self.folder(run_id) / "model.keras"
        if not path.is_file():
            raise RunNotFoundError(f"Run {run_id!r} has no saved model (it failed or stopped before one epoch).")
        return path

    # Internals -------------------------------------------------------------------------------------------

    @staticmethod
    @contextlib.contextmanager
    def _locked(folder: Path):
        # An advisory lock on a file beside meta.json; every writer of meta.json takes it (processes too).
        with (folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _read_meta(folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / "meta.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not a JSON object")
        return meta

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, Any], durable: bool = True) -> None:
        write_json_atomic(folder / "meta.json", meta, durable=durable)

    @staticmethod
    def _info(folder: Path, meta: dict[str, Any]) -> RunInfo:
        def number(key: str, default: float | None) -> float | None:
            value = meta.get(key)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            return float(value) if ok else default

        owner = meta.get("owner")
        return RunInfo(
            run_id=folder.name,
            name=str(meta.get("name") or folder.name),
            preset=meta.get("preset") if isinstance(meta.get("preset"), str) else None,
            status=_effective_status(meta),
            created=number("created", 0.0),
            finished=number("finished", None),
            device=str(meta.get("device") or ""),
            params=int(number("params", 0)),
            epochs=int(number("epochs", 0)),
            epochs_completed=int(number("epochs_completed", 0)),
            seconds=number("seconds", 0.0),
            test_accuracy=number("test_accuracy", None),
            test_loss=number("test_loss", None),
            error=str(meta["error"]) if meta.get("error") is not None else None,
            has_model=(folder / "model.keras").is_file(),
            path=folder,
            owner=owner if isinstance(owner, str) else None,
            executor=str(meta.get("executor") or "local"),
        )


def _effective_status(meta: dict[str, Any]) -> str:
    """The status a reader should believe: an active run whose worker has gone is "interrupted"."""
    status = meta.get("status")
    if status not in (*ACTIVE_STATUSES, *FINAL_STATUSES, QUEUED):
        return INTERRUPTED
    if status in ACTIVE_STATUSES and _has_died(meta):
        return INTERRUPTED
    return status


def _has_died(meta: dict[str, Any]) -> bool:
    """An active run whose process is gone (same machine) or whose heartbeat stopped long ago (any machine)."""
    pid = meta.get("pid")
    if meta.get("host") == HOST and isinstance(pid, int) and not isinstance(pid, bool) and not pid_alive(pid):
        return True
    heartbeat = meta.get("heartbeat")
    if not isinstance(heartbeat, int | float):
        return True
    return time.time() - float(heartbeat) > STALE_AFTER_SECONDS
