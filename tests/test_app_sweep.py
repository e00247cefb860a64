"""Train's sweep section under AppTest: it starts from the current settings, shows what is wrong with a sweep and
how to fix it, and Run sweep queues one owned run per training (on a queue whose jobs never start), whose view
replaces the single run's until the learner goes back; Stop sweep stops every one of them. The Lab's
learning-rate step queues its own small sweep and shows the same view."""

from __future__ import annotations

import lab_support
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import lab_sweep as sweep_lesson
from dashboard import state
from dashboard.identity import owner_of
from dashboard.lab_sweep import lesson_sweep
from mnist_models import course
from mnist_models.presets import PRESETS
from mnist_models.store.sweeps import get_sweep, list_sweeps

ME = owner_of(lab_support.LEARNER)


def open_train(section: bool = True) -> AppTest:
    """Train, with the sweep section opened (folded, it draws nothing)."""
    at = AppTest.from_file(str(lab_support.APP), default_timeout=lab_support.TIMEOUT)
    at.session_state["identity"] = lab_support.LEARNER
    at.session_state["sweep_open"] = section
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def run_sweep_button(at: AppTest):
    [button] = [button for button in at.button if button.label == "Run sweep"]
    return button


def section_errors(at: AppTest) -> list[str]:
    # Markdown escapes and word joiners aside (see safe_text.plain), as the learner reads them.
    return [error.value.replace("\\", "").replace("\u2060", "") for error in at.error]


def set_values(at: AppTest, text: str, number: int = 1) -> AppTest:
    at.text_input(key=f"sweep_values_{number}").set_value(text).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def test_the_section_starts_around_the_current_learning_rate(lab):
    at = open_train()
    assert at.selectbox(key="sweep_field_1").value == "learning_rate"
    assert at.text_input(key="sweep_values_1").value == "0.001,0.003,0.009"  # the preset trains at 0.003
    assert any("**3 trainings**" in markdown.value for markdown in at.markdown)
    assert not run_sweep_button(at).disabled


@pytest.mark.parametrize(("values", "message"), [
    ("0.001,abc", "'abc' is not a number"),
    ("1e-4:1e-1:13", "13 trainings"),
    ("0.001,0.001", "listed more than once"),
    ("0:0.1:3", "must start above 0"),
])
def test_a_bad_sweep_is_explained_and_cannot_run(lab, values, message):
    at = set_values(open_train(), values)
    assert any(message in error for error in section_errors(at)), section_errors(at)
    assert run_sweep_button(at).disabled


def test_a_second_setting_makes_a_grid_checked_against_the_cap(lab):
    at = open_train()
    at.selectbox(key="sweep_field_2").select("batch_size").run()
    assert at.text_input(key="sweep_values_2").value == "33,100,300"  # around the current batch size
    assert any("**9 trainings**" in markdown.value for markdown in at.markdown)
    at.number_input(key="sweep_seeds").set_value(2).run()
    assert any("18 trainings" in error and "more than the 12" in error for error in section_errors(at))
    assert run_sweep_button(at).disabled


def test_the_folded_section_draws_nothing_and_its_choices_survive_other_pages(lab):
    at = open_train(section=False)
    assert "Sweep: compare values of one or two settings" in [item.label for item in at.expander]
    assert not [button for button in at.button if button.label == "Run sweep"], "folded: nothing drawn"
    at.session_state["sweep_open"] = True
    at.run()
    set_values(at, "0.001,0.01")
    at.number_input(key="sweep_seeds").set_value(3).run()
    at.switch_page("app_pages/runs.py").run()
    at.switch_page("app_pages/train.py").run()
    at.session_state["sweep_open"] = True  # the section opens folded again, with the choices as they were
    at.run()
    assert at.text_input(key="sweep_values_1").value == "0.001,0.01"
    assert at.number_input(key="sweep_seeds").value == 3
    assert not at.exception and not at.warning, "no warning about a value set twice"


