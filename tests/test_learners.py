"""Tests of the learner book: names cleaned and numbered stably, Lab steps and guesses kept per learner in one small
JSON file each, bad input refused with a message, damaged files skipped, concurrent writes not lost."""

from __future__ import annotations

import json
import math
import threading

import pytest

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store import learners
from mnist_models.store.files import LEARNERS_DIR
from mnist_models.store.learners import Guess, LearnerBook, display_names
from mnist_models.store.runs import RunStore

ANN, BOB, CAT = "a" * 24, "b" * 24, "c" * 24
STEPS = ("data", "softmax", "conv")


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


@pytest.fixture
def book(store) -> LearnerBook:
    return LearnerBook(store, step_ids=STEPS)


def test_a_learner_is_one_json_file_beside_the_runs(store, book):
    book.set_name(ANN, "Ann")
    book.record_step(ANN, "softmax")
    book.record_guess(ANN, "softmax", 0.92, "the dense layer")
    folder = store.root / LEARNERS_DIR
    assert sorted(path.name for path in folder.iterdir() if not path.name.startswith(".")) == [f"{ANN}.json"]
    data = json.loads((folder / f"{ANN}.json").read_text())
    assert (data["owner"], data["name"], data["step"]) == (ANN, "Ann", "softmax")
    assert data["guesses"]["softmax"]["accuracy"] == 0.92 and data["guesses"]["softmax"]["choice"] == "the dense layer"
    assert not [path for path in folder.iterdir() if path.name.endswith(".tmp")], "written atomically"
    assert store.list() == [], "the run store does not take the folder for a run"


def test_opening_the_same_step_again_writes_nothing(book):
    book.record_step(ANN, "conv")
    before = book.version()
    book.record_step(ANN, "conv")
    assert book.version() == before
    book.record_step(ANN, "softmax")
    assert book.get(ANN).step == "softmax" and book.version() != before


def test_get_reads_back_what_was_recorded(book):
    assert book.get(ANN) is None
    book.set_name(ANN, "Ann")
    book.record_step(ANN, "conv")
    learner = book.get(ANN)
    assert (learner.owner, learner.name, learner.step, learner.guesses) == (ANN, "Ann", "conv", ())
    assert learner.first_seen > 0 and learner.step_at >= learner.first_seen


@pytest.mark.parametrize(("typed", "kept"), [
    ("  Ann   Lee ", "Ann Lee"),
    ("Ann\nLee\x00", "Ann Lee"),
    ("x" * 60, "x" * 40),
    ("", ""),
    (None, ""),
    ("[x](http://e.vil)", "[x](http://e.vil)"),  # kept as typed: the pages show it as text
])
def test_names_are_cleaned_and_cut_to_forty_characters(book, typed, kept):
    assert book.set_name(ANN, typed) == kept
    assert book.get(ANN).name == kept


def test_a_name_that_is_no_text_is_refused(book):
    with pytest.raises(ValueError, match="A name is text"):
        book.set_name(ANN, 42)


def test_learners_without_a_name_are_numbered_in_the_order_they_appeared(book):
    book.record_step(ANN, "data")
    book.record_step(BOB, "data")
    book.set_name(BOB, "Bob")
    every = book.all()
    names = display_names({item.owner: item.first_seen for item in every}, {item.owner: item.name for item in every})
    assert names == {ANN: "Learner 1", BOB: "Bob"}
    # A newcomer and a change of name leave everybody's number where it was.
    book.record_step(CAT, "data")
    book.set_name(ANN, "Ann")
    book.set_name(BOB, "")
    every = book.all()
    names = display_names({item.owner: item.first_seen for item in every}, {item.owner: item.name for item in every})
    assert names == {ANN: "Ann", BOB: "Learner 2", CAT: "Learner 3"}
    assert [item.owner for item in every] == [ANN, BOB, CAT]


def test_display_names_follow_first_appearance_not_owner_keys():
    assert display_names({"f" * 24: 1.0, "0" * 24: 2.0}, {}) == {"f" * 24: "Learner 1", "0" * 24: "Learner 2"}


def test_a_new_guess_replaces_the_learners_earlier_one(book):
    book.record_guess(ANN, "conv", 0.95, "b")
    book.record_guess(BOB, "conv", 0.99, "a")
    book.record_guess(ANN, "conv", 0.985, "c")
    book.record_guess(ANN, "softmax", 0.9, "a")
    guesses = book.guesses("conv")
    assert [(guess.owner, guess.accuracy, guess.choice) for guess in guesses] == [(BOB, 0.99, "a"), (ANN, 0.985, "c")]
    assert all(isinstance(guess, Guess) and guess.step == "conv" for guess in guesses)
    assert book.guesses("data") == []
    assert book.get(ANN).guess("softmax").accuracy == 0.9


