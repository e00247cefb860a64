"""The files of a run's worker: its process, log, events and insight, and moving a run to a worker elsewhere."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mnist_models.store.files import (
    HOST,
    INSIGHT_FILE,
    JOB_INPUT_FILES,
    META_FILE,
    PUBLISHED_FILES,
    RUN_ID,
    TENSORBOARD_DIR,
    WORKER_LOG,
    pid_alive,
    write_atomic,
    write_json_atomic,
)
from mnist_models.store.run_info import RunNotFoundError

# Meta fields the server owns: a worker's report (from a Ray node, say) never overwrites them. The owners above
# all: learners join or leave a shared training while it runs, and the task's copy of the meta is the one it started
# with.
SERVER_FIELDS = ("name", "owner", "owners", "run_id", "created", "executor", "heartbeat")


class WorkerFiles:
    """RunStore's part that its workers use; it relies on the store's `root`, `folder`, `update` and `_read_meta`."""

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
        if not RUN_ID.fullmatch(run_id) or not set(files) <= set(JOB_INPUT_FILES) or META_FILE not in files:
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
