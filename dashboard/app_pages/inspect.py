"""Inspect: where a trained network goes wrong, what its first layer learned, and what each layer sees.

Its pictures (digits, weights, feature maps, the confusion matrix) are HTML with small PNGs, and its charts use
the live charts' plotly.js (the basic bundle): with Streamlit's Plotly charts, loading the full plotly.js and
drawing a heatmap subplot per tile took the browser several seconds, most of the page's time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import numpy as np
import streamlit as st

from dashboard import inspect_charts, pictures, state
from dashboard.insight_view import insight_ui
from dashboard.live_chart import live_chart
from dashboard.widgets import model_ui
from mnist_models import inspection
from mnist_models.config import ModelConfig
from mnist_models.data import Mnist, load_mnist

IMAGE_KEY = "inspect_image"
MISTAKE_COLUMNS = 6
CLASS_ACCURACY_HEIGHT = 480  # beside the confusion matrix, about as tall
log = logging.getLogger(__name__)
MAX_DENSE_NEURONS = 24  # a hidden layer of 200 neurons would be 200 tiny images; the first few tell the story


@contextlib.contextmanager
def readable_errors(what: str) -> Iterator[None]:
    """Show a failure inside one section as a short message, so one broken part does not take the page down."""
    try:
        yield
    except Exception as error:
        # The details (which can name files on the server) go to the server's log, not to every visitor.
        log.warning("Inspect could not show %s: %r", what, error)
        st.error(f"Could not show {what} for this run ({type(error).__name__}). An older or damaged run may not "
                 "support it; try another run or train this network again.", icon=":material/error:")


@st.cache_data(show_spinner="Scoring the 10,000 test images…", max_entries=8)
def test_probabilities(run_id: str, modified: float) -> np.ndarray:
    """(10000, 10) probabilities for every test image, computed once per saved model (`modified` is its mtime)."""
    model = state.predictor(run_id, modified).model
    return inspection.score_images(model, load_mnist().x_test)


def summary_ui(predictions: np.ndarray, labels: np.ndarray) -> None:
    """Three numbers: accuracy, how many test images are wrong, and the hardest digit."""
    wrong = int((predictions != labels).sum())
    per_digit = inspection.per_class_accuracy(labels, predictions)
    hardest = int(np.nanargmin(per_digit))
    numbers = st.columns(3)
    numbers[0].metric("Test accuracy", f"{1 - wrong / len(labels):.2%}")
    numbers[1].metric("Mistakes", f"{wrong:,} of {len(labels):,}")
    numbers[2].metric("Hardest digit", str(hardest), help=f"Only {per_digit[hardest]:.1%} of the {hardest}s are "
                                                          "recognised; the confusion matrix shows what they are "
                                                          "taken for.")


def confusion_ui(predictions: np.ndarray, labels: np.ndarray) -> None:
    """The confusion matrix beside the accuracy of each digit."""
    st.subheader("Which digits get confused")
    st.caption("Each row is the true digit, each column the network's answer. The diagonal counts the right "
               "answers; every other number is a mistake, darker where there are more (hover for details).")
    matrix = inspection.confusion_matrix(labels, predictions)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.html(pictures.confusion_html(matrix))
    with right:
        live_chart(inspect_charts.class_accuracy_figure(inspection.per_class_accuracy(labels, predictions),
                                                        height=CLASS_ACCURACY_HEIGHT),
                   key="class_accuracy", height=CLASS_ACCURACY_HEIGHT)


def mistakes_ui(probabilities: np.ndarray, labels: np.ndarray, images: np.ndarray) -> None:
    """A grid of the test images the network got wrong while being surest of itself."""
    st.subheader("Its most confident mistakes")
    controls = st.columns([1, 2, 2])
    digit = controls[0].selectbox("True digit", ["any", *range(10)], key="inspect_mistake_digit",
                                  help="Only mistakes on images of this digit.")
    count = controls[1].slider("Mistakes shown", 6, 48, 18, step=6, key="inspect_mistake_count")
    indices = inspection.worst_mistakes(probabilities, labels, count, None if digit == "any" else int(digit))
    if len(indices) == 0:
        st.success("No mistakes here: every one of these test images is classified correctly.")
        return
    predicted = probabilities[indices].argmax(axis=1)
    titles = [f"true {labels[index]}, predicted {guess} ({probabilities[index, guess]:.0%})<br>test image #{index}"
              for index, guess in zip(indices, predicted, strict=True)]
    st.html(pictures.picture_grid_html(images[indices], titles, columns=MISTAKE_COLUMNS, zrange=(0.0, 1.0),
                                       tile_px=140))
    st.caption("Many of these are hard even for people, and a few MNIST labels are simply wrong. Type an image's "
               "number under **Layer by layer** below to see how the network reached its answer.")


def weights_ui(model, config: ModelConfig) -> None:
    """The first layer's weights drawn as images, blue for positive and red for negative."""
    st.subheader("What the first layer learned")
    weights = inspection.first_layer_weights(model)
    if config.conv_layers:
        size = weights.shape[1]
        titles = [f"filter {index + 1}" for index in range(len(weights))]
        st.caption(f"The {len(weights)} filters of the first convolution, {size}x{size} weights each. Every filter "
                   "slides over the image and answers strongly where the pixels under it match its pattern: blue "
                   "pixels (positive weights) add, red ones (negative) subtract.")
        grid = pictures.picture_grid_html(weights, titles, columns=12, diverging=True, tile_px=90,
                                          colorbar_title="weight")
    elif not config.hidden_units:
        titles = [f"digit {digit}" for digit in range(len(weights))]
        st.caption("This network is one softmax layer: each digit's score is the sum of the pixels times that "
                   "digit's 784 weights, drawn here as a 28x28 image. Blue pixels vote for the digit when they are "
                   "inked, red ones against it, so each image is a blurry template of the digit.")
        grid = pictures.picture_grid_html(weights, titles, columns=5, diverging=True, tile_px=160,
                                          colorbar_title="weight")
    else:
        shown = weights[:MAX_DENSE_NEURONS]
        titles = [f"neuron {index + 1}" for index in range(len(shown))]
        st.caption(f"The first dense layer has {len(weights)} neurons, each with one weight per pixel (the first "
                   f"{len(shown)} are drawn as 28x28 images). Blue pixels excite the neuron when inked, red ones "
                   "inhibit it. With enough training hidden neurons pick up strokes and blobs rather than whole "
                   "digits; early on they still look like the random noise they started from.")
        grid = pictures.picture_grid_html(shown, titles, columns=8, diverging=True, tile_px=110,
                                          colorbar_title="weight")
    st.html(grid)


