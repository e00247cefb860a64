"""Lab: the codelab's path step by step. Each step says what changes and why, asks a question, trains its preset
with one button, and sets the learner's result beside the codelab's and their curves beside the previous step's."""

from __future__ import annotations

import streamlit as st

from dashboard import charts, state
from dashboard.code_view import code_ui
from dashboard.identity import owner
from dashboard.lab_class import identical_choice_ui, prediction_ui, record_step
from dashboard.lab_exercise import exercise_ui
from dashboard.lab_sweep import LESSON as SWEEP_LESSON
from dashboard.lab_sweep import lesson_ui as sweep_lesson_ui
from dashboard.live_chart import live_chart
from dashboard.live_view import live_ui
from dashboard.presentation import presenting
from dashboard.sample_digits import samples_html
from dashboard.widgets import plain
from mnist_models import course
from mnist_models.config import ConfigError, TrainConfig
from mnist_models.course import Step
from mnist_models.glance import glance
from mnist_models.jobs.queue import JobSpec, QueueFullError
from mnist_models.store.runs import RunInfo

STEP_KEY = "lab_step"  # the chosen step's id, kept across pages by the entry script
STEP_PARAM = "step"  # ?step=conv opens that step (a teacher's link)
FIX_KEY = "lesson_fix"
IDENTICAL_KEY = "lab_identical"  # (spec, run id) of a finished identical training, while the learner chooses
CHART_HEIGHT = 340
SAMPLE_DIGITS = 12

INTRO = ("Follow Martin Görner's *TensorFlow without a PhD* codelab one step at a time: from a single layer that "
         "reads 92% of handwritten digits to a convolutional network past 99%. Each step explains what changes, "
         "asks you a question, and trains the step's network with one button. Your results appear beside the "
         "codelab's.")


def _move(offset: int) -> None:
    ids = [step.id for step in course.steps()]
    index = ids.index(st.session_state.get(STEP_KEY, ids[0]))
    st.session_state[STEP_KEY] = ids[max(0, min(len(ids) - 1, index + offset))]


def step_choice_ui() -> tuple[int, Step]:
    """Previous / the Step box / Next, kept in step with ?step= in the address; returns the step and its number."""
    steps = course.steps()
    ids = [step.id for step in steps]
    wanted = st.query_params.get(STEP_PARAM)
    if wanted is not None and wanted != st.session_state.get("_lab_step_param"):
        if wanted in ids:
            st.session_state[STEP_KEY] = wanted
        else:
            st.warning(f"The link asks for a step called {plain(repr(wanted[:40]))}, which this course does not have: "
                       f"showing the first step. The steps are {', '.join(ids)}.", icon=":material/link_off:")
    st.session_state["_lab_step_param"] = wanted
    if st.session_state.get(STEP_KEY) not in ids:
        st.session_state[STEP_KEY] = ids[0]
    index = ids.index(st.session_state[STEP_KEY])
    left, middle, right = st.columns([3, 10, 3], vertical_alignment="bottom")
    left.button("Previous", icon=":material/arrow_back:", on_click=_move, args=(-1,), disabled=index == 0,
                width="stretch", key="lab_previous")
    titles = {step.id: f"{number}. {step.title}" for number, step in enumerate(steps, start=1)}
    chosen = middle.selectbox("Step", ids, key=STEP_KEY, format_func=titles.get)
    right.button("Next", icon=":material/arrow_forward:", on_click=_move, args=(1,),
                 disabled=index == len(ids) - 1, width="stretch", key="lab_next")
    if st.query_params.get(STEP_PARAM) != chosen:
        st.query_params[STEP_PARAM] = chosen
        st.session_state["_lab_step_param"] = chosen
    return ids.index(chosen) + 1, steps[ids.index(chosen)]


def progress_table_ui(runs: list[RunInfo], owner: str | None) -> None:
    """Every step with the codelab's accuracy and the learner's best."""
    rows = course.progress_rows(runs, owner)
    done = sum(1 for row in rows if row["your best"] is not None)
    trainable = sum(1 for step in course.steps() if step.preset)
    with st.expander(f"Your progress: {done} of {trainable} steps trained", expanded=not presenting(),
                     icon=":material/checklist:"):
        # A Markdown table, not st.dataframe: the same cells, without the data grid that costs a first page about
        # 0.5 s on the server (pandas and Arrow) and a large script in the browser. A dash for a step not trained.
        lines = ["| step | step title | codelab | your best test accuracy | your runs |", "|---:|:--|--:|--:|--:|"]
        lines += [f"| {row['step']} | {_cell(row['title'])} | {_percent(row['codelab'], 1)} | "
                  f"{_percent(row['your best'], 2)} | {row['runs']} |" for row in rows]
        st.markdown("\n".join(lines))


