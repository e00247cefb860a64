"""The view of a sweep, live: each training's curves on its own small chart coloured by its value, the summary
of a measure against the setting (a heatmap for two), and Stop for the whole sweep. Train's results column shows
it while a sweep is watched; the Lab's learning-rate step shows it too."""

from __future__ import annotations

import datetime as dt
import logging

import streamlit as st

from dashboard import state
from dashboard.identity import is_teacher, owner
from dashboard.live_chart import live_chart
from dashboard.sweep_charts import (
    MAX_PER_ROW,
    Panel,
    heatmap_figure,
    small_multiples_figure,
    small_multiples_height,
    summary_figure,
    value_colours,
)
from dashboard.sweep_ui import SWEEP_ID_KEY
from dashboard.widgets import plain
from mnist_models.jobs.job import NotYourJobError
from mnist_models.jobs.sweep_jobs import stop_sweep
from mnist_models.store.progress import COMPLETED, QUEUED, Progress
from mnist_models.store.runs import RunNotFoundError
from mnist_models.store.sweeps import SweepNotFoundError, SweepRecord
from mnist_models.sweep import MEASURES, SWEEPABLE, format_value, get_sweep, list_sweeps, summarise
from mnist_models.sweep_summary import DEFAULT_MEASURE

log = logging.getLogger(__name__)

LIVE_SECONDS = 1.0  # how often a sweep under way reads its runs' folders
PICK_KEY = "sweep_pick"
SUMMARY_HEIGHT = 380


def status_word(progress: Progress | None) -> str:
    """A training's state in a word or two: waiting, training 40%, done, stopped, failed, deleted."""
    if progress is None:
        return "deleted"
    if progress.waiting:
        return "waiting"
    if not progress.done:
        return f"training {progress.fraction:.0%}"
    return "done" if progress.status == COMPLETED else progress.status


def point_title(record: SweepRecord, point: dict) -> str:
    """A training's values, a line each: "learning rate 0.001" (and "dropout rate 0.5" below it)."""
    return "\n".join(f"{_label(field).lower()} {format_value(field, point[field])}" for field in record.axes)


def point_status(record: SweepRecord, point: dict, progress: Progress | None) -> str:
    """The status line under a small chart's values: its seed when the sweep repeats seeds, then its state."""
    word = status_word(progress)
    return f"seed {point.get('seed')} · {word}" if len(record.seeds) > 1 else word


def grid_columns_of(record: SweepRecord) -> int | None:
    """A two-setting sweep's small charts in a grid, a row per value of the first setting, when that fits."""
    if len(record.axes) != 2:
        return None
    columns = len(list(record.axes.values())[1]) * len(record.seeds)
    return columns if columns <= MAX_PER_ROW else None


def _label(field: str) -> str:
    return SWEEPABLE[field].label if field in SWEEPABLE else field


def _log(field: str) -> bool:
    return field in SWEEPABLE and SWEEPABLE[field].log_scale


def progress_by_run(record: SweepRecord) -> dict[str, Progress]:
    """The sweep's runs' progress, each read once per change for all watchers; deleted runs are left out."""
    found = {}
    for run_id in record.run_ids:
        progress = state.progress_if_any(run_id)
        if progress is not None:
            found[run_id] = progress
    return found


def _version(run_id: str) -> tuple:
    try:
        return state.run_version(run_id)
    except RunNotFoundError:
        return ()


@st.cache_resource(show_spinner=False, max_entries=64)
def _figures(sweep_id: str, versions: tuple, measure: str, _record: SweepRecord) -> tuple[str, str, int]:
    """The small multiples (and their height) and the summary of one published state of a sweep's runs, built once for
    all its watchers; a tick of the live view that finds nothing new costs a stat of each run's files."""
    record = _record
    found = progress_by_run(record)
    first = next(iter(record.axes))
    colours = value_colours([point[first] for point in record.points], log=_log(first))
    panels = [Panel(point_title(record, point), point_status(record, point, found.get(run_id)),
                    colours[point[first]], found[run_id].curves() if run_id in found else {})
              for point, run_id in zip(record.points, record.run_ids, strict=True)]
    planned = max((progress.epochs for progress in found.values()), default=0)
    columns = grid_columns_of(record)
    multiples = small_multiples_figure(panels, epochs=planned or None, columns=columns)
    summary = summarise(record, found, measure)
    fields = list(record.axes)
    labels = [_label(field) for field in fields]
    if len(fields) == 2:
        figure = heatmap_figure(summary, (fields[0], fields[1]), (labels[0], labels[1]), MEASURES[measure],
                                values=(record.axes[fields[0]], record.axes[fields[1]]), height=SUMMARY_HEIGHT)
    else:
        figure = summary_figure(summary, fields[0], labels[0], MEASURES[measure], values=record.axes[fields[0]],
                                log=_log(fields[0]), height=SUMMARY_HEIGHT)
    return multiples.to_json(), figure.to_json(), small_multiples_height(panels, columns)


def stop(record: SweepRecord, key: str) -> None:
    """Stop Sweep's click: every training of the sweep still waiting or under way; a refusal is kept to be said."""
    try:
        stop_sweep(state.job_queue(), record, owner(), teacher=is_teacher())
    except (NotYourJobError, OSError) as error:
        st.session_state[f"{key}_error"] = str(error)


