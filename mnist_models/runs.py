"""RunStore: one folder a training run (config, curves, model, metadata), written atomically and read defensively."""

from __future__ import annotations

import contextlib
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

log = logging.getLogger(__name__)

RUNS_ENV = "MNIST_RUNS_DIR"
ACTIVE_STATUSES = ("running", "stopping")
FINAL_STATUSES = ("completed", "stopped", "failed", "interrupted")
# A live run refreshes its heartbeat at least this often (seconds); a run silent for much longer has died.
HEARTBEAT_SECONDS = 10.0
STALE_AFTER_SECONDS = 300.0
MAX_NAME_LENGTH = 80
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}-[0-9a-f]{6}$")
_HOST = socket.gethostname()


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


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a half-written one."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json_atomic(path: Path, value: Any) -> None:
    # NaN and infinity are not JSON: a diverging run's last points are stored as null, so it can still be saved.
    write_atomic(path, json.dumps(_finite_or_none(value), indent=1, allow_nan=False).encode())


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(item) for item in value]
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunStore:
    """The runs under one folder. Run ids are generated here; no path ever comes from user input."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    # Writing ---------------------------------------------------------------------------------------------

    def create(self, model: ModelConfig, train: TrainConfig, *, preset: str | None = None, name: str | None = None,
               device: str = "", params: int = 0) -> str:
        """Make a folder for a new run (status "running") and return its id."""
        self.root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", (preset or "custom").lower()).strip("-")[:40] or "custom"
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        folder.mkdir()
        write_atomic(folder / "config.json", configs.dumps(model, train).encode())
        write_json_atomic(folder / "history.json", {"train": [], "validation": [], "test": []})
        now = time.time()
        self._write_meta(folder, {
            "run_id": run_id,
            "name": clean_name(name, preset or "Custom network"),
            "preset": preset,
            "status": "running",
            "created": now,
            "finished": None,
            "heartbeat": now,
            "pid": os.getpid(),
            "host": _HOST,
            "device": device,
            "params": params,
            "epochs": train.epochs,
            "epochs_completed": 0,
            "seconds": 0.0,
            "test_accuracy": None,
            "test_loss": None,
            "error": None,
        })
        return run_id

    def update(self, run_id: str, *, history: dict[str, list] | None = None, **meta: Any) -> None:
        """Save the curves (if given) and merge `meta` into meta.json, refreshing the heartbeat."""
        folder = self.folder(run_id)
        if history is not None:
            write_json_atomic(folder / "history.json", history)
        current = self._read_meta(folder)
        current.update(meta, heartbeat=time.time())
        self._write_meta(folder, current)

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
        """Remove a finished run's folder; a running one must be stopped first."""
        info = self.get(run_id)
        if info.status in ACTIVE_STATUSES:
            raise ValueError(f"Run {info.name!r} is still training: stop it before deleting it.")
        shutil.rmtree(info.path)

    # Reading ---------------------------------------------------------------------------------------------

    def folder(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
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
            if not folder.is_dir() or not _RUN_ID.match(folder.name):
                continue
            try:
                found.append(self._info(folder, self._read_meta(folder)))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("Skipping run folder %s: %s", folder, error)
        return sorted(found, key=lambda info: info.created, reverse=True)

    def load_history(self, run_id: str) -> dict[str, list[dict[str, float]]]:
        data = json.loads((self.folder(run_id) / "history.json").read_text())
        return {key: list(data.get(key, [])) for key in ("train", "validation", "test")}

    def load_configs(self, run_id: str) -> tuple[ModelConfig, TrainConfig]:
        return configs.loads((self.folder(run_id) / "config.json").read_text())

    def model_path(self, run_id: str) -> Path:
        path = self.folder(run_id) / "model.keras"
        if not path.is_file():
            raise RunNotFoundError(f"Run {run_id!r} has no saved model (it failed or stopped before one epoch).")
        return path

    # Internals -------------------------------------------------------------------------------------------

    @staticmethod
    def _read_meta(folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / "meta.json").read_text())
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not a JSON object")
        return meta

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
        write_json_atomic(folder / "meta.json", meta)

    @staticmethod
    def _info(folder: Path, meta: dict[str, Any]) -> RunInfo:
        status = meta.get("status", "interrupted")
        if status in ACTIVE_STATUSES and _has_died(meta):
            status = "interrupted"
        return RunInfo(
            run_id=folder.name,
            name=str(meta.get("name") or folder.name),
            preset=meta.get("preset"),
            status=status,
            created=float(meta.get("created", 0.0)),
            finished=meta.get("finished"),
            device=str(meta.get("device", "")),
            params=int(meta.get("params", 0)),
            epochs=int(meta.get("epochs", 0)),
            epochs_completed=int(meta.get("epochs_completed", 0)),
            seconds=float(meta.get("seconds", 0.0)),
            test_accuracy=meta.get("test_accuracy"),
            test_loss=meta.get("test_loss"),
            error=meta.get("error"),
            has_model=(folder / "model.keras").is_file(),
            path=folder,
        )


def _has_died(meta: dict[str, Any]) -> bool:
    """A "running" run whose process is gone (same machine) or whose heartbeat stopped long ago."""
    if meta.get("host") == _HOST and isinstance(meta.get("pid"), int) and not _pid_alive(meta["pid"]):
        return True
    return time.time() - float(meta.get("heartbeat", 0.0)) > STALE_AFTER_SECONDS
