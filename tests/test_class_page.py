"""The Class page under AppTest: only an unlocked teacher has it; it lists the learners (names as text), the queue
with who waits for what and a working Stop and Cancel, the leaderboards and the class's guesses. Jobs go to a parked
executor (accepted, never started), so nothing trains here. Also the sidebar box where a learner chooses a name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import streamlit as st
from lab_support import ParkedExecutor
from streamlit.testing.v1 import AppTest

from dashboard import state
from dashboard.identity import owner_of
from dashboard.safe_text import plain
from mnist_models import course
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS
from mnist_models.store.learners import LearnerBook
from mnist_models.store.progress import COMPLETED
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
PAGE = "app_pages/class_page.py"
TIMEOUT = 60
TEACHER, ANN, BOB = "t" * 32, "a" * 32, "b" * 32
HOSTILE = "[x](http://e.vil)"
OWN_MODEL = ModelConfig(conv_layers=[ConvLayer(12, 5, 1), ConvLayer(24, 3, 2)], hidden_units=[200], dropout_rate=0.25)
OWN_TRAIN = TrainConfig(optimizer="adam", learning_rate=0.003, epochs=2, train_size=1000, validation_size=500)


@pytest.fixture
def klass(tmp_path, monkeypatch):
    """A fresh run store with a teacher password, and the pages' job queue replaced by one whose jobs never start
    (one trains at a time, so a second waits)."""
    folder = tmp_path / "class-runs"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    monkeypatch.setenv("MNIST_TEACHER_PASSWORD", "chalk")
    st.cache_resource.clear()
    store = RunStore(folder)
    queue = JobQueue(store, executor=ParkedExecutor(), max_running=1)
    monkeypatch.setattr(state, "job_queue", lambda: queue)
    yield store, queue, LearnerBook(store, step_ids=[step.id for step in course.steps()])
    queue.shutdown()
    st.cache_resource.clear()


def open_app(identity: str, teacher: bool = False, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = identity
    if teacher:
        at.session_state["teacher"] = True
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def open_class(**session) -> AppTest:
    at = open_app(TEACHER, teacher=True, **session).switch_page(PAGE).run()
    assert not at.exception, [item.value for item in at.exception]
    assert [title.value for title in at.title] == ["Class"]
    return at


def table(at: AppTest, column: str):
    """The page's one table that has this column."""
    [frame] = [item.value for item in at.dataframe if column in item.value.columns]
    return frame


def markdown(at: AppTest) -> list[str]:
    return [item.value for item in at.markdown]


def finished(store: RunStore, identity: str, preset: str, accuracy: float, seconds: float = 100.0,
             model: ModelConfig | None = None, train: TrainConfig | None = None, name: str | None = None) -> str:
    if model is None:
        model, train = PRESETS[preset].configs()
    run_id = store.create(model, train, preset=preset, owner=owner_of(identity), name=name)
    test = [{"epoch": 1.0, "step": 50, "loss": 0.1, "accuracy": accuracy - 0.001},
            {"epoch": 2.0, "step": 100, "loss": 0.1, "accuracy": accuracy}]
    store.update(run_id, status=COMPLETED, test_accuracy=accuracy, seconds=seconds,
                 history={"train": [{"epoch": 2.0, "step": 100, "loss": 0.1, "accuracy": 0.99}], "validation": [],
                          "test": test})
    return run_id


def test_a_learner_has_no_class_page(klass):
    store, _, book = klass
    book.set_name(owner_of(ANN), "Ann")
    finished(store, ANN, "softmax", 0.92)
    at = open_app(BOB)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
    # The page itself, reached without the navigation (an address typed by hand), shows nobody's anything.
    direct = AppTest.from_file(str(ROOT / "dashboard" / PAGE), default_timeout=TIMEOUT)
    direct.session_state["identity"] = BOB
    direct.run()
    assert not direct.exception, [item.value for item in direct.exception]
    assert "teacher" in direct.info[0].value
    assert not direct.dataframe and not direct.button and "Ann" not in " ".join(markdown(direct))


def test_the_unlocked_teacher_has_it_and_locking_takes_it_away(klass):
    at = open_class()
    assert [header.value for header in at.subheader][:2] == ["Learners (0)", "Queue: 0 training, 0 waiting"]
    at.button(key="teacher_lock").click().run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)


def test_learners_are_listed_with_their_step_and_results_and_names_as_text(klass):
    store, queue, book = klass
    book.set_name(owner_of(ANN), HOSTILE)
    book.record_step(owner_of(ANN), "conv")
    book.record_step(owner_of(BOB), "softmax")
    finished(store, ANN, "softmax", 0.9213)
    model, train = PRESETS["conv"].configs()
    queue.submit(model, train, owner=owner_of(ANN), preset="conv", name=HOSTILE)
    at = open_class()
    learners = table(at, "Lab step")
    assert list(learners["name"]) == [HOSTILE, "Learner 2"], "a data frame shows names as text"
    assert list(learners["Lab step"]) == [course.get_step("conv").title, course.get_step("softmax").title]
    assert learners["softmax"].tolist()[0] == pytest.approx(0.9213)
    assert learners["now"].tolist() == ["getting ready (loading the data)", ""]
    lines = markdown(at)
    assert any(plain(HOSTILE) in line for line in lines), lines
    assert not any(HOSTILE in line for line in lines), "never as a Markdown link"


