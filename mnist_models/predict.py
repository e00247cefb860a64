"""Predictor: digit probabilities from a saved run's model, for one image or a batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_models.architecture import IMAGE_SIZE
from mnist_models.store.runs import RunStore


class Predictor:
    """Loads a run's model.keras once (safe mode, no optimiser) and answers predictions quickly.

    Single images go straight to the model's compiled predict step (`predict_on_batch`), which skips the
    dataset machinery of `model.predict`: about 1 ms for the bigger convnet on a CPU, against 8 ms for an
    eager `model(x)` call (measured by benchmarks/draw_latency.py). Batches use `model.predict`.
    """

    def __init__(self, model_path: str | Path):
        import keras

        self.model_path = Path(model_path)
        # safe_mode=True refuses to run arbitrary code stored in a model file; compile=False skips the
        # optimiser state, which inference does not need.
        self.model = keras.saving.load_model(self.model_path, compile=False, safe_mode=True)

    @classmethod
    def for_run(cls, run_id: str, store: RunStore | None = None) -> Predictor:
        return cls((store or RunStore()).model_path(run_id))

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(28, 28) -> (10,), or (n, 28, 28) -> (n, 10): probabilities of each digit, summing to 1.

        Images are float in [0, 1] with MNIST's polarity (0 = background), as `drawing.to_mnist` returns.
        """
        array = np.asarray(images, dtype=np.float32)
        if array.shape == (IMAGE_SIZE, IMAGE_SIZE):
            return np.asarray(self.model.predict_on_batch(array[None]))[0]
        if array.ndim == 3 and array.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE):
            if len(array) == 0:
                return np.zeros((0, 10), dtype=np.float32)
            return np.asarray(self.model.predict(array, batch_size=1000, verbose=0))
        raise ValueError(f"Expected one 28x28 image or a batch of shape (n, 28, 28); got shape {array.shape}.")

    def predict(self, image: np.ndarray) -> tuple[int, float, np.ndarray]:
        """The most likely digit for one (28, 28) image, its probability, and all ten probabilities."""
        probabilities = self.probabilities(image)
        if probabilities.ndim != 1:
            raise ValueError("predict() takes one 28x28 image; use probabilities() for a batch.")
        digit = int(probabilities.argmax())
        return digit, float(probabilities[digit]), probabilities
