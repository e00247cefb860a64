"""The Lab's course: the codelab's steps (text in course.toml) with their "your turn" exercises, a learner's best
result per step, and the overfitting lesson's pair of runs."""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_models.config import ConfigError, ModelConfig, model_config_from_dict
from mnist_models.jobs.queue import JobSpec
from mnist_models.presets import PRESETS, Preset
from mnist_models.store.progress import COMPLETED, STOPPED
from mnist_models.store.runs import RunInfo

COURSE_FILE = Path(__file__).with_name("course.toml")
OVERFIT_PRESET = "overfit-demo"
LESSON_NAME = "Overfitting lesson"
# The two ways the lesson pulls the curves back together: the same network with dropout, or with more images.
# More images is the default: the clearer lesson (test loss 0.19 against 0.43, measured), for about five times the
# time; dropout alone narrows the gap on 1,000 images only a little.
FIXES = {
    "more-data": "20 times more images (20,000; about five times as long)",
    "dropout": "50% dropout (quicker, a smaller effect)",
}
LESSON_DROPOUT = 0.5
LESSON_DATA_FACTOR = 20


@dataclass(frozen=True)
class Exercise:
    """A step's "your turn", as the codelab's TO DO cells: the previous step's code with a gap, what goes in it, and
    networks besides the step's own that count as solved too (the codelab's own solution, where it differs)."""

    todo: str  # the `# TO DO:` comment put above the model in the code the learner starts from
    task: str  # Markdown: what to write, shown above the code
    # (what the network is, in a few words; the network). Left out of the hash: a ModelConfig is mutable, and a Step
    # stays hashable like the other frozen values it is kept with.
    also_accept: tuple[tuple[str, ModelConfig], ...] = dataclasses.field(default=(), hash=False)


EXERCISE_FIELDS = ("todo", "task", "also_accept")


@dataclass(frozen=True)
class Step:
    """One step of the course: what it teaches, the preset it trains (None for reading only), its question."""

    id: str
    title: str
    theory: str
    look_for: str
    question: str
    answer: str
    preset: str | None = None
    lesson: str | None = None  # "overfitting": the step offers the one-click overfitting lesson
    target: float | None = None  # the test accuracy to reach, for a step beyond the codelab (which gives none)
    # "Predict before you run": a yes-or-no question about the result, and how the run answers it (see `outcome`).
    predict: str | None = None
    predict_measure: str | None = None
    exercise: Exercise | None = None  # the step's "your turn: write the code", if it has one

    @property
    def trains(self) -> Preset | None:
        return PRESETS[self.preset] if self.preset else None


@functools.cache
def steps(path: Path = COURSE_FILE) -> tuple[Step, ...]:
    """The course's steps in order, read from `path`; ValueError naming the step and field that is wrong."""
    with open(path, "rb") as file:
        data = tomllib.load(file)
    found = []
    names = {item.name for item in dataclasses.fields(Step)}
    required = {item.name for item in dataclasses.fields(Step) if item.default is dataclasses.MISSING}
    for index, raw in enumerate(data.get("step", []), start=1):
        where = f"Step {index} ({raw.get('id', 'no id')}) in {path.name}"
        if missing := sorted(required - set(raw)):
            raise ValueError(f"{where} lacks {', '.join(missing)}.")
        if unknown := sorted(set(raw) - names):
            raise ValueError(f"{where} has unknown fields {', '.join(unknown)}.")
        if raw.get("preset") is not None and raw["preset"] not in PRESETS:
            raise ValueError(f"{where} trains the unknown preset {raw['preset']!r}.")
        if ("predict" in raw) != ("predict_measure" in raw):
            raise ValueError(f"{where} needs both predict and predict_measure, or neither.")
        if "predict_measure" in raw and not _measure_ok(raw["predict_measure"]):
            raise ValueError(f"{where} has an unknown predict_measure {raw['predict_measure']!r}: use "
                             f"{', '.join(MEASURES)}, or test_above:<accuracy between 0 and 1>.")
        values = {key: value.strip() if isinstance(value, str) else value for key, value in raw.items()}
        if "exercise" in raw:
            if not raw.get("preset"):
                raise ValueError(f"{where} has an exercise but trains no preset to check the learner's network by.")
            values["exercise"] = _exercise(raw["exercise"], where, found)
        found.append(Step(**values))
    ids = [step.id for step in found]
    if len(set(ids)) != len(ids):
        raise ValueError(f"Step ids must be unique in {path.name}.")
    if not found:
        raise ValueError(f"{path.name} has no [[step]].")
    return tuple(found)


