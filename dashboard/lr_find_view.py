"""The Train page's range test: find a learning rate to start from on a throwaway copy of the network, watch the
loss against the rate, then use the suggestion or try three rates around it side by side."""

from __future__ import annotations

import dataclasses

import streamlit as st

from dashboard import state
from dashboard.identity import is_teacher, owner
from dashboard.lr_find_charts import range_test_figure
from dashboard.widgets import folding, plain
from mnist_models import lr_find
from mnist_models.config import ConfigError, ModelConfig, TrainConfig
from mnist_models.jobs.job import NotYourJobError, QueueFullError
from mnist_models.jobs.sweep_jobs import submit_sweep
from mnist_models.lr_range import (
    DEFAULT_BATCHES,
    DEFAULT_END,
    DEFAULT_START,
    NOTE,
    RULE,
    RangeResult,
    RangeSettings,
)
from mnist_models.presets import Preset
from mnist_models.store.progress import FAILED, INTERRUPTED, STOPPED, Progress
from mnist_models.store.run_info import LR_FIND_TASK
from mnist_models.store.runs import RunNotFoundError
from mnist_models.sweep import Axis, Sweep

LABEL = "Find a learning rate"
OPEN_KEY = "lr_find_open"  # the expander's state: its content is drawn only while it is open
RUN_KEY = "lr_find_id"  # the range test this session shows
ERROR_KEY = "lr_find_error"
RATE_KEY = "learning_rate"  # the Training section's Learning rate control (controls_spec.TRAIN_CONTROLS)
SWEEP_KEY = "sweep_id"  # the sweep Train's results column shows (sweep_ui.SWEEP_ID_KEY)
LIVE_SECONDS = 1.0
TRY_EPOCHS = 2  # each of Try three's trainings: enough for their curves to part
CHART_HEIGHT = 340


def rounded(rate: float) -> float:
    """A rate as a learner would type it: two significant digits (0.00081, not 0.0008122673500479715)."""
    return float(f"{rate:.2g}")


def try_three_rates(rate: float) -> tuple[float, float, float]:
    """A tenth of the rate, the rate, and ten times it, rounded alike."""
    rate = rounded(rate)
    return rounded(rate / 10), rate, rounded(rate * 10)


def _use_rate(rate: float) -> None:
    # A button's callback runs before the next script run draws any widget: the one moment Streamlit lets the
    # Learning rate control's value be set.
    st.session_state[RATE_KEY] = rate


def _container():
    """The panel's folding box, or None while it is closed (nothing in it is drawn or read then)."""
    return folding(LABEL, OPEN_KEY, ":material/troubleshoot:")


def lr_find_ui(model: ModelConfig, train: TrainConfig, preset: Preset, name: str, problems: list[str]) -> None:
    """The range-test panel, under Training: run it for the current settings, watch it, read its suggestion."""
    box = _container()
    if box is None:
        return
    with box:
        st.caption(f"Trains a throwaway copy of this network for up to {DEFAULT_BATCHES} batches while the learning "
                   f"rate grows from {DEFAULT_START:f}".rstrip("0") + f" to {DEFAULT_END:g}, recording each batch's "
                   "own loss: the curve shows which rates learn fast and where training blows up. Your settings and "
                   "your runs stay as they are.")
        queue, me, store = state.job_queue(), owner(), state.run_store()
        mine = queue.jobs_of(me)
        reason = None
        if problems:
            reason = "Fix the settings marked in red first: the test runs the network they describe."
        elif mine and mine[0].task == LR_FIND_TASK:
            reason = "Your range test is under way: its progress is below."
        elif mine:
            reason = (f"You have a job under way ({plain(mine[0].name)}): one at a time, so the test can start once "
                      "it has finished or is stopped.")
        else:
            found = lr_find.range_test_problems(model, train, RangeSettings())
            reason = found[0] if found else None
        if st.button("Run the range test", key="lr_find_start", icon=":material/troubleshoot:",
                     disabled=reason is not None, help=reason, width="stretch"):
            _start(model, train, preset, name)
            st.rerun()
        if reason and not problems:
            st.caption(reason)
        if ERROR_KEY in st.session_state:
            st.warning(plain(st.session_state.pop(ERROR_KEY)))
        run_id = st.session_state.get(RUN_KEY)
        if run_id is None:
            newest = lr_find.latest(store, me)
            run_id = newest.run_id if newest is not None else None
        if run_id is not None:
            _result_ui(run_id, model, train, preset)


def _start(model: ModelConfig, train: TrainConfig, preset: Preset, name: str) -> None:
    title = name.strip() or preset.title
    unchanged = preset.configs() == (model, train)
    try:
        spec = lr_find.range_test_spec(model, train, preset=preset.name if unchanged else "custom",
                                       name=f"Range test: {title}", store=state.run_store())
        st.session_state[RUN_KEY] = lr_find.submit_range_test(state.job_queue(), spec, owner())
    except (ConfigError, QueueFullError, ValueError, RuntimeError, OSError) as error:
        st.session_state[ERROR_KEY] = str(error)


