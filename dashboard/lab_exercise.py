"""A Lab step's "your turn", as the codelab's TO DO cells: the previous step's code with the gap marked, Check (the
learner's network against the step's, layer by layer), Show the solution, and Train my code."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.code_box import code_error_ui, editor_style, kept_text_area
from dashboard.identity import owner
from dashboard.lab_class import identical_choice_ui
from dashboard.live_view import progress_bar_ui
from dashboard.widgets import plain
from mnist_models import course, exercises
from mnist_models.budget import budget_problems
from mnist_models.config import ConfigError
from mnist_models.course import Step
from mnist_models.exercises import Verdict
from mnist_models.jobs.queue import JobSpec, QueueFullError
from mnist_models.store.runs import RunInfo


def _keys(step: Step) -> dict[str, str]:
    """The session keys of a step's exercise. The code is kept under a key of its own too, so it survives while
    the learner visits other steps and pages (Streamlit forgets the value of a widget a run does not draw)."""
    stem = f"exercise_{step.id}"
    return {"code": f"{stem}_code", "saved": f"_{stem}_text", "checked": f"_{stem}_checked",
            "solution": f"_{stem}_solution", "run": f"_{stem}_run", "error": f"_{stem}_error",
            "identical": f"_{stem}_identical"}


def run_name(step: Step) -> str:
    return f"{step.title} (my code)"


def _start_again(step: Step) -> None:
    """The "Start again" button: the starting code back in the box (a callback: the box is drawn after it)."""
    keys = _keys(step)
    st.session_state[keys["code"]] = exercises.starting_code(step)
    st.session_state.pop(keys["checked"], None)


def _flip_solution(key: str) -> None:
    st.session_state[key] = not st.session_state.get(key, False)


def verdict_ui(verdict: Verdict, text: str) -> None:
    """What Check found: a match (and how the training differs, if it does), the hint, or why it cannot be read."""
    if not verdict.readable:
        code_error_ui(text, verdict.message, verdict.line)
    elif verdict.matches:
        st.success(plain(verdict.message), icon=":material/check_circle:")
        if verdict.training_note:
            # Check is about the network; the training is the learner's to choose, so this is a note, not a miss.
            note = verdict.training_note[0].lower() + verdict.training_note[1:]
            st.info(f"To train it as this step does: {plain(note)} **Train my code** trains it as your code "
                    "says.", icon=":material/info:")
    else:
        st.warning(plain(verdict.message), icon=":material/lightbulb:")


def submit(step: Step, spec: JobSpec) -> None:
    """Queue the learner's network the way the step's own button does, or keep why it could not be queued."""
    keys = _keys(step)
    try:
        st.session_state[keys["run"]] = state.job_queue().submit_series([spec], owner=owner())[0]
    except (QueueFullError, ConfigError, RuntimeError, OSError) as error:
        st.session_state[keys["error"]] = str(error)


def train_my_code(step: Step, text: str) -> None:
    """Train the network the code describes (read again now: the box may have changed since the page was drawn)."""
    keys = _keys(step)
    verdict = exercises.check(step, text)
    if not verdict.readable:
        st.session_state[keys["checked"]] = text  # shows why, under the buttons
        return
    model, train = verdict.model, verdict.train
    if train.fine_tune_from:
        st.session_state[keys["error"]] = ("Train my code trains from new weights: remove FINE_TUNE_FROM from the "
                                           "code.")
        return
    # The step's own preset when the code is exactly the step's, so the run counts as the step's on the Lab.
    preset = step.preset if step.trains.configs() == (model, train) else "custom"
    spec = JobSpec(model, train, preset, run_name(step))
    # A classmate's identical training under way is joined by the queue; a finished one is offered instead.
    done = state.job_queue().identical_result(spec)
    if done is not None:
        st.session_state[keys["identical"]] = (spec, done.run_id)
    else:
        submit(step, spec)


def _my_latest_run(step: Step) -> RunInfo | None:
    """The learner's latest training of their code for this step (the one this session queued, else by name)."""
    keys = _keys(step)
    store, me = state.run_store(), owner()
    wanted = st.session_state.get(keys["run"])
    runs = [info for info in store.list() if info.owned_by(me)]
    return next((info for info in runs if info.run_id == wanted), None) or next(
        (info for info in sorted(runs, key=lambda info: info.created, reverse=True) if info.name == run_name(step)),
        None)


