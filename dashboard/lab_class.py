"""The Lab's part in a class: predict before you run (and the guess beside what happened), and the choice offered
when an identical training has already finished (take that result, or train anew with another seed)."""

from __future__ import annotations

import contextlib
import dataclasses

import streamlit as st

from dashboard import state
from dashboard.identity import is_teacher, owner
from dashboard.learner_ui import learner_book
from dashboard.widgets import plain
from mnist_models import course
from mnist_models.course import PREDICT_CHOICES, Step
from mnist_models.jobs import JobSpec
from mnist_models.store.run_info import RunInfo


def record_step(step: Step) -> None:
    """Tell the teacher's Class page which step this learner is on (written only when it changes; the teacher,
    browsing the Lab, is not one of the learners)."""
    if is_teacher():
        return
    # On a failure the Class page misses one learner's step; the learner's own page must not fail for it.
    with contextlib.suppress(ValueError, OSError):
        learner_book().record_step(owner(), step.id)


def _save_guess(step: Step) -> None:
    percent, choice = st.session_state.get(f"guess_{step.id}"), st.session_state.get(f"guess_choice_{step.id}")
    try:
        if percent is None or choice is None:
            raise ValueError("Give both: the test accuracy you expect, and your answer to the question.")
        learner_book().record_guess(owner(), step.id, float(percent) / 100, choice)
    except (ValueError, OSError) as error:
        st.session_state["guess_error"] = str(error)


def prediction_ui(step: Step, best: RunInfo | None, previous: RunInfo | None) -> None:
    """Before the step's first result: a guess of its test accuracy and an answer to the step's question. After
    it: the guess beside what happened."""
    if not step.predict:
        return
    learner = learner_book().get(owner())
    guess = learner.guess(step.id) if learner is not None else None
    if best is not None:
        if guess is None:
            return
        history = state.run_store().load_history(best.run_id)
        answer = course.outcome(step, history["test"], best.test_accuracy,
                                previous.test_accuracy if previous is not None else None)
        verdict = "" if answer is None else (" ✓" if answer == guess.choice else " ✗")
        st.markdown(f"**Your prediction:** {guess.accuracy:.1%} and *{plain(guess.choice)}* to “{plain(step.predict)}” "
                    f"· **What happened:** {best.test_accuracy:.2%}"
                    + (f" and *{answer}*{verdict}" if answer is not None else ""))
        return
    with st.expander("Predict before you run", expanded=guess is None, icon=":material/psychology_alt:"):
        if guess is not None:
            st.caption(f"Saved: {guess.accuracy:.1%} and “{plain(guess.choice)}”. Change it until you train.")
        columns = st.columns([1, 2])
        columns[0].number_input("Test accuracy you expect (%)", min_value=0.0, max_value=100.0, step=0.5,
                                value=None, key=f"guess_{step.id}", placeholder="e.g. 95")
        columns[1].radio(step.predict, PREDICT_CHOICES, index=None, horizontal=True, key=f"guess_choice_{step.id}")
        st.button("Save my prediction", key=f"save_guess_{step.id}", on_click=_save_guess, args=(step,))
        if "guess_error" in st.session_state:
            st.warning(plain(st.session_state.pop("guess_error")))


def another_seed(spec: JobSpec) -> JobSpec:
    """The same training with the next seed that no finished run of this network has used."""
    queue, seed = state.job_queue(), spec.train.seed + 1
    while queue.identical_result(dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=seed))):
        seed += 1
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=seed))


def _take(key: str, run_id: str) -> None:
    state.job_queue().take_result(run_id, owner())
    st.session_state.pop(key, None)


def _again(key: str, spec: JobSpec, submit, show_seed) -> None:
    st.session_state.pop(key, None)
    fresh = another_seed(spec)
    if show_seed is not None:
        show_seed(fresh.train.seed)  # the page shows the seed it trains (a callback runs before the widgets)
    submit(fresh)


def identical_choice_ui(key: str, submit, show_seed=None) -> None:
    """When the learner asked for a training that has already finished identically: take that result (at once,
    credited to them) or train anew with another seed. `submit(spec)` queues a spec the page's way;
    `show_seed(seed)`, if given, puts the new seed into the page's controls."""
    pending = st.session_state.get(key)
    if not pending:
        return
    spec, run_id = pending
    try:
        found = state.run_store().get(run_id)
    except LookupError:
        st.session_state.pop(key, None)
        return
    yours = found.owned_by(owner())
    with st.container(border=True):
        st.markdown(f"This exact training (same network, settings and seed) already finished as *{plain(found.name)}*"
                    f": **{found.test_accuracy:.2%}** on the test images. On the same machine it would give the same "
                    "result again." + (" It is yours already." if yours else ""))
        columns = st.columns(3)
        if not yours:
            columns[0].button("Take that result", type="primary", key=f"{key}_take", on_click=_take,
                              args=(key, run_id))
        columns[1].button("Train anew with another seed", key=f"{key}_again", on_click=_again,
                          args=(key, spec, submit, show_seed))
        columns[2].button("Never mind", key=f"{key}_cancel", on_click=st.session_state.pop, args=(key, None))
