"""Tests for mnist_models.data: the bundled file, loading once, clear errors, and the subsets and splits."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from mnist_models import data as data_module
from mnist_models.data import BUNDLED_PATH, DatasetError, load_mnist, make_split

# Known answers from the MNIST README in shared/data (the published label counts and the file's checksum).
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def test_bundled_file_is_the_documented_one():
    assert hashlib.sha256(BUNDLED_PATH.read_bytes()).hexdigest() == SHA256


def test_shapes_dtypes_and_range(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.y_train.shape == (60000,)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_test.shape == (10000,)
    for images in (mnist.x_train, mnist.x_test):
        assert images.dtype == np.float32
        # uint8 0..255 scaled to 0..1: the background is exactly 0 and full ink exactly 1.
        assert images.min() == 0.0
        assert images.max() == 1.0
    for labels in (mnist.y_train, mnist.y_test):
        assert labels.dtype == np.uint8
        assert set(np.unique(labels)) == set(range(10))


def test_label_counts_are_the_published_ones(mnist):
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS


def test_values_are_the_files_pixels_divided_by_255(mnist):
    with np.load(BUNDLED_PATH) as raw:
        x_test, y_test = raw["x_test"], raw["y_test"]
        x_train, y_train = raw["x_train"], raw["y_train"]
    # The test set keeps the file's order.
    np.testing.assert_array_equal(mnist.x_test * 255.0, x_test.astype(np.float32))
    np.testing.assert_array_equal(mnist.y_test, y_test)
    # The training set is reordered, but holds the same (image, label) pairs: compare ink sums per label.
    loaded_ink = np.rint(mnist.x_train.reshape(60000, -1) * 255).sum(axis=1).astype(np.int64)
    file_ink = x_train.reshape(60000, -1).astype(np.int64).sum(axis=1)
    loaded_pairs = np.lexsort((loaded_ink, mnist.y_train))
    file_pairs = np.lexsort((file_ink, y_train))
    np.testing.assert_array_equal(loaded_ink[loaded_pairs], file_ink[file_pairs])
    np.testing.assert_array_equal(mnist.y_train[loaded_pairs], y_train[file_pairs])


def test_loaded_once_per_process(mnist):
    assert load_mnist() is mnist
    assert load_mnist(BUNDLED_PATH) is mnist
    assert load_mnist(str(BUNDLED_PATH)) is mnist


def test_arrays_are_read_only(mnist):
    for name in ("x_train", "y_train", "x_test", "y_test"):
        array = getattr(mnist, name)
        assert not array.flags.writeable, name
        with pytest.raises(ValueError):
            array[0] = 0



def _assert_names_file(error: pytest.ExceptionInfo, path) -> None:
    message = str(error.value)
    assert str(path.resolve()) in message
    assert "\n" not in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(DatasetError) as error:
        load_mnist(path)
    _assert_names_file(error, path)
    assert "missing" in str(error.value)
    assert "git checkout" in str(error.value)


@pytest.mark.parametrize(
    "make_bytes",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: b"this is not an npz file\n" * 100, id="garbage"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(
            lambda raw: raw[:10_000_000] + bytes(b ^ 0xFF for b in raw[10_000_000:10_000_016]) + raw[10_000_016:],
            id="flipped-bytes",
        ),
    ],
)
def test_corrupted_copy_gives_dataset_error(tmp_path, make_bytes):
    path = tmp_path / "mnist.npz"
    path.write_bytes(make_bytes(BUNDLED_PATH.read_bytes()))
    with pytest.raises(DatasetError) as error:
        load_mnist(path)
    _assert_names_file(error, path)
    assert "cannot be read" in str(error.value)


def test_npz_without_the_mnist_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.zeros(3, np.uint8))
    with pytest.raises(DatasetError) as error:
        load_mnist(path)
    _assert_names_file(error, path)
    assert "x_test" in str(error.value) and "y_test" in str(error.value)


def test_npz_with_wrong_image_shape(tmp_path):
    path = tmp_path / "flat.npz"
    np.savez(path, x_train=np.zeros((3, 784), np.uint8), y_train=np.zeros(3, np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, np.uint8))
    with pytest.raises(DatasetError) as error:
        load_mnist(path)
    _assert_names_file(error, path)
    assert "(3, 784)" in str(error.value)


def test_bundled_file_with_a_wrong_checksum(tmp_path, monkeypatch):
    # The checksum is verified for the bundled path only, so stand a corrupted copy in for it. The flipped
    # byte is in the first zip entry's modification time (bytes 10-11 of its local header), which neither
    # zipfile nor np.load checks: only the checksum can notice it.
    copy = tmp_path / "mnist.npz"
    shutil.copyfile(BUNDLED_PATH, copy)
    raw = bytearray(copy.read_bytes())
    assert raw[:4] == b"PK\x03\x04"
    raw[10] ^= 0x01
    copy.write_bytes(bytes(raw))
    monkeypatch.setattr(data_module, "BUNDLED_PATH", copy)
    with pytest.raises(DatasetError) as error:
        load_mnist()
    _assert_names_file(error, copy)
    assert "checksum" in str(error.value)
    assert SHA256 in str(error.value)



def test_split_sizes(mnist):
    split = make_split(mnist, 1000, 500)
    assert split.x_train.shape == (1000, 28, 28)
    assert split.y_train.shape == (1000,)
    assert split.x_val.shape == (500, 28, 28)
    assert split.y_val.shape == (500,)
    assert split.x_test.shape == (10000, 28, 28)


@pytest.mark.parametrize("size", [100, 1000, 5000])
def test_subset_is_class_balanced(mnist, size):
    counts = np.bincount(make_split(mnist, size, 100).y_train, minlength=10)
    expected = size * np.array(TRAIN_COUNTS) / 60000
    assert np.abs(counts - expected).max() < 2, (counts, expected)


def test_validation_split_is_class_balanced(mnist):
    counts = np.bincount(make_split(mnist, 1000, 5000).y_val, minlength=10)
    expected = 5000 * np.array(TRAIN_COUNTS) / 60000
    assert np.abs(counts - expected).max() < 2, (counts, expected)


def test_train_and_validation_are_disjoint(mnist):
    split = make_split(mnist, 55000, 5000)
    assert not np.shares_memory(split.x_train, split.x_val)
    train_images = {image.tobytes() for image in split.x_train}
    validation_images = {image.tobytes() for image in split.x_val}
    assert len(validation_images) == 5000
    assert not train_images & validation_images


def test_splits_are_views_not_copies(mnist):
    split = make_split(mnist, 2000, 500)
    for array, whole in ((split.x_train, mnist.x_train), (split.y_train, mnist.y_train),
                         (split.x_val, mnist.x_train), (split.y_val, mnist.y_train)):
        assert np.shares_memory(array, whole)
        assert not array.flags.writeable
    assert split.x_test is mnist.x_test
    assert split.y_test is mnist.y_test


def test_subsets_are_nested(mnist):
    small = make_split(mnist, 1000, 500)
    large = make_split(mnist, 3000, 500)
    np.testing.assert_array_equal(small.x_train, large.x_train[:1000])
    np.testing.assert_array_equal(small.y_train, large.y_train[:1000])
    # The validation split does not depend on the training-subset size, so comparisons stay fair.
    np.testing.assert_array_equal(small.x_val, large.x_val)


def test_test_set_is_untouched(mnist):
    before = mnist.x_test.copy()
    split = make_split(mnist, 59000, 1000)
    np.testing.assert_array_equal(split.x_test, before)
    np.testing.assert_array_equal(split.y_test, np.asarray(mnist.y_test))
    assert not np.shares_memory(split.x_train, mnist.x_test)


@pytest.mark.parametrize(
    ("train_size", "validation_size"),
    [(0, 100), (100, 0), (-5, 100), (100, -1), (59_901, 100), (60_000, 1)],
)
def test_bad_sizes(mnist, train_size, validation_size):
    with pytest.raises(ValueError, match="training images"):
        make_split(mnist, train_size, validation_size)
