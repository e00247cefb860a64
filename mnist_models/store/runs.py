"""RunStore: one folder a training run (config, curves, model, metadata), written atomically and read defensively."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from mnist_models import config as configs
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.files import (
    CONFIG_FILE,
    HISTORY_FILE,
    HOST,
    INSIGHT_FILE,
    JOB_INPUT_FILES,
    META_FILE,
    MODEL_FILE,
    PUBLISHED_FILES,
    RESERVED_FILES,
    STOP_FILE,
    TENSORBOARD_DIR,
    WORKER_LOG,
    locked,
    pid_alive,
    write_atomic,
    write_json_atomic,
)
from mnist_models.store.progress import (
    ACTIVE_STATUSES,
    FAILED,
    FINAL_STATUSES,
    INTERRUPTED,
    QUEUED,
    STARTING,
    Progress,
    progress_from_files,
)
from mnist_models.store.run_info import RunInfo, clean_name, effective_status, info_from_meta

log = logging.getLogger(__name__)

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "RunInfo", "RunNotFoundError", "RunStore"]

RUNS_ENV = "MNIST_RUNS_DIR"
_RUN_ID = re.compile(r"^\d{8}-\d{6}-[a-z0-9-]{1,40}-[0-9a-f]{6}$")
# Meta fields the server owns: a worker's report (from a Ray node, say) never overwrites them.
SERVER_FIELDS = ("name", "owner", "run_id", "created", "executor", "heartbeat")


class RunNotFoundError(LookupError):
    """No run with that id in the store."""


def default_root() -> Path:
    """`$MNIST_RUNS_DIR` if set, else ./runs (shared by the CLI and the dashboard)."""
    return Path(os.environ.get(RUNS_ENV) or "runs")


class RunStore:
    """The runs under one folder. Run ids are generated here; no path ever comes from user input."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def create(self, model: ModelConfig, train: TrainConfig, *, preset: str | None = None, name: str | None = None,
               device: str = "", params: int = 0, status: str = STARTING, owner: str | None = None,
               executor: str = "local", files: dict[str, bytes] | None = None) -> str:
        """Make a folder for a new run and return its id. A queued run waits for the job queue to start it;
        any other starts as `status` ("starting") with this process as its worker until a worker takes over.
        `files` (plain names to contents) are written into the folder first: what a job needs besides its
        config, such as a fine-tuning's starting model, so that the job never reads anything outside its run."""
        for file_name in files or {}:
            if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}", file_name) or file_name in RESERVED_FILES:
                raise ValueError(f"{file_name!r} cannot be one of a new run's files.")
        self.root.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", (preset or "custom").lower()).strip("-")[:40] or "custom"
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{secrets.token_hex(3)}"
        folder = self.root / run_id
        # Written in a hidden folder and renamed into place, so that no reader ever sees a run without its meta.
        building = self.root / f".{run_id}.new"
        building.mkdir()
        try:
            write_atomic(building / CONFIG_FILE, configs.dumps(model, train).encode())
            write_json_atomic(building / HISTORY_FILE, {"train": [], "validation": [], "test": []})
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
            write_json_atomic(folder / HISTORY_FILE, history, durable=durable)
        with locked(folder):
            current = self._read_meta(folder)
            current.update(meta, heartbeat=time.time())
            self._write_meta(folder, current, durable=durable)

    def save_model(self, run_id: str, model: Any) -> None:
        """Save a Keras model as model.keras, atomically (Keras needs the .keras suffix on the temp file)."""
        folder = self.folder(run_id)
        tmp = folder / f".model.{uuid.uuid4().hex}.tmp.keras"
        try:
            model.save(tmp)
            os.replace(tmp, folder / MODEL_FILE)
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
                self.update(run_id, status=FAILED, error=reason, finished=time.time())
                return True
        return False

    def request_stop(self, run_id: str) -> None:
        """Ask the run's worker, wherever it runs, to stop after its current batch (it checks for this file)."""
        write_atomic(self.folder(run_id) / STOP_FILE, f"{time.time()}\n".encode(), durable=False)

    def stop_requested(self, run_id: str) -> bool:
        return (self.root / run_id / STOP_FILE).exists()

    def folder(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            raise RunNotFoundError(f"{run_id!r} is not a run id.")
        folder = self.root / run_id
        if not (folder / META_FILE).is_file():
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.root}.")
        return folder

    def get(self, run_id: str) -> RunInfo:
        folder = self.folder(run_id)
        return info_from_meta(folder, self._read_meta(folder))

    def list(self) -> list[RunInfo]:
        """Every readable run, newest first; unreadable folders are skipped with a logged warning."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if not folder.is_dir() or not _RUN_ID.fullmatch(folder.name):
                continue
            try:
                found.append(info_from_meta(folder, self._read_meta(folder)))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("Skipping run folder %s: %s", folder, error)
        return sorted(found, key=lambda info: info.created, reverse=True)

    def load_history(self, run_id: str) -> dict[str, list[dict[str, float]]]:
        data = json.loads((self.folder(run_id) / HISTORY_FILE).read_text())
        if not isinstance(data, dict):
            raise ValueError(f"The curves of run {run_id!r} are damaged (history.json is not a JSON object).")
        return {key: [point for point in data.get(key) or [] if isinstance(point, dict)]
                for key in ("train", "validation", "test")}

    def load_learning_rates(self, run_id: str) -> list[dict[str, float]]:
        """The learning rate applied at each train point: [{"epoch", "step", "rate"}], empty for older runs."""
        data = json.loads((self.folder(run_id) / HISTORY_FILE).read_text())
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
        return configs.loads((self.folder(run_id) / CONFIG_FILE).read_text())

    def progress(self, run_id: str) -> Progress:
        """The run's live progress as its worker last published it into the folder (any process, any machine)."""
        folder = self.folder(run_id)
        meta = self._read_meta(folder)
        try:
            history = self.load_history(run_id)
        except (OSError, ValueError):
            history = {}
        return progress_from_files(run_id, effective_status(meta), meta, history)

    def model_path(self, run_id: str) -> Path:
        path = self.folder(run_id) / MODEL_FILE
        if not path.is_file():
            raise RunNotFoundError(f"Run {run_id!r} has no saved model (it failed or stopped before one epoch).")
        return path

    def model_modified(self, run_id: str) -> float:
        """When the run last saved its model (a loaded copy older than this is stale)."""
        return self.model_path(run_id).stat().st_mtime

    def version(self, run_id: str) -> tuple[int, int]:
        """Changes whenever the run's worker publishes (the mtimes of its meta and curves); (0, 0) if unreadable."""
        folder = self.folder(run_id)
        try:
            return (folder / META_FILE).stat().st_mtime_ns, (folder / HISTORY_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            return 0, 0

    def worker_pid(self, run_id: str) -> int | None:
        """The pid of the run's worker if it is alive on this machine and is not this process, else None."""
        try:
            meta = self._read_meta(self.folder(run_id))
        except (OSError, ValueError, RunNotFoundError):
            return None
        pid = meta.get("pid")
        alive = isinstance(pid, int) and not isinstance(pid, bool) and pid != os.getpid() and pid_alive(pid)
        return pid if meta.get("host") == HOST and alive else None

    def worker_log_path(self, run_id: str) -> Path:
        """Where the run's worker process writes what it prints."""
        return self.folder(run_id) / WORKER_LOG

    def tensorboard_dir(self, run_id: str) -> Path:
        """The run's TensorBoard event files (`tensorboard --logdir runs` finds every run's)."""
        return self.folder(run_id) / TENSORBOARD_DIR

    def save_insight(self, run_id: str, insight: dict[str, Any], *, durable: bool = False) -> None:
        """Publish the worker's weight percentiles and digit wall (read back by load_insight)."""
        write_json_atomic(self.folder(run_id) / INSIGHT_FILE, insight, durable=durable)

    def job_inputs(self, run_id: str) -> dict[str, bytes]:
        """Every file a worker needs to train the run elsewhere (a Ray node): its config, meta and curves, and a
        fine-tuning's digits and starting model."""
        folder = self.folder(run_id)
        return {name: (folder / name).read_bytes() for name in JOB_INPUT_FILES if (folder / name).is_file()}

    def receive(self, run_id: str, files: dict[str, bytes]) -> None:
        """Lay out a run folder from `job_inputs` of another store (the Ray task's side)."""
        if not _RUN_ID.fullmatch(run_id) or not set(files) <= set(JOB_INPUT_FILES) or META_FILE not in files:
            raise ValueError(f"Not a job's files for {run_id!r}: {sorted(files)}.")
        folder = self.root / run_id
        folder.mkdir(parents=True)
        for name, data in files.items():
            write_atomic(folder / name, data)

    def published_files(self, run_id: str) -> list[tuple[str, Path]]:
        """What the run's worker has published so far, as (name to relay, path): TensorBoard's events too."""
        folder = self.folder(run_id)
        events = folder / TENSORBOARD_DIR
        names = [*PUBLISHED_FILES, *(f"{TENSORBOARD_DIR}/{path.name}" for path in sorted(events.glob("*")))]
        return [(name, folder / name) for name in names if (folder / name).is_file()]

    def apply_published(self, run_id: str, files: dict[str, bytes]) -> None:
        """Write what a remote worker published (names from `published_files`) into this run folder. The meta is
        merged under the lock, except the fields the server owns (a name changed meanwhile, the owner)."""
        folder = self.folder(run_id)
        for name, data in files.items():
            parts = name.split("/")
            if name in PUBLISHED_FILES and name != META_FILE:
                write_atomic(folder / name, data, durable=False)
            elif len(parts) == 2 and parts[0] == TENSORBOARD_DIR and re.fullmatch(r"[\w.-]+", parts[1]) \
                    and parts[1] not in (".", ".."):
                (folder / TENSORBOARD_DIR).mkdir(exist_ok=True)
                write_atomic(folder / name, data, durable=False)
        if META_FILE in files:
            meta = json.loads(files[META_FILE])
            for key in SERVER_FIELDS:
                meta.pop(key, None)
            self.update(run_id, durable=meta.get("finished") is not None, **meta)

    @staticmethod
    def _read_meta(folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / META_FILE).read_text())
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not a JSON object")
        return meta

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, Any], durable: bool = True) -> None:
        write_json_atomic(folder / META_FILE, meta, durable=durable)
