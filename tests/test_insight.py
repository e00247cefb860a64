"""Tests for what a worker records inside the network: weight percentiles, the digit wall, learning rates and
TensorBoard event files (read back with TensorBoard's own reader), and the figures the dashboard draws of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.insight_view import digit_wall_image, learning_rate_figure, weights_figure
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.insight import PERCENTILES, digit_wall, layer_names, percentile_rows
from mnist_models.store.runs import RunStore
from mnist_models.worker.training import TrainingThread


def test_percentile_rows_are_ordered_and_exact():
    values = np.arange(101, dtype=float)  # percentiles of 0..100 are the percentages themselves
    [row] = percentile_rows(2.0, [("dense1", "weights", values.reshape(1, 101))])
    assert row == {"epoch": 2.0, "layer": "dense1", "kind": "weights", "percentiles": [float(p) for p in PERCENTILES]}
    rows = percentile_rows(0.0, [("a", "weights", np.random.default_rng(0).normal(size=(50, 20))),
                                 ("a", "biases", np.zeros(20)), ("empty", "biases", np.zeros(0))])
    assert [(row["layer"], row["kind"]) for row in rows] == [("a", "weights"), ("a", "biases")]
    assert rows[0]["percentiles"] == sorted(rows[0]["percentiles"])


def test_digit_wall_holds_ten_of_each_digit_in_order(mnist):
    wall = digit_wall(mnist.y_test)
    assert wall.shape == (100,)
    assert list(mnist.y_test[wall]) == [digit for digit in range(10) for _ in range(10)]
    assert list(wall) == list(digit_wall(mnist.y_test)), "the same wall every time"
    with pytest.raises(ValueError, match="1-D"):
        digit_wall(np.zeros((2, 2)))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, mnist):
    """A small convnet trained 2 epochs on 600 images: two conv layers, one dense, the output."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    model = ModelConfig(conv_layers=[ConvLayer(4, 3, 2), ConvLayer(8, 3, 2)], hidden_units=[32])
    train = TrainConfig(optimizer="adam", learning_rate=0.003, lr_schedule="exponential", lr_decay_steps=5,
                        min_learning_rate=0.0001, epochs=2, train_size=600, validation_size=100)
    progress = TrainingThread(model, train, store=store, data=mnist).start().wait(300)
    assert progress.status == "completed", progress.error
    return store, progress


def test_weight_statistics_one_row_per_layer_kind_and_epoch(tiny_run):
    store, progress = tiny_run
    insight = store.load_insight(progress.run_id)
    assert insight["percentiles"] == list(PERCENTILES)
    rows = insight["weights"]
    assert layer_names(rows) == ["conv1", "conv2", "dense1", "output"]
    for epoch in (0.0, 1.0, 2.0):  # as initialised, then after each epoch
        at_epoch = [(row["layer"], row["kind"]) for row in rows if row["epoch"] == epoch]
        assert at_epoch == [(layer, kind) for layer in ("conv1", "conv2", "dense1", "output")
                            for kind in ("weights", "biases")], epoch
    for row in rows:
        assert len(row["percentiles"]) == len(PERCENTILES)
        assert row["percentiles"] == sorted(row["percentiles"])
    # Biases start at zero and move once the network learns.
    first = next(row for row in rows if row["layer"] == "dense1" and row["kind"] == "biases")
    last = [row for row in rows if row["layer"] == "dense1" and row["kind"] == "biases"][-1]
    assert first["percentiles"] == [0.0] * len(PERCENTILES) and last["percentiles"] != first["percentiles"]


def test_the_digit_wall_answers_are_the_saved_models(tiny_run, mnist):
    import keras

    store, progress = tiny_run
    digits = store.load_insight(progress.run_id)["digits"]
    assert digits["epoch"] == 2.0
    assert digits["indices"] == digit_wall(mnist.y_test).tolist()
    assert digits["labels"] == mnist.y_test[digits["indices"]].tolist()
    model = keras.saving.load_model(store.model_path(progress.run_id))
    answers = model.predict(np.asarray(mnist.x_test[digits["indices"]]), verbose=0).argmax(axis=1)
    assert digits["predicted"] == answers.tolist()


def test_learning_rates_follow_the_schedule(tiny_run):
    store, progress = tiny_run
    rates = store.load_learning_rates(progress.run_id)
    assert rates and all(set(point) == {"epoch", "step", "rate"} for point in rates)
    values = [point["rate"] for point in rates]
    assert values == sorted(values, reverse=True), "an exponential decay only falls"
    assert values[-1] < 0.003


