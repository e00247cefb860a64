"""The course file: steps in the codelab's order, each naming a real preset, and a bad file explained."""

from __future__ import annotations

import pytest

from mnist_models import course
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.presets import PRESETS
from mnist_models.store.runs import RunStore

CODELAB_ORDER = ["softmax", "five-layer-sigmoid", "five-layer-relu", "five-layer-relu-adam", "five-layer-decay",
                 "five-layer-dropout", "conv", "conv-bigger-dropout", "conv-batchnorm"]


def test_steps_follow_the_codelab_and_start_with_the_data():
    steps = course.steps()
    assert steps[0].id == "data" and steps[0].preset is None
    trained = [step.preset for step in steps if step.preset]
    assert trained[: len(CODELAB_ORDER)] == CODELAB_ORDER
    assert steps[-1].preset == "fast-99" and steps[-1].target == 0.99  # beyond the codelab: a target instead
    for step in steps:
        assert step.title and step.theory and step.question.endswith("?") and len(step.answer) > 80
    assert [step.id for step in steps if step.lesson] == ["learning-rate-sweep", "five-layer-dropout"]


def test_get_step_and_previous_training_step():
    assert course.get_step("conv").preset == "conv"
    assert course.previous_training_step(course.get_step("conv")).id == "five-layer-dropout"
    assert course.previous_training_step(course.get_step("softmax")) is None
    with pytest.raises(ValueError, match="Unknown step 'resnet'"):
        course.get_step("resnet")


@pytest.mark.parametrize(("text", "message"), [
    ('[[step]]\nid = "a"\ntitle = "A"\n', "lacks answer, look_for, question, theory"),
    ('[[step]]\nid = "a"\ntitle = "A"\ntheory = "t"\nlook_for = "l"\nquestion = "q?"\nanswer = "a"\n'
     'preset = "resnet"\n', "unknown preset 'resnet'"),
    ('[[step]]\nid = "a"\ntitle = "A"\ntheory = "t"\nlook_for = "l"\nquestion = "q?"\nanswer = "a"\ncolour = 1\n',
     "unknown fields colour"),
    ("", "has no"),
])
def test_a_broken_course_file_names_the_problem(tmp_path, text, message):
    path = tmp_path / "course.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        course.steps(path)


def test_overfitting_lesson_pairs_the_overfitting_network_with_its_fix():
    first, second = course.overfitting_lesson("dropout")
    assert (first.model, first.train) == PRESETS["overfit-demo"].configs()
    assert second.model.dropout_rate == course.LESSON_DROPOUT and second.train == first.train
    first, second = course.overfitting_lesson("more-data")
    assert second.model == first.model
    assert second.train.train_size == first.train.train_size * course.LESSON_DATA_FACTOR
    assert not second.train.problems()
    with pytest.raises(ValueError, match="Unknown fix"):
        course.overfitting_lesson("magic")


def test_lesson_runs_finds_the_owners_latest_pair(tmp_path):
    store = RunStore(tmp_path)
    me = "2744ccd10c7533bd736ad890"
    ids = []
    for spec in course.overfitting_lesson("dropout"):
        ids.append(store.create(spec.model, spec.train, preset=spec.preset, name=spec.name, owner=me))
    store.create(ModelConfig(), TrainConfig(), preset="overfit-demo", name="Overfitting lesson: overfitting",
                 owner="8e5966554908cc04840d0975")
    assert [info.run_id for info in course.lesson_runs(store.list(), me)] == ids
    assert course.lesson_runs(store.list(), "6382b3cc881412b77bfcaeed") == []
    assert course.lesson_runs(store.list(), None) == []


def test_every_training_step_asks_for_a_prediction_the_run_can_answer():
    training = [step for step in course.steps() if step.preset]
    assert training and all(step.predict and step.predict_measure for step in training)


def test_the_run_answers_the_prediction():
    by_id = {step.id: step for step in course.steps()}
    rising = [{"loss": 0.30}, {"loss": 0.20}, {"loss": 0.26}]
    falling = [{"loss": 0.30}, {"loss": 0.20}, {"loss": 0.199}]
    noisy = [{"loss": 0.30}, {"loss": 0.200}, {"loss": 0.203}]
    adam = by_id["five-layer-relu-adam"]
    assert course.outcome(adam, rising, 0.97, None) == "Yes"
    assert course.outcome(adam, falling, 0.97, None) == "No"
    assert course.outcome(adam, noisy, 0.97, None) == "No", "a wiggle within 2% is not a turn"
    assert course.outcome(adam, rising[:1], 0.97, None) is None
    softmax = by_id["softmax"]
    assert (course.outcome(softmax, [], 0.905, None), course.outcome(softmax, [], 0.899, None)) == ("Yes", "No")
    relu = by_id["five-layer-relu"]
    assert course.outcome(relu, [], 0.97, 0.96) == "Yes" and course.outcome(relu, [], 0.95, 0.96) == "No"
    assert course.outcome(relu, [], 0.97, None) is None, "no previous result, no answer"
    assert course.outcome(softmax, [], None, None) is None


def test_a_prediction_needs_its_measure(tmp_path):
    bad = tmp_path / "course.toml"
    bad.write_text('[[step]]\nid = "a"\ntitle = "A"\ntheory = "t"\nlook_for = "l"\nquestion = "q"\nanswer = "a"\n'
                   'preset = "softmax"\npredict = "Will it?"\n')
    with pytest.raises(ValueError, match="needs both predict and predict_measure"):
        course.steps(bad)
    bad.write_text(bad.read_text() + 'predict_measure = "test_above:2"\n')
    with pytest.raises(ValueError, match="unknown predict_measure"):
        course.steps(bad)
