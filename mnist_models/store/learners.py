"""The class's learners, kept beside the runs: each one's chosen display name, the Lab step they are on and their
predictions per step, in one small JSON file per learner under `<runs folder>/_learners/<owner key>.json`.

A file holds `{"owner", "name", "first_seen", "step", "step_at", "guesses": {step id: {"accuracy", "choice",
"made"}}}`. Only the learner's own browser writes it (through the owner key), so the class's view reads one small
file per learner and no run folder changes. Learners who chose no name are shown as "Learner N", N counting them in
the order they first appeared, which does not change as others join.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_models.store.files import LEARNERS_DIR, locked, write_json_atomic
from mnist_models.store.run_info import clean_name
from mnist_models.store.runs import RunStore

MAX_NAME_LENGTH = 40
MAX_CHOICE_LENGTH = 80
MAX_LEARNERS = 1000  # a class, or a few, on one server; a script making identities cannot fill the disk
_OWNER = re.compile(r"^[0-9a-f]{8,64}$")
_STEP = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_SUFFIX = ".json"


@dataclass(frozen=True)
class Guess:
    """A learner's prediction before training a Lab step: the test accuracy they expect, and their answer."""

    owner: str
    step: str
    accuracy: float  # 0..1
    choice: str
    made: float


@dataclass(frozen=True)
class Learner:
    """What the class's view knows of one learner."""

    owner: str
    name: str  # the display name they chose, cleaned; "" when they chose none
    first_seen: float
    step: str | None = None  # the Lab step they opened last
    step_at: float | None = None
    guesses: tuple[Guess, ...] = ()  # at most one per step, the latest

    def guess(self, step_id: str) -> Guess | None:
        return next((guess for guess in self.guesses if guess.step == step_id), None)


def display_names(first_seen: Mapping[str, float], chosen: Mapping[str, str]) -> dict[str, str]:
    """Each learner's name as the class sees it: the one they chose, else "Learner N", where N counts learners in
    the order they first appeared (`first_seen`: owner key to a time), so it stays theirs as others join."""
    order = sorted(first_seen, key=lambda owner: (first_seen[owner], owner))
    return {owner: chosen.get(owner) or f"Learner {number}" for number, owner in enumerate(order, start=1)}


def check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
        raise ValueError("Your name and answers are kept per browser; this browser has no identity yet. "
                         "Reload the page.")
    return owner


def clean_display_name(name: object) -> str:
    """A chosen display name: control characters removed, spaces collapsed, at most 40 characters ("" for none)."""
    if name is not None and not isinstance(name, str):
        raise ValueError(f"A name is text (got {type(name).__name__}).")
    return clean_name(name, "")[:MAX_NAME_LENGTH].strip()


