"""Load the bundled MNIST once per process, verify it, and carve training subsets and validation splits."""

from __future__ import annotations

import functools
import hashlib
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_models.architecture import IMAGE_SIZE

BUNDLED_PATH = Path(__file__).parent / "data" / "mnist.npz"
BUNDLED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
_KEYS = ("x_train", "y_train", "x_test", "y_test")
_RESTORE_HINT = (
    "Restore it with `git checkout -- mnist_models/data/mnist.npz` (or re-clone the project); "
    "the expected sha256 is " + BUNDLED_SHA256 + "."
)


class DatasetError(RuntimeError):
    """The dataset file is missing, corrupted or not MNIST; the message says how to fix it."""


@dataclass(frozen=True)
class Mnist:
    """MNIST as float32 images in [0, 1] (0 = background) and uint8 labels.

    The training images come in a fixed class-interleaved order, not the file's order.
    Shapes: x_train (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28), y_test (10000,).
    The arrays are read-only so that one copy can be shared by every training run in the process.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class Split:
    """The arrays one training run uses: a training subset, a validation split carved from the
    training images (never overlapping the subset), and the untouched test set. All are views."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_load_lock = threading.Lock()


def load_mnist(path: str | Path | None = None) -> Mnist:
    """Return MNIST from `path` (default: the bundled copy), loaded and checked once per process.

    Raises DatasetError naming the file and the fix when it is missing, corrupted or malformed.
    """
    resolved = Path(path).resolve() if path is not None else BUNDLED_PATH.resolve()
    # A lock, because the dashboard can ask from several threads at once and the cache would
    # otherwise load the file twice.
    with _load_lock:
        return _load_cached(resolved)


@functools.cache
def _load_cached(path: Path) -> Mnist:
    if not path.is_file():
        raise DatasetError(f"The MNIST file {path} is missing. {_RESTORE_HINT}")
    if path == BUNDLED_PATH.resolve() and _sha256(path) != BUNDLED_SHA256:
        raise DatasetError(f"The MNIST file {path} is corrupted (its checksum does not match). {_RESTORE_HINT}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in _KEYS if key not in archive.files]
            if missing:
                raise DatasetError(f"The file {path} is not an MNIST archive: it lacks {', '.join(missing)}.")
            arrays = {key: archive[key] for key in _KEYS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DatasetError(f"The MNIST file {path} cannot be read ({error}). {_RESTORE_HINT}") from error
    for key in ("x_train", "x_test"):
        if arrays[key].ndim != 3 or arrays[key].shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DatasetError(f"The file {path} is not MNIST: {key} has shape {arrays[key].shape}.")
    # The training images are stored once, in a class-interleaved order, so that every training subset
    # and validation split is a slice of this one array (see make_split).
    order = interleaved_order(arrays["y_train"])
    arrays["x_train"] = arrays["x_train"][order]
    arrays["y_train"] = arrays["y_train"][order]
    for key in _KEYS:
        # uint8 0..255 -> float32 0..1, the scale the codelab feeds its networks.
        array = arrays[key].astype(np.float32) / 255.0 if key.startswith("x") else arrays[key].astype(np.uint8)
        array.setflags(write=False)
        arrays[key] = array
    return Mnist(**arrays)


def interleaved_order(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """A seeded permutation of `labels` in which every prefix holds each class in its overall share.

    Each example gets the key (its rank within its shuffled class + a random offset) / class size, and
    sorting by that key interleaves the classes evenly; so the first n examples of the order are a
    class-balanced random sample for every n at once.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(len(labels), dtype=np.float64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        keys[members] = (np.arange(len(members)) + rng.uniform(0.0, 1.0, len(members))) / len(members)
    return np.argsort(keys, kind="stable")


def make_split(data: Mnist, train_size: int, validation_size: int) -> Split:
    """Carve a class-balanced training subset and validation split from the 60,000 training images.

    The training images are kept in a fixed, class-interleaved order (see `_load_cached`), so the subset
    is the first `train_size` images and the validation split the last `validation_size`: both are views,
    not copies, and a larger subset contains every image of a smaller one, which makes "more data"
    experiments fair. The test set is returned untouched and is never trained on.
    """
    total = len(data.y_train)
    if validation_size < 1 or train_size < 1 or train_size + validation_size > total:
        raise ValueError(
            f"The training subset ({train_size:,}) and validation split ({validation_size:,}) must both be "
            f"positive and together at most the {total:,} training images."
        )
    return Split(
        x_train=data.x_train[:train_size],
        y_train=data.y_train[:train_size],
        x_val=data.x_train[total - validation_size :],
        y_val=data.y_train[total - validation_size :],
        x_test=data.x_test,
        y_test=data.y_test,
    )
