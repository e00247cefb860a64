"""Class: the teacher's live view of the class: each learner's Lab step, results and job, the queue with Stop and
Cancel, the 99% challenge's leaderboards, and the class's guesses for a Lab step against what it measured."""

from __future__ import annotations

import statistics

import pandas as pd
import streamlit as st

from dashboard import class_charts, state
from dashboard.identity import is_teacher
from dashboard.learner_ui import learner_book
from dashboard.presentation import presenting
from dashboard.widgets import plain
from mnist_models import class_board, course
from mnist_models.class_board import Board, CurrentJob, Entry, duration
from mnist_models.jobs import NotYourJobError
from mnist_models.store.runs import RunNotFoundError

REFRESH_SECONDS = 2
ERROR_KEY = "class_error"


@st.cache_resource(show_spinner=False, max_entries=4)
def _board(version: tuple, _jobs: tuple) -> Board:
    """One board per state of the store, the learners and the queue, however many tabs show it."""
    return class_board.build_board(state.run_store(), learner_book().all(), list(_jobs))


def current_board() -> Board:
    jobs = state.job_queue().jobs()
    return _board(class_board.board_version(state.run_store(), learner_book(), jobs), tuple(jobs))


def learners_ui(board: Board) -> None:
    """A row per learner: their name (as typed), Lab step, best test accuracy per training step and job."""
    st.subheader(f"Learners ({len(board.learners)})")
    if not board.learners:
        st.caption("Nobody has opened a Lab step or trained yet.")
        return
    columns = [step.id for step in board.steps]
    frame = pd.DataFrame([{"name": row.name, "Lab step": row.step_title or "–",
                           **dict(zip(columns, row.best, strict=True)),
                           "now": row.job.summary if row.job else ""} for row in board.learners])
    st.dataframe(frame, hide_index=True, width="stretch", key="class_learners",
                 column_config={column: st.column_config.NumberColumn(format="percent") for column in columns})
    st.caption("Each column after the step is a training step of the Lab: the learner's best test accuracy there.")


def _control(action: str, run_id: str) -> None:
    queue = state.job_queue()
    try:
        if action == "Cancel":
            queue.cancel(run_id, teacher=is_teacher())
        else:
            queue.stop(run_id, teacher=is_teacher())
        st.session_state.pop(ERROR_KEY, None)
    except (NotYourJobError, RunNotFoundError, ValueError, OSError) as error:
        st.session_state[ERROR_KEY] = str(error)


def queue_ui(board: Board) -> None:
    """Who trains and who waits for what, in order, with Stop (training) or Cancel (waiting) for the teacher."""
    training = sum(not job.waiting for job in board.queue)
    st.subheader(f"Queue: {training} training, {len(board.queue) - training} waiting")
    if ERROR_KEY in st.session_state:
        st.warning(plain(st.session_state[ERROR_KEY]))
    if not board.queue:
        st.caption("Nobody is training or waiting.")
        return
    for job in board.queue:
        text, button = st.columns([6, 1], vertical_alignment="center")
        text.markdown(_job_line(job))
        action = "Cancel" if job.waiting else "Stop"
        button.button(action, key=f"class_{action.lower()}_{job.run_id}", on_click=_control, args=(action, job.run_id),
                      disabled=job.stop_requested, help=f"{action} this training, for everybody it trains for.")


def _job_line(job: CurrentJob) -> str:
    place = f"**{job.position}.**" if job.waiting else "**now**"
    return f"{place} {plain(', '.join(job.learners))}: {plain(job.run_name)} · {plain(job.summary)}"


def _entries(entries: tuple[Entry, ...], timed: bool) -> pd.DataFrame:
    return pd.DataFrame([{
        "place": place,
        "learner": entry.learner,
        **({"time to 99%": duration(entry.seconds_to_99)} if timed else {}),
        "test accuracy": entry.test_accuracy,
        **({} if timed else {"99%": "✓" if (entry.test_accuracy or 0) >= class_board.CHALLENGE else ""}),
        "network": entry.network,
        "run": entry.run_name if entry.preset in class_board.OWN_PRESETS else f"{entry.run_name} (preset)",
    } for place, entry in enumerate(entries, start=1)])


def leaderboard_ui(board: Board) -> None:
    """The 99% challenge: the best networks of the learners' own, and the quickest trainings to 99%."""
    st.subheader("The 99% challenge")
    own, fast = st.columns(2)
    percent = {"test accuracy": st.column_config.NumberColumn(format="percent")}
    with own:
        st.markdown("**Best own network** (test accuracy; preset settings left unchanged do not count)")
        if board.best_own:
            st.dataframe(_entries(board.best_own, timed=False), hide_index=True, width="stretch",
                         key="class_best_own", column_config=percent)
        else:
            st.caption("No learner has finished a network of their own yet.")
    with fast:
        st.markdown("**Fastest to 99%** (estimated from the step at which the test curve first reached 99%)")
        if board.fastest:
            st.dataframe(_entries(board.fastest, timed=True), hide_index=True, width="stretch",
                         key="class_fastest", column_config=percent)
        else:
            st.caption("No run has reached 99% on the test set yet.")


def guesses_ui(board: Board) -> None:
    """The class's predictions for the chosen Lab step beside the class's results on it."""
    st.subheader("Guesses against results")
    steps = [step for step in course.steps() if step.id in board.guesses]
    if "class_step" not in st.session_state:
        guessed = [step.id for step in steps if board.guesses[step.id].accuracies or board.guesses[step.id].choices]
        st.session_state["class_step"] = guessed[-1] if guessed else steps[0].id
    titles = {step.id: step.title for step in steps}
    step_id = st.selectbox("Lab step", list(titles), format_func=titles.get, key="class_step")
    summary = board.guesses[step_id]
    numbers = st.columns(4)
    numbers[0].metric("Guesses", len(summary.accuracies))
    median_guess = statistics.median(summary.accuracies) if summary.accuracies else None
    numbers[1].metric("Median guess", f"{median_guess:.1%}" if median_guess is not None else "–")
    numbers[2].metric("Median result", f"{summary.median:.2%}" if summary.median is not None else "–")
    numbers[3].metric("Best result", f"{summary.best:.2%}" if summary.best is not None else "–")
    if not summary.accuracies and not summary.choices:
        st.caption("Nobody has made a prediction for this step yet.")
        return
    projector = presenting()
    height = 520 if projector else 380
    figures = (class_charts.guess_histogram(summary.accuracies, summary.best, summary.median, height=height,
                                            projector=projector),
               class_charts.choice_bars(summary.choices, height=height, projector=projector))
    for column, figure, key in zip(st.columns(2), figures, ("class_guess_histogram", "class_choice_bars"),
                                   strict=True):
        with column:
            st.plotly_chart(figure, key=key)


@st.fragment(run_every=REFRESH_SECONDS)
def class_ui() -> None:
    board = current_board()
    learners_ui(board)
    queue_ui(board)
    leaderboard_ui(board)
    guesses_ui(board)


def page() -> None:
    st.title("Class")
    if not is_teacher():
        # The navigation offers this page only to an unlocked teacher; an address typed by hand finds nothing here.
        st.info("This page is the teacher's: unlock it with the teacher password in the sidebar.")
        return
    class_ui()


page()
