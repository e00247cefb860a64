"""The Train page's range-test panel under AppTest: folded away until opened, it queues a range test as the
learner's one job (which the Watching box leaves out), refuses with a reason, and shows a finished test's chart,
suggestion and rule, whose Use it sets the Learning rate and whose Try three queues a short sweep of three rates."""

from __future__ import annotations

import pytest
from lab_support import APP, LEARNER, TIMEOUT
from streamlit.testing.v1 import AppTest

from dashboard import state
from dashboard.identity import owner_of
from dashboard.lr_find_view import OPEN_KEY, RUN_KEY, SWEEP_KEY, rounded, try_three_rates
from mnist_models import lr_find
from mnist_models.lr_range import NOTE, RULE, RangeSettings
from mnist_models.presets import get_preset
from mnist_models.store.run_info import LR_FIND_TASK, TRAIN_TASK

START = "Run the range test"


def open_train(panel: bool = True, preset: str = "softmax") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = LEARNER
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="preset").select(preset).run()
    if panel:
        at.session_state[OPEN_KEY] = True
        at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def button(at: AppTest, label: str):
    [found] = [item for item in at.button if item.label == label]
    return found


def test_the_panel_is_folded_away_until_opened(lab):
    at = open_train(panel=False)
    assert "Find a learning rate" in [expander.label for expander in at.expander]
    assert START not in [item.label for item in at.button], "nothing in it is drawn while it is closed"
    at.session_state[OPEN_KEY] = True
    at.run()
    assert not button(at, START).disabled


def test_in_presentation_mode_a_toggle_opens_the_panel(lab):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = LEARNER
    at.query_params["present"] = "1"
    at.switch_page("app_pages/train.py").run()
    assert START not in [item.label for item in at.button]
    at.toggle(key=f"{OPEN_KEY}_toggle").set_value(True).run()
    assert not at.exception, [item.value for item in at.exception]
    assert not button(at, START).disabled


def test_the_range_test_is_queued_as_the_learner_s_one_job(lab):
    at = open_train()
    button(at, START).click().run()
    assert not at.exception, [item.value for item in at.exception]
    queue, me = state.job_queue(), owner_of(LEARNER)
    [job] = queue.jobs_of(me)
    assert job.task == LR_FIND_TASK and job.run_id == at.session_state[RUN_KEY]
    assert job.name == "Range test: 1 layer: softmax"
    assert lab.list() == [] and [info.run_id for info in lab.list(task=LR_FIND_TASK)] == [job.run_id]
    # One job at a time: neither a second test nor a training can start; the Watching box does not offer the test.
    assert button(at, START).disabled and button(at, "Train").disabled
    assert any("Your range test is under way" in caption.value for caption in at.caption)
    assert not [box for box in at.selectbox if box.key == "watch"]
    [status] = at.get("progress")
    assert "Getting the network ready" in status.proto.text, "a parked job never measures anything"


def test_bad_settings_disable_the_test_with_a_reason(lab, monkeypatch):
    at = open_train()
    at.number_input(key="train_size").set_value(1000)
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="batch_size").set_value(2000).run()
    start = button(at, START)
    assert start.disabled and "Fix the settings marked in red" in start.help
    # A training of 1,000 images fits this (tiny) budget; a range test of 300 batches of 100 does not.
    monkeypatch.setenv("MNIST_MAX_TOTAL_WORK", str(7840 * 50_000))
    at.number_input(key="batch_size").set_value(100).run()
    assert not button(at, "Train").disabled
    start = button(at, START)
    assert start.disabled and "The range test would take about 1.8 times the work" in start.help
    assert any("run fewer batches" in caption.value for caption in at.caption)


@pytest.mark.slow
def test_a_finished_test_shows_its_suggestion_use_it_and_try_three(lab, mnist):
    from mnist_models.worker.lr_finder import lr_find_run

    me = owner_of(LEARNER)
    model, train = get_preset("softmax").configs()
    spec = lr_find.range_test_spec(model, train, settings=RangeSettings(1e-5, 10.0, 150), name="Range test")
    run_id = lab.create(spec.model, spec.train, name=spec.name, owner=me, files=spec.files, job_key=spec.key,
                        task=spec.task)
    assert lr_find_run(lab, run_id, data=mnist).status == "completed"
    suggestion = lr_find.load_result(lab, run_id).suggestion()
    assert suggestion.rate is not None
    rate = rounded(suggestion.rate)

    at = open_train()
    assert not at.exception, [item.value for item in at.exception]
    assert at.get("plotly_chart"), "the loss against the rate"
    assert any(f"Suggested learning rate: **{rate:g}**" in item.value for item in at.success)
    captions = " ".join(caption.value for caption in at.caption)
    assert RULE in captions and NOTE in captions
    button(at, "Use it").click().run()
    assert at.number_input(key="learning_rate").value == pytest.approx(rate)

    button(at, "Try three").click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert at.session_state[SWEEP_KEY]
    jobs = state.job_queue().jobs_of(me)
    assert [job.task for job in jobs] == [TRAIN_TASK] * 3
    rates = sorted(lab.load_configs(job.run_id)[1].learning_rate for job in jobs)
    assert rates == pytest.approx(sorted(try_three_rates(rate)))
    assert {lab.load_configs(job.run_id)[1].epochs for job in jobs} == {2}
