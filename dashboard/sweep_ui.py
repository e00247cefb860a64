"""Train's sweep section: one or two settings and their values, seeds to repeat, how many trainings that makes
against the cap, what is wrong with it, and Run sweep, all starting from the current Train settings."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.identity import owner
from dashboard.widgets import folding, plain
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.jobs.job import QueueFullError
from mnist_models.jobs.sweep_jobs import submit_sweep
from mnist_models.presets import Preset
from mnist_models.sweep import (
    SWEEPABLE,
    Axis,
    Sweep,
    format_value,
    max_trainings,
    parse_values,
    suggest_values,
)

LABEL = "Sweep: compare values of one or two settings"
OPEN_KEY = "sweep_open"  # the section's state: its content is drawn only while it is open
SWEEP_ID_KEY = "sweep_id"  # the sweep the results column shows (Run sweep and the range test's Try three set it)
NONE = ""  # the second setting's "no second setting"
MAX_SEEDS = 5
HINTS = {True: "values separated by commas, or low:high:count spaced on a log scale, e.g. 0.0001:0.1:5 for five "
               "log-spaced values from 0.0001 to 0.1",
         False: "values separated by commas, or low:high:count evenly spaced, e.g. 0:0.5:3 for 0, 0.25 and 0.5"}


def _label(field: str) -> str:
    return SWEEPABLE[field].label if field in SWEEPABLE else "(none)"


def _suggestion(field: str, model: ModelConfig, train: TrainConfig) -> str:
    try:
        values = suggest_values(field, model, train)
    except (ValueError, TypeError, ZeroDivisionError):
        values = ()  # the current value is itself invalid (marked in red above): nothing to suggest around
    return ",".join(format_value(field, value) for value in values)


def axis_ui(number: int, options: list[str], model: ModelConfig, train: TrainConfig) -> tuple[Axis | None, list[str]]:
    """One setting and its values; returns the axis (None when not chosen or unreadable) and its problems."""
    field = st.selectbox("Setting to vary" if number == 1 else "Second setting (optional)", options,
                         key=f"sweep_field_{number}", format_func=_label,
                         help="The one setting that differs between the trainings; all others stay as above."
                         if number == 1 else "Two settings make a grid: every value of one with every value of the "
                                             "other.")
    if field == NONE:
        return None, []
    values_key, for_key = f"sweep_values_{number}", f"_sweep_values_for_{number}"
    if st.session_state.get(for_key) != field:
        # A new setting starts with three values around the current one, which the learner can then change.
        st.session_state[values_key] = _suggestion(field, model, train)
        st.session_state[for_key] = field
    item = SWEEPABLE[field]
    text = st.text_input(f"Values of {item.label.lower()}", key=values_key, max_chars=200,
                         placeholder="e.g. 0.0001:0.1:5" if item.log_scale else "e.g. 0,0.25,0.5",
                         help=f"{item.label}: {item.help}. Write {HINTS[item.log_scale]}.")
    try:
        return Axis(field, parse_values(field, text)), []
    except ValueError as error:
        return None, [str(error)]


def build_sweep(model: ModelConfig, train: TrainConfig, preset: Preset, name: str) -> tuple[Sweep | None, list[str]]:
    """The section's widgets; returns the sweep they describe (None until it is readable) and its problems."""
    fields = list(SWEEPABLE)
    first, problems = axis_ui(1, fields, model, train)
    others = [NONE, *(field for field in fields if field != st.session_state.get("sweep_field_1"))]
    if st.session_state.get("sweep_field_2", NONE) not in others:
        st.session_state["sweep_field_2"] = NONE  # it has just become the first setting
    second, more = axis_ui(2, others, model, train)
    problems += more
    st.session_state.setdefault("sweep_seeds", 1)  # not value=1: the value is kept in the session across pages
    seeds = st.number_input("Seeds per value", min_value=1, max_value=MAX_SEEDS, step=1, key="sweep_seeds",
                            help="Trains each value this many times with different seeds (the one above, then the "
                                 "next ones): the summary then shows their mean, and their spread tells luck from "
                                 "a real difference.")
    if first is None or problems:
        return None, problems
    axes = (first,) if second is None else (first, second)
    # The preset's name is kept only while the network still is that preset, as for a single training.
    unchanged = preset.configs() == (model, train)
    sweep = Sweep(model, train, axes, seeds=tuple(range(train.seed, train.seed + int(seeds))),
                  name=(name or preset.title).strip() or "Sweep", preset=preset.name if unchanged else "custom")
    return sweep, sweep.problems(max_trainings())


def _count_caption(sweep: Sweep, cap: int) -> str:
    sizes = " × ".join(f"{len(axis.values)} {_label(axis.field).lower()} values" for axis in sweep.axes)
    seeds = f" × {len(sweep.seeds)} seeds" if len(sweep.seeds) > 1 else ""
    count = sweep.count()
    return f"**{count} training{'s' if count != 1 else ''}** ({sizes}{seeds}); at most {cap} in one sweep here."


def run_sweep(sweep: Sweep) -> None:
    """Queue the sweep's trainings as one series of the learner's, keep its record, and watch it."""
    try:
        record = submit_sweep(state.job_queue(), sweep, owner=owner())
    except (QueueFullError, ConfigError, ValueError, RuntimeError, OSError) as error:
        # ConfigError and RunLimitError are ValueErrors: a value refused, or too many runs kept.
        st.session_state["sweep_error"] = str(error)
        return
    st.session_state[SWEEP_ID_KEY] = record.id


def sweep_ui(model: ModelConfig, train: TrainConfig, preset: Preset, name: str, base_problems: list[str]) -> None:
    """The sweep section, under Training: choose, check, and run a sweep of the current settings."""
    box = folding(LABEL, OPEN_KEY, ":material/stacked_line_chart:")
    if box is None:
        return  # folded: nothing drawn, nothing read (its choices are kept by widgets.keep_controls)
    with box:
        st.caption("Train the network above several times, changing one or two settings, and see the runs side by "
                   "side on the right: which value is best, and does it matter?")
        try:
            cap = max_trainings()
        except ValueError as error:  # a mistyped MNIST_MAX_SWEEP on the server
            st.error(str(error), icon=":material/error:")
            return
        sweep, problems = build_sweep(model, train, preset, name)
        if base_problems:
            # Said once, above; here a plain note rather than the same problem in red again.
            st.caption("Fix the settings marked in red above first: the sweep starts from them.")
            problems = []
            sweep = None
        if sweep is not None:
            st.markdown(_count_caption(sweep, cap))
        for problem in problems:
            st.error(plain(problem), icon=":material/error:")
        me = owner()
        mine = state.job_queue().jobs_of(me)
        reason = ("Fix the settings marked in red above first." if base_problems else
                  "Fix the problems in red first." if problems or sweep is None else
                  f"You have a training under way ({mine[0].name}): a sweep can start once it has finished or is "
                  "stopped." if mine else None)
        if st.button("Run sweep", type="primary", icon=":material/stacked_line_chart:", key="sweep_run",
                     disabled=reason is not None, help=plain(reason) if reason else None, width="stretch"):
            run_sweep(sweep)
            st.rerun()
        if reason and mine and not problems:
            st.caption(plain(reason))
        if "sweep_error" in st.session_state:
            st.warning(plain(st.session_state.pop("sweep_error")))
