"""Tests for mnist_models.predict: a saved run predicts exactly what the trained model did, one image or many."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.predict import Predictor
from mnist_models.store.runs import RunNotFoundError, RunStore
from mnist_models.worker.training import TrainingThread

SAMPLE = 64


class _RecordingStore(RunStore):
    """A RunStore that, each time a model is saved, records what the in-memory model predicts just before."""

    def __init__(self, root, images):
        super().__init__(root)
        self.images = images
        self.before_save: np.ndarray | None = None

    def save_model(self, run_id, model):
        self.before_save = np.asarray(model.predict(self.images, batch_size=SAMPLE, verbose=0))
        super().save_model(run_id, model)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    """A small convnet with batch norm and dropout (the layers that behave differently in training), trained
    for one epoch on 2,000 images; returns the store, the run id, the images and the reference predictions."""
    images = np.asarray(mnist.x_test[:SAMPLE])
    store = _RecordingStore(tmp_path_factory.mktemp("runs"), images)
    model = ModelConfig(conv_layers=[ConvLayer(4, 5, 2), ConvLayer(8, 3, 2)], hidden_units=[32], batch_norm=True,
                        dropout_rate=0.25)
    train = TrainConfig(train_size=2000, validation_size=100, epochs=1, batch_size=50)
    job = TrainingThread(model, train, store=store, name="tiny convnet", data=mnist).start()
    progress = job.wait(180)
    assert progress.status == "completed", progress.error
    assert store.before_save is not None
    return store, job.run_id, images, store.before_save


@pytest.fixture(scope="module")
def predictor(trained):
    store, run_id, _, _ = trained
    return Predictor.for_run(run_id, store)


def test_saved_model_predicts_what_the_trained_model_did(trained, predictor):
    _, _, images, reference = trained
    np.testing.assert_allclose(predictor.probabilities(images), reference, rtol=1e-5, atol=1e-6)


def test_single_image_path_agrees_with_the_batch_path(trained, predictor):
    _, _, images, reference = trained
    batch = predictor.probabilities(images)
    singles = np.stack([predictor.probabilities(image) for image in images[:16]])
    assert singles.shape == (16, 10)
    np.testing.assert_allclose(singles, batch[:16], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(singles, reference[:16], rtol=1e-5, atol=1e-6)


def test_probabilities_are_a_distribution(trained, predictor):
    _, _, images, _ = trained
    batch = predictor.probabilities(images)
    assert batch.shape == (SAMPLE, 10)
    assert batch.dtype == np.float32
    assert (batch >= 0).all()
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, rtol=1e-5)
    single = predictor.probabilities(images[0])
    assert single.shape == (10,)
    assert single.sum() == pytest.approx(1.0, rel=1e-5)


def test_the_model_has_learned(trained, predictor, mnist):
    _, _, images, _ = trained
    accuracy = (predictor.probabilities(images).argmax(axis=1) == mnist.y_test[:SAMPLE]).mean()
    assert accuracy > 0.5  # chance is 0.1


def test_predict_returns_the_argmax(trained, predictor):
    _, _, images, _ = trained
    for image in images[:8]:
        digit, probability, probabilities = predictor.predict(image)
        assert isinstance(digit, int) and isinstance(probability, float)
        assert digit == int(np.argmax(probabilities))
        assert probability == float(probabilities.max())
        np.testing.assert_allclose(probabilities, predictor.probabilities(image), rtol=1e-6)


def test_accepts_lists_and_other_dtypes(trained, predictor):
    _, _, images, _ = trained
    as_float64 = predictor.probabilities(images[:4].astype(np.float64))
    as_list = predictor.probabilities(images[0].tolist())
    np.testing.assert_allclose(as_float64, predictor.probabilities(images[:4]), rtol=1e-6)
    np.testing.assert_allclose(as_list, predictor.probabilities(images[0]), rtol=1e-6)


def test_empty_batch(predictor):
    assert predictor.probabilities(np.zeros((0, 28, 28))).shape == (0, 10)


@pytest.mark.parametrize("shape", [(28,), (784,), (28, 27), (1, 28, 28, 1), (3, 784), (2, 28, 29), ()])
def test_bad_shapes(predictor, shape):
    with pytest.raises(ValueError, match="28x28"):
        predictor.probabilities(np.zeros(shape))


def test_predict_takes_one_image(predictor, trained):
    _, _, images, _ = trained
    with pytest.raises(ValueError, match="one 28x28 image"):
        predictor.predict(images[:2])


def test_run_without_a_model(tmp_path):
    store = RunStore(tmp_path)
    run_id = store.create(ModelConfig(), TrainConfig())
    with pytest.raises(RunNotFoundError):
        Predictor.for_run(run_id, store)
    with pytest.raises(RunNotFoundError):
        Predictor.for_run("../../etc", store)
