"""Text a learner types shows as typed, never as Markdown, HTML or a chart's markup: every page walked under AppTest
with runs whose names and errors are hostile (Markdown links and images, bare web addresses, HTML tags, a
`javascript:` link, icons, a right-to-left override, very long text) and a hostile link opened on Train and Lab.
Every text a page sends that Streamlit renders as Markdown (bodies, captions, alerts, headings, labels, tooltips,
radio and pill options, progress texts, metrics, table cells) is rendered as Streamlit would (CommonMark with GFM
tables and strikethrough, then GFM's pass that links bare addresses in the text) and must hold no link, image, raw
HTML, icon or bidi override; every string of every chart (on the pages and from each builder) must hold no raw tag.
Each check is first shown to catch the raw hostile strings, so none can pass by looking at nothing."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import unicodedata
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import plotly.graph_objects as go
import pytest
import streamlit as st
from lab_support import ParkedExecutor
from markdown_it import MarkdownIt
from PIL import Image
from streamlit.testing.v1 import AppTest

from benchmarks.drawn_digits import DIGITS, render
from dashboard import charts, state
from dashboard.identity import owner_of
from dashboard.runs_parallel import HEADING
from dashboard.safe_text import WORD_JOINER, code, plain, plotly_text
from mnist_models import course
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.files import HISTORY_FILE, RESULT_FILE
from mnist_models.store.progress import COMPLETED, FAILED, QUEUED
from mnist_models.store.runs import RunStore

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TIMEOUT = 60  # the first run imports pandas, plotly and the core package on a loaded 2-core machine
LEARNER = "hostile-text-learner"
LESSON_STEP = "five-layer-dropout"  # a training step that also holds the overfitting lesson

HOSTILE_NAMES = (
    "[answers](http://e.vil) ![t](http://e.vil/t.png) <b>BOLD</b>",
    'see http://e.vil, www.e.vil or me@e.vil <a href="http://e.vil">x</a>',
    "<img src=x onerror=alert(1)> [go](javascript:alert(1)) \u202eevil txt",
    ':material/bolt: :smile: :red[red] a -> b <br>BR<span style="x">',
)
LONG = "[long](http://e.vil) " + "y" * 3000 + " www.e.vil"
HOSTILE = (*HOSTILE_NAMES, LONG)
ERROR = " ".join(HOSTILE_NAMES) + "\n# heading\n===\n1. list <script>alert(1)</script>"
# A shared link: hostile values, a hostile parameter name, and a preset that is a bare web address.
LINK = {"epochs": HOSTILE_NAMES[0], "optimizer": HOSTILE_NAMES[2], HOSTILE_NAMES[1]: "1", "preset": "www.e.vil"}

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")
# markdown-it refuses `javascript:` targets itself; Streamlit's renderer is not this one, so every target counts.
_MARKDOWN.validateLink = lambda url: True
_RAW_HTML = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Streamlit (remark-gfm) links these in the text after backslash escapes are read, so an escape does not stop them.
_BARE_URL = re.compile(r"(?:https?://|www\.)[-.\w]", re.IGNORECASE | re.ASCII)
_BARE_EMAIL = re.compile(r"[-.\w+]@[-\w]+(?:\.[-\w]+)+", re.ASCII)
# Streamlit turns these into arrows and dashes in the text, and `:material/...:` into an icon in the source.
_ARROWS = re.compile(r"(?:^|\s)(?:<->|->|<-|--|>=|<=|~=)(?:\s|$)")
_DIRECTIVE = re.compile(r":[a-z][a-z0-9-]*\[")
# The raw tags of the hostile strings as Plotly would read them (it reads <a href>, <b>, <br> and <span>).
RAW_TAGS = ("<a href", "<img", "<b>BOLD", "<br>BR", "<span style", "<script")


class _Rendered(HTMLParser):
    """The elements of rendered HTML, and its text outside code (where GFM's bare-address pass looks)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.texts: list[str] = []
        self.all_text: list[str] = []
        self._in_code = 0
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_code += tag in ("code", "pre")

    def handle_endtag(self, tag):
        self._in_code -= tag in ("code", "pre")

    def handle_data(self, data):
        self.all_text.append(data)
        if not self._in_code:
            self.texts.append(data)


def _starts_a_word(text: str, index: int) -> bool:
    """GFM links a bare address only where a word starts: at the start, or after a space or punctuation."""
    if index == 0:
        return True
    before = text[index - 1]
    return before.isspace() or unicodedata.category(before)[0] in "PS"


def markdown_problems(source: str) -> list[str]:
    """What Streamlit would make of `source` beyond plain text: links, images, raw HTML, icons, emoji, arrows, a
    bidi override. Empty when the text shows as typed."""
    problems = []
    rendered = _Rendered(_MARKDOWN.render(source))
    problems += [f"<{tag} {attrs}>" for tag, attrs in rendered.elements if tag in ("a", "img")]
    for text in rendered.texts:
        problems += [f"bare link {match.group()!r}" for match in _BARE_URL.finditer(text)
                     if _starts_a_word(text, match.start())]
        problems += [f"bare email {match.group()!r}" for match in _BARE_EMAIL.finditer(text)]
        problems += [f"emoji in {text!r}" for _ in re.finditer(r":smile:", text)]
        problems += [f"arrow {match.group()!r}" for match in _ARROWS.finditer(text)]
    tokens = [token for block in _RAW_HTML.parse(source) for token in [block, *(block.children or [])]]
    problems += [f"raw HTML {token.content!r}" for token in tokens if token.type in ("html_inline", "html_block")]
    problems += [f"icon in {source[:60]!r}" for _ in re.finditer(":material/", source)]
    problems += [f"directive {match.group()!r}" for match in _DIRECTIVE.finditer(source)]
    problems += ["bidi override"] if _BIDI_CONTROLS.search(source) else []
    return problems


def shown_text(source: str) -> str:
    """The characters a reader sees of `source` rendered as Markdown (the invisible word joiners left out)."""
    return "".join(_Rendered(_MARKDOWN.render(source)).all_text).strip().replace(WORD_JOINER, "")


def figure_strings(value) -> Iterator[str]:
    """Every string in a figure's JSON (its names, titles, templates, texts), however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from figure_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from figure_strings(item)


def figure_problems(figure: dict) -> list[str]:
    """Strings of a figure that Plotly would read as markup from a hostile string (a link, styling) or reverse."""
    return [text[:80] for text in figure_strings(figure)
            if any(tag in text for tag in RAW_TAGS) or _BIDI_CONTROLS.search(text)]


# Fields Streamlit shows as plain text (select boxes' options, a text box's value), or not as text at all.
NOT_MARKDOWN = {"id", "form_id", "default", "value", "raw_value", "raw_values", "icon", "placeholder", "type", "url",
                "format", "tag", "page", "deferred_file_id", "file_name", "mime_type"}
PLAIN_OPTIONS = ("Selectbox", "MultiSelect")  # their options are plain text; a radio's and pills' are Markdown
NOT_TEXT = ("Json", "Text", "Code", "Dataframe", "Arrow", "Exception", "Skeleton", "Empty", "ImageList")


def _strings(message, path: str = "") -> Iterator[tuple[str, str]]:
    for field, value in message.ListFields():
        name = f"{path}{field.name}"
        values = value if field.is_repeated else [value]
        for item in values:
            if field.type == field.TYPE_STRING:
                yield name, item
            elif field.type == field.TYPE_MESSAGE:
                yield from _strings(item, f"{name}.")


def _nodes(node) -> Iterator:
    yield node
    for child in (getattr(node, "children", None) or {}).values():
        yield from _nodes(child)


class Sent:
    """What a page sent, sorted by how the browser shows it."""

    def __init__(self, at: AppTest):
        self.markdown: list[tuple[str, str]] = []  # (element.field, text) rendered as Markdown
        self.html: list[str] = []  # rendered as raw HTML: st.html, or Markdown with unsafe_allow_html
        self.figures: list[tuple[str, dict]] = []
        for node in (*_nodes(at.main), *_nodes(at.sidebar)):
            message = getattr(node, "proto", None)
            if message is None or not hasattr(message, "ListFields"):
                continue
            kind = message.DESCRIPTOR.name
            if kind == "PlotlyChart":
                self.figures.append((message.id, json.loads(message.spec)))
            elif kind == "BidiComponent":
                data = json.loads(message.json) if message.WhichOneof("data") == "json" else {}
                if isinstance(data, dict) and "figure" in data:
                    self.figures.append((message.id, json.loads(data["figure"])))
            elif kind == "Html":
                self.html.append(message.body)
            elif kind not in NOT_TEXT:
                for field, text in _strings(message):
                    last = field.rsplit(".", 1)[-1]
                    if last in NOT_MARKDOWN or (kind in PLAIN_OPTIONS and last == "options"):
                        continue
                    self.markdown.append((f"{kind}.{field}", text))
                if kind == "Markdown" and message.allow_html:
                    self.html.append(message.body)
        # st.table renders its cells as Markdown.
        for table in at.table:
            frame = table.value
            self.markdown += [("Table.cell", str(cell)) for cell in frame.to_numpy().ravel() if isinstance(cell, str)]
            self.markdown += [("Table.column", str(column)) for column in frame.columns]

    def problems(self) -> list[str]:
        found = [f"{where}: {problem} in {text[:120]!r}" for where, text in self.markdown
                 for problem in markdown_problems(text)]
        found += [f"raw HTML holds user text: {body[:120]!r}" for body in self.html
                  if any(marker in body for marker in ("e.vil", "onerror", "BOLD"))]
        found += [f"figure {where}: {problem!r}" for where, figure in self.figures
                  for problem in figure_problems(figure)]
        return found

    def texts(self) -> str:
        return "\n".join(text for _, text in self.markdown)


def assert_safe(at: AppTest) -> Sent:
    assert not at.exception, [item.value for item in at.exception]
    sent = Sent(at)
    assert sent.markdown, "the walk found the page's texts"
    problems = sent.problems()
    assert not problems, "\n".join(problems)
    return sent


@pytest.mark.parametrize("text", [*HOSTILE, ERROR], ids=lambda text: text[:24])
def test_the_markdown_check_catches_each_raw_hostile_string_and_passes_it_escaped(text):
    assert markdown_problems(f"Training {text}: epoch 1/3"), "the raw string is caught"
    assert markdown_problems(f"Training {plain(text)}: epoch 1/3") == []
    # Shown as typed: every character, in the typed order (an invisible bidi override dropped).
    assert shown_text(plain(text)) == _typed(text)


def test_the_figure_check_catches_a_raw_hostile_name_and_passes_it_escaped():
    for name in HOSTILE_NAMES:
        raw = go.Figure(go.Scatter(x=[1], y=[1], name=name)).to_plotly_json()
        assert figure_problems(raw), name
        escaped = go.Figure(go.Scatter(x=[1], y=[1], name=plotly_text(name))).to_plotly_json()
        assert figure_problems(escaped) == []


def test_a_code_span_holds_any_backticks_and_links_nothing():
    for text in ("/srv/runs ``` [x](http://e.vil)", "`", "a`b``c"):
        assert markdown_problems(f"in {code(text)}.") == []
        assert shown_text(code(text)) == text


CURVES = {
    "train": [{"epoch": 0.5, "step": 5, "accuracy": 0.8, "loss": 0.6}, {"epoch": 1.0, "step": 10, "accuracy": 0.9,
                                                                        "loss": 0.3}],
    "test": [{"epoch": 1.0, "step": 10, "accuracy": 0.88, "loss": 0.4}],
}


@pytest.mark.parametrize("builder", [charts.comparison_figure, charts.gap_figure, charts.train_test_figure])
@pytest.mark.parametrize("metric", ["accuracy", "loss"])
def test_chart_builders_show_hostile_run_labels_as_text(builder, metric):
    runs = {f"{name} (abc123)": CURVES for name in HOSTILE}
    figure = builder(runs, metric)
    projected = charts.projector_style(go.Figure(figure))
    for built in (figure.to_plotly_json(), projected.to_plotly_json(), json.loads(figure.to_json())):
        assert figure_problems(built) == []
    names = [trace.name for trace in figure.data]
    assert any(name.startswith("&lt;img src=x onerror=alert(1)&gt;") for name in names), names
    assert any("&lt;b&gt;BOLD&lt;/b&gt;" in name for name in names), "kept, as the characters typed"


def _history(accuracy: float) -> dict:
    return {"train": [{"epoch": 1, "step": 10, "accuracy": accuracy + 0.02, "loss": 0.3}], "validation": [],
            "test": [{"epoch": 1, "step": 10, "accuracy": accuracy, "loss": 0.35}]}


def _run(store: RunStore, name: str, *, preset: str = "softmax", status: str = COMPLETED, **meta) -> str:
    """A run of the learner's whose meta.json holds `name` as it is, as a hand-edited or older file could."""
    model, train = get_preset(preset if preset in PRESETS else "softmax").configs()
    run_id = store.create(model, train, preset=preset, owner=owner_of(LEARNER), name="placeholder", status=status)
    store.update(run_id, name=name, **({"test_accuracy": 0.9, "epochs_completed": train.epochs} | meta),
                 history=_history(0.9))
    return run_id


@pytest.fixture
def hostile_store(tmp_path, monkeypatch):
    """A runs folder with the learner's hostile runs (completed, failed, a lesson, and a job parked in the queue),
    and the pages' job queue replaced by one whose jobs never start."""
    # The runs folder's path is shown too (on Runs): a name no learner picks, but one the page must not trust.
    folder = tmp_path / "runs ` [here](javascript:alert(1)) www.e.vil"
    monkeypatch.setenv("MNIST_RUNS_DIR", str(folder))
    st.cache_resource.clear()
    store = RunStore(folder)
    for name in HOSTILE:
        _run(store, name)
    broken = _run(store, HOSTILE_NAMES[2], status=FAILED, error=ERROR, test_accuracy=None)
    (store.folder(broken) / HISTORY_FILE).write_text("[]")  # its curves cannot be read: Runs says so by name
    for index, name in enumerate(HOSTILE_NAMES[:2]):
        _run(store, f"{course.LESSON_NAME}: {name}", preset="overfit-demo" if index == 0 else "custom")
    _run(store, LONG, preset=LESSON_STEP, status=FAILED, error=ERROR, test_accuracy=None)
    # Queued before the queue exists, so the queue adopts it with its name as the file holds it.
    _run(store, " ".join(HOSTILE_NAMES), preset=LESSON_STEP, status=QUEUED, device=HOSTILE_NAMES[1],
         test_accuracy=None)
    queue = JobQueue(store, executor=ParkedExecutor(), max_running=50)
    monkeypatch.setattr(state, "job_queue", lambda: queue)
    yield store
    queue.shutdown()
    st.cache_resource.clear()


def open_page(page: str, params: dict | None = None, **session) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["identity"] = LEARNER
    for key, value in session.items():
        at.session_state[key] = value
    for name, value in (params or {}).items():
        at.query_params[name] = value
    if page != "lab":
        at.switch_page(f"app_pages/{page}.py")
    return at.run()


def _typed(text: str) -> str:
    """What a reader should see of user text: what was typed, less any invisible bidi override."""
    return _BIDI_CONTROLS.sub("", text)


def _shown(elements) -> list[str]:
    return [shown_text(element.value) for element in elements]


def test_lab_shows_hostile_names_errors_and_links_as_text(hostile_store):
    at = open_page("lab", {"step": HOSTILE_NAMES[0]})
    assert_safe(at)
    [note] = [shown_text(warning.value) for warning in at.warning if "The link asks" in warning.value]
    assert f"a step called '{HOSTILE_NAMES[0][:40]}'" in note, "the link's value, as typed"
    at.selectbox(key="lab_step").select(LESSON_STEP)
    at.session_state["lab_error"] = f"You already have a training queued ({HOSTILE_NAMES[3]})."
    sent = assert_safe(at.run())
    shown = _shown(at.caption) + _shown(at.warning)
    assert f"You have a training under way ({_typed(' '.join(HOSTILE_NAMES))}); one at a time per learner." in shown
    assert f"You already have a training queued ({_typed(HOSTILE_NAMES[3])})." in shown
    lesson = [text for text in shown if text.startswith("Your latest lesson")]
    assert lesson and all(_typed(name) in lesson[0] for name in HOSTILE_NAMES[:2]), lesson
    assert any(where.startswith("$$ID") and "lesson" in where for where, _ in sent.figures), "the lesson's charts"


def test_train_shows_a_hostile_link_s_notes_and_hostile_names_as_text(hostile_store):
    [failed] = [info for info in hostile_store.list() if info.status == FAILED and info.preset == LESSON_STEP]
    at = open_page("train", LINK, train_error=f"That did not work: {HOSTILE_NAMES[1]}", job_id=failed.run_id)
    assert_safe(at)
    notes = " ".join(text for text in _shown(at.warning) if text.startswith("From the link"))
    for asked in (f"epochs='{HOSTILE_NAMES[0][:40]}…'", f"optimizer='{_typed(HOSTILE_NAMES[2])[:40]}",
                  f"setting '{HOSTILE_NAMES[1][:40]}…'", "preset 'www.e.vil'"):
        assert asked in notes, asked
    assert f"That did not work: {HOSTILE_NAMES[1]}" in _shown(at.warning)
    assert f"Training failed: {_typed(ERROR)}" in _shown(at.error), "the watched run's error, as stored"
    assert any(text.startswith(f"Training {_typed(' '.join(HOSTILE_NAMES))}: other pages") for text in
               _shown(at.caption)), "the learner's job, by name"


def test_runs_shows_every_hostile_run_as_text(hostile_store):
    runs = hostile_store.list()
    labels = [f"{info.name} ({info.run_id[-6:]})" for info in runs]
    [broken] = [info.run_id for info in runs if info.status == FAILED and info.preset == "softmax"]
    at = open_page("runs", runs_error=f"That did not work: Run {HOSTILE_NAMES[0]!r} is somebody else's")
    assert_safe(at)
    [where] = [shown_text(caption.value) for caption in at.caption if "run(s) in" in caption.value]
    assert str(hostile_store.root) in where, "the runs folder, as it is spelled"
    at.multiselect(key="compare_runs").set_value(labels[:6])
    for row, info in enumerate(runs):
        at.session_state["runs_table"] = {"selection": {"rows": [row], "columns": []}}
        sent = assert_safe(at.run())
        [subheader] = [item for item in at.subheader if item.value != HEADING]
        assert shown_text(subheader.value) == _typed(info.name), "the name, as typed"
        if info.error and info.run_id != broken:
            assert f"Training failed: {_typed(ERROR)}" in _shown(at.error)
        assert len(sent.figures) >= 4, "the four comparisons (and the run's own two charts, when readable)"
    assert any("its curves cannot be read" in warning.value for warning in at.warning)


def test_draw_without_a_model_shows_a_hostile_job_as_text(hostile_store):
    sent = assert_safe(open_page("draw"))
    assert "Training " in sent.texts(), "the quick model's progress bar names the learner's job"


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, mnist) -> Path:
    """A softmax trained for one epoch on 500 images: a model.keras the hostile runs can share."""
    from mnist_models.worker.training import TrainingThread

    store = RunStore(tmp_path_factory.mktemp("hostile-model"))
    model, train = get_preset("softmax").configs()
    train.train_size, train.epochs = 500, 1
    job = TrainingThread(model, train, store=store, preset="softmax", name="Tiny softmax", data=mnist).start()
    progress = job.wait(300)
    assert progress.status == COMPLETED, progress.error
    return store.model_path(job.run_id)