def my_run_ui(step: Step) -> None:
    """The learner's code in training (a live progress bar), or its result beside the step's."""
    latest = _my_latest_run(step)
    if latest is None:
        return
    progress = state.progress_if_any(latest.run_id)
    if progress is not None and not progress.done:
        progress_bar_ui(latest.run_id, latest.name)
    elif course.has_result(latest):
        codelab = step.trains.codelab_accuracy
        against = f" (this step's codelab figure: {codelab:.1%})" if codelab is not None else ""
        st.success(f"Your code's network ({plain(latest.name)}): **{latest.test_accuracy:.2%}** on the test "
                   f"images{against}. See its curves on **Runs**.", icon=":material/model_training:")


def _budget(verdict: Verdict) -> list[str]:
    """What this server cannot afford of the code's training (empty when it can, or when the code does not read)."""
    if not verdict.readable:
        return []
    try:
        return budget_problems(verdict.model, verdict.train)
    except ValueError as error:  # a mistyped MNIST_MAX_* setting on the server
        return [str(error)]


def exercise_ui(step: Step) -> None:
    """The step's exercise, folded: its task, the learner's code and the three buttons. Nothing for a step
    without one."""
    if step.exercise is None:
        return
    keys = _keys(step)
    with st.expander("Your turn: write the code", icon=":material/edit_note:"):
        editor_style()
        st.markdown(step.exercise.task)
        previous = course.previous_training_step(step)
        start = exercises.starting_code(step)
        todo_line = next(number for number, line in enumerate(start.splitlines(), start=1)
                         if line.startswith(exercises.TODO))
        st.caption(f"Your code starts as the previous step's ({previous.title}), with the gap marked `# TO DO` at "
                   f"line {todo_line}. **Check** reads it (nothing in it is run) and compares your network with this "
                   "step's, layer by layer: kinds, sizes, activations, output shapes and parameter counts.")
        text = kept_text_area("Your code", keys["code"], keys["saved"], start, height=480,
                              help="Press Ctrl+Enter, or click outside the box, to hand the page your edits.")
        verdict = exercises.check(step, text)  # syntax tree only: milliseconds, so each run can afford it
        too_much = _budget(verdict)
        mine = state.job_queue().jobs_of(owner())
        shown = st.session_state.get(keys["solution"], False)
        # A row that wraps on a narrow column, each button as wide as its label.
        buttons = st.container(horizontal=True)
        if buttons.button("Check", type="primary", icon=":material/fact_check:", key=f"{keys['code']}_check"):
            st.session_state[keys["checked"]] = text
        buttons.button("Hide the solution" if shown else "Show the solution", icon=":material/visibility:",
                       key=f"{keys['code']}_solution", on_click=_flip_solution, args=(keys["solution"],))
        if buttons.button("Train my code", icon=":material/play_arrow:", key=f"{keys['code']}_train",
                          disabled=not verdict.readable or bool(too_much) or bool(mine),
                          help="Trains the network your code describes, with its settings."
                          if verdict.readable else "Your code must read first: press Check to see why."):
            train_my_code(step, text)
            st.rerun()
        buttons.button("Start again", type="tertiary", icon=":material/restart_alt:", key=f"{keys['code']}_reset",
                       on_click=_start_again, args=(step,), help="Puts the previous step's code back in the box, "
                                                                 "with its TO DO.")
        if st.session_state.get(keys["checked"]) == text:
            verdict_ui(verdict, text)
        if shown:
            st.caption("This step's code: what the TO DO asks for, written out.")
            st.code(exercises.solution_code(step), language="python", line_numbers=True)
        if keys["error"] in st.session_state:
            st.warning(plain(st.session_state.pop(keys["error"])))  # a refusal can name a run
        if too_much:
            st.caption(f"**Train my code** waits: {plain(too_much[0])} In the code that is EPOCHS (or fit's "
                       "epochs), TRAIN_SIZE or the layers.")
        if mine:
            st.caption(f"You have a training under way ({plain(mine[0].name)}); one at a time per learner.")
        identical_choice_ui(keys["identical"], lambda again: submit(step, again))
        my_run_ui(step)
