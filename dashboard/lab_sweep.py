"""The Lab's learning-rate sweep: one button trains the Adam step's network at three learning rates ten times apart,
briefly enough for a lesson, and shows the sweep view beside the step's text, live."""

from __future__ import annotations

import dataclasses

import streamlit as st

from dashboard import state
from dashboard.identity import owner
from dashboard.sweep_view import sweep_view_ui
from dashboard.widgets import plain
from mnist_models.config import ConfigError
from mnist_models.course import Step
from mnist_models.jobs.job import QueueFullError
from mnist_models.jobs.sweep_jobs import submit_sweep
from mnist_models.presets import PRESETS
from mnist_models.store.sweeps import SweepNotFoundError, SweepRecord
from mnist_models.sweep import Axis, Sweep, get_sweep, list_sweeps

LESSON = "learning-rate-sweep"  # the course step's `lesson`
SWEEP_KEY = "lab_sweep_id"
PRESET = "five-layer-relu-adam"  # the previous step's network
RATES = (0.0003, 0.003, 0.03)  # the preset's rate, a tenth of it and ten times it
EPOCHS = 2
TRAIN_SIZE = 10_000  # a sixth of the images: three trainings then take about as long as one of the Adam step
NAME = "Lab: learning-rate sweep"


def lesson_sweep() -> Sweep:
    """The lesson's sweep: the Adam step's network at three learning rates, 2 epochs on 10,000 images, one seed.

    Its runs are "custom", not the preset's: shortened, they must not count as the learner's Adam step."""
    model, train = PRESETS[PRESET].configs()
    train = dataclasses.replace(train, epochs=EPOCHS, train_size=TRAIN_SIZE)
    return Sweep(model, train, (Axis("learning_rate", RATES),), seeds=(train.seed,), name=NAME, preset="custom")


def latest_lesson_sweep(me: str) -> SweepRecord | None:
    """The sweep this browser session started here, or else the learner's latest lesson sweep (a new session)."""
    store = state.run_store()
    wanted = st.session_state.get(SWEEP_KEY)
    if wanted is not None:
        try:
            return get_sweep(store, me, wanted)
        except (SweepNotFoundError, ValueError):
            st.session_state.pop(SWEEP_KEY, None)
    try:
        return next((record for record in list_sweeps(store, me) if record.name == NAME), None)
    except (OSError, ValueError):
        return None


def lesson_ui(step: Step) -> None:
    """The step's button and its sweep, live."""
    sweep = lesson_sweep()
    rates = ", ".join(f"{rate:g}" for rate in RATES)
    st.markdown(f"Train the Adam step's network three times, identical but for the learning rate: **{rates}**, "
                f"each ten times the last. Each training is short ({EPOCHS} epochs on {TRAIN_SIZE:,} images), so "
                "the three fit in a lesson; they appear side by side below as they train.")
    me = owner()
    mine = state.job_queue().jobs_of(me)
    if st.button("Run the learning-rate sweep", type="primary", icon=":material/stacked_line_chart:",
                 key=f"lab_sweep_{step.id}", disabled=bool(mine),
                 help=f"Queues {len(RATES)} trainings, one per learning rate."):
        try:
            record = submit_sweep(state.job_queue(), sweep, owner=me)
        except (QueueFullError, ConfigError, ValueError, RuntimeError, OSError) as error:
            st.session_state["lab_sweep_error"] = str(error)
        else:
            st.session_state[SWEEP_KEY] = record.id
        st.rerun()
    if mine:
        st.caption(f"You have a training under way ({plain(mine[0].name)}); one at a time per learner.")
    if "lab_sweep_error" in st.session_state:
        st.warning(plain(st.session_state.pop("lab_sweep_error")))
    record = latest_lesson_sweep(me)
    if record is None:
        st.info("Press **Run the learning-rate sweep**: each rate's accuracy grows on its own small chart, and the "
                "summary compares them. Meanwhile, think about the question on the left.",
                icon=":material/model_training:")
        return
    sweep_view_ui(record, key="lab_sweep")
