"""UI pieces that several pages share."""

from __future__ import annotations

import re

import streamlit as st

from mnist_models.store.runs import RunInfo

CONTROL_KEYS = ("preset", "net_type", "conv_count", "padding", "hidden_count", "activation", "dropout", "batch_norm",
                "batch_norm_momentum",
                "optimizer", "learning_rate", "lr_schedule", "lr_decay", "lr_decay_steps", "min_learning_rate",
                "warmup_fraction", "batch_size", "epochs", "train_size", "validation_size", "seed", "run_name")
LAYER_KEY_PREFIXES = ("units_", "conv_filters_", "conv_kernel_", "conv_stride_", "conv_pool_")
OTHER_KEPT_KEYS = ("lab_step", "lesson_fix")  # the Lab's chosen step and lesson fix


def keep_controls() -> None:
    """Keep the Train page's settings while the learner visits other pages (called by the entry script on
    every run). Streamlit drops a widget's value from the session when a run does not draw that widget, so a
    visit to Runs, or a click on Train's own link, reset every control; values the app assigns are kept, so
    each control's value is assigned back to itself before any page draws."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and (key in CONTROL_KEYS or key in OTHER_KEPT_KEYS
                                     or key.startswith(LAYER_KEY_PREFIXES)):
            st.session_state[key] = st.session_state[key]


def model_ui(runs: list[RunInfo], key: str) -> RunInfo:
    """The Model box: saved runs with a model, the highest test accuracy first (so the default is the best)."""
    ranked = sorted(runs, key=lambda info: info.test_accuracy or 0.0, reverse=True)
    by_id = {info.run_id: info for info in ranked}
    run_id = st.selectbox("Model", list(by_id), format_func=lambda run: by_id[run].label, key=key,
                          help="Every saved run with a model, the highest test accuracy first.")
    return by_id[run_id]


def plain(text: str) -> str:
    """User-given text (a run's name) made safe to put inside Markdown: shown as typed, never as a link or image."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$])", r"\\\1", text)
