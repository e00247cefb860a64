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
    META_FILE,
    MODEL_FILE,
    RESERVED_FILES,
    RUN_ID,
    STOP_FILE,
    locked,
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
from mnist_models.store.run_info import (
    TRAIN_TASK,
    NotYourRunError,
    RunInfo,
    RunLimitError,
    RunNotFoundError,
    clean_name,
    effective_status,
    info_from_meta,
    owners_from_meta,
)
from mnist_models.store.settings import default_root, max_runs_per_owner
from mnist_models.store.worker_files import WorkerFiles

log = logging.getLogger(__name__)

__all__ = ["ACTIVE_STATUSES", "FINAL_STATUSES", "NotYourRunError", "RunInfo", "RunLimitError", "RunNotFoundError",
           "RunStore"]





class RunStore(WorkerFiles):
    """The runs under one folder. Run ids are generated here; no path ever comes from user input."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def create(self, model: ModelConfig, train: TrainConfig, *, preset: str | None = None, name: str | None = None,
               device: str = "", params: int = 0, status: str = STARTING, owner: str | None = None,
               executor: str = "local", files: dict[str, bytes] | None = None, job_key: str | None = None,
               task: str = TRAIN_TASK) -> str:
        """Make a folder for a new run and return its id. A queued run waits for the job queue to start it;
        any other starts as `status` ("starting") with this process as its worker until a worker takes over.
        `files` (plain names to contents) are written into the folder first: what a job needs besides its
        config, such as a fine-tuning's starting model, so that the job never reads anything outside its run.
        `task` says what its worker does (run_info.TASKS): only trainings count towards a learner's runs."""
        if owner is not None and task == TRAIN_TASK:
            limit = max_runs_per_owner()
            if sum(info.owned_by(owner) for info in self.list()) >= limit:
                raise RunLimitError(f"You keep {limit} runs, the most this server allows for one learner: delete "
                                    "some on the Runs page first.")
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
                "owners": [owner] if owner is not None else [],
                "job_key": job_key,
                "task": task,
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

    def check_owner(self, run_id: str, owner: str | None, teacher: bool = False) -> RunInfo:
        """The run's info if `owner` may change it (its owner, or a teacher); else NotYourRunError."""
        info = self.get(run_id)
        if not (teacher or info.owned_by(owner)):
            raise NotYourRunError(f"Run {info.name!r} is somebody else's: only its owner, or a teacher, can change it.")
        return info

    def rename(self, run_id: str, name: str, *, owner: str | None = None, teacher: bool = False) -> None:
        info = self.check_owner(run_id, owner, teacher)
        if len(info.owners) > 1 and not teacher:
            raise NotYourRunError(f"Run {info.name!r} is shared with other learners who trained the same network: "
                                  "it keeps its name.")
        self.update(run_id, name=clean_name(name, info.name))

    def delete(self, run_id: str, *, owner: str | None = None, teacher: bool = False) -> None:
        """Remove a finished run's folder; a running or queued one must be stopped or cancelled first. A learner
        who shares the run with others only leaves it: it stays theirs."""
        info = self.check_owner(run_id, owner, teacher)
        if len(info.owners) > 1 and not teacher:
            self.remove_owner(run_id, owner)
            return
        if info.status in ACTIVE_STATUSES:
            raise ValueError(f"Run {info.name!r} is still training: stop it before deleting it.")
        if info.status == QUEUED:
            raise ValueError(f"Run {info.name!r} is waiting in the queue: cancel it instead.")
        shutil.rmtree(info.path)

    def add_owner(self, run_id: str, owner: str) -> None:
        """Make the run count for one more learner too (an identical training they joined, or whose result they
        took); a learner already among its owners changes nothing."""
        self._change_owners(run_id, lambda owners: [*owners, owner] if owner not in owners else owners)

    def remove_owner(self, run_id: str, owner: str | None) -> None:
        """The run no longer counts for this learner (the others keep it)."""
        self._change_owners(run_id, lambda owners: [item for item in owners if item != owner])

    def _change_owners(self, run_id: str, change) -> None:
        folder = self.folder(run_id)
        with locked(folder):
            meta = self._read_meta(folder)
            owners = list(owners_from_meta(meta))
            changed = change(owners)
            meta.update(owners=changed, owner=changed[0] if changed else None)
            self._write_meta(folder, meta)

    def claim(self, run_id: str) -> bool:
        """Turn a queued run into a starting one, under its lock; False if it is no longer queued (another
        process started or cancelled it), so that no run is ever started twice."""
        folder = self.folder(run_id)
        with locked(folder):
            meta = self._read_meta(folder)
            if meta.get("status") != QUEUED:
                return False
            meta.update(status=STARTING, heartbeat=time.time())
            self._write_meta(folder, meta, durable=False)
        return True

    def discard_if_queued(self, run_id: str) -> bool:
        """Remove a run that is still queued (a cancel); False if a worker has started it meanwhile."""
        folder = self.folder(run_id)
        with locked(folder):
            if self._read_meta(folder).get("status") != QUEUED:
                return False
            shutil.rmtree(folder)
        return True

    def silent_for(self, run_id: str) -> float:
        """Seconds since the run's worker last published (its heartbeat); infinite if it never did."""
        heartbeat = self._read_meta(self.folder(run_id)).get("heartbeat")
        ok = isinstance(heartbeat, int | float) and not isinstance(heartbeat, bool)
        return time.time() - float(heartbeat) if ok else math.inf

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
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise RunNotFoundError(f"{run_id!r} is not a run id.")
        folder = self.root / run_id
        if not (folder / META_FILE).is_file():
            raise RunNotFoundError(f"There is no run {run_id!r} in {self.root}.")
        return folder

    def get(self, run_id: str) -> RunInfo:
        folder = self.folder(run_id)
        return info_from_meta(folder, self._read_meta(folder))

    def list(self, task: str | None = TRAIN_TASK) -> list[RunInfo]:
        """Every readable run of this task (trainings unless told; None: every run, range tests too), newest
        first; unreadable folders are skipped with a logged warning."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if not folder.is_dir() or not RUN_ID.fullmatch(folder.name):
                continue
            try:
                info = info_from_meta(folder, self._read_meta(folder))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("Skipping run folder %s: %s", folder, error)
                continue
            if task is None or info.task == task:
                found.append(info)
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

    @staticmethod
    def _read_meta(folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / META_FILE).read_text())
        if not isinstance(meta, dict):
            raise ValueError("meta.json is not a JSON object")
        return meta

    @staticmethod
    def _write_meta(folder: Path, meta: dict[str, Any], durable: bool = True) -> None:
        write_json_atomic(folder / META_FILE, meta, durable=durable)
