"""Runs: every saved training run, its curves and settings, side-by-side comparisons, rename and delete."""

from __future__ import annotations

import datetime as dt
import functools
import logging

import pandas as pd
import streamlit as st

from dashboard import charts, state
from dashboard.identity import is_teacher, owner
from dashboard.live_chart import live_chart
from dashboard.runs_parallel import parallel_ui
from dashboard.safe_text import code
from dashboard.widgets import plain
from mnist_models import config as cfg
from mnist_models.store import export
from mnist_models.store.progress import INTERRUPTED, QUEUED
from mnist_models.store.runs import ACTIVE_STATUSES, NotYourRunError, RunInfo, RunNotFoundError

log = logging.getLogger(__name__)

def runs_table_ui(runs: list[RunInfo]) -> RunInfo | None:
    """The table of runs, newest first; returns the run whose row is selected."""
    frame = pd.DataFrame([{
        "name": info.name,
        "status": info.status,
        "test accuracy": info.test_accuracy,
        "epochs": f"{info.epochs_completed}/{info.epochs}",
        "started": dt.datetime.fromtimestamp(info.created),
        "preset": info.preset or "custom",
        "parameters": info.params,
        "minutes": round(info.seconds / 60, 1),
        "device": info.device,
        "run id": info.run_id,
    } for info in runs])
    event = st.dataframe(
        frame, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="runs_table",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        },
    )
    rows = event.selection.rows if event is not None else []
    return runs[rows[0]] if rows else None


def details_ui(info: RunInfo) -> None:
    """Curves, settings and (for its owner and the teacher) actions for one run."""
    store = state.run_store()
    st.subheader(plain(info.name))
    try:
        history = store.load_history(info.run_id)
        model, train = store.load_configs(info.run_id)
    except (OSError, ValueError, RunNotFoundError) as error:
        log.warning("Run %s cannot be read: %r", info.run_id, error)
        st.error(f"This run's files cannot be read ({type(error).__name__}): they may be damaged or from another "
                 "program. Other runs are not affected; delete this one if it stays broken.")
        return
    if info.error:
        st.error(f"Training failed: {plain(info.error)}")
    if info.status == INTERRUPTED:
        st.warning("This run's training process ended without finishing (the server stopped or crashed). "
                   "Its curves up to then are kept" + (", and its last saved model works on Draw." if info.has_model
                                                      else "."))
    columns = st.columns(2)
    with columns[0]:
        live_chart(charts.accuracy_figure(history), key=f"accuracy_{info.run_id}")
    with columns[1]:
        live_chart(charts.loss_figure(history), key=f"loss_{info.run_id}")
    with st.expander("Settings"):
        st.json({"model": cfg.to_dict(model), "train": cfg.to_dict(train)})
    downloads_ui(info, history)
    if info.owned_by(owner()) or is_teacher():
        actions_ui(info)


def _change(action, *args, **options) -> None:
    """Run a rename or delete; a refusal or a failure is kept for the page to say, never raised."""
    try:
        action(*args, owner=owner(), teacher=is_teacher(), **options)
    except (RunNotFoundError, NotYourRunError, ValueError, OSError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        st.session_state["runs_error"] = f"That did not work: {reason}"


def actions_ui(info: RunInfo) -> None:
    """Rename and Delete, for the run's owner and the teacher only (the store checks it again)."""
    store = state.run_store()
    actions = st.columns([3, 1, 1], vertical_alignment="bottom")
    with actions[0]:
        new_name = st.text_input("Rename", value=info.name, max_chars=80, key=f"name_{info.run_id}")
    with actions[1]:
        st.button("Save name", key=f"rename_{info.run_id}", disabled=new_name.strip() in ("", info.name),
                  on_click=_change, args=(store.rename, info.run_id, new_name))
    active = info.status in (*ACTIVE_STATUSES, QUEUED)
    with actions[2], st.popover("Delete", disabled=active,
                                help="Stop (or cancel) a training on Train before deleting it." if active else None):
        st.write(f"Delete **{plain(info.name)}** and its model for good?")
        st.button("Yes, delete", type="primary", key=f"delete_{info.run_id}", on_click=_change,
                  args=(store.delete, info.run_id))


def downloads_ui(info: RunInfo, history: dict[str, list[dict[str, float]]]) -> None:
    """Buttons that take the trained model (for Keras) and the curves (for a spreadsheet or pandas) away."""
    columns = st.columns(2)
    with columns[0]:
        try:
            model_path = state.run_store().model_path(info.run_id)
        except RunNotFoundError:
            st.caption("No model to download yet: it is saved when the first epoch ends."
                       if info.status in (*ACTIVE_STATUSES, QUEUED) else
                       "No model to download: this run ended before its first epoch, so none was saved.")
        else:
            # A callable is only called when the learner clicks, so selecting a run never reads its model file.
            st.download_button("Download model (.keras)", data=model_path.read_bytes, file_name=f"{info.run_id}.keras",
                               mime="application/octet-stream", on_click="ignore", icon=":material/download:",
                               key=f"download_model_{info.run_id}",
                               help="Load it with `keras.saving.load_model(...)` to predict in your own code.")
    with columns[1]:
        st.download_button("Download curves (.csv)", data=functools.partial(export.history_csv, history),
                           file_name=f"{info.run_id}-curves.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:", key=f"download_curves_{info.run_id}",
                           help="One row per curve point: curve (train, validation, test), epoch, step, loss, "
                                "accuracy.")


def compare_ui(runs: list[RunInfo]) -> None:
    """Overlay the test curves of several runs, e.g. with and without dropout."""
    by_label = {f"{info.name} ({info.run_id[-6:]})": info for info in runs}
    chosen = st.multiselect("Compare test curves of", list(by_label), max_selections=6, key="compare_runs",
                            placeholder="Choose runs to overlay, e.g. the same network with and without dropout")
    if not chosen:
        return
    store = state.run_store()
    curves = {}
    for label in chosen:
        try:
            curves[label] = store.load_history(by_label[label].run_id)
        except (OSError, ValueError, RunNotFoundError):
            st.warning(f"{plain(label)}: its curves cannot be read.")
    columns = st.columns(2)
    with columns[0]:
        live_chart(charts.comparison_figure(curves, "accuracy"), key="compare_accuracy")
    with columns[1]:
        live_chart(charts.comparison_figure(curves, "loss"), key="compare_loss")
    columns = st.columns(2)
    with columns[0]:
        live_chart(charts.gap_figure(curves, "accuracy"), key="compare_gap_accuracy")
    with columns[1]:
        live_chart(charts.gap_figure(curves, "loss"), key="compare_gap_loss")
    st.caption("**Overfitting gap**: at each test point, how much better the network does on the images it trains "
               "on than on test images it has never seen. A gap that keeps growing means overfitting: the network "
               "learns the training images by heart instead of what makes a digit. Dropout and more training "
               "images keep it small (with dropout the train curve is measured with neurons dropped, so the gap "
               "can even fall below zero).")


def page() -> None:
    st.title("Saved runs")
    if "runs_error" in st.session_state:
        st.error(plain(st.session_state.pop("runs_error")))
    runs = state.run_store().list()
    if not runs:
        st.info("No runs yet. Train a network on the **Train** page (or with `python -m mnist_models train "
                "--preset softmax`); every run is saved here.")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    st.caption(f"{len(runs)} run(s) in {code(state.run_store().root)}. Select a row to see its curves and settings.")
    selected = runs_table_ui(runs)
    compare_ui(runs)
    if selected is not None:
        details_ui(selected)  # right under the table, where the learner just picked the row
    parallel_ui(runs)


page()
