"""Sweeps: one network trained several times, one or two settings varied (and seeds repeated), checked as a whole.

A sweep is a base pair of configs, one or two axes (a setting and its values) and the seeds to repeat each
combination with. It expands into one JobSpec per combination, so the job queue trains it like any other series
and shares identical trainings. The settings and their values live in `sweep_values.py`, the records that find a
sweep's runs again in `store/sweeps.py`, and what a sweep shows (a measure per combination, seeds folded into a
mean and a band) in `sweep_summary.py`; all are re-exported here, so the pages import this module alone.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

from mnist_models.budget import budget_problems, estimate, limits
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.jobs.job import JobSpec
from mnist_models.jobs.settings import whole_number_setting
from mnist_models.store.sweeps import (
    SweepNotFoundError,
    SweepRecord,
    delete_sweep,
    get_sweep,
    list_sweeps,
    save_sweep,
    sweep_progress,
)
from mnist_models.sweep_summary import DEFAULT_MEASURE, MEASURES, SummaryPoint, measure_value, summarise
from mnist_models.sweep_values import (
    SWEEPABLE,
    Sweepable,
    apply_value,
    current_value,
    format_value,
    log_range,
    parse_values,
    suggest_values,
)

__all__ = ["DEFAULT_MEASURE", "MEASURES", "SWEEPABLE", "Axis", "SummaryPoint", "Sweep", "SweepNotFoundError",
           "SweepRecord", "Sweepable", "apply_value", "current_value", "delete_sweep", "format_value", "get_sweep",
           "list_sweeps", "log_range", "max_sweep_work", "max_trainings", "measure_value", "parse_values",
           "save_sweep", "suggest_values", "summarise", "sweep_progress"]

MAX_SWEEP_ENV = "MNIST_MAX_SWEEP"
DEFAULT_MAX_SWEEP = 12  # trainings in one sweep: four values over three seeds, or a 3 x 4 grid
MAX_SWEEP_WORK_ENV = "MNIST_MAX_SWEEP_WORK"
SWEEP_WORK_RUNS = 2  # a whole sweep may cost as much as two of the largest trainings one run may be
MAX_AXES = 2
MAX_SEEDS = 10


@dataclass(frozen=True)
class Axis:
    """One varied setting and the values it takes, in the order they were given."""

    field: str
    values: tuple


def max_trainings() -> int:
    """MNIST_MAX_SWEEP (trainings in one sweep), or the default; a bad value raises ValueError saying what to set."""
    return whole_number_setting(MAX_SWEEP_ENV, DEFAULT_MAX_SWEEP, 1, 500, "trainings in a sweep")


def max_sweep_work() -> int:
    """MNIST_MAX_SWEEP_WORK (multiply-adds of a whole sweep), or SWEEP_WORK_RUNS times one run's limit."""
    default = SWEEP_WORK_RUNS * limits()["MNIST_MAX_TOTAL_WORK"]
    text = os.environ.get(MAX_SWEEP_WORK_ENV, "").strip()
    try:
        value = int(float(text)) if text else default
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{MAX_SWEEP_WORK_ENV}={text!r} is not a positive number; unset it for the default "
                         f"({default:,}).")
    return value