def _cell(text: str) -> str:
    return text.replace("|", r"\|")  # a pipe would end the Markdown table's cell


def _percent(value: float | None, decimals: int) -> str:
    return "–" if value is None else f"{value:.{decimals}%}"


def theory_ui(step: Step) -> None:
    st.markdown(step.theory)
    st.markdown(f"**What to look for:** {step.look_for}")
    st.info(f"**Think about it:** {step.question}", icon=":material/psychology:")
    with st.expander("Reveal the answer", icon=":material/lightbulb:"):
        st.markdown(step.answer)


def data_ui() -> None:
    """The data step: a few training digits with their labels, and the sizes of the three parts."""
    # A glance at the archive rather than load_mnist, and PNGs inside the page rather than a Plotly grid of
    # heatmaps: the same digits, where loading all 70,000 cost the first page 0.3 s (1 s on a busy machine) and
    # plotly.js took it about 0.45 s to draw.
    st.html(samples_html(SAMPLE_DIGITS))
    sample = glance(SAMPLE_DIGITS)
    defaults = TrainConfig()
    numbers = st.columns(3)
    numbers[0].metric("Training images", f"{sample.train_count - defaults.validation_size:,}",
                      help="The default; Train can change it.")
    numbers[1].metric("Validation images", f"{defaults.validation_size:,}",
                      help=f"Held out of the {sample.train_count:,} training images.")
    numbers[2].metric("Test images", f"{sample.test_count:,}", help="Written by other people; only for the score.")
    st.page_link("app_pages/draw.py", label="Draw your own digit on the Draw page", icon=":material/draw:")


def submit(specs: list[JobSpec]) -> None:
    """Queue the step's job (or the lesson's two), or keep the reason it could not be queued for the page."""
    try:
        state.job_queue().submit_series(specs, owner=owner())
    except (QueueFullError, ConfigError, RuntimeError, OSError) as error:
        st.session_state["lab_error"] = str(error)


def _curves(info: RunInfo) -> dict:
    progress = state.progress_if_any(info.run_id)
    return progress.curves() if progress is not None else {}


def train_test_charts_ui(shown: dict, key: str, side_by_side: bool = False) -> None:
    """Accuracy and loss of several runs, train dashed and test solid, larger and bolder on a projector."""
    height = 520 if presenting() else CHART_HEIGHT
    places = st.columns(2) if side_by_side else (st.container(), st.container())
    for place, metric in zip(places, ("accuracy", "loss"), strict=True):
        figure = charts.train_test_figure(shown, metric, height=height)
        if presenting():
            figure = charts.projector_style(figure)
        with place:
            live_chart(figure.to_json(), key=f"{key}_{metric}", height=height)


def comparison_ui(step: Step, best: RunInfo, runs: list[RunInfo], owner: str | None) -> None:
    """The learner's best run of this step beside their best of the previous step, train and test."""
    previous = course.previous_training_step(step)
    earlier = course.best_run(previous, runs, owner) if previous else None
    shown = {f"{step.title} (yours)": _curves(best)}
    if earlier is not None:
        shown[f"{previous.title} (yours)"] = _curves(earlier)
    train_test_charts_ui(shown, key="lab_compare")
    if earlier is None and previous is not None:
        st.caption(f"Train the previous step ({previous.title}) too, to see the two side by side.")
    elif earlier is not None:
        gain = (best.test_accuracy - earlier.test_accuracy) * 100
        st.caption(f"Test accuracy {gain:+.2f} points against the previous step. Dashed: the training images; "
                   "solid: the test images. Where a run's two lines drift apart, it overfits.")


