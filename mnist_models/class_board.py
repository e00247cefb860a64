"""The teacher's view of the class, from the run store, the learners, the course and the job queue: a row per
learner, the queue, the 99% challenge's two leaderboards and the class's guesses per Lab step; no Streamlit."""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from mnist_models import course
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.course import Step
from mnist_models.jobs.job import Job
from mnist_models.store.files import folder_state
from mnist_models.store.learners import Learner, LearnerBook, display_names
from mnist_models.store.progress import FINAL_STATUSES, QUEUED, STARTING, STOPPING, Progress
from mnist_models.store.runs import RunInfo, RunNotFoundError, RunStore

CHALLENGE = 0.99  # the codelab's challenge: a test accuracy of 99%
OWN_PRESETS = ("custom", None)  # a network the learner set up (not a preset's unchanged settings)
SCHEDULE_WORDS = {"inverse_time": "inverse-time decay", "exponential": "exponential decay", "one_cycle": "one cycle"}


@dataclass(frozen=True)
class CurrentJob:
    """A job waiting or training, as the class's view lists it."""

    run_id: str
    run_name: str
    learners: tuple[str, ...]  # display names of everybody it trains for, who asked first first
    position: int | None  # the place in the queue while waiting (1 = next); None once it trains
    status: str  # the run's status: queued, starting, running or stopping
    epoch: int  # the epoch under way, from 1 (0 while waiting or starting)
    epochs: int
    eta_seconds: float | None
    stop_requested: bool = False  # somebody pressed Stop: it stops after its current batch

    @property
    def waiting(self) -> bool:
        return self.position is not None

    @property
    def summary(self) -> str:
        """In words: "waiting, number 2 in the queue", "training, epoch 3 of 5, about 40 s left", ..."""
        if self.waiting:
            return f"waiting, number {self.position} in the queue"
        if self.status == STOPPING or self.stop_requested:
            return "stopping after this batch"
        if self.status == STARTING:
            return "getting ready (loading the data)"
        text = f"training, epoch {self.epoch} of {self.epochs}"
        return text + (f", about {duration(self.eta_seconds)} left" if self.eta_seconds is not None else "")


@dataclass(frozen=True)
class LearnerRow:
    """One learner: the name the class sees, the Lab step they are on, their best per training step, their job."""

    owner: str
    name: str
    step: str | None  # the Lab step's id
    step_title: str | None
    best: tuple[float | None, ...]  # best test accuracy per training step, in Board.steps order
    job: CurrentJob | None


@dataclass(frozen=True)
class Entry:
    """One learner's place on a leaderboard: their run, its network in one line, and its score."""

    learner: str
    owner: str
    run_id: str
    run_name: str
    preset: str | None
    network: str
    test_accuracy: float | None
    seconds_to_99: float | None = None  # estimated (see time_to_reach); None on the accuracy board


@dataclass(frozen=True)
class StepGuesses:
    """The class's predictions for a Lab step beside what the class then measured."""

    step: str
    title: str
    accuracies: tuple[float, ...]  # guessed test accuracies, 0..1
    choices: tuple[tuple[str, int], ...]  # (answer, how many chose it), the most chosen first
    best: float | None  # the class's best test accuracy on the step's preset
    median: float | None  # the median of the learners' bests
    results: int  # how many learners have a result on the step


@dataclass(frozen=True)
class Board:
    """Everything the Class page shows, built at `built` (seconds since the epoch)."""

    steps: tuple[Step, ...]  # the course's training steps: the columns of the learners' bests
    learners: tuple[LearnerRow, ...]  # in the order they first appeared
    queue: tuple[CurrentJob, ...]  # training first, then waiting in the order they will start
    best_own: tuple[Entry, ...]  # each learner's best own network, the highest test accuracy first
    fastest: tuple[Entry, ...]  # each learner's quickest run to 99% on the test set, the quickest first
    guesses: dict[str, StepGuesses] = field(default_factory=dict)  # by step id, every step of the course
    built: float = 0.0


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def network_line(model: ModelConfig, train: TrainConfig) -> str:
    """A network and its optimiser in one line: "conv 12x5s1, 24x3s2 · dense 200 · dropout 0.25 · adam 0.003"
    (filters x kernel size, s stride, p max pooling)."""
    parts = []
    if model.conv_layers:
        parts.append("conv " + ", ".join(f"{layer.filters}x{layer.kernel_size}s{layer.stride}"
                                         + (f"p{layer.pool_size}" if layer.pool_size > 1 else "")
                                         for layer in model.conv_layers))
    if model.hidden_units:
        parts.append("dense " + ", ".join(str(units) for units in model.hidden_units))
        if model.activation != "relu":
            parts.append(model.activation)
    elif not model.conv_layers:
        parts.append("softmax only")
    if model.batch_norm:
        parts.append("batch norm")
    if model.dropout_rate:
        parts.append(f"dropout {model.dropout_rate:g}")
    optimiser = f"{train.optimizer} {train.learning_rate:g}"
    if train.lr_schedule in SCHEDULE_WORDS:
        optimiser += f" {SCHEDULE_WORDS[train.lr_schedule]}"
    return " · ".join([*parts, optimiser])


