"""Draw: draw a digit with the mouse or a finger and see what a trained network sees and predicts."""

from __future__ import annotations

import binascii
import logging

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from dashboard import inspect_charts, pictures, state
from dashboard.canvas_pad import st_canvas
from dashboard.identity import is_teacher, owner
from dashboard.live_chart import live_chart
from dashboard.live_view import progress_bar_ui
from dashboard.pen_up import latest_drawing, pen_up_ui
from dashboard.widgets import model_ui, plain
from mnist_models.drawing import EMPTY, HINTS, drawing_problem, naive_resize, read_drawing, to_mnist
from mnist_models.jobs.queue import QueueFullError
from mnist_models.presets import get_preset
from mnist_models.store import my_digits
from mnist_models.store.my_digits import (
    FINE_TUNE_EPOCHS,
    FINE_TUNE_MNIST_IMAGES,
    MAX_DIGITS,
    MIN_FOR_FINE_TUNE,
    MyDigits,
)
from mnist_models.store.runs import RunInfo

log = logging.getLogger(__name__)
CANVAS_SIZE = 280  # ten canvas pixels per MNIST pixel
STROKE_WIDTH = 18  # at 280 px this gives MNIST-like stroke thickness after the 20 px rescale
QUICK_PRESET = "conv-bigger-dropout"
MAX_COMPARED = 10  # networks asked at each stroke under "Every network's opinion" (about 1 ms each once loaded)
QUICK_EPOCHS = 1  # one epoch of batches of 32: under a minute on a 2-core CPU, ~98.5% on the test set
SEEN_PX = 200  # the 28x28 images the network is given, drawn this wide


@st.cache_data(show_spinner=False)
def guide_background() -> Image.Image:
    """A dark pad like an MNIST image, with a faint box showing where a digit fits best."""
    image = Image.new("RGB", (CANVAS_SIZE, CANVAS_SIZE), (17, 17, 17))
    pad = ImageDraw.Draw(image)
    margin = CANVAS_SIZE // 7
    pad.rounded_rectangle((margin, margin, CANVAS_SIZE - margin, CANVAS_SIZE - margin), radius=12,
                          outline=(60, 60, 60), width=2)
    return image


def quick_model_ui() -> None:
    """No model yet: one click trains a small convnet, with live progress."""
    st.info("There is no trained network yet. Train one on the **Train** page, or let the dashboard train a "
            "quick convolutional network now (under a minute on a CPU, about 98.5% on the test set).")
    queue, me = state.job_queue(), owner()
    mine = [job for job in queue.jobs_of(me) if not getattr(state.progress_if_any(job.run_id), "done", True)]
    if mine:
        progress_bar_ui(mine[0].run_id, mine[0].name)
        return
    if st.button("Train a quick model", type="primary", icon=":material/bolt:"):
        preset = get_preset(QUICK_PRESET)
        model, train = preset.configs()
        train.epochs = QUICK_EPOCHS
        try:
            # No preset: a shorter training than the preset's, which the Lab must not credit as the step's.
            queue.submit(model, train, owner=me, name="Quick convnet (Draw page)")
        except (QueueFullError, RuntimeError, ValueError, OSError) as error:
            st.warning(plain(error))
            return
        st.rerun()


def decode_drawing(png: bytes | None) -> np.ndarray | None:
    """The RGBA pixels of a drawing's PNG, or None when there is nothing (or nothing readable) yet."""
    if png is None:
        return None
    try:
        return read_drawing(png)
    except ValueError as error:
        st.warning(plain(error))
        return None


def _clear_canvas() -> None:
    # A new key mounts a new, empty canvas: the component has no "clear" input of its own. As a callback it
    # takes effect in the run the click starts, without a second run.
    st.session_state["canvas_version"] += 1


def canvas_ui() -> np.ndarray | None:
    """The drawing pad and its Clear button; returns the RGBA pixels of the drawing to answer."""
    st.session_state.setdefault("canvas_version", 0)
    version = st.session_state["canvas_version"]
    st.caption("Draw one digit, large, inside the box. Hover the pad to reach its toolbar (undo, redo).")
    result = st_canvas(
        stroke_width=STROKE_WIDTH, stroke_color="#FFFFFF", background_image=guide_background(),
        height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw", return_image_data=True,
        key=f"canvas_{version}",
    )
    pen_up = pen_up_ui(key=f"pen_up_{version}")
    st.button("Clear", icon=":material/ink_eraser:", on_click=_clear_canvas)
    try:
        canvas_png = result.image_bytes
    except (ValueError, binascii.Error):
        st.warning("The drawing could not be read; press Clear and draw again.")
        return None
    return decode_drawing(latest_drawing(canvas_png, pen_up, version))


def _loaded(run: RunInfo):
    """The run's loaded model, or None after an error message (deleted meanwhile, damaged, unreadable)."""
    try:
        return state.predictor(run.run_id, state.run_store().model_modified(run.run_id))
    except Exception as error:
        log.warning("Draw could not load run %s: %r", run.run_id, error)
        return None


