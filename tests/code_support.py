"""What the code tests share: valid config pairs for Hypothesis, and a small MNIST file for quick runs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from test_properties import _small_models, _small_trainings

from mnist_models.data import BUNDLED_PATH

RUN_ID = "20261129-071713-softmax-f08e61"


def valid_pairs() -> st.SearchStrategy:
    """(ModelConfig, TrainConfig) pairs that validate, reusing test_properties' strategies of small networks and
    trainings with every optimiser and schedule (extreme values included), sometimes fine-tuning from a run."""
    models = _small_models().filter(lambda model: not model.problems())
    trainings = st.builds(lambda train, base: dataclasses.replace(train, fine_tune_from=base),
                          _small_trainings(), st.sampled_from(["", RUN_ID]))
    return st.tuples(models, trainings.filter(lambda train: not train.problems()))


def small_mnist(folder: Path, train_images: int = 1000, test_images: int = 100) -> Path:
    """An mnist.npz with the first images of the bundled one, in the same format: scripts load it in a blink."""
    path = folder / "mnist-small.npz"
    with np.load(BUNDLED_PATH) as archive:
        np.savez(path, x_train=archive["x_train"][:train_images], y_train=archive["y_train"][:train_images],
                 x_test=archive["x_test"][:test_images], y_test=archive["y_test"][:test_images])
    return path


def shrink(code: str, batches: int = 2) -> str:
    """The script with one epoch of `batches` batches and 100 validation images, everything else as written."""
    for name, value in (("EPOCHS", "1"), ("TRAIN_SIZE", f"{batches} * BATCH_SIZE"), ("VALIDATION_SIZE", "100")):
        code, count = re.subn(rf"^{name} = \d+", f"{name} = {value}", code, flags=re.MULTILINE)
        assert count == 1, name
    return code