def _draw_a_seven(at: AppTest) -> AppTest:
    """Put a drawn 7 into the canvas's state, as the component does after a stroke, and rerun."""
    [seven] = [digit for digit in DIGITS if digit.label == 7 and digit.style == "normal"]
    buffer = io.BytesIO()
    Image.fromarray(render(seven.strokes, stroke_colour="#FFFFFF")).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    at.session_state[f"canvas_{at.session_state['canvas_version']}"] = {
        "drawing": {"raw": {"objects": [], "background": ""}, "data": url}}
    return at.run()


@pytest.mark.slow
def test_draw_and_inspect_show_hostile_models_as_text(hostile_store, trained_model):
    finished = [info for info in hostile_store.list() if info.status == COMPLETED]
    for info in finished:
        shutil.copy(trained_model, info.path / trained_model.name)
    # The fine-tuning the learner's job would have been, with its before-and-after result.
    [parked] = [info for info in hostile_store.list() if info.status not in (COMPLETED, FAILED)]
    at = open_page("draw")
    sent = assert_safe(at)
    assert "Training " in sent.texts(), "the fine-tuning's progress bar names the learner's job"
    assert "Trains a copy of" in sent.texts(), "the fine-tune button's tooltip names the model"
    hostile_store.update(parked.run_id, status=COMPLETED, test_accuracy=0.5)
    (finished[0].path / RESULT_FILE).write_text(json.dumps({"held_out": 3, "my_digits_before": 0.3,
                                                            "my_digits_after": 0.9, "mnist_test_before": 0.9,
                                                            "mnist_test_after": 0.89}))
    at.toggle(key="draw_compare").set_value(True)
    sent = assert_safe(_draw_a_seven(at))
    assert "Before and after" in sent.texts()
    [table] = at.dataframe
    assert len(table.value) == len(finished), "every network's opinion, each named"
    assert [metric.label for metric in at.metric if metric.label == "Prediction"]
    at = open_page("inspect")
    sent = assert_safe(at)
    assert not at.error, [error.value for error in at.error]
    # The whole page: accuracy per digit and probabilities (charts), confusion matrix, mistakes, weights (pictures).
    assert len(sent.figures) >= 2 and len(sent.html) >= 3, (len(sent.figures), len(sent.html))


def test_the_teacher_s_class_page_shows_hostile_learners_runs_and_guesses_as_text(hostile_store, monkeypatch):
    from mnist_models.store.learners import LearnerBook

    monkeypatch.setenv("MNIST_TEACHER_PASSWORD", "chalk")
    book = LearnerBook(hostile_store, step_ids=[step.id for step in course.steps()])
    book.set_name(owner_of(LEARNER), HOSTILE_NAMES[0])
    book.record_step(owner_of(LEARNER), LESSON_STEP)
    book.record_guess(owner_of(LEARNER), LESSON_STEP, 0.97, HOSTILE_NAMES[3])
    at = open_page("class_page", teacher=True, class_step=LESSON_STEP)
    # The first run finds no Class page yet (it joins the navigation once the session is a teacher's): open it again.
    sent = assert_safe(at.switch_page("app_pages/class_page.py").run())
    assert "Class" in [title.value for title in at.title]
    assert any(_typed(" ".join(HOSTILE_NAMES)) in text for text in _shown(at.markdown)), "the queue, by run name"
    assert len(sent.figures) == 2, "the guesses' charts, with the learner's answer"