def training_step_ui(step: Step) -> None:
    """The codelab's figure, the learner's best, Train this step, and the live or finished curves."""
    preset = step.trains
    me = owner()
    key = me
    runs = state.run_store().list()
    best = course.best_run(step, runs, key)
    numbers = st.columns(2)
    codelab = preset.codelab_accuracy if preset.codelab_accuracy is not None else step.target
    numbers[0].metric("Codelab" if preset.codelab_accuracy is not None else "Target",
                      f"{codelab:.1%}" if codelab is not None else "–")
    delta = f"{(best.test_accuracy - codelab) * 100:+.1f} points" if best and codelab is not None else None
    numbers[1].metric("Your best", f"{best.test_accuracy:.2%}" if best else "–", delta=delta)
    model, train = preset.configs()
    st.caption(f"{preset.description} {preset.params:,} parameters · {train.epochs} epochs · "
               f"batches of {train.batch_size}.")
    code_ui(model, train, name=preset.name, about=f"{step.title}. {preset.description}", key=f"lab_code_{step.id}")
    exercise_ui(step)
    mine = state.job_queue().jobs_of(me)
    previous_step = course.previous_training_step(step)
    prediction_ui(step, best, course.best_run(previous_step, runs, key) if previous_step else None)
    spec = JobSpec(model, train, preset.name, preset.title)
    if st.button("Train this step", type="primary", icon=":material/play_arrow:", key=f"train_step_{step.id}",
                 disabled=bool(mine), help="Trains this step's network with the codelab's settings. To change "
                                           "them, open the same preset on the Train page."):
        # A classmate's identical training under way is joined by the queue; a finished one is offered instead.
        done = state.job_queue().identical_result(spec)
        if done is not None:
            st.session_state[IDENTICAL_KEY] = (spec, done.run_id)
        else:
            submit([spec])
        st.rerun()
    identical_choice_ui(IDENTICAL_KEY, lambda again: submit([again]))
    if mine:
        st.caption(f"You have a training under way ({plain(mine[0].name)}); one at a time per learner.")
    if "lab_error" in st.session_state:
        st.warning(plain(st.session_state.pop("lab_error")))  # it can name a run
    latest = next(iter(course.step_runs(step, runs, key)), None)
    latest_progress = state.progress_if_any(latest.run_id) if latest is not None else None
    if latest_progress is not None and not latest_progress.done:
        live_ui(latest.run_id, key="lab")
    elif best is not None:
        comparison_ui(step, best, runs, key)
    else:
        st.info("Press **Train this step**: accuracy and loss for the training and the test images grow here, "
                "live. Meanwhile, think about the question on the left.", icon=":material/model_training:")


def lesson_ui() -> None:
    """The overfitting lesson in one click: the overfitting network, then the same with a fix, overlaid."""
    st.subheader("The overfitting lesson, in one click")
    st.markdown("A wide network (two layers of 512) trained on only 1,000 images learns them by heart. Train it, "
                "then the same network with a fix, one after the other; their curves appear on the same charts.")
    me = owner()
    key = me
    fix = st.radio("Then train the same network with", list(course.FIXES), key=FIX_KEY,
                   format_func=course.FIXES.get, horizontal=True)
    mine = state.job_queue().jobs_of(me)
    if st.button("Run the overfitting lesson", icon=":material/science:", key="lesson_button", disabled=bool(mine),
                 help="Queues two trainings: the overfitting network, then the fixed one."):
        submit(course.overfitting_lesson(fix))
        st.rerun()
    runs = course.lesson_runs(state.run_store().list(), key)
    if not runs:
        return
    active = [info for info in runs if not getattr(state.progress_if_any(info.run_id), "done", True)]

    @st.fragment(run_every=1.0 if active else None)
    def lesson_charts() -> None:
        found = {info.name.removeprefix(f"{course.LESSON_NAME}: "): state.progress_if_any(info.run_id)
                 for info in runs}
        progress = {label: item for label, item in found.items() if item is not None}  # a deleted run drops out
        shown = {label: item.curves() for label, item in progress.items()}
        status = ", ".join(f"{label}: {item.status}" for label, item in progress.items())
        st.caption(f"Your latest lesson · {plain(status)}")  # the runs' names, which a learner can change
        train_test_charts_ui(shown, key="lesson", side_by_side=True)
        if active and all(item.done for item in progress.values()):
            st.rerun()

    lesson_charts()
    st.markdown("**What to look at:** in the overfitting run the dashed training curves race to 100% accuracy and a "
                "loss near 0, while the solid test accuracy stalls and the test loss turns upwards after a few "
                "epochs: the network memorises its 1,000 images. With 20 times more images, memorising stops "
                "paying: the test curves climb higher and the test loss stays low, close to the training loss. "
                "Dropout slows the memorising (its dashed curves take longer to get there) and softens the rise "
                "of the test loss, but on 1,000 images it cannot make up for the missing data.")


def page() -> None:
    st.title("Lab: neural networks, step by step")
    if not presenting():
        st.markdown(INTRO)
    runs = state.run_store().list()
    progress_table_ui(runs, owner())
    number, step = step_choice_ui()
    st.header(f"Step {number}: {step.title}", anchor=False)
    record_step(step)
    theory, results = st.columns([1, 1], gap="large")
    with theory:
        theory_ui(step)
    with results:
        if step.preset:
            training_step_ui(step)
        elif step.lesson == SWEEP_LESSON:
            sweep_lesson_ui(step)
        else:
            data_ui()
    if step.lesson == "overfitting":
        st.divider()
        lesson_ui()


page()
