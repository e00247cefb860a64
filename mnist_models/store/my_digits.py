"""My digits: a learner's own drawings, each with the digit they meant, kept per owner beside the runs, and the
fine-tuning job that teaches a saved network their handwriting without making it forget MNIST.

The drawings live under `<runs folder>/_digits/<owner key>/`, one 28x28 PNG each (already preprocessed like
MNIST), named `<milliseconds>-<digit>-<random>.png` so that listing them reads no file. The run store ignores the
folder (it is no run id). A fine-tuning job gets a snapshot of the digits and of the base run's model in its own
run folder when it is submitted, so the job is reproducible and pruning the set meanwhile changes nothing.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.files import (
    BASE_MODEL_FILE,
    DIGITS_DIR,
    RESULT_FILE,
    SNAPSHOT_FILE,
    locked,
    write_atomic,
    write_json_atomic,
)
from mnist_models.store.run_info import RunInfo
from mnist_models.store.runs import RunStore

MAX_DIGITS = 200  # per owner: enough for twenty of each digit, small enough for a class on one server
MIN_FOR_FINE_TUNE = 10
HELD_OUT_EVERY = 3  # every third digit, in the order they were added, is kept out of the fine-tuning to score it
FINE_TUNE_EPOCHS = 3
FINE_TUNE_MNIST_IMAGES = 5000  # MNIST training images mixed in, so that the network does not forget MNIST
PERSONAL_SHARE = 0.1  # the learner's digits, repeated, make about this share of the fine-tuning images
MAX_REPEAT = 50
LEARNING_RATE_FACTOR = 0.2  # fine-tuning takes smaller steps than the training that found the weights
_OWNER = re.compile(r"^[0-9a-f]{8,64}$")
_DIGIT_ID = re.compile(r"^(\d{13})-(\d)-([0-9a-f]{6})$")


class DigitLimitError(ValueError):
    """The owner already keeps MAX_DIGITS drawings."""


@dataclass(frozen=True)
class MyDigit:
    """One kept drawing: its id (the file's name without .png), the digit the learner meant, and when."""

    digit_id: str
    label: int
    created: float
    path: Path

    def image(self) -> np.ndarray:
        """The drawing as the network sees it: float32 (28, 28) in [0, 1], 1 = ink."""
        with Image.open(self.path) as picture:
            return np.asarray(picture.convert("L"), dtype=np.float32) / 255.0


class MyDigits:
    """One owner's kept drawings under `<runs folder>/_digits/<owner key>/`."""

    def __init__(self, store: RunStore, owner: str | None):
        if not isinstance(owner, str) or not _OWNER.fullmatch(owner):
            raise ValueError("Your digits are kept per browser; this browser has no identity yet. Reload the page.")
        self.folder = store.root / DIGITS_DIR / owner

    def list(self) -> list[MyDigit]:
        """Every kept drawing, oldest first (so the held-out split does not change when digits are added)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.png"):
            match = _DIGIT_ID.fullmatch(path.stem)
            if match:
                found.append(MyDigit(path.stem, int(match[2]), int(match[1]) / 1000.0, path))
        return sorted(found, key=lambda digit: digit.digit_id)

    def add(self, image: np.ndarray, label: int) -> MyDigit:
        """Keep a (28, 28) drawing in [0, 1] as the digit `label`; refuses beyond MAX_DIGITS."""
        if not isinstance(label, int | np.integer) or isinstance(label, bool) or not 0 <= int(label) <= 9:
            raise ValueError(f"Say which digit you drew, 0 to 9 (got {label!r}).")
        array = np.asarray(image, dtype=np.float32)
        if array.shape != (28, 28) or not np.isfinite(array).all():
            raise ValueError(f"A kept digit is a 28x28 image as the network sees it (got shape {array.shape}).")
        buffer = io.BytesIO()
        Image.fromarray(np.rint(np.clip(array, 0.0, 1.0) * 255).astype(np.uint8), mode="L").save(buffer, "PNG")
        self.folder.mkdir(parents=True, exist_ok=True)
        # Counting and writing under one lock: two tabs adding at once must not both pass the count.
        with locked(self.folder):
            if len(self.list()) >= MAX_DIGITS:
                raise DigitLimitError(f"You already keep {MAX_DIGITS} digits, the most one learner may: delete "
                                      "some before adding more.")
            created = time.time()
            digit_id = f"{int(created * 1000):013d}-{int(label)}-{secrets.token_hex(3)}"
            path = self.folder / f"{digit_id}.png"
            write_atomic(path, buffer.getvalue())
        return MyDigit(digit_id, int(label), created, path)

    def delete(self, digit_ids: list[str]) -> int:
        """Remove the kept drawings with these ids (unknown ids are ignored); returns how many went."""
        removed = 0
        for digit_id in digit_ids:
            if isinstance(digit_id, str) and _DIGIT_ID.fullmatch(digit_id):
                path = self.folder / f"{digit_id}.png"
                if path.is_file():
                    path.unlink()
                    removed += 1
        return removed


def split_held_out(digits: list[MyDigit]) -> tuple[list[MyDigit], list[MyDigit]]:
    """(to tune on, held out): every HELD_OUT_EVERY-th digit in the order they were added is held out."""
    tuned = [digit for index, digit in enumerate(digits) if index % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    held = [digit for index, digit in enumerate(digits) if index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return tuned, held


def _arrays(digits: list[MyDigit]) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([digit.image() for digit in digits]) if digits else np.zeros((0, 28, 28), np.float32)
    return images.astype(np.float32), np.array([digit.label for digit in digits], dtype=np.uint8)


@dataclass(frozen=True)
class Snapshot:
    """A fine-tuning run's copy of the learner's digits: (n, 28, 28) float32 images and (n,) labels."""

    x_tuned: np.ndarray
    y_tuned: np.ndarray
    x_held: np.ndarray
    y_held: np.ndarray


def snapshot_bytes(digits: list[MyDigit]) -> bytes:
    tuned, held = split_held_out(digits)
    (x_tuned, y_tuned), (x_held, y_held) = _arrays(tuned), _arrays(held)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_tuned=x_tuned, y_tuned=y_tuned, x_held=x_held, y_held=y_held)
    return buffer.getvalue()


def load_snapshot(path: Path) -> Snapshot:
    with np.load(path, allow_pickle=False) as data:
        return Snapshot(*(np.asarray(data[key]) for key in ("x_tuned", "y_tuned", "x_held", "y_held")))


def fine_tune_job(store: RunStore, base_run_id: str, digits: list[MyDigit], *, owner: str | None,
                  teacher: bool = False) -> tuple[ModelConfig, TrainConfig, dict[str, bytes], str]:
    """What the job queue needs to fine-tune a copy of the learner's own saved run (a teacher may take anyone's) on
    the learner's digits: the base run's network, a short training from its weights with smaller steps, the files
    to put in the new run's folder (the digits and the base model), and a name. Queue it without a preset: the copy
    is no longer the preset's network, and the Lab must not credit it as one."""
    if len(digits) < MIN_FOR_FINE_TUNE:
        raise ValueError(f"Keep at least {MIN_FOR_FINE_TUNE} of your digits first (you have {len(digits)}).")
    info = store.check_owner(base_run_id, owner, teacher)
    model, base_train = store.load_configs(base_run_id)
    train = dataclasses.replace(
        base_train, epochs=FINE_TUNE_EPOCHS, train_size=min(FINE_TUNE_MNIST_IMAGES, base_train.train_size),
        validation_size=1000, lr_schedule="constant", learning_rate=base_train.learning_rate * LEARNING_RATE_FACTOR,
        batch_size=min(base_train.batch_size, 100), fine_tune_from=base_run_id,
    )
    files = {SNAPSHOT_FILE: snapshot_bytes(digits), BASE_MODEL_FILE: store.model_path(base_run_id).read_bytes()}
    return model, train, files, f"{info.name} + my digits"


