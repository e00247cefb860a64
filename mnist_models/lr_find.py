"""The learning-rate range test as a job: its configs and settings for the queue, its budget, its result read back
from the run folder, and a learner's old tests tidied away. No TensorFlow: the worker's side is worker/lr_finder.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path

from mnist_models.budget import STEP_COST, budget_problems, estimate, limits
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.jobs.job import JobSpec
from mnist_models.lr_range import RangeResult, RangeSettings
from mnist_models.store.files import BASE_MODEL_FILE, LR_FIND_FILE, LR_FIND_SETTINGS_FILE, write_json_atomic
from mnist_models.store.progress import FINAL_STATUSES
from mnist_models.store.run_info import LR_FIND_TASK, RunInfo, RunNotFoundError
from mnist_models.store.runs import RunStore

KEEP_PER_LEARNER = 3  # a learner's newest range tests kept; older ones go when they start another
# The settings a range test does not read: it runs its own exponential schedule for its own number of batches.
# They are set to their defaults in its run, so that two learners whose networks differ only there share one test.
IGNORED_FIELDS = ("lr_schedule", "lr_decay", "lr_decay_steps", "min_learning_rate", "warmup_fraction")


def range_test_configs(model: ModelConfig, train: TrainConfig,
                       settings: RangeSettings) -> tuple[ModelConfig, TrainConfig]:
    """The configs a range test's run keeps: the network, optimiser, batch size, data and seed of `train`, its own
    first rate as the learning rate, one pass, and the schedule's settings at their defaults."""
    defaults = TrainConfig()
    values = {name: getattr(defaults, name) for name in IGNORED_FIELDS}
    return model, dataclasses.replace(train, **values, learning_rate=settings.start, epochs=1)


def range_test_problems(model: ModelConfig, train: TrainConfig, settings: RangeSettings) -> list[str]:
    """Why this range test cannot run, in sentences (empty when it can): bad settings or configs, or more work than
    the server allows for one job."""
    found = settings.problems() + model.problems() + train.problems()
    if found:
        return found
    model, tested = range_test_configs(model, train, settings)
    found = budget_problems(model, tested)
    cost = estimate(model, tested)
    work = cost.madds_per_image * STEP_COST * train.batch_size * settings.batches
    allowed = limits()["MNIST_MAX_TOTAL_WORK"]
    if not found and work > allowed:
        found.append(f"The range test would take about {work / allowed:,.1f} times the work this server allows for one "
                     "job: run fewer batches, use a smaller batch size, or a smaller network.")
    return found


def range_test_spec(model: ModelConfig, train: TrainConfig, *, settings: RangeSettings | None = None,
                    preset: str | None = None, name: str | None = None, store: RunStore | None = None) -> JobSpec:
    """The job that runs a range test of this network and training; ConfigError says why it cannot.

    When `train` fine-tunes a saved run, the test starts from that run's weights: its model file is copied into the
    test's own folder (the worker reads nothing outside it, and never writes over the original).
    """
    settings = settings if settings is not None else RangeSettings()
    problems = range_test_problems(model, train, settings)
    if problems:
        raise ConfigError(problems)
    model, tested = range_test_configs(model, train, settings)
    files = {LR_FIND_SETTINGS_FILE: json.dumps(settings.as_dict(), sort_keys=True).encode()}
    if tested.fine_tune_from:
        store = store if store is not None else RunStore()
        try:
            files[BASE_MODEL_FILE] = store.model_path(tested.fine_tune_from).read_bytes()
        except RunNotFoundError:
            raise ConfigError([f"The run this network is fine-tuned from ({tested.fine_tune_from}) has no saved "
                               f"model in {store.root}: test a network of your own instead."]) from None
    return JobSpec(model, tested, preset, name or "Learning-rate range test", files, task=LR_FIND_TASK)


def submit_range_test(queue, spec: JobSpec, owner: str | None) -> str:
    """Queue the range test for `owner` (a learner's one job at a time, like a training) and return its run id;
    the learner's finished range tests beyond the newest KEEP_PER_LEARNER - 1 are deleted first."""
    if owner is not None:
        tidy(queue.store, owner, KEEP_PER_LEARNER - 1)
    return queue.submit_series([spec], owner=owner)[0]


def tidy(store: RunStore, owner: str, keep: int) -> None:
    """Delete the learner's finished range tests but the newest `keep` (one shared with others is only left)."""
    mine = [info for info in store.list(task=LR_FIND_TASK) if info.owned_by(owner)]
    for info in [info for info in mine if info.status in FINAL_STATUSES][keep:]:
        with contextlib.suppress(RunNotFoundError, ValueError, OSError):
            store.delete(info.run_id, owner=owner)


def latest(store: RunStore, owner: str | None) -> RunInfo | None:
    """The learner's newest range test, or None."""
    if owner is None:
        return None
    return next((info for info in store.list(task=LR_FIND_TASK) if info.owned_by(owner)), None)


def load_settings(folder: Path) -> RangeSettings:
    """The rates a range test's run is to try (the defaults when its folder has no settings file)."""
    path = folder / LR_FIND_SETTINGS_FILE
    if not path.is_file():
        return RangeSettings()
    try:
        data = json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"The range test's settings cannot be read ({error}).") from None
    return RangeSettings.from_dict(data)


def save_result(folder: Path, result: RangeResult, *, durable: bool = True) -> None:
    """Write what the range test measured so far into its run folder (a NaN loss is stored as null)."""
    write_json_atomic(folder / LR_FIND_FILE, result.as_dict(), durable=durable)


def load_result(store: RunStore, run_id: str) -> RangeResult | None:
    """What the range test has measured so far, or None when it has not started measuring (or the file is damaged)."""
    try:
        return RangeResult.from_dict(json.loads((store.folder(run_id) / LR_FIND_FILE).read_text()))
    except (OSError, ValueError, LookupError):
        return None