def test_tensorboard_event_files_hold_scalars_and_histograms(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    store, progress = tiny_run
    reader = EventAccumulator(str(store.tensorboard_dir(progress.run_id)), size_guidance={"tensors": 0})
    reader.Reload()
    tags = set(reader.Tags()["tensors"])
    scalars = {f"{metric}/{curve}" for metric in ("loss", "accuracy") for curve in ("train", "validation", "test")}
    histograms = {f"{layer}/{kind}" for layer in ("conv1", "conv2", "dense1", "output")
                  for kind in ("weights", "biases")}
    assert scalars | histograms | {"learning_rate"} <= tags
    test_accuracy = reader.Tensors("accuracy/test")
    assert [event.step for event in test_accuracy] == [point.step for point in progress.test]
    last = float(np.asarray(__import__("tensorflow").make_ndarray(test_accuracy[-1].tensor_proto)))
    assert last == pytest.approx(progress.test_accuracy)


def test_weights_figure_draws_bands_and_the_median():
    rows = percentile_rows(0.0, [("d", "weights", np.linspace(-1, 1, 101))]) + \
        percentile_rows(1.0, [("d", "weights", np.linspace(-2, 2, 101))])
    figure = weights_figure(rows, "d", "weights")
    assert figure.layout.title.text == "d: weights"
    median = figure.data[-1]
    assert median.name == "median" and list(median.x) == [0.0, 1.0]
    assert list(median.y) == pytest.approx([0.0, 0.0], abs=1e-12)
    assert max(max(trace.y) for trace in figure.data) == pytest.approx(2.0)
    assert len(weights_figure(rows, "nope", "weights").data) == 0


def test_learning_rate_figure():
    figure = learning_rate_figure([{"epoch": 0.5, "step": 5, "rate": 0.003}, {"epoch": 1.0, "step": 10, "rate": 0.002}])
    assert figure.layout.title.text == "Learning rate"
    assert list(figure.data[0].y) == [0.003, 0.002]


def test_digit_wall_image_marks_wrong_answers_in_red():
    images = np.zeros((12, 28, 28), dtype=np.float32)
    images[:, 10:18, 12:16] = 1.0  # a white bar in each
    labels = [*range(10), 0, 1]
    predicted = list(labels)
    predicted[3] = 8
    wall = digit_wall_image(images, labels, predicted, columns=10)
    assert wall.shape == (2 * 56, 10 * 56, 3) and wall.dtype == np.uint8
    right, wrong = wall[4:8, 4:8], wall[4:8, 3 * 56 + 10:3 * 56 + 14]  # background corners of cells 0 and 3
    assert (right == 0).all(), "a right answer stays white on black"
    assert (wrong[..., 0] > 150).all() and (wrong[..., 2] < 50).all(), "a wrong one turns red"
    plain = digit_wall_image(images, labels, None)
    assert plain[4:8, 3 * 56 + 10:3 * 56 + 14].max() == 0, "no answers yet: nothing is red"
    with pytest.raises(ValueError, match="28, 28"):
        digit_wall_image(np.zeros((3, 10, 10)), [0, 1, 2], None)


def _inside_page(run_id: str) -> None:
    from dashboard.insight_view import insight_ui

    insight_ui(run_id, key="inside")


@pytest.fixture
def tiny_run_served(tiny_run, monkeypatch):
    """The pages' run store is the tiny run's."""
    import streamlit as st

    store, progress = tiny_run
    monkeypatch.setenv("MNIST_RUNS_DIR", str(store.root))
    st.cache_resource.clear()
    yield store, progress
    st.cache_resource.clear()


def test_inside_the_network_shows_a_finished_run_s_layers_learning_rate_and_wall(tiny_run_served):
    # The wall is a PNG: a JPEG blurs the digits' edges and took 230 KB where the PNG takes about 50 KB.
    from streamlit.testing.v1 import AppTest

    store, progress = tiny_run_served
    insight = store.load_insight(progress.run_id)
    app = AppTest.from_function(_inside_page, args=(progress.run_id,), default_timeout=60).run()
    assert not app.exception, [item.value for item in app.exception]
    assert app.selectbox(key="inside_layer").options == layer_names(insight["weights"])
    charts = [element for element in app.main if element.type == "bidi_component"]
    assert len(charts) == 3, "the first layer's weights and biases, and the learning rate"
    [wall] = app.get("image")
    assert wall.proto.imgs[0].url.endswith(".png")
    digits = insight["digits"]
    wrong = sum(int(p) != int(t) for p, t in zip(digits["predicted"], digits["labels"], strict=True))
    assert wall.proto.imgs[0].caption == (f"100 test digits after epoch {digits['epoch']:g}: {wrong} wrong, in red "
                                          "with the network's answer.")


def test_inside_the_network_builds_its_figures_once_per_published_version(tiny_run_served):
    from dashboard import insight_view, state

    _, progress = tiny_run_served
    version = state.published_version(progress.run_id)
    layer = layer_names(state.insight(progress.run_id)[0]["weights"])[0]
    built = insight_view._weights_json(progress.run_id, version, layer, "weights")
    assert insight_view._weights_json(progress.run_id, version, layer, "weights") is built
    assert json.loads(built)["layout"]["title"]["text"] == f"{layer}: weights"
    wall = insight_view._wall_png(progress.run_id, version)
    assert wall.startswith(b"\x89PNG") and insight_view._wall_png(progress.run_id, version) is wall
