"""RunInfo: what a reader may believe of one run from its meta.json, checked field by field."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_models.store.files import HOST, MODEL_FILE, pid_alive
from mnist_models.store.progress import ACTIVE_STATUSES, FINAL_STATUSES, INTERRUPTED, QUEUED

MAX_NAME_LENGTH = 80
# A live run refreshes its heartbeat about twice a second (more rarely while it scores the test set or saves);
# one silent for much longer has died. This is the only test for a worker on another machine (a Ray node).
STALE_AFTER_SECONDS = 300.0
# What a run's worker does (meta.json's "task"): train a network, or run a learning-rate range test on a throwaway
# copy of one. A range test is queued, owned and watched like a training but is no model: pages list trainings.
TRAIN_TASK = "train"
LR_FIND_TASK = "lr-find"
TASKS = (TRAIN_TASK, LR_FIND_TASK)


class RunNotFoundError(LookupError):
    """No run with that id in the store."""


class NotYourRunError(PermissionError):
    """Only a run's owner, or a teacher, may change it (stop, cancel, rename, delete, fine-tune)."""


class RunLimitError(ValueError):
    """The learner keeps as many runs as this server allows."""


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
    # Everyone the run counts for: the learner who asked first, and each who asked for an identical training and
    # joined it (or took its result). `owner` is the first of them.
    owners: tuple[str, ...] = ()
    job_key: str | None = None  # what determines the result (configs, seed, data): identical jobs share it
    task: str = TRAIN_TASK  # TRAIN_TASK or LR_FIND_TASK (see TASKS)

    def owned_by(self, owner: str | None) -> bool:
        """Whether the run counts as this learner's (they asked for it, or joined it)."""
        return owner is not None and owner in self.owners

    @property
    def label(self) -> str:
        """A one-line description for select boxes: name, preset and test accuracy."""
        accuracy = f"{self.test_accuracy:.2%}" if self.test_accuracy is not None else "no test score"
        preset = f" · {self.preset}" if self.preset and self.preset != self.name else ""
        return f"{self.name}{preset} · {accuracy} · {self.status}"



def clean_name(name: str | None, fallback: str) -> str:
    """A display name: control characters removed, spaces collapsed, at most 80 characters."""
    # Control characters, and the bidi overrides and isolates that would reverse the text around a name.
    text = re.sub(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]", " ", name or "")
    text = " ".join(text.split())[:MAX_NAME_LENGTH]
    return text or fallback


def info_from_meta(folder: Path, meta: dict[str, Any]) -> RunInfo:
    """What a reader may believe of a run from its meta.json: every field checked, a missing or odd one defaulted."""

    def number(key: str, default: float | None) -> float | None:
        value = meta.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return float(value) if ok else default

    owner = meta.get("owner")
    return RunInfo(
        run_id=folder.name,
        name=meta["name"] if isinstance(meta.get("name"), str) and meta["name"] else folder.name,
        preset=meta.get("preset") if isinstance(meta.get("preset"), str) else None,
        status=effective_status(meta),
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
        has_model=(folder / MODEL_FILE).is_file(),
        path=folder,
        owner=owner if isinstance(owner, str) else None,
        owners=owners_from_meta(meta),
        job_key=meta["job_key"] if isinstance(meta.get("job_key"), str) else None,
        executor=str(meta.get("executor") or "local"),
        # No task: a run from before range tests, so a training. An unknown one (a newer server's) stays what it
        # says, so that it is never listed as a model.
        task=meta["task"] if isinstance(meta.get("task"), str) and meta["task"] else TRAIN_TASK,
    )


def owners_from_meta(meta: dict[str, Any]) -> tuple[str, ...]:
    """The run's owners: its `owners` list when it has one (a shared run), else its one `owner` (older runs)."""
    owners = meta.get("owners")
    if isinstance(owners, list):
        return tuple(dict.fromkeys(item for item in owners if isinstance(item, str) and item))
    owner = meta.get("owner")
    return (owner,) if isinstance(owner, str) and owner else ()


def effective_status(meta: dict[str, Any]) -> str:
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