def test_invalid_train_settings_block_the_sweep_too(lab):
    at = open_train()
    at.number_input(key="validation_size").set_value(60_000).run()
    [problem] = section_errors(at)  # shown once, above, not again for the sweep
    assert "add up to more than the 60,000" in problem
    assert any("Fix the settings marked in red above first" in caption.value for caption in at.caption)
    assert run_sweep_button(at).disabled


def test_run_sweep_queues_one_owned_run_per_training_and_shows_them(lab):
    at = open_train()
    at.number_input(key="epochs").set_value(1).run()
    set_values(at, "0.001,0.01")
    at.number_input(key="sweep_seeds").set_value(2).run()
    run_sweep_button(at).click().run()
    assert not at.exception, [item.value for item in at.exception]
    [record] = list_sweeps(lab, ME)
    assert at.session_state["sweep_id"] == record.id
    assert record.points == [{"learning_rate": rate, "seed": seed} for rate in (0.001, 0.01) for seed in (0, 1)]
    assert len(set(record.run_ids)) == 4
    for point, run_id in zip(record.points, record.run_ids, strict=True):
        info = lab.get(run_id)
        _model, train = lab.load_configs(run_id)
        assert info.owned_by(ME)
        assert (train.learning_rate, train.seed, train.epochs) == (point["learning_rate"], point["seed"], 1)
    assert {job.run_id for job in state.job_queue().jobs_of(ME)} == set(record.run_ids)
    # The results column now shows the sweep instead of a single run, and a second sweep must wait.
    assert at.selectbox(key="sweep_pick").value == record.id
    assert [button.label for button in at.button if button.label in ("Stop sweep", "Single runs", "Train")] == [
        "Single runs", "Stop sweep"]
    assert run_sweep_button(at).disabled
    assert "training under way" in run_sweep_button(at).help

    [stop] = [button for button in at.button if button.label == "Stop sweep"]
    stop.click().run()
    assert not at.exception, [item.value for item in at.exception]
    # Each training either got a stop request (it had started) or was cancelled (its folder is gone).
    for run_id in record.run_ids:
        assert lab.stop_requested(run_id) or run_id not in {info.run_id for info in lab.list()}
    assert get_sweep(lab, ME, record.id).run_ids == record.run_ids

    [back] = [button for button in at.button if button.label == "Single runs"]
    back.click().run()
    assert "sweep_id" not in at.session_state
    assert any(button.label == "Train" for button in at.button)
    assert any(button.label == "Show my sweeps" for button in at.button)


def test_the_lab_s_learning_rate_step_runs_its_sweep_and_shows_it(lab):
    sweep = lesson_sweep()
    assert sweep.problems() == []  # within the cap and the compute budget of a default server
    assert course.previous_training_step(course.get_step("learning-rate-sweep")).preset == sweep_lesson.PRESET
    at = lab_support.open_lab("learning-rate-sweep")
    assert not [button for button in at.button if button.label == "Train this step"]
    [button] = [button for button in at.button if button.label == "Run the learning-rate sweep"]
    button.click().run()
    assert not at.exception, [item.value for item in at.exception]
    [record] = list_sweeps(lab, ME)
    assert record.axes == {"learning_rate": sweep_lesson.RATES}
    for rate, run_id in zip(sweep_lesson.RATES, record.run_ids, strict=True):
        model, train = lab.load_configs(run_id)
        assert (train.learning_rate, train.epochs, train.train_size) == (rate, 2, 10_000)
        assert model == PRESETS[sweep_lesson.PRESET].model
        # Shortened runs of the Adam network must not count as the learner's Adam step.
        assert lab.get(run_id).owned_by(ME) and lab.get(run_id).preset == "custom"
    assert any(button.label == "Stop sweep" for button in at.button)
    assert at.radio(key="lab_sweep_measure").value == "val_best"
    assert next(button for button in at.button if button.label == "Run the learning-rate sweep").disabled