def test_the_queue_says_who_waits_for_what_and_the_teacher_stops_and_cancels(klass):
    store, queue, book = klass
    book.set_name(owner_of(ANN), "Ann")
    book.set_name(owner_of(BOB), "Bob")
    model, train = PRESETS["softmax"].configs()
    running = queue.submit(model, train, owner=owner_of(ANN), preset="softmax", name="Ann's softmax")
    waiting = queue.submit(OWN_MODEL, OWN_TRAIN, owner=owner_of(BOB), preset="custom", name="Bob's convnet")
    at = open_class()
    assert "Queue: 1 training, 1 waiting" in [header.value for header in at.subheader]
    lines = [line for line in markdown(at) if "softmax" in line or "convnet" in line]
    assert lines == [f"**now** Ann: Ann's softmax · {plain('getting ready (loading the data)')}",
                     f"**1.** Bob: Bob's convnet · {plain('waiting, number 1 in the queue')}"]
    at.button(key=f"class_cancel_{waiting}").click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert [job.run_id for job in queue.jobs()] == [running]
    assert waiting not in {info.run_id for info in store.list()}, "a cancelled job leaves no run behind"
    at.button(key=f"class_stop_{running}").click().run()
    assert not at.exception, [item.value for item in at.exception]
    assert store.stop_requested(running), "the worker is asked to stop after its batch"
    assert at.button(key=f"class_stop_{running}").disabled
    assert any(plain("stopping after this batch") in line for line in markdown(at))


def test_the_leaderboards_of_the_99_percent_challenge(klass):
    store, _, book = klass
    book.set_name(owner_of(ANN), "Ann")
    book.set_name(owner_of(BOB), "Bob")
    finished(store, ANN, "custom", 0.9921, seconds=200.0, model=OWN_MODEL, train=OWN_TRAIN, name="Ann's convnet")
    finished(store, BOB, "custom", 0.9870, model=OWN_MODEL, train=OWN_TRAIN, name="Bob's convnet")
    finished(store, BOB, "fast-99", 0.9932, seconds=40.0)
    at = open_class()
    best = table(at, "99%")
    assert list(best["learner"]) == ["Ann", "Bob"]
    assert list(best["99%"]) == ["✓", ""]
    assert best["network"].tolist()[0] == "conv 12x5s1, 24x3s2 · dense 200 · dropout 0.25 · adam 0.003"
    fastest = table(at, "time to 99%")
    # Both passed 99% at their first test point (step 50 of 100): half their runs' seconds. Bob's custom network
    # never did, and his best own network is listed all the same, below the line.
    assert list(fastest["learner"]) == ["Bob", "Ann"]
    assert list(fastest["time to 99%"]) == ["20 s", "1 min 40 s"]
    assert fastest["run"].tolist()[0].endswith("(preset)")


def plotly_spec(at: AppTest, key: str) -> dict:
    [chart] = [chart for chart in at.get("plotly_chart") if chart.proto.id.endswith(f"-{key}")]
    return json.loads(chart.proto.spec)


@pytest.mark.parametrize("projector", [False, True])
def test_the_class_guesses_for_a_step_against_its_results(klass, projector):
    store, _, book = klass
    book.record_guess(owner_of(ANN), "softmax", 0.95, "<a href='http://e.vil'>b</a>")
    book.record_guess(owner_of(BOB), "softmax", 0.90, "a")
    finished(store, ANN, "softmax", 0.92)
    at = open_class(present=projector)
    assert at.selectbox(key="class_step").value == "softmax", "the step the class guessed opens first"
    metrics = {metric.label: metric.value for metric in at.metric}
    assert (metrics["Guesses"], metrics["Median result"], metrics["Best result"]) == ("2", "92.00%", "92.00%")
    histogram = plotly_spec(at, "class_guess_histogram")
    assert sorted(histogram["data"][0]["x"]) == pytest.approx([90.0, 95.0])
    assert [shape["x0"] for shape in histogram["layout"]["shapes"]] == pytest.approx([92.0, 92.0])
    assert histogram["layout"]["height"] == (520 if projector else 380)
    assert histogram["layout"]["font"]["size"] == (26 if projector else 16), "readable from the back of the room"
    bars = plotly_spec(at, "class_choice_bars")
    assert sorted(bars["data"][0]["y"]) == ["&lt;a href='http://e.vil'&gt;b&lt;/a&gt;", "a"]
    at.selectbox(key="class_step").select("conv").run()
    assert not at.get("plotly_chart")
    assert any("Nobody has made a prediction" in caption.value for caption in at.caption)


def test_a_learner_chooses_the_name_the_class_sees(klass):
    _, _, book = klass
    at = open_app(ANN)
    box = at.text_input(key="learner_name")
    assert (box.label, box.value) == ("Your name (optional)", "")
    box.input("  Ann \n Lee ").run()
    assert not at.exception, [item.value for item in at.exception]
    assert book.get(owner_of(ANN)).name == "Ann Lee"
    assert at.text_input(key="learner_name").value == "Ann Lee"
    again = open_app(ANN)  # a new session of the same browser finds it
    assert again.text_input(key="learner_name").value == "Ann Lee"
