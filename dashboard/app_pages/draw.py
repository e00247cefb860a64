"""Draw: draw a digit with the mouse or a finger and see what a trained network sees and predicts."""

from __future__ import annotations

import binascii
import logging

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, UnidentifiedImageError
from streamlit_drawable_canvas import st_canvas

from dashboard import charts, state
from dashboard.identity import identity
from dashboard.widgets import model_ui, plain
from mnist_models.drawing import naive_resize, to_mnist
from mnist_models.jobs import QueueFullError
from mnist_models.presets import get_preset
from mnist_models.runs import RunInfo

log = logging.getLogger(__name__)
CANVAS_SIZE = 280  # ten canvas pixels per MNIST pixel
STROKE_WIDTH = 18  # at 280 px this gives MNIST-like stroke thickness after the 20 px rescale
QUICK_PRESET = "conv-bigger-dropout"
QUICK_EPOCHS = 1  # one epoch of batches of 32: under a minute on a 2-core CPU, ~98.5% on the test set


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
    queue, me = state.job_queue(), identity()
    mine = [job for job in queue.jobs_of(me) if not state.progress(job.run_id).done]
    if mine:
        run_id = mine[0].run_id

        @st.fragment(run_every=1.0)
        def waiting() -> None:
            progress = state.progress(run_id)
            if progress.waiting:
                st.progress(0.0, text=f"Waiting for a free slot (number {queue.position(run_id) or 1} in the queue)…")
            else:
                st.progress(progress.fraction, text=f"Training {plain(mine[0].name)}: epoch "
                                                    f"{min(progress.epoch + 1, progress.epochs)}/{progress.epochs}, "
                                                    f"batch {progress.batch}")
            if progress.done:
                st.rerun()

        waiting()
        return
    if st.button("Train a quick model", type="primary", icon=":material/bolt:"):
        preset = get_preset(QUICK_PRESET)
        model, train = preset.configs()
        train.epochs = QUICK_EPOCHS
        try:
            queue.submit(model, train, owner=me, preset=preset.name, name="Quick convnet (Draw page)")
        except (QueueFullError, RuntimeError, ValueError, OSError) as error:
            st.warning(str(error))
            return
        st.rerun()


def read_canvas(result) -> np.ndarray | None:
    """The canvas's RGBA pixels, or None when there is nothing (or nothing readable) yet."""
    try:
        return result.image_data
    except (ValueError, binascii.Error, UnidentifiedImageError, OSError):
        st.warning("The drawing could not be read; press Clear and draw again.")
        return None


def _clear_canvas() -> None:
    # A new key mounts a new, empty canvas: the component has no "clear" input of its own. As a callback it
    # takes effect in the run the click starts, without a second run.
    st.session_state["canvas_version"] += 1


def canvas_ui() -> np.ndarray | None:
    """The drawing pad and its Clear button; returns the canvas's RGBA pixels."""
    st.session_state.setdefault("canvas_version", 0)
    st.caption("Draw one digit, large, inside the box. Hover the pad to reach its toolbar (undo, redo).")
    result = st_canvas(
        stroke_width=STROKE_WIDTH, stroke_color="#FFFFFF", background_image=guide_background(),
        height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw", return_image_data=True,
        key=f"canvas_{st.session_state['canvas_version']}",
    )
    st.button("Clear", icon=":material/ink_eraser:", on_click=_clear_canvas)
    return read_canvas(result)


def prediction_ui(run: RunInfo, image: np.ndarray | None) -> None:
    """What the network receives (28x28) and what it answers."""
    # Loading the model first (a few seconds on the first visit) means the first stroke answers at once.
    try:
        predictor = state.predictor(run.run_id, run.path.joinpath("model.keras").stat().st_mtime)
    except Exception as error:  # deleted meanwhile, damaged, unreadable, or a disk error
        log.warning("Draw could not load run %s: %r", run.run_id, error)
        st.error(f"This run's network cannot be loaded ({type(error).__name__}): it may have been deleted or be "
                 "damaged. Pick another model, or train this one again.", icon=":material/error:")
        return
    columns = st.columns(2)
    if image is None:
        with columns[0]:
            st.info("Draw a digit")
        return
    digit_image = to_mnist(image)
    if digit_image is None:
        with columns[0]:
            st.info("Draw a digit")
        return
    digit, probability, probabilities = predictor.predict(digit_image)
    with columns[0]:
        st.metric("Prediction", str(digit), help="The digit with the highest probability.")
        st.markdown(f"**{probability:.1%}** sure")
    with columns[1]:
        st.plotly_chart(charts.image_figure(digit_image, "What the network sees (28x28)", height=260),
                        key="seen_image")
    st.plotly_chart(charts.probability_figure(probabilities, height=280), key="probabilities")
    with st.expander("How the drawing becomes a 28x28 MNIST image"):
        st.markdown(
            "MNIST digits were cropped to their ink, scaled so the longer side is **20 pixels** (keeping the "
            "shape), and placed in a 28x28 image with their **centre of mass** in the middle. The dashboard does "
            "the same to your drawing. Shrinking the whole pad instead gives the network something it never saw:"
        )
        naive = naive_resize(image)
        if naive is not None:
            naive_digit, naive_probability, _ = predictor.predict(naive)
            st.plotly_chart(charts.image_figure(naive, f"Naive resize: predicted {naive_digit} "
                                                       f"({naive_probability:.0%})", height=240), key="naive_image")


def page() -> None:
    st.title("Draw a digit")
    runs = [info for info in state.run_store().list() if info.has_model]
    if not runs:
        quick_model_ui()
        return
    run = model_ui(runs, key="draw_model")
    pad, answer = st.columns([2, 3], gap="large")
    with pad:
        image = canvas_ui()
    with answer:
        prediction_ui(run, image)


page()