def time_to_reach(history: dict[str, list[dict]], seconds: float, target: float = CHALLENGE) -> float | None:
    """Seconds the run took to first score `target` on the test set, or None if it never did.

    An estimate from the step count: the run's training seconds times the step of the first test point at or
    above `target`, divided by the run's last step (the time per step taken as even, test scoring included).
    """
    steps = [point.get("step") for points in history.values() for point in points]
    last = max((step for step in steps if _is_number(step)), default=0)
    reached = [point["step"] for point in history.get("test", [])
               if _is_number(point.get("step")) and _is_number(point.get("accuracy")) and point["accuracy"] >= target]
    if not reached or last <= 0:
        return None
    return max(0.0, float(seconds)) * min(1.0, max(0.0, min(reached) / last))


def board_version(store: RunStore, book: LearnerBook, jobs: Sequence[Job], every: float = 10.0) -> tuple:
    """Changes whenever the board would: a run made, deleted or published, a learner's record written, the queue
    moved or asked to stop; and every `every` seconds (a worker that dies changes its run's status without a
    write)."""
    queue = tuple((job.run_id, job.status, job.position, job.owners, store.stop_requested(job.run_id)) for job in jobs)
    return folder_state(store.root), book.version(), queue, int(time.time() // every)


def build_board(store: RunStore, learners: Sequence[Learner], jobs: Sequence[Job],
                steps: Sequence[Step] | None = None) -> Board:
    """The class's board from the store's runs, the learners' records, the course's steps and the queue's jobs."""
    steps = tuple(steps if steps is not None else course.steps())
    training = tuple(step for step in steps if step.preset)
    runs = store.list()
    mine: dict[str, list[RunInfo]] = defaultdict(list)
    for info in runs:
        for owner in info.owners:
            mine[owner].append(info)
    first_seen = {learner.owner: learner.first_seen for learner in learners}
    for owner, owned in mine.items():
        first_seen[owner] = min(first_seen.get(owner, math.inf), min(info.created for info in owned))
    for job in jobs:
        for owner in job.owners:
            first_seen.setdefault(owner, job.created)
    names = display_names(first_seen, {learner.owner: learner.name for learner in learners})
    current = [(job.owners, _current_job(store, job, names)) for job in jobs]
    queue = tuple(item for _, item in current if item is not None)
    # A learner's job: the first of theirs (training before waiting; a series of two waits one after the other).
    by_owner = {owner: item for owners, item in reversed(current) if item is not None for owner in owners}
    best = {(owner, step.id): course.best_run(step, mine.get(owner, ()), owner) for owner in names for step in training}
    records = {learner.owner: learner for learner in learners}
    rows = []
    for owner in names:  # in the order they first appeared
        record = records.get(owner)
        step = record.step if record else None
        rows.append(LearnerRow(owner, names[owner], step, _title(steps, step),
                               tuple(_accuracy(best[owner, item.id]) for item in training), by_owner.get(owner)))
    return Board(steps=training, learners=tuple(rows), queue=queue,
                 best_own=_best_own(store, mine, names), fastest=_fastest(store, mine, names),
                 guesses={step.id: _step_guesses(step, learners, best, names) for step in steps}, built=time.time())


def _title(steps: Sequence[Step], step_id: str | None) -> str | None:
    if step_id is None:
        return None
    return next((step.title for step in steps if step.id == step_id), step_id)


def _accuracy(info: RunInfo | None) -> float | None:
    return info.test_accuracy if info is not None else None


def _current_job(store: RunStore, job: Job, names: dict[str, str]) -> CurrentJob | None:
    learners = tuple(names.get(owner, "someone") for owner in job.owners) or ("the command line",)
    if job.status == QUEUED or job.position is not None:
        return CurrentJob(job.run_id, job.name, learners, job.position, QUEUED, 0, 0, None)
    try:
        progress: Progress = store.progress(job.run_id)
    except (RunNotFoundError, OSError, ValueError):
        return None
    if progress.done:
        return None  # its worker saved the result a moment before its process ends
    per_epoch = max(1, progress.batches_per_epoch)
    epoch = min(progress.epochs, max(1, math.ceil(progress.step / per_epoch))) if progress.status != STARTING else 0
    return CurrentJob(job.run_id, job.name, learners, None, progress.status, epoch, progress.epochs,
                      progress.eta_seconds, store.stop_requested(job.run_id))


@functools.lru_cache(maxsize=4096)
def _network(root: str, run_id: str) -> tuple[str, bool]:
    """(the run's network in one line, whether it fine-tunes another run's weights): a run's config never changes."""
    try:
        model, train = RunStore(root).load_configs(run_id)
    except (OSError, ConfigError, RunNotFoundError):
        return "", False
    return network_line(model, train), bool(train.fine_tune_from)


@functools.lru_cache(maxsize=4096)
def _seconds_to_99(root: str, run_id: str, version: tuple[int, int], seconds: float) -> float | None:
    try:
        history = RunStore(root).load_history(run_id)
    except (OSError, ValueError, RunNotFoundError):
        return None
    return time_to_reach(history, seconds)


def _entry(store: RunStore, info: RunInfo, owner: str, names: dict[str, str],
           seconds: float | None = None) -> Entry:
    return Entry(names[owner], owner, info.run_id, info.name, info.preset, _network(str(store.root), info.run_id)[0],
                 info.test_accuracy, seconds)


def _best_own(store: RunStore, mine: dict[str, list[RunInfo]], names: dict[str, str]) -> tuple[Entry, ...]:
    """Each learner's best test accuracy with a network of their own (not a preset's settings, not a fine-tuning)."""
    entries = []
    for owner, owned in mine.items():
        own = [info for info in owned if info.preset in OWN_PRESETS and course.has_result(info)
               and not _network(str(store.root), info.run_id)[1]]
        top = max(own, key=lambda info: info.test_accuracy, default=None)
        if top is not None:
            entries.append(_entry(store, top, owner, names))
    return tuple(sorted(entries, key=lambda entry: (-entry.test_accuracy, entry.learner)))


def _fastest(store: RunStore, mine: dict[str, list[RunInfo]], names: dict[str, str]) -> tuple[Entry, ...]:
    """Each learner's quickest training to a test accuracy of 99% (any of their runs but fine-tunings, which
    start from trained weights)."""
    entries = []
    for owner, owned in mine.items():
        timed = []
        for info in owned:
            if info.status == QUEUED or _network(str(store.root), info.run_id)[1]:
                continue
            try:
                # A finished run's curves no longer change: only an unfinished one's are read again as they grow.
                version = (0, 0) if info.status in FINAL_STATUSES else store.version(info.run_id)
            except RunNotFoundError:
                continue
            seconds = _seconds_to_99(str(store.root), info.run_id, version, info.seconds)
            if seconds is not None:
                timed.append((seconds, info))
        if timed:
            seconds, info = min(timed, key=lambda item: item[0])
            entries.append(_entry(store, info, owner, names, seconds))
    return tuple(sorted(entries, key=lambda entry: (entry.seconds_to_99, entry.learner)))


def _step_guesses(step: Step, learners: Sequence[Learner], best: dict, names: dict[str, str]) -> StepGuesses:
    guesses = [guess for learner in learners if (guess := learner.guess(step.id)) is not None]
    counts = Counter(guess.choice for guess in guesses)
    results = [info.test_accuracy for owner in names if (info := best.get((owner, step.id))) is not None]
    return StepGuesses(
        step=step.id, title=step.title, accuracies=tuple(guess.accuracy for guess in guesses),
        choices=tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))),
        best=max(results, default=None), median=statistics.median(results) if results else None,
        results=len(results))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
