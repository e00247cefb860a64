"""The live view of one run: waiting place, progress bar, numbers and the Accuracy and Loss charts, read from its
run folder once a second, four times while it waits for its first point (the training runs in a worker process).
Train and Lab both show it."""

from __future__ import annotations

import math

import streamlit as st

from dashboard import charts, presentation, state
from dashboard.insight_view import insight_ui
from dashboard.live_chart import live_chart
from dashboard.safe_text import code
from dashboard.widgets import plain
from mnist_models.presets import PRESETS
from mnist_models.store.progress import FAILED, INTERRUPTED, RUNNING, STARTING, STOPPED, STOPPING, Progress
from mnist_models.store.runs import RunNotFoundError

CHART_HEIGHT = 380  # the height of the live Accuracy and Loss charts
LIVE_SECONDS = 1.0  # how often a live view reads its run folder
# ... and while its training starts: a learner who just pressed Train sees the first point up to 0.75 s sooner,
# for a second or two of extra reads (the page then settles back to LIVE_SECONDS).
FIRST_POINT_SECONDS = 0.25
PROJECTOR_CHART_HEIGHT = 560  # presentation mode: the charts fill a projected screen


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


@st.cache_resource(show_spinner=False, max_entries=64)
def _figures(run_id: str, version: tuple, codelab_accuracy: float | None, projector: bool) -> tuple[str, str]:
    """The Accuracy and Loss figures of one published state of a run, built and serialised once for all its
    watchers (a classroom's thirty tabs cost the server one figure per update, not thirty), and kept while nothing
    new is published: a finished run's figures are built once, not again every few seconds."""
    curves = state.progress(run_id).curves()
    height = PROJECTOR_CHART_HEIGHT if projector else CHART_HEIGHT
    figures = (charts.accuracy_figure(curves, codelab_accuracy, height=height),
               charts.loss_figure(curves, height=height))
    if projector:
        figures = tuple(charts.projector_style(figure) for figure in figures)
    for figure in figures:
        show_lone_points(figure)
    return figures[0].to_json(), figures[1].to_json()


def run_figures(run_id: str, codelab_accuracy: float | None, projector: bool) -> tuple[str, str]:
    """The run's Accuracy and Loss figures (JSON), built again only when its worker publishes."""
    return _figures(run_id, state.published_version(run_id), codelab_accuracy, projector)


def show_lone_points(figure) -> None:
    """Give a marker to every line that has a single point so far: a line through one point draws nothing, and the
    first train point (right after the first batch) is what a learner who just pressed Train is waiting to see."""
    for trace in figure.data:
        if trace.type == "scatter" and trace.mode == "lines" and trace.x is not None and len(trace.x) == 1:
            trace.mode = "lines+markers"


def waiting_ui(run_id: str) -> None:
    queue = state.job_queue()
    position = queue.position(run_id)
    running = sum(1 for job in queue.jobs() if job.position is None)
    place = f"number **{position}** in the queue" if position else "about to start"
    trainings = "1 training" if running == 1 else f"{running} trainings"
    st.info(f"Waiting for a free slot: {place}. {trainings} running now, at most {queue.max_running} at once on "
            "this server. It starts by itself; you can keep this page open or come back later.",
            icon=":material/hourglass_top:")


def progress_ui(progress: Progress, codelab_accuracy: float | None, key: str = "train") -> None:
    """The live view's content: progress bar, numbers, and the Accuracy and Loss charts."""
    if progress.status == STARTING:
        st.progress(0.0, text="Preparing the data and building the network…")
    elif progress.status in (RUNNING, STOPPING):
        per_epoch = max(1, progress.batches_per_epoch)
        epoch = min(progress.epochs, max(1, math.ceil(progress.step / per_epoch)))
        text = f"Epoch {epoch}/{progress.epochs} · batch {progress.batch}/{progress.batches_per_epoch}"
        if progress.batch == progress.batches_per_epoch and progress.epoch < epoch:
            text += " · scoring the test set"
        text += f" · {_duration(progress.eta_seconds)} left"
        if progress.status == STOPPING:
            text = "Stopping after this batch, then scoring the test set…"
        st.progress(progress.fraction, text=text)
    numbers = st.columns(4)
    numbers[0].metric("Test accuracy", f"{progress.test_accuracy:.2%}" if progress.test_accuracy is not None else "–")
    numbers[1].metric("Test loss", f"{progress.test_loss:.4f}" if progress.test_loss is not None else "–")
    numbers[2].metric("Learning rate", f"{progress.learning_rate:.5f}" if progress.learning_rate else "–")
    numbers[3].metric("Elapsed", _duration(progress.elapsed_seconds))
    device = plain(progress.device) if progress.device else "the CPU or GPU (detecting…)"
    st.caption(f"Training on {device} · run {code(progress.run_id)}")
    projector = presentation.presenting()
    accuracy, loss = run_figures(progress.run_id, codelab_accuracy, projector)
    height = PROJECTOR_CHART_HEIGHT if projector else CHART_HEIGHT
    if projector:
        # A projected screen is wide: the two charts side by side, each as tall as the room can read.
        columns = st.columns(2)
        with columns[0]:
            live_chart(accuracy, key=f"{key}_accuracy_chart", height=height)
        with columns[1]:
            live_chart(loss, key=f"{key}_loss_chart", height=height)
    else:
        live_chart(accuracy, key=f"{key}_accuracy_chart", height=height)
        live_chart(loss, key=f"{key}_loss_chart", height=height)
    if progress.status == FAILED:
        st.error(f"Training failed: {plain(progress.error or 'no reason was given')}")
    elif progress.status == INTERRUPTED:
        st.warning("This training's process ended without finishing (the server or the worker stopped). Its "
                   "curves up to then are kept.")
    elif progress.done:
        result_ui(progress, codelab_accuracy)


