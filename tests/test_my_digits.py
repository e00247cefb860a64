"""My digits: kept per owner beside the runs, listed, pruned and capped; a fine-tuning job on them raises accuracy on
the held-out ones without costing MNIST more than a point."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.drawn_digits import DIGITS, render
from mnist_models.config import ConfigError, TrainConfig
from mnist_models.drawing import to_mnist
from mnist_models.presets import get_preset
from mnist_models.store import my_digits
from mnist_models.store.my_digits import DigitLimitError, MyDigits
from mnist_models.store.runs import NotYourRunError, RunStore
from mnist_models.worker.training import TrainingThread, train_run

OWNER = "d25b18ac5725bb878246b259"


def _image(label: int, style: str = "normal", rotate: int = 0) -> np.ndarray:
    [digit] = [digit for digit in DIGITS if digit.label == label and digit.style == style]
    return np.rot90(to_mnist(render(digit.strokes)), rotate).copy()  # (28, 28)


def test_digits_are_kept_per_owner_listed_oldest_first_and_deleted(tmp_path):
    store = RunStore(tmp_path / "runs")
    mine, theirs = MyDigits(store, OWNER), MyDigits(store, "02909d1ae6f6db5dffeb2061")
    added = [mine.add(_image(label), label) for label in (7, 1, 7)]
    theirs.add(_image(3), 3)

    listed = mine.list()
    assert [digit.label for digit in listed] == [7, 1, 7]
    assert [digit.digit_id for digit in listed] == [digit.digit_id for digit in added]
    assert np.allclose(listed[0].image(), _image(7), atol=1 / 255)
    assert [digit.label for digit in theirs.list()] == [3]
    # The folder sits under the runs folder, keyed by the owner's hash; the run store does not take it for a run.
    assert listed[0].path.parent == store.root / "_digits" / OWNER
    assert store.list() == []

    assert mine.delete([added[1].digit_id, "../../etc/passwd", "nonsense"]) == 1
    assert [digit.label for digit in mine.list()] == [7, 7]
    assert len(theirs.list()) == 1


@pytest.mark.parametrize(("label", "image", "message"), [
    (10, np.zeros((28, 28)), "0 to 9"),
    (True, np.zeros((28, 28)), "0 to 9"),
    (3, np.zeros((280, 280)), "28x28"),
    (3, np.full((28, 28), np.nan), "28x28"),
])
def test_bad_digits_are_refused_with_a_message(tmp_path, label, image, message):
    with pytest.raises(ValueError, match=message):
        MyDigits(RunStore(tmp_path), OWNER).add(image, label)


@pytest.mark.parametrize("owner", [None, "", "../x", "A" * 24])
def test_an_unknown_owner_has_no_digits_folder(tmp_path, owner):
    with pytest.raises(ValueError, match="identity"):
        MyDigits(RunStore(tmp_path), owner)


def test_the_set_refuses_more_than_its_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(my_digits, "MAX_DIGITS", 3)
    digits = MyDigits(RunStore(tmp_path), OWNER)
    for label in range(3):
        digits.add(_image(label), label)
    with pytest.raises(DigitLimitError, match="already keep 3 digits"):
        digits.add(_image(4), 4)
    assert len(digits.list()) == 3


def test_every_third_digit_is_held_out_and_the_split_is_stable(tmp_path):
    digits = MyDigits(RunStore(tmp_path), OWNER)
    for label in range(7):
        digits.add(_image(label), label)
    tuned, held = my_digits.split_held_out(digits.list())
    assert [digit.label for digit in held] == [2, 5]
    assert [digit.label for digit in tuned] == [0, 1, 3, 4, 6]
    digits.add(_image(7), 7)
    assert [digit.label for digit in my_digits.split_held_out(digits.list())[1]] == [2, 5], "adding keeps the split"


def test_fine_tune_from_must_be_a_run_id_or_nothing():
    assert TrainConfig().fine_tune_from == ""
    TrainConfig(fine_tune_from="20250101-120000-softmax-abc123").validate()
    for bad in ("../runs", 3, "x" * 81):
        with pytest.raises(ConfigError, match="Fine-tuning"):
            TrainConfig(fine_tune_from=bad).validate()


def test_a_new_run_refuses_files_that_would_overwrite_its_own(tmp_path):
    model, train = get_preset("softmax").configs()
    with pytest.raises(ValueError, match="cannot be one"):
        RunStore(tmp_path).create(model, train, files={"meta.json": b"{}"})
    with pytest.raises(ValueError, match="cannot be one"):
        RunStore(tmp_path).create(model, train, files={"../escape": b""})


def test_fine_tuning_on_a_learner_s_digits_raises_their_accuracy_and_keeps_mnist(tmp_path, mnist):
    """A learner who draws every digit on its side (rotated a quarter turn): the network trained on MNIST reads
    few of them; fine-tuned on two of every three, it reads more of the held-out third, and MNIST's test set
    loses at most a point."""
    store = RunStore(tmp_path / "runs")
    model, train = get_preset("softmax").configs()
    train.train_size, train.epochs = 5000, 2
    base = TrainingThread(model, train, store=store, preset="softmax", name="Base", data=mnist, owner=OWNER).start()
    assert base.wait(600).status == "completed"

    digits = MyDigits(store, OWNER)
    labels = (0, 1, 2, 3, 4, 6, 7)
    for label in labels:
        for style in ("normal", "slanted", "narrow"):  # the third of each label is held out
            digits.add(_image(label, style, rotate=1), label)
    assert len(my_digits.split_held_out(digits.list())[1]) == len(labels)

    with pytest.raises(NotYourRunError):
        my_digits.fine_tune_job(store, base.run_id, digits.list(), owner="someone else")
    model, fine_train, files, name = my_digits.fine_tune_job(store, base.run_id, digits.list(), owner=OWNER)
    assert fine_train.fine_tune_from == base.run_id and fine_train.epochs == my_digits.FINE_TUNE_EPOCHS
    assert name == "Base + my digits"
    run_id = store.create(model, fine_train, preset="softmax", name=name, files=files)
    digits.delete([digit.digit_id for digit in digits.list()])  # pruning after submitting changes nothing
    progress = train_run(store, run_id, data=mnist)
    assert progress.status == "completed", progress.error

    result = my_digits.load_result(store, run_id)
    print(f"fine-tuning on rotated digits: {result}")
    assert result["base_run_id"] == base.run_id
    assert (result["tuned"], result["held_out"]) == (2 * len(labels), len(labels))
    assert result["my_digits_after"] > result["my_digits_before"], result
    assert result["mnist_test_before"] == pytest.approx(store.get(base.run_id).test_accuracy, abs=1e-6)
    assert result["mnist_test_after"] == pytest.approx(store.get(run_id).test_accuracy, abs=1e-6)
    assert result["mnist_test_after"] >= result["mnist_test_before"] - 0.01, result


def test_fine_tuning_needs_ten_digits(tmp_path):
    store = RunStore(tmp_path)
    digits = MyDigits(store, OWNER)
    digits.add(_image(1), 1)
    with pytest.raises(ValueError, match="at least 10"):
        my_digits.fine_tune_job(store, "20250101-120000-softmax-abc123", digits.list(), owner=OWNER)


def test_two_tabs_adding_at_once_never_pass_the_cap(tmp_path, monkeypatch):
    import threading

    monkeypatch.setattr(my_digits, "MAX_DIGITS", 5)
    digits = MyDigits(RunStore(tmp_path), OWNER)
    refused: list[Exception] = []
    start = threading.Barrier(8)

    def tab() -> None:
        start.wait()
        for _ in range(2):
            try:
                digits.add(_image(3), 3)
            except DigitLimitError as error:
                refused.append(error)

    tabs = [threading.Thread(target=tab) for _ in range(8)]
    for thread in tabs:
        thread.start()
    for thread in tabs:
        thread.join()
    assert len(digits.list()) == 5 and len(refused) == 11
