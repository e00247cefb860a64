"""The glance at the bundled MNIST: the archive's own sizes and first digits, read without loading the whole file."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_models.data import BUNDLED_PATH, DatasetError
from mnist_models.glance import glance


def test_the_glance_gives_the_archives_sizes_and_first_training_digits():
    seen = glance(12)
    assert (seen.train_count, seen.test_count) == (60_000, 10_000)
    with np.load(BUNDLED_PATH) as archive:
        assert np.array_equal(seen.images, archive["x_train"][:12])
        assert np.array_equal(seen.labels, archive["y_train"][:12])
    assert seen.images.shape == (12, 28, 28) and seen.images.dtype == np.uint8
    assert not seen.images.flags.writeable, "the cached arrays are shared by every page"


def test_a_damaged_archive_is_a_dataset_error_naming_the_fix(tmp_path):
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="git checkout"):
        glance(3, broken)


def test_at_least_one_digit_is_asked_for():
    with pytest.raises(ValueError, match="at least one"):
        glance(0)