class LearnerBook:
    """The learners of the runs under one store, one JSON file each. `step_ids`, when given, are the only Lab
    steps that may be recorded (the course's); without it any well-formed step id is accepted."""

    def __init__(self, store: RunStore, step_ids: Iterable[str] | None = None):
        self.folder = store.root / LEARNERS_DIR
        self.step_ids = tuple(step_ids) if step_ids is not None else None

    def get(self, owner: str) -> Learner | None:
        """The learner with this owner key, or None when they have no file yet (or it is unreadable)."""
        return _learner(check_owner(owner), _read(self._path(owner)))

    def all(self) -> list[Learner]:
        """Every learner, in the order they first appeared; unreadable files are skipped."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            owner = path.name[: -len(_SUFFIX)]
            if _OWNER.fullmatch(owner):
                learner = _learner(owner, _read(path))
                if learner is not None:
                    found.append(learner)
        return sorted(found, key=lambda learner: (learner.first_seen, learner.owner))

    def set_name(self, owner: str, name: str | None) -> str:
        """Keep the display name the learner chose (cleaned; "" or None removes it) and return it as kept."""
        cleaned = clean_display_name(name)
        self._change(owner, lambda data: data.update(name=cleaned))
        return cleaned

    def record_step(self, owner: str, step_id: str) -> None:
        """The learner opened this Lab step (the class's view shows where everybody is)."""
        step = self._check_step(step_id)
        current = self.get(owner)
        if current is not None and current.step == step:
            return  # the Lab calls this on every visit: only a change of step is written
        self._change(owner, lambda data: data.update(step=step, step_at=time.time()))

    def record_guess(self, owner: str, step_id: str, accuracy: float, choice: str) -> Guess:
        """Keep the learner's prediction for a step (a new one replaces theirs): the test accuracy they expect
        (0 to 1) and the answer they chose."""
        step = self._check_step(step_id)
        if isinstance(accuracy, bool) or not isinstance(accuracy, int | float) or not math.isfinite(accuracy) \
                or not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"A guessed accuracy is a number from 0 to 1, like 0.97 for 97% (got {accuracy!r}).")
        if not isinstance(choice, str) or not clean_name(choice, ""):
            raise ValueError("Choose one of the answers before saving your guess.")
        if len(" ".join(choice.split())) > MAX_CHOICE_LENGTH:
            raise ValueError(f"An answer is at most {MAX_CHOICE_LENGTH} characters (this one has "
                             f"{len(' '.join(choice.split()))}).")
        answer = clean_name(choice, "")
        made = time.time()
        entry = {"accuracy": float(accuracy), "choice": answer, "made": made}
        self._change(owner, lambda data: data.setdefault("guesses", {}).update({step: entry}))
        return Guess(owner, step, float(accuracy), answer, made)

    def guesses(self, step_id: str) -> list[Guess]:
        """The class's predictions for a step, one per learner, oldest first."""
        step = self._check_step(step_id)
        found = [guess for learner in self.all() if (guess := learner.guess(step)) is not None]
        return sorted(found, key=lambda guess: (guess.made, guess.owner))

    def version(self) -> tuple[tuple[str, int], ...]:
        """Every learner file with its modification time (ns): it changes whenever a learner's record does."""
        if not self.folder.is_dir():
            return ()
        found = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                found.append((path.name, path.stat().st_mtime_ns))
            except FileNotFoundError:
                continue
        return tuple(sorted(found))

    def _check_step(self, step_id: object) -> str:
        if self.step_ids is not None:
            if step_id not in self.step_ids:
                raise ValueError(f"Unknown Lab step {step_id!r}: choose one of {', '.join(self.step_ids)}.")
        elif not isinstance(step_id, str) or not _STEP.fullmatch(step_id):
            raise ValueError(f"{step_id!r} is not a Lab step's id (lower-case letters, digits and dashes).")
        return step_id

    def _path(self, owner: str) -> Path:
        return self.folder / f"{owner}{_SUFFIX}"

    def _change(self, owner: str, change) -> None:
        """Read, change and write the learner's file under the folder's lock (two tabs of one learner, at once)."""
        path = self._path(check_owner(owner))
        self.folder.mkdir(parents=True, exist_ok=True)
        with locked(self.folder):
            data = _read(path)
            if not data:
                if sum(1 for _ in self.folder.glob(f"*{_SUFFIX}")) >= MAX_LEARNERS:
                    raise ValueError(f"This server already keeps {MAX_LEARNERS} learners, the most it may: ask your "
                                     "teacher.")
                data = {"owner": owner, "name": "", "first_seen": time.time(), "step": None, "step_at": None,
                        "guesses": {}}
            if not isinstance(data.get("guesses"), dict):
                data["guesses"] = {}
            change(data)
            write_json_atomic(path, data, durable=False)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: object) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _learner(owner: str, data: dict[str, Any]) -> Learner | None:
    """A Learner from a file's contents, every field checked (a damaged field reads as missing); None if empty."""
    if not data:
        return None
    guesses = []
    raw_guesses = data.get("guesses") if isinstance(data.get("guesses"), dict) else {}
    for step, raw in raw_guesses.items():
        if not isinstance(raw, dict) or not isinstance(step, str) or not _STEP.fullmatch(step):
            continue
        accuracy, choice = _number(raw.get("accuracy")), raw.get("choice")
        if accuracy is not None and 0.0 <= accuracy <= 1.0 and isinstance(choice, str) and choice:
            guesses.append(Guess(owner, step, accuracy, choice[:MAX_CHOICE_LENGTH], _number(raw.get("made")) or 0.0))
    step = data.get("step")
    name = data.get("name")
    return Learner(
        owner=owner,
        name=clean_display_name(name) if isinstance(name, str) else "",
        first_seen=_number(data.get("first_seen")) or 0.0,
        step=step if isinstance(step, str) and _STEP.fullmatch(step) else None,
        step_at=_number(data.get("step_at")),
        guesses=tuple(sorted(guesses, key=lambda guess: guess.step)),
    )
