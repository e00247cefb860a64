"""UI pieces that several pages share."""

from __future__ import annotations

import streamlit as st

from dashboard import presentation
from dashboard.controls_spec import is_control_key
from dashboard.safe_text import plain as plain  # the pages' one way to show user text in Markdown
from mnist_models.store.runs import RunInfo

# The Lab's chosen step and lesson fix, and Train's sweep choices (drawn only while their section is open).
OTHER_KEPT_KEYS = ("lab_step", "lesson_fix", "sweep_field_1", "sweep_field_2", "sweep_values_1", "sweep_values_2",
                   "sweep_seeds")


def keep_controls() -> None:
    """Keep the Train page's settings while the learner visits other pages (called by the entry script on
    every run). Streamlit drops a widget's value from the session when a run does not draw that widget, so a
    visit to Runs, or a click on Train's own link, reset every control; values the app assigns are kept, so
    each control's value is assigned back to itself before any page draws."""
    for key in list(st.session_state.keys()):
        if is_control_key(key) or key in OTHER_KEPT_KEYS:
            st.session_state[key] = st.session_state[key]


def folding(label: str, key: str, icon: str):
    """A folded section of a page that draws its content only while it is open: its container, or None while it
    is closed (nothing in it is drawn or read then, which keeps a page with several such sections quick to open).
    In presentation mode a toggle opens it instead: the settings are already folded into one expander there, and
    Streamlit cannot nest expanders."""
    if presentation.presenting():
        if not st.toggle(label, key=f"{key}_toggle"):
            return None
        return st.container(border=True)
    box = st.expander(label, key=key, on_change="rerun", icon=icon)
    return box if box.open is not False else None


def model_ui(runs: list[RunInfo], key: str) -> RunInfo:
    """The Model box: saved runs with a model, the highest test accuracy first (so the default is the best)."""
    ranked = sorted(runs, key=lambda info: info.test_accuracy or 0.0, reverse=True)
    by_id = {info.run_id: info for info in ranked}
    run_id = st.selectbox("Model", list(by_id), format_func=lambda run: by_id[run].label, key=key,
                          help="Every saved run with a model, the highest test accuracy first.")
    return by_id[run_id]