def repeat_count(tuned: int, mnist_images: int) -> int:
    """How often each of `tuned` personal digits is repeated so that they make about PERSONAL_SHARE of the mix."""
    if tuned <= 0:
        return 0
    return int(min(MAX_REPEAT, max(1, round(PERSONAL_SHARE * mnist_images / ((1 - PERSONAL_SHARE) * tuned)))))


def mix(x_train: np.ndarray, y_train: np.ndarray, snapshot: Snapshot, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images with the learner's tuning digits repeated among them, in a seeded random order."""
    repeat = repeat_count(len(snapshot.x_tuned), len(x_train))
    x = np.concatenate([x_train, np.repeat(snapshot.x_tuned, repeat, axis=0)]).astype(np.float32)
    y = np.concatenate([y_train, np.repeat(snapshot.y_tuned, repeat, axis=0)]).astype(y_train.dtype)
    order = np.random.default_rng(seed).permutation(len(x))
    return x[order], y[order]


def accuracy(model: Any, images: np.ndarray, labels: np.ndarray) -> float | None:
    """The share of `images` a Keras model answers with their label; None for no images."""
    if len(images) == 0:
        return None
    probabilities = np.asarray(model.predict(images, batch_size=1000, verbose=0))
    return float((probabilities.argmax(axis=1) == labels).mean())


def write_result(folder: Path, result: dict[str, Any]) -> None:
    write_json_atomic(folder / RESULT_FILE, result)


def has_result(info: RunInfo) -> bool:
    """Whether the run is a fine-tuning that wrote its before/after result."""
    return (info.path / RESULT_FILE).is_file()


def load_result(store: RunStore, run_id: str) -> dict[str, Any] | None:
    """A fine-tuning run's before-and-after scores, or None when it has none (yet)."""
    try:
        data = json.loads((store.folder(run_id) / RESULT_FILE).read_text())
    except (OSError, ValueError, LookupError):
        return None
    return data if isinstance(data, dict) else None


class FineTuning:
    """The worker's side of a fine-tuning run: start from the base run's weights, mix the learner's digits into
    the training images, and record accuracy on the held-out digits (and MNIST's test set) before and after."""

    def __init__(self, folder: Path, base_run_id: str):
        self.folder = folder
        self.base_run_id = base_run_id
        path = folder / SNAPSHOT_FILE
        empty = np.zeros((0, 28, 28), np.float32), np.zeros((0,), np.uint8)
        self.snapshot = load_snapshot(path) if path.is_file() else Snapshot(*empty, *empty)
        self.before: dict[str, float | None] = {}
        self.repeat = 0

    def prepare(self, model: Any, split: Any, seed: int) -> Any:
        """Load the base weights into `model` (built and compiled from the same config), score them, and return
        `split` with the learner's tuning digits mixed into its training images."""
        import keras

        base = keras.saving.load_model(self.folder / BASE_MODEL_FILE, compile=False, safe_mode=True)
        try:
            model.set_weights(base.get_weights())
        except ValueError as error:
            raise ValueError(f"The base run's model does not fit this run's network ({error}).") from None
        self.before = self._scores(model, split)
        self.repeat = repeat_count(len(self.snapshot.x_tuned), len(split.x_train))
        x_train, y_train = mix(split.x_train, split.y_train, self.snapshot, seed)
        return dataclasses.replace(split, x_train=x_train, y_train=y_train)

    def finish(self, model: Any, split: Any) -> dict[str, Any]:
        """Score the fine-tuned model and write RESULT_FILE into the run folder."""
        after = self._scores(model, split)
        result = {
            "base_run_id": self.base_run_id,
            "tuned": len(self.snapshot.x_tuned),
            "held_out": len(self.snapshot.x_held),
            "repeat": self.repeat,
            "my_digits_before": self.before.get("my_digits"),
            "my_digits_after": after["my_digits"],
            "mnist_test_before": self.before.get("mnist_test"),
            "mnist_test_after": after["mnist_test"],
        }
        write_result(self.folder, result)
        return result

    def _scores(self, model: Any, split: Any) -> dict[str, float | None]:
        return {"my_digits": accuracy(model, self.snapshot.x_held, self.snapshot.y_held),
                "mnist_test": accuracy(model, split.x_test, split.y_test)}


def contact_sheet(digits: list[MyDigit], columns: int = 10, scale: int = 2) -> Image.Image:
    """The digits as one picture, `columns` a row, each with its number and the digit it is kept as beneath it
    (the numbers the Draw page's Remove box uses)."""
    from PIL import ImageDraw

    side, caption, gap = 28 * scale, 14, 6
    rows = max(1, -(-len(digits) // columns))
    sheet = Image.new("RGB", (columns * (side + gap) + gap, rows * (side + caption + gap) + gap), (255, 255, 255))
    pen = ImageDraw.Draw(sheet)
    for index, digit in enumerate(digits):
        left = gap + (index % columns) * (side + gap)
        top = gap + (index // columns) * (side + caption + gap)
        tile = Image.fromarray(np.rint(digit.image() * 255).astype(np.uint8), mode="L").resize((side, side))
        sheet.paste(Image.merge("RGB", (tile, tile, tile)).point(lambda value: 255 - value), (left, top))
        pen.text((left, top + side + 1), f"#{index + 1}: {digit.label}", fill=(60, 60, 60))
    return sheet
