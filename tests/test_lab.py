"""The Lab page under AppTest: every step renders with its text and button, Train this step queues that step's
preset, the progress table fills in from the learner's runs, the overfitting lesson queues its pair, and links
open a step. Jobs go to a parked executor (accepted, never started), so no worker trains here; the browser tests
run the lesson for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from lab_support import LEARNER, open_lab
from streamlit.testing.v1 import AppTest

from dashboard.identity import owner_of
from mnist_models import course
from mnist_models.config import loads
from mnist_models.presets import PRESETS
from mnist_models.store.runs import RunStore

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 60  # the first run imports pandas, plotly and the core package on a loaded 2-core machine


def buttons(at: AppTest) -> list[str]:
    return [button.label for button in at.button]


def text_of(at: AppTest) -> str:
    return " ".join(item.value for item in [*at.markdown, *at.info, *at.caption, *at.header])


def test_lab_is_the_first_page_and_opens_on_the_data_step(lab):
    at = open_lab()
    assert at.title[0].value == "Lab: neural networks, step by step"
    assert at.selectbox(key="lab_step").value == "data"
    assert "Train this step" not in buttons(at)
    assert "60,000 for training" in text_of(at)
    assert at.query_params["step"] == "data"


@pytest.mark.parametrize("step", course.steps(), ids=lambda step: step.id)
def test_every_step_renders_its_text_question_and_button(lab, step):
    at = open_lab(step.id)
    text = text_of(at)
    assert step.title in " ".join(header.value for header in at.header)
    assert step.question in text
    assert step.look_for.split(":")[0][:30] in text
    assert [item.label for item in at.expander if item.label == "Reveal the answer"]
    assert ("Train this step" in buttons(at)) == (step.preset is not None)
    assert ("Run the overfitting lesson" in buttons(at)) == (step.lesson == "overfitting")
    if step.preset and PRESETS[step.preset].codelab_accuracy is not None:
        [codelab] = [metric for metric in at.metric if metric.label == "Codelab"]
        assert codelab.value == f"{PRESETS[step.preset].codelab_accuracy:.1%}"
    elif step.target is not None:
        [target] = [metric for metric in at.metric if metric.label == "Target"]
        assert target.value == f"{step.target:.1%}"


@pytest.mark.parametrize("step", [step for step in course.steps() if step.preset], ids=lambda step: step.id)
def test_train_this_step_queues_that_steps_preset_for_this_learner(lab, step):
    at = open_lab(step.id)
    [button] = [button for button in at.button if button.label == "Train this step"]
    button.click().run()
    assert not at.exception, [item.value for item in at.exception]
    [info] = lab.list()
    assert (info.preset, info.owner, info.name) == (step.preset, owner_of(LEARNER), PRESETS[step.preset].title)
    model, train = loads((lab.folder(info.run_id) / "config.json").read_text())
    assert (model, train) == PRESETS[step.preset].configs()
    # One training at a time: the button now waits for this one.
    [button] = [button for button in at.button if button.label == "Train this step"]
    assert button.disabled


def progress_table(at: AppTest) -> dict[str, dict[str, str]]:
    """The progress table's rows by step title: its header's names to each row's cells, as the page wrote them."""
    [table] = [item.value for item in at.markdown if item.value.startswith("| step |")]
    header, _, *rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table.splitlines()]
    return {cells[1]: dict(zip(header, cells, strict=True)) for cells in rows}


def _finished_run(store: RunStore, preset: str, owner: str, accuracy: float) -> str:
    model, train = PRESETS[preset].configs()
    run_id = store.create(model, train, preset=preset, owner=owner_of(owner), name=PRESETS[preset].title)
    store.update(run_id, status="completed", test_accuracy=accuracy, epochs_completed=train.epochs,
                 history={"train": [], "validation": [],
                          "test": [{"epoch": 1, "step": 10, "accuracy": accuracy, "loss": 0.3}]})
    return run_id


def test_progress_table_shows_the_learners_best_per_step(lab):
    _finished_run(lab, "softmax", LEARNER, 0.9101)
    _finished_run(lab, "softmax", LEARNER, 0.9213)
    _finished_run(lab, "conv", LEARNER, 0.9876)
    _finished_run(lab, "conv", "somebody-else", 0.9990)  # another learner's run is not this learner's progress
    at = open_lab()
    table = progress_table(at)
    assert table["One layer: softmax"]["your best test accuracy"] == "92.13%"
    assert table["One layer: softmax"]["your runs"] == "2"
    assert table["A convolutional network"]["your best test accuracy"] == "98.76%"
    assert table["A convolutional network"]["codelab"] == f"{PRESETS['conv'].codelab_accuracy:.1%}"
    assert [row["your best test accuracy"] for row in table.values()].count("–") == len(course.steps()) - 2
    assert [row["step"] for row in table.values()] == [str(number) for number in range(1, len(course.steps()) + 1)]
    assert any("2 of" in item.label for item in at.expander)


def test_a_finished_step_shows_the_result_beside_the_codelab_and_the_previous_step(lab):
    _finished_run(lab, "five-layer-sigmoid", LEARNER, 0.9500)
    _finished_run(lab, "five-layer-relu", LEARNER, 0.9700)
    at = open_lab("five-layer-relu")
    [yours] = [metric for metric in at.metric if metric.label == "Your best"]
    assert yours.value == "97.00%"
    assert "+2.00 points against the previous step" in text_of(at)


def test_overfitting_lesson_queues_the_overfitting_run_then_the_fix(lab):
    at = open_lab("five-layer-dropout")
    assert at.radio(key="lesson_fix").value == "more-data"  # the default: the clearer lesson
    at.radio(key="lesson_fix").set_value("dropout").run()
    [button] = [button for button in at.button if button.label == "Run the overfitting lesson"]
    button.click().run()
    assert not at.exception, [item.value for item in at.exception]
    first, second = sorted(lab.list(), key=lambda info: info.created)
    assert first.preset == "overfit-demo" and second.name == "Overfitting lesson: with dropout"
    model, _ = loads((lab.folder(second.run_id) / "config.json").read_text())
    assert model.dropout_rate == course.LESSON_DROPOUT
    assert "Your latest lesson" in text_of(at)


def test_a_link_opens_a_step_and_a_bad_one_says_so(lab):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["step"] = "conv"
    at.run()
    assert at.selectbox(key="lab_step").value == "conv"
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["step"] = "resnet"
    at.run()
    assert not at.exception
    assert at.selectbox(key="lab_step").value == "data"
    assert "does not have" in at.warning[0].value


def test_next_and_previous_walk_the_steps(lab):
    at = open_lab()
    [next_button] = [button for button in at.button if button.label == "Next"]
    next_button.click().run()
    assert at.selectbox(key="lab_step").value == course.steps()[1].id
    assert at.query_params["step"] == course.steps()[1].id
    [previous] = [button for button in at.button if button.label == "Previous"]
    previous.click().run()
    assert at.selectbox(key="lab_step").value == "data"
