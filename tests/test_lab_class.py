"""The Lab in a class (dashboard/lab_class.py) under AppTest: predict before you run, the guess beside what
happened, the Lab step the Class page sees, and the choice when an identical training has already finished."""

from __future__ import annotations

from lab_support import LEARNER, open_lab

from dashboard import state
from dashboard.identity import owner_of
from mnist_models.jobs import JobSpec
from mnist_models.presets import PRESETS
from mnist_models.store.learners import LearnerBook


def _finished_run(store, owner: str, accuracy: float, losses=(0.5, 0.3, 0.28), seed: int = 0) -> str:
    model, train = PRESETS["softmax"].configs()
    train.seed = seed
    run_id = store.create(model, train, preset="softmax", name="1 layer: softmax", owner=owner,
                          status="completed", job_key=JobSpec(model, train).key)
    test = [{"epoch": index + 1, "step": index + 1, "loss": loss, "accuracy": accuracy}
            for index, loss in enumerate(losses)]
    store.update(run_id, history={"train": [], "validation": [], "test": test}, test_accuracy=accuracy,
                 status="completed", epochs_completed=len(losses))
    (store.folder(run_id) / "model.keras").write_bytes(b"stand-in: the choice only needs a saved model")
    return run_id


def test_a_prediction_is_saved_then_shown_beside_what_happened(lab):
    at = open_lab("softmax")
    assert LearnerBook(lab).get(owner_of(LEARNER)).step == "softmax", "the Class page sees the step"
    at.number_input(key="guess_softmax").set_value(91.0)
    at.radio(key="guess_choice_softmax").set_value("Yes")
    at.button(key="save_guess_softmax").click().run()
    assert not at.exception, [item.value for item in at.exception]
    [guess] = LearnerBook(lab).guesses("softmax")
    assert (guess.accuracy, guess.choice) == (0.91, "Yes")
    _finished_run(lab, owner_of(LEARNER), 0.8875)
    at.run()
    shown = " ".join(markdown.value for markdown in at.markdown)
    assert "Your prediction:" in shown and "91.0%" in shown and "88.75%" in shown
    assert "*No* ✗" in shown, "below 90%: the answer to 'Will the test accuracy pass 90%?' is No"


def test_an_incomplete_guess_is_refused_with_a_reason(lab):
    at = open_lab("softmax")
    at.radio(key="guess_choice_softmax").set_value("No")
    at.button(key="save_guess_softmax").click().run()
    assert any("Give both" in warning.value for warning in at.warning)
    assert LearnerBook(lab).guesses("softmax") == []


def test_a_finished_identical_training_can_be_taken_instead_of_trained(lab):
    done = _finished_run(lab, owner_of("a classmate"), 0.9215)
    at = open_lab("softmax")
    at.button(key="train_step_softmax").click().run()
    assert state.job_queue().jobs() == [], "nothing is queued while the learner chooses"
    assert any("already finished" in markdown.value for markdown in at.markdown)
    at.button(key="lab_identical_take").click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert lab.get(done).owned_by(owner_of(LEARNER)) and state.job_queue().jobs() == []
    assert any(metric.value == "92.15%" for metric in at.metric if metric.label == "Your best")


def test_or_trained_anew_with_another_seed(lab):
    _finished_run(lab, owner_of("a classmate"), 0.9215)
    _finished_run(lab, owner_of("another"), 0.9190, seed=1)  # seed 1 is taken too: the next free one is 2
    at = open_lab("softmax")
    at.button(key="train_step_softmax").click().run()
    at.button(key="lab_identical_again").click().run()
    assert not at.exception, [item.value for item in at.exception]
    [job] = state.job_queue().jobs()
    assert lab.load_configs(job.run_id)[1].seed == 2 and job.owned_by(owner_of(LEARNER))


def test_every_training_step_shows_its_keras_code_to_copy_and_download(lab):
    at = open_lab("conv")
    at.toggle(key="lab_code_conv_show").set_value(True).run()
    assert not at.exception, [item.value for item in at.exception]
    [code] = [block.value for block in at.code]
    assert "keras.Sequential" in code and "Conv2D" in code and "TensorBoard(" in code
    labels = {button.label for button in at.get("download_button")}
    assert {"Download .py", "Download notebook (.ipynb)"} <= labels