@pytest.mark.parametrize("accuracy", [-0.01, 1.01, math.nan, math.inf, True, "0.9", None])
def test_a_guessed_accuracy_outside_zero_to_one_is_refused(book, accuracy):
    with pytest.raises(ValueError, match="number from 0 to 1"):
        book.record_guess(ANN, "conv", accuracy, "a")
    assert book.get(ANN) is None, "nothing was written"


@pytest.mark.parametrize("choice", ["", "   ", None, 3])
def test_a_guess_needs_an_answer(book, choice):
    with pytest.raises(ValueError, match="Choose one of the answers"):
        book.record_guess(ANN, "conv", 0.9, choice)


def test_an_overlong_answer_is_refused(book):
    with pytest.raises(ValueError, match="at most 80 characters"):
        book.record_guess(ANN, "conv", 0.9, "x" * 81)


def test_only_the_course_steps_may_be_recorded(book, store):
    with pytest.raises(ValueError, match="Unknown Lab step 'resnet': choose one of data, softmax, conv"):
        book.record_step(ANN, "resnet")
    with pytest.raises(ValueError, match="Unknown Lab step"):
        book.guesses("resnet")
    free = LearnerBook(store)  # without a course: any well-formed id
    free.record_step(ANN, "resnet")
    with pytest.raises(ValueError, match="not a Lab step's id"):
        free.record_step(ANN, "../../etc")


@pytest.mark.parametrize("owner", ["", "ABCDEF12", "../../etc/passwd", "a" * 7, "a" * 65, None, 12345678])
def test_an_owner_key_that_is_no_hash_is_refused(book, owner):
    with pytest.raises(ValueError, match="no identity yet"):
        book.set_name(owner, "Ann")
    with pytest.raises(ValueError, match="no identity yet"):
        book.get(owner)


def test_damaged_files_are_skipped_and_damaged_fields_read_as_missing(store, book):
    book.set_name(ANN, "Ann")
    folder = store.root / LEARNERS_DIR
    (folder / f"{BOB}.json").write_text("{not json")
    (folder / f"{CAT}.json").write_text(json.dumps({
        "name": 7, "first_seen": "yesterday", "step": "../x",
        "guesses": {"conv": {"accuracy": 3, "choice": "a"}, "softmax": {"accuracy": 0.9, "choice": "b"}, "x y": {}},
    }))
    (folder / "notes.json").write_text("{}")  # no owner key: not a learner
    assert [item.owner for item in book.all()] == [CAT, ANN]
    cat = book.get(CAT)
    assert (cat.name, cat.first_seen, cat.step) == ("", 0.0, None)
    assert [(guess.step, guess.accuracy) for guess in cat.guesses] == [("softmax", 0.9)]
    assert book.get(BOB) is None
    book.set_name(BOB, "Bob")  # a damaged file is started afresh
    assert book.get(BOB).name == "Bob"


def test_version_changes_when_a_record_does(book):
    assert book.version() == ()
    book.set_name(ANN, "Ann")
    first = book.version()
    assert first == book.version()
    book.record_guess(BOB, "conv", 0.9, "a")
    assert book.version() != first and len(book.version()) == 2


def test_the_book_keeps_at_most_max_learners(book, monkeypatch):
    monkeypatch.setattr(learners, "MAX_LEARNERS", 2)
    book.set_name(ANN, "Ann")
    book.set_name(BOB, "Bob")
    with pytest.raises(ValueError, match="already keeps 2 learners"):
        book.set_name(CAT, "Cat")
    book.set_name(ANN, "Ann Lee")  # those already kept still change their records
    assert book.get(ANN).name == "Ann Lee"


def test_concurrent_writes_of_one_learner_are_all_kept(store):
    book = LearnerBook(store)
    steps = [f"step-{index}" for index in range(16)]
    threads = [threading.Thread(target=book.record_guess, args=(ANN, step, 0.5, "a")) for step in steps]
    threads.append(threading.Thread(target=book.set_name, args=(ANN, "Ann")))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    learner = book.get(ANN)
    assert learner.name == "Ann"
    assert sorted(guess.step for guess in learner.guesses) == sorted(steps)


def test_runs_and_learners_share_the_folder_without_trouble(store, book):
    run_id = store.create(ModelConfig(hidden_units=[]), TrainConfig(), preset="softmax", owner=ANN)
    book.set_name(ANN, "Ann")
    assert [info.run_id for info in store.list()] == [run_id]
    assert [item.owner for item in book.all()] == [ANN]
