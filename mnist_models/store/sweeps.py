"""Sweep records, kept beside the runs: which runs a sweep made and which values each trained, so pages find them.

Identical trainings are shared between learners, so a run's own meta cannot say which sweep it belongs to (it may
belong to several). A record does: `<runs folder>/_sweeps/<owner key>/<sweep id>.json` holds the sweep's name,
settings and base configs, its points (the values and the seed of each training) and the run ids aligned with
them. The command line's sweeps, which belong to nobody, are kept under a folder of their own.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_models import config as configs
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.files import RUN_ID, SWEEPS_DIR, SWEEPS_WITHOUT_OWNER, locked, write_json_atomic
from mnist_models.store.progress import Progress
from mnist_models.store.run_info import RunNotFoundError, clean_name
from mnist_models.store.runs import RunStore

if TYPE_CHECKING:
    from mnist_models.sweep import Sweep

MAX_SWEEPS_PER_OWNER = 100  # the oldest records beyond this are forgotten (their runs stay)
_OWNER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
_SWEEP_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{6}$")
_SUFFIX = ".json"


class SweepNotFoundError(LookupError):
    """No sweep with that id among the owner's."""


@dataclass(frozen=True)
class SweepRecord:
    """A saved sweep: what it varied and which run trained each point (`points[i]` is `run_ids[i]`'s)."""

    id: str
    name: str
    created: float
    axes: dict[str, tuple]  # setting -> its values, in the order they were varied
    points: list[dict]  # {setting: value, ..., "seed": s} per training
    run_ids: list[str]
    owner: str | None
    preset: str | None = None
    seeds: tuple[int, ...] = (0,)
    model: ModelConfig | None = None  # the base configs the values were applied to
    train: TrainConfig | None = None

    @property
    def fields(self) -> list[str]:
        return list(self.axes)

    def run_of(self, point: dict) -> str | None:
        """The run id that trained this point, or None."""
        return next((run_id for candidate, run_id in zip(self.points, self.run_ids, strict=True)
                     if candidate == point), None)


def _folder(store: RunStore, owner: str | None) -> Path:
    if owner is None:
        return store.root / SWEEPS_DIR / SWEEPS_WITHOUT_OWNER
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError("Sweeps are kept per browser; this browser has no identity yet. Reload the page.")
    return store.root / SWEEPS_DIR / owner


def save_sweep(store: RunStore, owner: str | None, sweep: Sweep, run_ids: list[str]) -> str:
    """Keep a record of `sweep`, whose trainings are `run_ids` (one per point, in order); return its id."""
    points = sweep.points()
    if len(run_ids) != len(points) or not all(isinstance(run_id, str) and RUN_ID.fullmatch(run_id)
                                              for run_id in run_ids):
        raise ValueError(f"A sweep of {len(points)} trainings needs as many run ids (got {len(run_ids)}).")
    folder = _folder(store, owner)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    record = {
        "id": sweep_id,
        "name": clean_name(sweep.name, "Sweep"),
        "created": time.time(),
        "owner": owner,
        "preset": sweep.preset,
        "axes": [[axis.field, list(axis.values)] for axis in sweep.axes],
        "seeds": list(sweep.seeds),
        "points": points,
        "run_ids": list(run_ids),
        "configs": json.loads(configs.dumps(sweep.model, sweep.train)),
    }
    with locked(folder):
        write_json_atomic(folder / f"{sweep_id}{_SUFFIX}", record)
        # Records are small, but a script submitting sweeps must not fill the disk: the oldest are forgotten.
        for old in sorted(folder.glob(f"*{_SUFFIX}"))[:-MAX_SWEEPS_PER_OWNER]:
            old.unlink(missing_ok=True)
    return sweep_id


def list_sweeps(store: RunStore, owner: str | None) -> list[SweepRecord]:
    """The owner's sweeps, newest first; unreadable records are skipped."""
    folder = _folder(store, owner)
    if not folder.is_dir():
        return []
    found = [_record(path) for path in folder.glob(f"*{_SUFFIX}") if _SWEEP_ID.fullmatch(path.stem)]
    return sorted((record for record in found if record is not None), key=lambda record: (record.created, record.id),
                  reverse=True)


def get_sweep(store: RunStore, owner: str | None, sweep_id: str) -> SweepRecord:
    """One of the owner's sweeps; SweepNotFoundError if they have none with that id (or it is unreadable)."""
    if not isinstance(sweep_id, str) or not _SWEEP_ID.fullmatch(sweep_id):
        raise SweepNotFoundError(f"{sweep_id!r} is not a sweep's id.")
    record = _record(_folder(store, owner) / f"{sweep_id}{_SUFFIX}")
    if record is None:
        raise SweepNotFoundError(f"There is no sweep {sweep_id!r} of yours.")
    return record


def delete_sweep(store: RunStore, owner: str | None, sweep_id: str) -> None:
    """Forget one of the owner's sweeps (its runs stay, on the Runs page)."""
    get_sweep(store, owner, sweep_id)
    (_folder(store, owner) / f"{sweep_id}{_SUFFIX}").unlink(missing_ok=True)


def sweep_progress(store: RunStore, record: SweepRecord) -> dict[str, Progress]:
    """Each of the sweep's runs that still exists, with its progress as its worker last published it (what
    `summarise` takes); a cancelled or deleted run is left out."""
    found = {}
    for run_id in dict.fromkeys(record.run_ids):
        with contextlib.suppress(RunNotFoundError, OSError, ValueError):
            found[run_id] = store.progress(run_id)
    return found


def _value(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _record(path: Path) -> SweepRecord | None:
    """A SweepRecord from a file, every field checked; None when it is missing or damaged."""
    try:
        data = json.loads(path.read_text())
        axes = {str(name): tuple(values) for name, values in data["axes"]}
        points, run_ids = data["points"], data["run_ids"]
        seeds = tuple(data.get("seeds") or (0,))
        ok = (isinstance(points, list) and isinstance(run_ids, list) and len(points) == len(run_ids)
              and all(isinstance(point, dict) for point in points)
              and all(isinstance(run_id, str) and RUN_ID.fullmatch(run_id) for run_id in run_ids)
              and all(_value(value) for values in axes.values() for value in values) and _value(data["created"]))
        if not ok:
            return None
        model = train = None
        if isinstance(data.get("configs"), dict):
            model, train = configs.loads(json.dumps(data["configs"]))
        owner = data.get("owner")
        preset = data.get("preset")
        return SweepRecord(id=path.stem, name=clean_name(data.get("name"), "Sweep"), created=float(data["created"]),
                           axes=axes, points=points, run_ids=run_ids, owner=owner if isinstance(owner, str) else None,
                           preset=preset if isinstance(preset, str) else None, seeds=seeds, model=model, train=train)
    except (OSError, ValueError, KeyError, TypeError):
        return None