def prediction_ui(run: RunInfo, image: np.ndarray | None) -> tuple[np.ndarray | None, int | None]:
    """What the network answers, and what it receives (28x28); returns that image and the answer."""
    # Loading the model first (a few seconds on the first visit) means the first stroke answers at once.
    predictor = _loaded(run)
    if predictor is None:
        st.error("This run's network cannot be loaded: it may have been deleted or be damaged. Pick another "
                 "model, or train this one again.", icon=":material/error:")
        return None, None
    problem = EMPTY if image is None else drawing_problem(image)
    if problem == EMPTY:
        st.info(HINTS[EMPTY])
        return None, None
    if problem is not None:
        st.warning(HINTS[problem], icon=":material/gesture:")
        return None, None
    digit_image = to_mnist(image)
    digit, probability, probabilities = predictor.predict(digit_image)
    # The answer first: the browser shows each element as it arrives, before the charts are built. The pictures
    # are PNGs and the bars use the live charts' small plotly.js: the page loads no chart library until a digit
    # is drawn, and then only plotly.js's basic bundle.
    columns = st.columns(2)
    with columns[0]:
        st.metric("Prediction", str(digit), help="The digit with the highest probability.")
        st.markdown(f"**{probability:.1%}** sure")
    with columns[1]:
        st.html(pictures.picture_html(digit_image, "What the network sees (28x28)", px=SEEN_PX))
    live_chart(inspect_charts.probability_figure(probabilities, height=280), key="probabilities", height=280)
    with st.expander("How the drawing becomes a 28x28 MNIST image"):
        st.markdown(
            "MNIST digits were cropped to their ink, scaled so the longer side is **20 pixels** (keeping the "
            "shape), and placed in a 28x28 image with their **centre of mass** in the middle. The dashboard does "
            "the same to your drawing. Shrinking the whole pad instead gives the network something it never saw:"
        )
        naive = naive_resize(image)
        if naive is not None:
            naive_digit, naive_probability, _ = predictor.predict(naive)
            st.html(pictures.picture_html(naive, f"Naive resize: predicted {naive_digit} ({naive_probability:.0%})",
                                          px=SEEN_PX))
    return digit_image, digit


@st.cache_data(show_spinner=False, max_entries=1024)
def network_kind(run_id: str) -> str:
    """softmax (no hidden layer), dense or convolutional, from the run's config."""
    try:
        model, _ = state.run_store().load_configs(run_id)
    except Exception:  # a damaged or vanished config: the table still lists the run
        return "?"
    if model.conv_layers:
        return "convolutional"
    return "dense" if model.hidden_units else "softmax"


def compare_ui(runs: list[RunInfo], digit_image: np.ndarray | None) -> None:
    """Every chosen network's answer to the same drawing, the most accurate network first."""
    if not st.toggle("Every network's opinion", key="draw_compare",
                     help="Ask every saved network about this drawing: a small or off-centre digit fools the "
                          "softmax network more often than a convolutional one."):
        return
    ranked = sorted(runs, key=lambda info: info.test_accuracy or 0.0, reverse=True)
    by_id = {info.run_id: info for info in ranked}
    chosen = st.multiselect("Networks to ask", list(by_id), default=list(by_id)[:MAX_COMPARED],
                            format_func=lambda run_id: by_id[run_id].label, max_selections=MAX_COMPARED,
                            key="draw_compare_runs")
    if digit_image is None:
        st.caption("Draw a digit to see every network's answer.")
        return
    rows = []
    for run_id in chosen:
        info = by_id[run_id]
        predictor = _loaded(info)
        digit, probability = predictor.predict(digit_image)[:2] if predictor is not None else (None, None)
        rows.append({"Network": info.name, "Kind": network_kind(run_id), "Test accuracy": info.test_accuracy,
                     "Answer": None if digit is None else str(digit), "Confidence": probability})
    st.dataframe(rows, hide_index=True, key="draw_compare_table", column_config={
        "Test accuracy": st.column_config.NumberColumn(format="percent"),
        "Confidence": st.column_config.ProgressColumn(format="percent", min_value=0.0, max_value=1.0),
    })


def keep_ui(digit_image: np.ndarray | None, answer: int | None) -> None:
    """Say which digit this is and keep the drawing in My digits (then the pad is cleared for the next one)."""
    if digit_image is None:
        return
    version = st.session_state["canvas_version"]
    label = st.pills("Which digit did you draw?", list(range(10)), key=f"keep_label_{version}", wrap=True,
                     help=f"The network says {answer}. Right or wrong, your drawing can teach it your "
                          "handwriting: keep it in My digits, below.")
    if st.button("Add to my digits", icon=":material/add_photo_alternate:", disabled=label is None,
                 key=f"keep_{version}"):
        try:
            MyDigits(state.run_store(), owner()).add(digit_image, int(label))
        except (ValueError, OSError) as error:
            st.warning(plain(error))
            return
        st.session_state["canvas_version"] += 1
        st.toast(f"Kept as a {label}. Draw the next one.", icon=":material/check:")
        st.rerun()


