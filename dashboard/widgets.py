"""UI pieces that several pages share."""

from __future__ import annotations

import re

import streamlit as st

from mnist_models.runs import RunInfo


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
