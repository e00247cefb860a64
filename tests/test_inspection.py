"""Tests for mnist_models.inspection, the Inspect page's bar charts (dashboard.inspect_charts) and the page itself
(its pictures are checked in test_pictures.py)."""

from __future__ import annotations

import chart_support
import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard import charts, inspect_charts
from mnist_models import inspection
from mnist_models.architecture import plan_layers
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.predict import Predictor
from mnist_models.store.runs import RunStore
from mnist_models.worker.models import build_model
from mnist_models.worker.training import TrainingThread

TINY_CONV = ModelConfig(conv_layers=[ConvLayer(4, 5, 2)], hidden_units=[16])


def test_confusion_matrix_counts_hand_made_pairs():
    labels = [0, 0, 1, 2, 2, 2, 9]
    predictions = [0, 1, 1, 2, 0, 2, 4]
    matrix = inspection.confusion_matrix(labels, predictions)
    expected = np.zeros((10, 10), dtype=int)
    expected[0, 0] = 1
    expected[0, 1] = 1  # a true 0 taken for a 1: row = true digit, column = prediction
    expected[1, 1] = 1
    expected[2, 2] = 2
    expected[2, 0] = 1
    expected[9, 4] = 1
    assert matrix.shape == (10, 10)
    assert np.issubdtype(matrix.dtype, np.integer)
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == len(labels)


def test_confusion_matrix_accepts_whole_floats_and_empty_input():
    np.testing.assert_array_equal(inspection.confusion_matrix(np.array([3.0]), np.array([5]))[3, 5], 1)
    assert inspection.confusion_matrix([], []).sum() == 0


@pytest.mark.parametrize(("labels", "predictions", "message"), [
    ([0, 1], [0], "2 labels but 1 predictions"),
    ([0, 10], [0, 1], "digits from 0 to 9"),
    ([0, -1], [0, 1], "digits from 0 to 9"),
    ([[0, 1]], [[0, 1]], "flat list"),
    ([0.5], [0], "whole digits"),
])
def test_confusion_matrix_rejects_bad_input_with_a_clear_message(labels, predictions, message):
    with pytest.raises(ValueError, match=message):
        inspection.confusion_matrix(labels, predictions)