@st.fragment
def drawing_ui(run: RunInfo, runs: list[RunInfo]) -> None:
    """The pad and everything that answers it: each stroke reruns only this, not the page around it."""
    pad, answer = st.columns([2, 3], gap="large")
    with pad:
        image = canvas_ui()
    with answer:
        digit_image, digit = prediction_ui(run, image)
        compare_ui(runs, digit_image)
    with pad:
        keep_ui(digit_image, digit)


def _delete_digits(me: str | None) -> None:
    chosen = st.session_state.get("my_digits_remove") or []
    MyDigits(state.run_store(), me).delete(chosen)
    st.session_state["my_digits_remove"] = []


def fine_tune_result_ui(store, run_id: str) -> None:
    result = my_digits.load_result(store, run_id)
    if result is None:
        return
    def share(value):
        return "–" if value is None else f"{value:.1%}"
    st.markdown(f"**Before and after** fine-tuning (*{plain(store.get(run_id).name)}*, now in the Model box):")
    st.table({
        "": [f"your held-out digits ({result.get('held_out', 0)}, never trained on)", "MNIST test set (10,000)"],
        "before": [share(result.get("my_digits_before")), share(result.get("mnist_test_before"))],
        "after": [share(result.get("my_digits_after")), share(result.get("mnist_test_after"))],
    })


def fine_tune_ui(run: RunInfo, runs: list[RunInfo], kept: list, me: str | None) -> None:
    """Fine-tune a copy of the chosen run on the learner's digits (through the job queue), and before/after."""
    queue, store, key = state.job_queue(), state.run_store(), owner()
    running = [job for job in queue.jobs_of(owner()) if not getattr(state.progress_if_any(job.run_id), "done", True)]
    yours = run.owned_by(key) or is_teacher()
    if not yours:
        st.caption("Fine-tuning copies one of your own runs: choose one of yours in the Model box.")
    clicked = st.button(
        "Fine-tune on my digits", icon=":material/tune:",
        disabled=len(kept) < MIN_FOR_FINE_TUNE or bool(running) or not yours,
        help=f"Trains a copy of {plain(run.name)} for {FINE_TUNE_EPOCHS} epochs on two of every three of your digits, "
             f"mixed with {FINE_TUNE_MNIST_IMAGES:,} MNIST training images so that it does not forget MNIST, and "
             f"scores it on the third it never saw. Needs {MIN_FOR_FINE_TUNE} digits or more.")
    if clicked:
        try:
            model, train, files, name = my_digits.fine_tune_job(store, run.run_id, kept, owner=owner(),
                                                                teacher=is_teacher())
            queue.submit(model, train, owner=owner(), name=name, files=files)
        except (QueueFullError, RuntimeError, ValueError, OSError, LookupError) as error:
            st.warning(plain(error))
            return
        st.rerun()
    if running:
        progress_bar_ui(running[0].run_id, running[0].name)
        return
    mine = [info for info in runs if info.owned_by(key) and my_digits.has_result(info)]
    if mine:
        fine_tune_result_ui(store, mine[0].run_id)


def my_digits_ui(run: RunInfo, runs: list[RunInfo]) -> None:
    """The learner's kept drawings as a grid they can prune, and fine-tuning on them."""
    st.subheader("My digits")
    me = owner()
    kept = MyDigits(state.run_store(), me).list()
    st.caption(f"{len(kept)} of at most {MAX_DIGITS} kept in this browser. MNIST was written by American students "
               "and census employees in the 1990s; your 7s and 1s may look different. Keep drawings with the "
               "digit you meant, then fine-tune a network on them.")
    if kept:
        st.image(my_digits.contact_sheet(kept), caption="#number: the digit it is kept as")
        numbers = {digit.digit_id: f"#{index} (a {digit.label})" for index, digit in enumerate(kept, start=1)}
        remove, delete = st.columns([4, 1], vertical_alignment="bottom")
        with remove:
            st.multiselect("Remove", list(numbers), format_func=numbers.get, key="my_digits_remove",
                           placeholder="Pick drawings to remove")
        with delete:
            st.button("Delete", icon=":material/delete:", on_click=_delete_digits, args=(me,),
                      disabled=not st.session_state.get("my_digits_remove"))
    fine_tune_ui(run, runs, kept, me)


def page() -> None:
    st.title("Draw a digit")
    runs = [info for info in state.run_store().list() if info.has_model]
    if not runs:
        quick_model_ui()
        return
    run = model_ui(runs, key="draw_model")
    drawing_ui(run, runs)
    my_digits_ui(run, runs)


page()