def _result_ui(run_id: str, model: ModelConfig, train: TrainConfig, preset: Preset) -> None:
    """The test's live status while it waits or runs (redrawn once a second), then its chart and suggestion."""
    first = state.progress_if_any(run_id)

    @st.fragment(run_every=LIVE_SECONDS if first is not None and not first.done else None)
    def view() -> None:
        progress = state.progress_if_any(run_id)
        if progress is None:
            st.session_state.pop(RUN_KEY, None)
            st.caption("That range test is gone (cancelled, or tidied away).")
            return
        result = lr_find.load_result(state.run_store(), run_id)
        if not progress.done:
            _status_ui(run_id, progress, result)
        if first is not None and not first.done and progress.done:
            st.rerun()  # the whole page: its buttons change once the test has ended

    view()
    if first is None or not first.done:
        return
    result = lr_find.load_result(state.run_store(), run_id)
    if first.status in (FAILED, INTERRUPTED) or result is None or not result.rates:
        st.error(f"The range test did not finish: {plain(first.error or 'its worker ended without a word')}")
        return
    _done_ui(run_id, first, result, model, train, preset)


def _status_ui(run_id: str, progress: Progress, result: RangeResult | None) -> None:
    queue = state.job_queue()
    if progress.waiting:
        place = queue.position(run_id)
        st.progress(0.0, text=f"Waiting for a free slot (number {place or 1} in the queue)…")
    elif result is None or not result.rates:
        st.progress(0.0, text="Getting the network ready…")
    else:
        done = result.batches_run / max(1, result.settings.batches)
        st.progress(min(1.0, done), text=f"Batch {result.batches_run}/{result.settings.batches} · rate "
                                         f"{result.rates[-1]:.1e} · loss {result.losses[-1]:.3f}")
    if queue.can_control(run_id, owner(), is_teacher()) and st.button("Stop the test", key="lr_find_stop",
                                                                       icon=":material/stop:"):
        try:
            queue.stop(run_id, owner(), teacher=is_teacher())
        except (NotYourJobError, RunNotFoundError, ValueError, OSError) as error:
            st.session_state[ERROR_KEY] = str(error)


def _done_ui(run_id: str, progress: Progress, result: RangeResult, model: ModelConfig, train: TrainConfig,
             preset: Preset) -> None:
    suggestion = result.suggestion()
    st.plotly_chart(range_test_figure(result, suggestion, height=CHART_HEIGHT), key=f"lr_find_chart_{run_id}",
                    config={"displayModeBar": False})
    ended = ("stopped by you" if progress.status == STOPPED else
             "stopped when the loss diverged" if result.diverged else "ran every batch")
    st.caption(f"{result.batches_run} batches of {result.batch_size}, rates {result.rates[0]:.0e} to "
               f"{result.rates[-1]:.1e}: {ended}. **The rule:** {RULE}")
    tested_now = lr_find.range_test_configs(model, train, result.settings) == state.run_store().load_configs(run_id)
    if not tested_now:
        st.caption("This test ran on other settings than the ones above now: run it again to test the network as "
                   "it is.")
    if suggestion.rate is None:
        st.info(plain(suggestion.reason), icon=":material/info:")
        return
    rate = rounded(suggestion.rate)
    st.success(f"Suggested learning rate: **{rate:g}**. {plain(suggestion.reason)}", icon=":material/troubleshoot:")
    st.caption(NOTE)
    columns = st.columns(2)
    columns[0].button("Use it", key="lr_find_use", on_click=_use_rate, args=(rate,), width="stretch",
                      icon=":material/check:", help=f"Set the Learning rate above to {rate:g}.")
    _try_three_ui(columns[1], rate, model, train, preset, tested_now)


def _try_three_ui(column, rate: float, model: ModelConfig, train: TrainConfig, preset: Preset,
                  tested_now: bool) -> None:
    """Try three: a short sweep at a tenth of the rate, the rate and ten times it, shown side by side on the right."""
    low, middle, high = try_three_rates(rate)
    sweep = Sweep(model, dataclasses.replace(train, epochs=TRY_EPOCHS),
                  (Axis("learning_rate", (low, middle, high)),), seeds=(train.seed,), name="Try three",
                  preset=preset.name if preset.configs() == (model, train) else None)
    mine = state.job_queue().jobs_of(owner())
    problems = sweep.problems()
    reason = ("The settings changed since this test: run it again first." if not tested_now else
              f"You have a job under way ({mine[0].name}): try three once it has finished." if mine else
              problems[0] if problems else None)
    if column.button("Try three", key="lr_find_try", icon=":material/stacked_line_chart:", width="stretch",
                     disabled=reason is not None, help=reason or f"Train {TRY_EPOCHS} epochs each at {low:g}, "
                                                                  f"{middle:g} and {high:g}, side by side."):
        _submit_try_three(sweep)
        st.rerun()


def _submit_try_three(sweep: Sweep) -> None:
    # Through the sweep's own door: the whole series checked (queue room, the learner's kept runs) before any of it
    # is queued, and its record kept for the sweep view.
    try:
        record = submit_sweep(state.job_queue(), sweep, owner=owner())
    except (QueueFullError, ConfigError, ValueError, RuntimeError, OSError) as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    st.session_state[SWEEP_KEY] = record.id