def test_per_class_accuracy_known_answer():
    accuracy = inspection.per_class_accuracy([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_allclose(accuracy[:3], [0.5, 1.0, 2 / 3])
    assert np.isnan(accuracy[3:]).all()  # digits with no images have no accuracy, not 0%


def _one_hot_ish(predicted: list[int], confidence: list[float]) -> np.ndarray:
    """Rows of probabilities whose top digit is `predicted` with the given probability."""
    rows = np.full((len(predicted), 10), 0.0)
    for row, (digit, top) in enumerate(zip(predicted, confidence, strict=True)):
        rows[row] = (1 - top) / 9
        rows[row, digit] = top
    return rows


def test_worst_mistakes_are_wrong_answers_most_confident_first():
    labels = [4, 4, 7, 1, 9, 3]
    probabilities = _one_hot_ish([9, 4, 1, 7, 4, 8], [0.6, 0.99, 0.97, 0.8, 0.6, 0.2])
    # Image 1 is right (99% sure of 4); the mistakes are 2 (97%), 3 (80%), 0 and 4 (60%, kept in order), 5 (20%).
    np.testing.assert_array_equal(inspection.worst_mistakes(probabilities, labels, 10), [2, 3, 0, 4, 5])
    np.testing.assert_array_equal(inspection.worst_mistakes(probabilities, labels, 2), [2, 3])
    assert len(inspection.worst_mistakes(probabilities, labels, 0)) == 0
    np.testing.assert_array_equal(inspection.worst_mistakes(probabilities, labels, 10, true_digit=4), [0])
    assert len(inspection.worst_mistakes(probabilities, labels, 10, true_digit=0)) == 0


def test_worst_mistakes_rejects_bad_input():
    probabilities = _one_hot_ish([1, 2], [0.9, 0.9])
    with pytest.raises(ValueError, match="whole number"):
        inspection.worst_mistakes(probabilities, [1, 2], -1)
    with pytest.raises(ValueError, match=r"shape \(images, 10\)"):
        inspection.worst_mistakes(probabilities[:, :5], [1, 2], 3)
    with pytest.raises(ValueError, match="2 rows of probabilities but 3 labels"):
        inspection.worst_mistakes(probabilities, [1, 2, 3], 3)
    with pytest.raises(ValueError, match="NaN"):
        inspection.worst_mistakes(np.full((2, 10), np.nan), [1, 2], 3)
    with pytest.raises(ValueError, match="true digit"):
        inspection.worst_mistakes(probabilities, [1, 2], 3, true_digit=12)


def test_softmax_network_has_ten_digit_templates():
    model = build_model(ModelConfig(hidden_units=[]))
    templates = inspection.first_layer_weights(model)
    assert templates.shape == (10, 28, 28)
    kernel = model.get_layer("output").get_weights()[0]  # (784, 10)
    # The weight of pixel (row 5, column 17) for digit 3 is the kernel entry of input 5 * 28 + 17.
    assert templates[3, 5, 17] == pytest.approx(kernel[5 * 28 + 17, 3])
    np.testing.assert_allclose(templates[7].ravel(), kernel[:, 7])


def test_dense_first_layer_gives_one_image_per_neuron():
    model = build_model(ModelConfig(hidden_units=[16, 8]))
    assert inspection.first_layer_weights(model).shape == (16, 28, 28)


def test_conv_first_layer_gives_its_kernels():
    model = build_model(ModelConfig(conv_layers=[ConvLayer(6, 5, 1), ConvLayer(3, 3, 2)], hidden_units=[10]))
    kernels = inspection.first_layer_weights(model)
    assert kernels.shape == (6, 5, 5)
    kernel = model.get_layer("conv1").get_weights()[0]  # (5, 5, 1, 6)
    np.testing.assert_allclose(kernels[4], kernel[:, :, 0, 4])


def test_first_layer_weights_rejects_something_that_is_not_a_model():
    with pytest.raises(ValueError, match="Keras model"):
        inspection.first_layer_weights("model.keras")


@pytest.mark.parametrize("batch_norm", [False, True])
def test_activations_match_the_planned_layers(batch_norm, mnist):
    config = ModelConfig(conv_layers=[ConvLayer(4, 5, 1), ConvLayer(8, 4, 2)], hidden_units=[12],
                         dropout_rate=0.25, batch_norm=batch_norm)
    model = build_model(config)
    outputs = inspection.activations(model, mnist.x_test[0])
    planned = [(spec.name, spec.output_shape) for spec in plan_layers(config)
               if spec.kind in ("Conv2D", "Activation", "Dense")]
    assert [(name, array.shape) for name, array in outputs] == planned
    assert outputs[0] == ("conv1", outputs[0][1]) and outputs[0][1].shape == (28, 28, 4)
    # The last output is the network's own answer for the image.
    name, probabilities = outputs[-1]
    assert name == "output"
    np.testing.assert_allclose(probabilities, np.asarray(model(mnist.x_test[:1], training=False))[0], atol=1e-5)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_activations_reuse_one_extractor_per_model(mnist):
    model = build_model(TINY_CONV)
    first = inspection._extractor(model)[0]
    inspection.activations(model, mnist.x_test[1])
    assert inspection._extractor(model)[0] is first
    other = build_model(TINY_CONV)
    assert inspection._extractor(other)[0] is not first


def test_activations_reject_a_wrong_image():
    model = build_model(ModelConfig(hidden_units=[]))
    with pytest.raises(ValueError, match="one 28x28 image"):
        inspection.activations(model, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="NaN"):
        inspection.activations(model, np.full((28, 28), np.nan))


def test_score_images_shapes_and_errors(mnist):
    model = build_model(ModelConfig(hidden_units=[]))
    probabilities = inspection.score_images(model, mnist.x_test[:30], batch_size=8)
    assert probabilities.shape == (30, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert inspection.score_images(model, np.zeros((0, 28, 28))).shape == (0, 10)
    with pytest.raises(ValueError, match=r"\(n, 28, 28\)"):
        inspection.score_images(model, np.zeros((28, 28)))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, mnist):
    """A small convnet trained for one epoch on 1,000 images, saved in its own runs folder."""
    folder = tmp_path_factory.mktemp("inspect_runs")
    store = RunStore(folder)
    train = TrainConfig(epochs=1, train_size=1000, validation_size=500, batch_size=50)
    job = TrainingThread(TINY_CONV, train, store=store, preset="custom", name="tiny convnet", data=mnist).start()
    progress = job.wait(300)
    assert progress.status == "completed", progress.error
    return folder, store.get(job.run_id)


def test_scoring_a_saved_run_reproduces_its_test_accuracy(trained_run, mnist):
    folder, info = trained_run
    model = Predictor.for_run(info.run_id, RunStore(folder)).model
    probabilities = inspection.score_images(model, mnist.x_test)
    assert probabilities.shape == (10_000, 10)
    accuracy = float((probabilities.argmax(axis=1) == mnist.y_test).mean())
    assert accuracy == pytest.approx(info.test_accuracy, abs=1e-3)
    matrix = inspection.confusion_matrix(mnist.y_test, probabilities.argmax(axis=1))
    assert matrix.sum() == 10_000
    assert np.trace(matrix) == round(accuracy * 10_000)
    mistakes = inspection.worst_mistakes(probabilities, mnist.y_test, 20)
    assert (probabilities[mistakes].argmax(axis=1) != mnist.y_test[mistakes]).all()
    confidence = probabilities[mistakes].max(axis=1)
    assert (np.diff(confidence) <= 0).all()
    # A saved-and-loaded Sequential still exposes its layers one by one.
    names = [name for name, _ in inspection.activations(model, mnist.x_test[0])]
    assert names == ["conv1", "dense1", "output"]


def test_class_accuracy_figure_highlights_the_weakest_digit():
    accuracies = [0.99, 0.98, 0.95, 0.97, 0.96, 0.9, 0.99, 0.97, 0.96, 0.94]
    figure = inspect_charts.class_accuracy_figure(accuracies)
    (bars,) = figure.data
    assert isinstance(bars, go.Bar)
    assert figure.layout.title.text == "Accuracy per digit"
    assert bars.marker.color[5] == charts.BEST_COLOUR
    assert bars.text[5] == "90.0%"
    with pytest.raises(ValueError, match="10 values"):
        inspect_charts.class_accuracy_figure([0.5, 0.5])


def test_dense_activation_figure_bars():
    figure = inspect_charts.dense_activation_figure([0.5, -0.25, 2.0], "dense1: 3 neurons")
    (bars,) = figure.data
    assert isinstance(bars, go.Bar)
    assert list(bars.y) == [0.5, -0.25, 2.0]
    assert figure.layout.title.text == "dense1: 3 neurons"
    assert bars.marker.color[1] == charts.BEST_COLOUR  # negative values stand out
    with pytest.raises(ValueError, match="one label per neuron"):
        inspect_charts.dense_activation_figure([1.0, 2.0], "x", labels=["a"])


def _fresh_app():
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    # The run store and the scored test set are cached per process; another test's folder must not leak in.
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file("../dashboard/app.py", default_timeout=180)
    app.run()
    app.switch_page("app_pages/inspect.py")
    return app.run()


def _chart_titles(app) -> list[str]:
    return chart_support.titles(app)


def test_inspect_page_shows_a_saved_run(trained_run, monkeypatch):
    folder, info = trained_run
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    app = _fresh_app()
    assert not app.exception, app.exception
    assert not app.error, [element.value for element in app.error]
    assert app.selectbox(key="inspect_model").value == info.run_id
    titles = _chart_titles(app)
    assert "Confusion matrix" in titles
    assert "Accuracy per digit" in titles
    assert any(title.startswith("conv1: 4 feature maps") for title in titles)

    # Only the mistakes on 4s, then a random mistake sent through the layers.
    app.selectbox(key="inspect_mistake_digit").set_value(4).run()
    assert not app.exception, app.exception
    next(button for button in app.button if button.label == "A random mistake").click().run()
    assert not app.exception, app.exception
    index = app.number_input(key="inspect_image").value
    assert any(f"#{index}: a " in title for title in _chart_titles(app))
    assert any("wrong, it is a" in markdown.value for markdown in app.markdown)


def test_inspect_page_reports_a_damaged_model_readably(runs_dir):
    store = RunStore(runs_dir)
    run_id = store.create(TINY_CONV, TrainConfig(), preset="custom", name="damaged")
    (runs_dir / run_id / "model.keras").write_bytes(b"not a keras file")
    app = _fresh_app()
    assert not app.exception, app.exception
    assert "cannot be loaded" in app.error[0].value


def test_inspect_page_without_runs_points_to_train():
    app = _fresh_app()
    assert not app.exception, app.exception
    assert "no trained network" in app.info[0].value
    assert not app.get("plotly_chart") and not chart_support.titles(app)