def _counts(found: dict[str, Progress], record: SweepRecord) -> str:
    waiting = sum(1 for progress in found.values() if progress.status == QUEUED)
    training = sum(1 for progress in found.values() if not progress.done and not progress.waiting)
    done = sum(1 for progress in found.values() if progress.done)
    gone = len(record.run_ids) - len(found)
    parts = [f"{done} of {len(record.run_ids)} done", f"{training} training", f"{waiting} waiting"]
    return " · ".join(parts + ([f"{gone} deleted"] if gone else []))


def sweep_view_ui(record: SweepRecord, key: str = "sweep") -> None:
    """The live view of one sweep; `key` keeps two views' widgets apart (Train's and the Lab's)."""
    found = progress_by_run(record)
    active = any(not progress.done for progress in found.values())
    fields = list(record.axes)

    @st.fragment(run_every=LIVE_SECONDS if active else None)
    def live() -> None:
        now = progress_by_run(record)
        still = any(not progress.done for progress in now.values())
        top = st.columns([2, 1], vertical_alignment="center")
        fraction = sum(1.0 if progress.done else progress.fraction for progress in now.values()) / max(
            1, len(record.run_ids))
        top[0].progress(fraction, text=_counts(now, record))
        allowed = record.owner == owner() or is_teacher()
        if top[1].button("Stop sweep", icon=":material/stop:", key=f"{key}_stop", disabled=not (still and allowed),
                         width="stretch", help="Stops its trainings under way and cancels the waiting ones; what "
                                               "they trained so far stays." if allowed else
                                               "Only the learner who started this sweep, or a teacher, can stop it."):
            stop(record, key)
            st.rerun()
        versions = tuple(_version(run_id) for run_id in record.run_ids)
        measure = st.session_state.get(f"{key}_measure", DEFAULT_MEASURE)
        multiples, summary, height = _figures(record.id, versions, measure, record)
        st.markdown("**Each training**: train (dashed) and test accuracy")
        live_chart(multiples, key=f"{key}_multiples", height=height)
        first = _label(fields[0]).lower()
        st.caption(f"Colour: {first}, dark for small values, light for large. Dashed: the training images; "
                   "solid, with a dot per epoch: the test images.")
        st.radio("Summarise by", list(MEASURES), format_func=MEASURES.get, key=f"{key}_measure", horizontal=True,
                 help="Best: the highest test accuracy over the epochs. Final: at the last epoch. Gap: how much "
                      "better the network does on its training images than on the test images (larger: more "
                      "overfitting).")
        live_chart(summary, key=f"{key}_summary", height=SUMMARY_HEIGHT)
        if len(record.seeds) > 1:
            st.caption(f"Each value's mean over its {len(record.seeds)} seeds; the band spans the lowest to the "
                       "highest seed. Where bands overlap, the difference may be luck.")
        if active and not still:
            st.rerun()  # all done: a full run turns the timer off and updates the buttons

    if f"{key}_error" in st.session_state:
        st.warning(plain(st.session_state.pop(f"{key}_error")))
    live()


def _sweep_label(record: SweepRecord) -> str:
    when = dt.datetime.fromtimestamp(record.created).strftime("%d %b %H:%M")
    return f"{when} · {record.name} · {' × '.join(_label(field).lower() for field in record.axes)}"


def train_sweep_ui() -> bool:
    """On Train's results column: the watched sweep with a box to pick another of the learner's sweeps and a way
    back to single runs (True), or only a button to open them when no sweep is watched (False)."""
    me = owner()
    store = state.run_store()
    try:
        sweeps = list_sweeps(store, me)
    except (OSError, ValueError) as error:
        log.warning("The learner's sweeps cannot be listed: %r", error)
        sweeps = []
    watched = st.session_state.get(SWEEP_ID_KEY)
    if watched is None:
        if sweeps and st.button("Show my sweeps", icon=":material/stacked_line_chart:", key="sweep_show"):
            st.session_state[SWEEP_ID_KEY] = sweeps[0].id
            st.rerun()
        return False
    try:
        record = get_sweep(store, me, watched)
    except (SweepNotFoundError, ValueError):
        st.session_state.pop(SWEEP_ID_KEY, None)
        return False
    by_id = {sweep.id: sweep for sweep in sweeps} | {record.id: record}
    if st.session_state.get(PICK_KEY) != watched:
        st.session_state[PICK_KEY] = watched  # Run sweep (or Try three) has just chosen a new one
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.selectbox("Sweep", list(by_id), key=PICK_KEY, format_func=lambda sweep_id: _sweep_label(by_id[sweep_id]),
                   on_change=lambda: st.session_state.update({SWEEP_ID_KEY: st.session_state[PICK_KEY]}),
                   help="Your sweeps, newest first.")
    if right.button("Single runs", icon=":material/arrow_back:", key="sweep_back", width="stretch",
                    help="Back to watching one training at a time."):
        st.session_state.pop(SWEEP_ID_KEY, None)
        st.rerun()
    sweep_view_ui(record)
    return True