def pick_random_mistake(mistakes: np.ndarray) -> None:
    """The random-mistake button's callback: runs before the number input is drawn, so it may set its value."""
    st.session_state[IMAGE_KEY] = int(np.random.default_rng().choice(mistakes))


def image_choice_ui(probabilities: np.ndarray, labels: np.ndarray) -> int:
    """A test image's number, typed or picked at random among the mistakes."""
    mistakes = np.flatnonzero(probabilities.argmax(axis=1) != labels)
    st.session_state.setdefault(IMAGE_KEY, int(mistakes[0]) if len(mistakes) else 0)
    columns = st.columns([1, 1, 3], vertical_alignment="bottom")
    index = columns[0].number_input("Test image", min_value=0, max_value=len(labels) - 1, step=1, key=IMAGE_KEY,
                                    help=f"Any of the {len(labels):,} test images, by number (0 to {len(labels) - 1}).")
    columns[1].button("A random mistake", on_click=pick_random_mistake, args=(mistakes,), disabled=not len(mistakes),
                      icon=":material/shuffle:")
    return int(index)


def activations_ui(model, probabilities: np.ndarray, labels: np.ndarray, images: np.ndarray) -> None:
    """One test image going through the network: every layer's output, from the pixels to the answer."""
    st.subheader("Layer by layer")
    index = image_choice_ui(probabilities, labels)
    guess = int(probabilities[index].argmax())
    verdict = "right." if guess == labels[index] else f"wrong, it is a {labels[index]}."
    picture, answer = st.columns([1, 2], gap="large")
    with picture:
        st.html(pictures.picture_html(images[index], f"Test image #{index}: a {labels[index]}", px=260))
    with answer:
        st.markdown(f"The network answers **{guess}**, **{probabilities[index, guess]:.1%}** sure: {verdict}")
        live_chart(inspect_charts.probability_figure(probabilities[index], height=260), key="inspect_probabilities",
                   height=260)
    # The last layer's output is the probabilities just shown; the layers before it are the news here.
    hidden = inspection.activations(model, images[index])[:-1]
    if not hidden:
        st.caption("This network has no hidden layer: the pixels go straight into the ten outputs above.")
        return
    st.caption("On the way there, each layer's output for this image. A convolution gives one small map per "
               "filter (bright where the filter found its pattern); a dense layer gives one number per neuron.")
    for name, output in hidden:
        if output.ndim == 3:
            height, width, channels = output.shape
            st.html(pictures.feature_maps_html(output, f"{name}: {channels} feature maps of {height}x{width}"))
        else:
            figure = inspect_charts.dense_activation_figure(output, f"{name}: {output.size} neurons")
            live_chart(figure, key=f"activation_{name}", height=figure.layout.height)


def page() -> None:
    st.title("Inspect a trained network")
    runs = [info for info in state.run_store().list() if info.has_model]
    if not runs:
        st.info("There is no trained network to inspect yet. Train one (a few epochs are enough), then come back "
                "to see its mistakes, its weights and what each layer sees.")
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
        return
    run = model_ui(runs, key="inspect_model")
    try:
        modified = state.run_store().model_modified(run.run_id)
        model = state.predictor(run.run_id, modified).model
        config, _ = state.run_store().load_configs(run.run_id)
        data: Mnist = load_mnist()
        probabilities = test_probabilities(run.run_id, modified)
    except Exception as error:
        log.warning("Inspect could not load run %s: %r", run.run_id, error)
        st.error(f"This run's network cannot be loaded ({type(error).__name__}). It may come from an older "
                 "version of the dashboard or be damaged; pick another run or train it again.",
                 icon=":material/error:")
        return
    labels = data.y_test.astype(int)
    predictions = probabilities.argmax(axis=1)
    with readable_errors("the scores"):
        summary_ui(predictions, labels)
    with readable_errors("the confusion matrix"):
        confusion_ui(predictions, labels)
    with readable_errors("the mistakes"):
        mistakes_ui(probabilities, labels, data.x_test)
    with readable_errors("the first layer's weights"):
        weights_ui(model, config)
    with readable_errors("the weights during training"):
        st.subheader("How the weights moved while it learned")
        insight, _ = state.insight(run.run_id)
        if insight["weights"]:
            insight_ui(run.run_id, key="inspect_inside")  # as the live view draws them: the run has ended
        else:
            st.caption("This run was trained before the dashboard recorded its weights during training.")
    with readable_errors("the layer outputs"):
        activations_ui(model, probabilities, labels, data.x_test)


page()