@dataclass(frozen=True)
class Sweep:
    """A base network and training, the one or two settings to vary, and the seeds to repeat each combination."""

    model: ModelConfig
    train: TrainConfig
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...] = (0,)
    name: str = "Sweep"
    preset: str | None = None

    def points(self) -> list[dict]:
        """Every combination, the first axis slowest and seeds fastest: [{field: value, ..., "seed": s}, ...]."""
        fields = [axis.field for axis in self.axes]
        return [{**dict(zip(fields, values, strict=True)), "seed": seed}
                for values in itertools.product(*(axis.values for axis in self.axes)) for seed in self.seeds]

    def configs(self, point: dict) -> tuple[ModelConfig, TrainConfig]:
        """The configs of one point: the base configs with its values and its seed."""
        model, train = self.model, self.train
        for axis in self.axes:
            model, train = apply_value(axis.field, point[axis.field], model, train)
        train.seed = point["seed"]
        return model, train

    def label(self, point: dict) -> str:
        """"Sweep · learning_rate=0.003 · seed 1" (the seed only when the sweep repeats seeds)."""
        parts = [self.name, *(f"{axis.field}={format_value(axis.field, point[axis.field])}" for axis in self.axes)]
        if len(self.seeds) > 1:
            parts.append(f"seed {point['seed']}")
        return " · ".join(parts)

    def specs(self) -> list[JobSpec]:
        """One JobSpec per point, in the order of `points`; call `problems` first (bad values raise here)."""
        return [JobSpec(*self.configs(point), self.preset, self.label(point)) for point in self.points()]

    def count(self) -> int:
        """How many trainings the sweep asks for."""
        return math.prod(len(axis.values) for axis in self.axes) * len(self.seeds)

    def problems(self, cap: int | None = None) -> list[str]:
        """Every reason the sweep cannot run, as sentences: its shape (one or two known settings, each once, with
        values), its seeds, more trainings than `cap` (default: max_trainings()), a value the configs refuse, and
        the compute budget (each training, and the whole sweep together). Empty when it may run."""
        found = _shape_problems(self)
        if found:
            return found
        cap = max_trainings() if cap is None else cap
        count = self.count()
        if count > cap:
            sizes = " × ".join(f"{len(axis.values)} values" for axis in self.axes)
            seeds = f" × {len(self.seeds)} seeds" if len(self.seeds) > 1 else ""
            return [f"This sweep has {count} trainings ({sizes}{seeds}), more than the {cap} a sweep may have here: "
                    "use fewer values or seeds."]
        if self.train.fine_tune_from:
            return ["A sweep trains new networks: it cannot fine-tune a saved run. Start from a preset instead."]
        found.extend(_relevance_problems(self))
        total = 0
        for point in self.points():
            where = ", ".join(f"{axis.field}={format_value(axis.field, point[axis.field])}" for axis in self.axes)
            try:
                model, train = self.configs(point)
            except ValueError as error:
                if str(error) not in found:
                    found.append(str(error))
                continue
            config_problems = model.problems() + train.problems()
            budget = [] if config_problems else budget_problems(model, train)
            for problem in config_problems + budget:
                message = f"With {where}: {problem}"
                if message not in found:
                    found.append(message)
            if not config_problems:
                total += estimate(model, train).total_work
        allowed = max_sweep_work()
        if not found and total > allowed:
            found.append(f"The whole sweep would take about {total / allowed:,.1f} times the work this server allows "
                         "for one sweep: use fewer values, seeds, epochs or training images.")
        return found


def _shape_problems(sweep: Sweep) -> list[str]:
    found = []
    if not isinstance(sweep.axes, tuple | list) or not 1 <= len(sweep.axes) <= MAX_AXES:
        return [f"A sweep varies one or two settings (got {len(sweep.axes) if hasattr(sweep.axes, '__len__') else 0})."]
    names = [axis.field for axis in sweep.axes]
    for name in names:
        if name not in SWEEPABLE:
            found.append(f"{name!r} cannot be swept: choose one of {', '.join(SWEEPABLE)}.")
    for name in sorted({name for name in names if names.count(name) > 1}):
        found.append(f"{name} is varied twice: give each setting once, with all its values.")
    for axis in sweep.axes:
        if not axis.values:
            found.append(f"{axis.field} has no values: give at least one.")
        elif len(set(axis.values)) < len(axis.values):
            found.append(f"{axis.field} lists a value more than once: list each value once.")
    seeds = sweep.seeds
    if not isinstance(seeds, tuple | list) or not 1 <= len(seeds) <= MAX_SEEDS:
        found.append(f"Give from 1 to {MAX_SEEDS} seeds.")
    else:
        if not all(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**31 for seed in seeds):
            found.append(f"Seeds are whole numbers from 0 to {2**31 - 1} (got {list(seeds)}).")
        elif len(set(seeds)) < len(seeds):
            found.append("A seed is listed more than once: list each seed once.")
    return found


def _relevance_problems(sweep: Sweep) -> list[str]:
    """Settings that would change nothing in this network: a sweep of them trains the same network N times."""
    found = []
    names = {axis.field for axis in sweep.axes}
    if "lr_decay" in names and sweep.train.lr_schedule != "inverse_time":
        found.append("The decay only matters with the inverse-time learning-rate schedule: choose that schedule, "
                     "or sweep another setting.")
    if "dropout_rate" in names and not sweep.model.hidden_units:
        found.append("Dropout acts on hidden layers, and this network has none: sweep another setting.")
    if "hidden_width" in names and not sweep.model.hidden_units:
        found.append("This network has no hidden layers to widen: sweep another setting.")
    if "conv_filters" in names and not sweep.model.conv_layers:
        found.append("This network has no convolutional layers: sweep another setting.")
    return found
