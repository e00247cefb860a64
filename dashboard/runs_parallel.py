"""Runs' parallel coordinates: chosen runs' settings and results as axes, one line per run; clicking a line (or
choosing it in the box below) shows that run's curves."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping, Sequence

import streamlit as st

from dashboard import charts, state
from dashboard.identity import owner
from dashboard.live_chart import clicked_value, live_chart
from dashboard.sweep_charts import ParallelAxis, parallel_figure
from dashboard.widgets import plain
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.progress import Progress
from mnist_models.store.runs import RunInfo, RunNotFoundError
from mnist_models.sweep import list_sweeps, measure_value

log = logging.getLogger(__name__)

RUNS_KEY = "parallel_runs"
SWEEP_KEY = "parallel_sweep"
PICK_KEY = "parallel_pick"
CHART_KEY = "parallel_chart"
LATEST = 5  # the learner's latest runs chosen at first
MAX_RUNS = 30  # beyond a few dozen lines parallel coordinates turn into a thicket

SETTING_AXES = (
    ParallelAxis("learning_rate", "learning rate", log=True),
    ParallelAxis("batch_size", "batch size", log=True),
    ParallelAxis("dropout_rate", "dropout"),
    ParallelAxis("epochs", "epochs"),
    ParallelAxis("train_size", "training images", log=True),
    ParallelAxis("layers", "layers"),
    ParallelAxis("params", "parameters", log=True),
)
RESULT_AXES = (
    ParallelAxis("test_accuracy", "test accuracy", percent=True),
    ParallelAxis("best_validation", "best validation accuracy", percent=True),
    ParallelAxis("gap", "train − test gap (points)", decimals=1),
)

HEADING = "Settings and results side by side"
PARALLEL_HEIGHT = 440


def run_row(info: RunInfo, model: ModelConfig, train: TrainConfig, progress: Progress | None) -> dict:
    """One run's line: its settings and results by axis key, with its id and label (results None until known)."""
    validation = [point.accuracy for point in progress.validation if math.isfinite(point.accuracy)] if progress else []
    return {
        "run_id": info.run_id, "label": info.name,
        "learning_rate": train.learning_rate, "batch_size": train.batch_size, "dropout_rate": model.dropout_rate,
        "epochs": train.epochs, "train_size": train.train_size,
        "layers": len(model.hidden_units) + len(model.conv_layers), "params": info.params,
        "test_accuracy": info.test_accuracy, "best_validation": max(validation, default=None),
        # The train-test gap as the sweep's summary measures it, in percentage points.
        "gap": None if progress is None or (gap := measure_value(progress, "gap")) is None else gap * 100,
    }


def chosen_axes(rows: Sequence[Mapping]) -> list[ParallelAxis]:
    """The settings that differ among the runs (the learning rate when none do), then every result: an axis on
    which all lines meet says nothing and crowds the others."""
    varying = [axis for axis in SETTING_AXES if len({row.get(axis.key) for row in rows}) > 1]
    return [*(varying or SETTING_AXES[:1]), *RESULT_AXES]


def shared_settings(rows: Sequence[Mapping]) -> str:
    """The settings every run shares, as a sentence's list: "batch size 100, dropout 0, ..."."""
    same = [axis for axis in SETTING_AXES if rows and len({row.get(axis.key) for row in rows}) == 1]
    return ", ".join(f"{axis.label} {axis.text(rows[0].get(axis.key))}" for axis in same)


@st.cache_resource(show_spinner=False, max_entries=512)
def _configs(run_id: str) -> tuple[ModelConfig, TrainConfig]:
    # A run's settings never change once it is queued: read once per server, whatever the number of learners.
    return state.run_store().load_configs(run_id)


def rows_of(runs: Sequence[RunInfo]) -> list[dict]:
    """The lines of the runs whose files can be read (a damaged or deleted run is left out, and logged)."""
    rows = []
    for info in runs:
        try:
            model, train = _configs(info.run_id)
        except (OSError, ValueError, RunNotFoundError) as error:
            log.warning("Run %s left out of the parallel coordinates: %r", info.run_id, error)
            continue
        rows.append(run_row(info, model, train, state.progress_if_any(info.run_id)))
    return rows


def _sweeps_of(me: str) -> list:
    try:
        return list_sweeps(state.run_store(), me)
    except (OSError, ValueError) as error:
        log.warning("The learner's sweeps cannot be listed: %r", error)
        return []


def _choose_sweep(sweeps: Mapping[str, object], by_id: Mapping[str, RunInfo]) -> None:
    sweep = sweeps.get(st.session_state.get(SWEEP_KEY))
    if sweep is not None:
        st.session_state[RUNS_KEY] = [run_id for run_id in dict.fromkeys(sweep.run_ids) if run_id in by_id][:MAX_RUNS]
        st.session_state.pop(PICK_KEY, None)