def _exercise(raw: object, where: str, earlier: list[Step]) -> Exercise:
    """A step's [step.exercise] table as an Exercise; ValueError naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: exercise must be a table ([step.exercise]).")
    if missing := sorted({"todo", "task"} - set(raw)):
        raise ValueError(f"{where}: its exercise lacks {', '.join(missing)}.")
    if unknown := sorted(set(raw) - set(EXERCISE_FIELDS)):
        raise ValueError(f"{where}: its exercise has unknown fields {', '.join(unknown)}.")
    # The learner starts from the previous trained step's code, so that step must come earlier in the file.
    if not any(step.preset for step in earlier):
        raise ValueError(f"{where} has an exercise but no earlier step that trains a network to start from.")
    if not isinstance(raw.get("also_accept", []), list):
        raise ValueError(f"{where}: also_accept must be a list of networks ([[step.exercise.also_accept]]).")
    accepted = []
    for number, item in enumerate(raw.get("also_accept", []), start=1):
        if not isinstance(item, dict) or not isinstance(item.get("about"), str):
            raise ValueError(f"{where}: also_accept {number} needs an `about` text and the network's fields.")
        try:
            network = model_config_from_dict({key: value for key, value in item.items() if key != "about"})
            network.validate()
        except (ConfigError, TypeError) as error:
            raise ValueError(f"{where}: also_accept {number} is not a valid network: {error}") from None
        accepted.append((item["about"].strip(), network))
    return Exercise(todo=" ".join(str(raw["todo"]).split()), task=str(raw["task"]).strip(),
                    also_accept=tuple(accepted))


MEASURES = ("beats_previous", "test_loss_turns_up", "test_above:<accuracy>")
PREDICT_CHOICES = ("Yes", "No")
TURN_UP = 1.02  # the last test loss this much above its lowest counts as turning upward, not as noise


def _measure_ok(measure: object) -> bool:
    if measure in ("beats_previous", "test_loss_turns_up"):
        return True
    if isinstance(measure, str) and measure.startswith("test_above:"):
        try:
            return 0.0 < float(measure.split(":", 1)[1]) < 1.0
        except ValueError:
            return False
    return False


def outcome(step: Step, test_curve: Sequence[dict], accuracy: float | None, previous: float | None) -> str | None:
    """How a run of the step answers its prediction question ("Yes" or "No"), from its test curve (points with
    "loss") and final test accuracy, and the learner's best on the previous step; None when it cannot tell."""
    measure = step.predict_measure
    if measure is None or accuracy is None:
        return None
    if measure.startswith("test_above:"):
        return PREDICT_CHOICES[accuracy < float(measure.split(":", 1)[1])]
    if measure == "beats_previous":
        return None if previous is None else PREDICT_CHOICES[accuracy <= previous]
    losses = [point["loss"] for point in test_curve if isinstance(point.get("loss"), int | float)]
    if len(losses) < 2:
        return None
    lowest = min(losses[:-1])
    return PREDICT_CHOICES[not losses[-1] > lowest * TURN_UP]


def get_step(step_id: str) -> Step:
    """The step called `step_id`; ValueError listing the valid ids otherwise."""
    for step in steps():
        if step.id == step_id:
            return step
    raise ValueError(f"Unknown step {step_id!r}: choose one of {', '.join(step.id for step in steps())}.")


def previous_training_step(step: Step) -> Step | None:
    """The closest earlier step that trains something: what this step's curves are compared with."""
    earlier = steps()[: steps().index(step)]
    return next((other for other in reversed(earlier) if other.preset), None)


def has_result(info: RunInfo) -> bool:
    return info.status in (COMPLETED, STOPPED) and info.test_accuracy is not None


def step_runs(step: Step, runs: Iterable[RunInfo], owner: str | None) -> list[RunInfo]:
    """The owner's runs of a step's preset (unchanged settings), newest first."""
    if not step.preset or owner is None:
        return []
    mine = [info for info in runs if info.owned_by(owner) and info.preset == step.preset]
    return sorted(mine, key=lambda info: info.created, reverse=True)


def best_run(step: Step, runs: Iterable[RunInfo], owner: str | None) -> RunInfo | None:
    """The owner's run of this step with the highest test accuracy, among finished or stopped ones."""
    finished = [info for info in step_runs(step, runs, owner) if has_result(info)]
    return max(finished, key=lambda info: info.test_accuracy, default=None)


def progress_rows(runs: Sequence[RunInfo], owner: str | None) -> list[dict]:
    """One row per step: the codelab's accuracy (or the step's target), the owner's best test accuracy and how many
    runs they made."""
    rows = []
    for number, step in enumerate(steps(), start=1):
        preset = step.trains
        best = best_run(step, runs, owner)
        rows.append({
            "step": number,
            "title": step.title,
            "codelab": preset.codelab_accuracy if preset and preset.codelab_accuracy is not None else step.target,
            "your best": best.test_accuracy if best else None,
            "runs": len(step_runs(step, runs, owner)),
        })
    return rows


def overfitting_lesson(fix: str) -> list[JobSpec]:
    """The lesson's two jobs: the overfitting preset, then the same network with `fix` ("dropout" or "more-data")."""
    if fix not in FIXES:
        raise ValueError(f"Unknown fix {fix!r}: choose one of {', '.join(FIXES)}.")
    model, train = PRESETS[OVERFIT_PRESET].configs()
    first = JobSpec(model, train, OVERFIT_PRESET, f"{LESSON_NAME}: overfitting")
    if fix == "dropout":
        second = JobSpec(dataclasses.replace(model, dropout_rate=LESSON_DROPOUT), train, "custom",
                         f"{LESSON_NAME}: with dropout")
    else:
        second = JobSpec(model, dataclasses.replace(train, train_size=train.train_size * LESSON_DATA_FACTOR),
                         "custom", f"{LESSON_NAME}: 20x more images")
    return [first, second]


def lesson_runs(runs: Iterable[RunInfo], owner: str | None) -> list[RunInfo]:
    """The owner's latest overfitting lesson: its two runs, the overfitting one first (empty if there is none)."""
    if owner is None:
        return []
    mine = sorted((info for info in runs if info.owned_by(owner) and info.name.startswith(LESSON_NAME)),
                  key=lambda info: info.created, reverse=True)
    first = next((info for info in mine if info.preset == OVERFIT_PRESET), None)
    if first is None:
        return []
    second = [info for info in mine if info.preset != OVERFIT_PRESET and info.created >= first.created]
    return [first, second[-1]] if second else [first]