def result_ui(progress: Progress, codelab_accuracy: float | None) -> None:
    if progress.test_accuracy is None:
        return
    verb = "Stopped" if progress.status == STOPPED else "Finished"
    comparison = ""
    if codelab_accuracy is not None:
        gap = (progress.test_accuracy - codelab_accuracy) * 100
        comparison = f" The codelab reports {codelab_accuracy:.1%} for this network ({gap:+.1f} points)."
    st.success(f"{verb} after {progress.epoch} epoch(s): test accuracy **{progress.test_accuracy:.2%}**."
               f"{comparison} The run is saved: see it on **Runs**, or try it on **Draw**.")


def live_ui(run_id: str, *, key: str = "train", show_inside: bool = False) -> None:
    """Re-draws itself once a second while the run waits or trains (faster until its first point); a full rerun
    when it starts, has shown its first point or ends updates the buttons and the pace. It only reads the run folder:
    the training itself runs in a worker process. `key` keeps the charts of two live views apart; `show_inside`
    adds the weights, learning rate and digit wall."""
    try:
        first = state.progress(run_id)
        info = state.run_store().get(run_id)
    except RunNotFoundError:
        st.info("This training was cancelled before it started, or its run was deleted.")
        return
    codelab_accuracy = PRESETS[info.preset].codelab_accuracy if info.preset in PRESETS else None
    awaiting_first_point = not first.done and not first.waiting and not first.train
    every = FIRST_POINT_SECONDS if awaiting_first_point else LIVE_SECONDS
    shown_key = f"_{key}_first_point_shown"  # the run whose first point this live view has sent

    @st.fragment(run_every=every if not first.done else None)
    def live_view() -> None:
        try:
            progress = state.progress(run_id)
        except RunNotFoundError:
            st.info("This training was cancelled before it started, or its run was deleted.")
            st.rerun()  # the page then shows what is left to watch
        if progress.waiting:
            waiting_ui(run_id)
        else:
            progress_ui(progress, codelab_accuracy, key)
            if show_inside:
                insight_ui(run_id, key=f"{key}_inside")
        slow_down = awaiting_first_point and bool(progress.train)
        if slow_down and st.session_state.get(shown_key) != run_id:
            # This run sends the first point; a full rerun started now would drop it unsent (a new script run
            # clears Streamlit's outgoing queue) and show it only after the whole page, 0.3-0.5 s later. The
            # slower pace can wait for the next tick.
            st.session_state[shown_key] = run_id
            slow_down = False
        if (first.waiting and not progress.waiting) or (not first.done and progress.done) or slow_down:
            st.rerun()

    live_view()


def progress_bar_ui(run_id: str, name: str) -> None:
    """A one-line live view of a waiting or training job (its place in the queue, or its epoch and batch), redrawn
    once a second; a full rerun when it ends, so the page shows what the job made."""

    @st.fragment(run_every=1.0)
    def progress_bar() -> None:
        progress = state.progress_if_any(run_id)
        if progress is None:
            st.caption(f"{plain(name)} is no longer there: it was cancelled or deleted.")
            return
        if progress.waiting:
            position = state.job_queue().position(run_id) or 1
            st.progress(0.0, text=f"Waiting for a free slot (number {position} in the queue)…")
        else:
            st.progress(progress.fraction, text=f"Training {plain(name)}: epoch "
                                                f"{min(progress.epoch + 1, progress.epochs)}/{progress.epochs}, "
                                                f"batch {progress.batch}")
        if progress.done:
            st.rerun()

    progress_bar()