def _picked_on_chart() -> None:
    """The chart's click: the clicked marker's customdata is its run id (the live chart's `clicked`; with
    st.plotly_chart, where static serving is off, its selection's first point)."""
    run_id = clicked_value(st.session_state.get(CHART_KEY))
    if isinstance(run_id, str):
        st.session_state[PICK_KEY] = run_id


def runs_choice_ui(runs: list[RunInfo]) -> list[RunInfo]:
    """The runs to draw: the learner's latest few at first, any runs, or the runs of one of their sweeps."""
    me = owner()
    by_id = {info.run_id: info for info in runs}
    sweeps = {sweep.id: sweep for sweep in _sweeps_of(me)}
    if sweeps:
        st.selectbox("Runs of a sweep", list(sweeps), index=None, key=SWEEP_KEY, on_change=_choose_sweep,
                     args=(sweeps, by_id), format_func=lambda sweep_id: sweeps[sweep_id].name,
                     placeholder="Choose one of your sweeps to draw its runs")
    if RUNS_KEY not in st.session_state:
        mine = [info.run_id for info in runs if info.owned_by(me)]
        st.session_state[RUNS_KEY] = (mine or list(by_id))[:LATEST]
    st.session_state[RUNS_KEY] = [run_id for run_id in st.session_state[RUNS_KEY] if run_id in by_id]
    chosen = st.multiselect("Runs to draw", list(by_id), key=RUNS_KEY, max_selections=MAX_RUNS,
                            format_func=lambda run_id: f"{by_id[run_id].name} ({run_id[-6:]})",
                            placeholder="Choose the runs to compare")
    return [by_id[run_id] for run_id in chosen]


def figure_json(rows: Sequence[Mapping], picked: str | None) -> str:
    """The chart of these lines as JSON, built once per server for the same lines (whoever opens Runs): building
    a Plotly figure of 30 lines took about 30 ms of every Runs view."""
    return _figure_json(tuple(tuple(row.items()) for row in rows), picked)


@functools.lru_cache(maxsize=64)
def _figure_json(rows: tuple[tuple[tuple[str, object], ...], ...], picked: str | None) -> str:
    lines = [dict(row) for row in rows]
    return parallel_figure(lines, chosen_axes(lines), picked=picked, colour_by="test_accuracy",
                           height=PARALLEL_HEIGHT).to_json()


def parallel_ui(runs: list[RunInfo]) -> None:
    """Parallel coordinates of the chosen runs; the picked run's curves below."""
    st.subheader(HEADING)
    st.caption("One line per run, through one axis per setting that differs and one per result, each axis from "
               "the lowest to the highest value among the runs. **Click a line** (on one of its dots) to see that "
               "run's curves below.")
    chosen = runs_choice_ui(runs)
    rows = rows_of(chosen)
    if len(rows) < 2:
        st.info("Choose at least two runs to draw them side by side.", icon=":material/timeline:")
        return
    ids = [row["run_id"] for row in rows]
    if st.session_state.get(PICK_KEY) not in ids:
        st.session_state.pop(PICK_KEY, None)
    picked = st.session_state.get(PICK_KEY)
    # Drawn by the live charts' plotly.js (the basic bundle, which browsers keep compiled between tabs) rather
    # than Streamlit's full one: that took each new tab about half a second to compile.
    live_chart(figure_json(rows, picked), key=CHART_KEY, height=PARALLEL_HEIGHT, on_click=_picked_on_chart,
               mode_bar=False)
    if shared := shared_settings(rows):
        st.caption(f"All these runs share: {plain(shared)}. Lines are coloured by test accuracy (dark: lower).")
    labels = {row["run_id"]: f"{row['label']} ({row['run_id'][-6:]})" for row in rows}
    run_id = st.selectbox("Show the curves of", ids, index=None, key=PICK_KEY, format_func=labels.get,
                          placeholder="Click a line above, or choose a run")
    if run_id is not None:
        curves_ui(run_id, labels[run_id])


def curves_ui(run_id: str, label: str) -> None:
    progress = state.progress_if_any(run_id)
    if progress is None:
        st.info("This run has been deleted.")
        return
    st.markdown(f"**Curves of {plain(label)}**")
    columns = st.columns(2)
    curves = progress.curves()
    with columns[0]:
        live_chart(charts.accuracy_figure(curves, height=320), key=f"parallel_accuracy_{run_id}", height=320)
    with columns[1]:
        live_chart(charts.loss_figure(curves, height=320), key=f"parallel_loss_{run_id}", height=320)
