"""End to end in a real browser: pick a preset, train on a small subset, watch the charts grow, stop, find the run;
and draw every hand-made digit of benchmarks/drawn_digits.py on the Draw page's canvas with the mouse, as a
person would.

Drives Debian's Chromium with Playwright against `streamlit run dashboard/app.py` on a free loopback port;
see browser_support.py for the server and browser fixtures (and the screenshots taken on failure).
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from benchmarks.drawn_digits import DIGITS
from mnist_models.presets import PRESETS

if TYPE_CHECKING:
    from browser_support import ScriptRuns

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"

PRESET = "overfit-demo"
TRAIN_SIZE = 600
# Enough epochs that the job is still running when the test presses Stop, even on a fast machine.
EPOCHS = 100
# Importing TensorFlow and preparing the data on a busy 2-core machine takes a while before the first point.
FIRST_POINTS_SECONDS = 120
STOP_SECONDS = 60
# Every Plotly chart on the page with its title (Streamlit wraps it in <b>) and how many points its traces hold.
PLOTLY_POINTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => ({
    title: ((plot.layout && plot.layout.title && plot.layout.title.text) || '').replace(/<[^>]*>/g, ''),
    points: (plot.data || []).reduce((total, trace) => total + (trace.x ? trace.x.length : 0), 0),
}))"""


def expect(*args, **kwargs):
    # Imported on use: without Playwright this module must still import, so the fixtures can skip (or, in CI,
    # fail) with a clear reason instead of a collection error.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True)


def stop_button(page):
    return page.get_by_role("button", name="Stop", exact=True)


def open_app(page, server) -> None:
    page.goto(f"{server.url}/train")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    expect(train_button(page)).to_be_visible()


def choose_preset(page, name: str) -> None:
    preset = PRESETS[name]
    page.get_by_role("combobox", name="Preset").click()
    # The options read "<title>  (<name>)", as the Preset box's format_func writes them.
    page.get_by_role("option", name=f"{preset.title}  ({name})", exact=True).click()
    expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(re.escape(f"({name})")))
    expect(page.get_by_text(preset.description[:40])).to_be_visible()
    # The run name comes after the other controls: once it shows the preset's title, the run that filled the
    # controls has arrived. (Typing into another control before then starts a new run with the old values.)
    expect(page.get_by_label("Run name", exact=True)).to_have_value(preset.title, timeout=30_000)


def set_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))


def chart_points(page) -> dict[str, int]:
    """Points per chart title; a chart briefly drawn twice while its fragment reruns counts once (the fuller)."""
    points: dict[str, int] = {}
    for plot in page.evaluate(PLOTLY_POINTS_JS):
        points[plot["title"]] = max(points.get(plot["title"], 0), plot["points"])
    return points


def wait_for_more_points(page, than: dict[str, int], timeout: float) -> dict[str, int]:
    """Poll until both the Accuracy and the Loss chart hold more points than `than` says."""
    deadline = time.monotonic() + timeout
    points = chart_points(page)
    while time.monotonic() < deadline:
        points = chart_points(page)
        if all(points.get(title, 0) > than.get(title, 0) for title in ("Accuracy", "Loss")):
            return points
        time.sleep(0.25)
    raise AssertionError(f"The charts did not gain points within {timeout:.0f} s: had {than}, now {points}")


def start_small_training(page, server) -> None:
    open_app(page, server)
    choose_preset(page, PRESET)
    set_number(page, "Training images", TRAIN_SIZE)
    set_number(page, "Epochs", EPOCHS)
    expect(train_button(page)).to_be_enabled()
    expect(stop_button(page)).to_be_disabled()
    train_button(page).click()
    expect(stop_button(page)).to_be_enabled(timeout=30_000)
    expect(train_button(page)).to_be_disabled()


def stop_and_wait(page) -> None:
    stop_button(page).click()
    expect(page.get_by_text(re.compile(r"Stopped after \d+ epoch"))).to_be_visible(timeout=STOP_SECONDS * 1000)
    expect(stop_button(page)).to_be_disabled()
    expect(train_button(page)).to_be_enabled()


def runs_table(page) -> list[list[str]]:
    """The Runs table's rows as text (the grid draws on a canvas; its accessible table holds the cells)."""
    rows = page.locator('[data-testid="stDataFrame"] tbody tr')
    expect(rows.first).to_be_attached()
    return [[(cell.text_content() or "").strip() for cell in row.locator("td").all()] for row in rows.all()]


@pytest.mark.parametrize(("ci", "outcome"), [("true", "failed"), ("", "skipped")])
def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path, ci, outcome):
    # Imported here, after pytest_plugins loaded it (an import at the top would come first and skip the
    # assertion rewriting pytest gives plugins).
    import browser_support

    monkeypatch.setattr(browser_support, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if outcome == "failed" else pytest.skip.Exception
    with pytest.raises(expected, match="no-chromium"):
        browser_support.require_browser()


def test_train_watch_the_charts_grow_stop_and_find_the_run(app_page, streamlit_server):
    page = app_page
    start_small_training(page, streamlit_server)
    expect(page.get_by_test_id("stProgress")).to_be_visible()

    first = wait_for_more_points(page, {}, FIRST_POINTS_SECONDS)
    later = wait_for_more_points(page, first, FIRST_POINTS_SECONDS)
    assert later["Accuracy"] > first["Accuracy"] and later["Loss"] > first["Loss"]

    stop_and_wait(page)
    kept = chart_points(page)
    assert kept["Accuracy"] >= later["Accuracy"] and kept["Loss"] >= later["Loss"], "Stop keeps the curves"

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Saved runs")).to_be_visible()
    rows = runs_table(page)
    assert len(rows) == 1, rows
    name, status, *_ = rows[0]
    # Fewer images and epochs than the preset: the default name says the network was modified.
    assert name == f"{PRESETS[PRESET].title} (modified)"
    assert status == "stopped"
    run_ids = [path.name for path in streamlit_server.runs_dir.iterdir() if path.is_dir()]
    assert rows[0][-1] in run_ids


ZOOM_JS = """title => {
    const plot = Array.from(document.querySelectorAll('.js-plotly-plot'))
        .find(p => p.layout && p.layout.title && p.layout.title.text === title);
    if (!plot) return null;
    const area = plot.querySelector('.nsewdrag').getBoundingClientRect();
    return {x: area.x, y: area.y, width: area.width, height: area.height,
            range: plot.layout.xaxis.range, autorange: plot.layout.xaxis.autorange,
            points: plot.data.reduce((total, trace) => total + (trace.x ? trace.x.length : 0), 0)};
}"""


def test_a_zoom_holds_while_the_live_chart_grows(app_page, streamlit_server):
    page = app_page
    start_small_training(page, streamlit_server)
    wait_for_more_points(page, {}, FIRST_POINTS_SECONDS)
    # Zoom into the Accuracy chart as a learner does: drag a box over the left half of the plot area.
    area = page.evaluate(ZOOM_JS, "Accuracy")
    page.mouse.move(area["x"] + area["width"] * 0.1, area["y"] + area["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.6, steps=8)
    page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.8, steps=8)
    page.mouse.up()
    zoomed = page.evaluate(ZOOM_JS, "Accuracy")
    assert zoomed["autorange"] is False and zoomed["range"], zoomed
    # Two more updates of the live view: the chart gains points and keeps the learner's zoom.
    seen = {"Accuracy": zoomed["points"], "Loss": chart_points(page)["Loss"]}
    for _ in range(2):
        seen = wait_for_more_points(page, seen, 60)
    now = page.evaluate(ZOOM_JS, "Accuracy")
    assert now["points"] > zoomed["points"]
    assert now["range"] == zoomed["range"] and now["autorange"] is False
    stop_and_wait(page)


def test_settings_survive_a_visit_to_another_page_and_a_click_on_train_itself(app_page, streamlit_server):
    page = app_page
    open_app(page, streamlit_server)
    choose_preset(page, "conv")
    set_number(page, "Epochs", 7)
    set_number(page, "Batch size", 64)
    # A page link clicked while the edit's own run still waits replaces that run, and a page change sends none of
    # the page's widget values, so the server never hears of the edit: wait until the address holds it.
    expect(page).to_have_url(re.compile(r"[?&]batch_size=64(&|$)"))
    nav = page.get_by_test_id("stSidebarNav")
    for route in (("Train",), ("Runs", "Train"), ("Draw", "Train")):
        for link in route:
            nav.get_by_role("link", name=link, exact=True).click()
            if link != "Train":
                expect(page.get_by_role("heading", name=re.compile("Saved runs|Draw a digit"))).to_be_visible()
        expect(page.get_by_role("heading", name="Train a network")).to_be_visible()
        expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(r"\(conv\)"))
        expect(page.get_by_label("Epochs", exact=True)).to_have_value("7")
        expect(page.get_by_label("Batch size", exact=True)).to_have_value("64")
        expect(page.get_by_label("Layer 1 filters", exact=True)).to_have_value(str(PRESETS["conv"].configs()[0]
                                                                                .conv_layers[0].filters))


def test_refreshing_the_page_keeps_the_training_job(app_page, streamlit_server):
    page = app_page
    start_small_training(page, streamlit_server)
    wait_for_more_points(page, {}, FIRST_POINTS_SECONDS)

    page.reload()
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    # The new session finds the running job: Stop is live, the progress bar and its charts are back.
    expect(stop_button(page)).to_be_enabled()
    expect(train_button(page)).to_be_disabled()
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Training .*Overfitting demo.*other pages keep working"))).to_be_visible()
    wait_for_more_points(page, {}, 30)

    # Another browser (a new context has no identity cookie) watches the same training but cannot stop it.
    other = page.context.browser.new_context(viewport=page.viewport_size).new_page()
    try:
        open_app(other, streamlit_server)
        expect(other.get_by_test_id("stProgress")).to_be_visible(timeout=30_000)
        wait_for_more_points(other, {}, 30)
        expect(stop_button(other)).to_be_disabled()
        expect(train_button(other)).to_be_enabled()
    finally:
        other.context.close()

    stop_and_wait(page)


DRAW_PRESET = "conv-bigger-dropout"
# The preset's default 3 epochs over 59,000 images: about two minutes on an idle 2-core CPU.
TRAIN_SECONDS = 900
# What the Draw page must get right through the real canvas (the bar for this preset).
DRAWING_ACCURACY = 0.95
# Pointer events along a stroke come this many canvas pixels apart, like a steady hand's on a 60 Hz screen.
STEP_PIXELS = 8
# The first script run of the Draw page imports TensorFlow and loads the model.
FIRST_RUN_SECONDS = 120
# What a pointer event at (x, y) reaches: the canvas's drawing surface, or the floating toolbar, which covers the
# pad's top right until the pointer has hovered the pad a moment. The canvas lives in a shadow root.
ELEMENT_AT_JS = """([x, y]) => {
    let element = document.elementFromPoint(x, y);
    while (element && element.shadowRoot) {
        const inner = element.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === element) break;
        element = inner;
    }
    return element ? `${element.tagName.toLowerCase()}.${element.className}` : '';
}"""


@pytest.fixture(scope="module")
def drawing_model(module_streamlit_server) -> dict:
    """conv-bigger-dropout trained with its default settings by the command line, into the shared server's runs."""
    env = {**os.environ, "MNIST_RUNS_DIR": str(module_streamlit_server.runs_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-m", "mnist_models", "train", "--preset", DRAW_PRESET], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=TRAIN_SECONDS, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["preset"] == DRAW_PRESET
    assert summary["epochs_completed"] == PRESETS[DRAW_PRESET].train.epochs
    return summary


def canvas(page):
    # Fabric's upper canvas takes the pointer events; the strokes are drawn on the lower one beneath it.
    return page.locator("canvas.upper-canvas")


def canvas_box(page, timeout: float = 5) -> dict:
    """Where the drawing surface is, once it lies over the pad's background image as it should.

    A newly mounted canvas is briefly laid out before its stylesheet applies, its drawing surface a canvas
    height below the background (measured: for up to about 50 ms); a stroke aimed then would miss the pad.
    """
    deadline = time.monotonic() + timeout
    while True:
        surface = canvas(page).bounding_box()
        background = page.locator("canvas.dc-background-canvas").bounding_box()
        if surface and surface == background:
            return surface
        assert time.monotonic() < deadline, f"the canvas is not in place: surface {surface}, background {background}"
        page.wait_for_timeout(10)


def prediction_value(page):
    return page.get_by_test_id("stMetric").filter(has_text="Prediction").get_by_test_id("stMetricValue")


def draw_a_digit_prompt(page):
    return page.get_by_test_id("stAlert").get_by_text("Draw a digit", exact=True)


def canvas_drawing(runs: ScriptRuns, key: str, strokes: int) -> dict | None:
    """The drawing the canvas `key` sent once it held `strokes` strokes, if it has sent it."""
    for request in reversed(runs.requests()):
        state = request.component_state(key) or {}
        drawing = state.get("drawing") or {}
        if len((drawing.get("raw") or {}).get("objects", [])) == strokes and drawing.get("data"):
            return drawing
    return None


def canvas_mounted(runs: ScriptRuns, key: str) -> bool:
    """Whether the canvas `key` has told the app its background's size (its first message, which reruns the
    script), and the run this causes has started: whatever the canvas sends next is answered by a later run."""
    requests = runs.requests()
    return bool(requests) and requests[-1].component_state(key) is not None and runs.run_started()


def wait_for_empty_canvas(page, runs: ScriptRuns, key: str) -> None:
    """A new, empty canvas is in place, nothing is pending that a stroke could be mistaken for, and the page asks
    for a digit."""
    runs.wait_for(lambda: canvas_mounted(runs, key), 30, f"the canvas {key} to mount")
    expect(canvas(page)).to_have_count(1)
    box = canvas_box(page)
    assert (box["width"], box["height"]) == (280, 280)
    expect(draw_a_digit_prompt(page)).to_be_visible()
    expect(prediction_value(page)).to_have_count(0)


def draw_stroke(page, runs: ScriptRuns, key: str, stroke, number: int) -> dict:
    """Draw one stroke as a person does; return the drawing the canvas sent once the run answering it started."""
    box = canvas_box(page)
    points = [(box["x"] + x, box["y"] + y) for x, y in stroke]
    page.mouse.move(*points[0], steps=4)
    # The hover before pressing: the toolbar, if the stroke starts under it, slides away from the pointer.
    deadline = time.monotonic() + 5
    while "upper-canvas" not in (found := page.evaluate(ELEMENT_AT_JS, list(points[0]))):
        assert time.monotonic() < deadline, f"the pointer at {stroke[0]} stays over {found!r}, not the canvas"
        page.wait_for_timeout(20)
    page.mouse.down()
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        page.mouse.move(x1, y1, steps=max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / STEP_PIXELS)))
    page.mouse.up()
    # The canvas sends the drawing 200 ms after the stroke ends; then the script reruns with it.
    drawing = runs.wait_for(lambda: canvas_drawing(runs, key, number), 10, f"the canvas to send stroke {number}")
    runs.wait_for(runs.run_started, 30, f"the script to rerun with stroke {number}")
    return drawing


def save_drawing(drawing: dict, name: str) -> None:
    folder = ARTIFACTS / "drawing-misses"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.png").write_bytes(base64.b64decode(drawing["data"].split(",", 1)[1]))


def test_drawn_digits_are_recognised_through_the_real_canvas(module_app_page, module_streamlit_server, drawing_model,
                                                              record_property):
    import browser_support  # after pytest_plugins loaded it (see the test above)

    page = module_app_page
    started = time.monotonic()
    runs = browser_support.ScriptRuns(page)
    page.goto(f"{module_streamlit_server.url}/draw")
    expect(page.get_by_role("heading", name="Draw a digit")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile(re.escape(DRAW_PRESET)),
                                                                      timeout=60_000)
    # The first run imports TensorFlow and loads the model; the canvas mounts and reruns the script meanwhile.
    runs.wait_until_settled(FIRST_RUN_SECONDS)
    version = 0
    wait_for_empty_canvas(page, runs, f"canvas_{version}")

    misses = []
    for index, digit in enumerate(DIGITS):
        name = f"{digit.label} {digit.style}"
        key = f"canvas_{version}"
        for number, stroke in enumerate(digit.strokes, start=1):
            drawing = draw_stroke(page, runs, key, stroke, number)
        run = runs.wait_until_settled(60)
        assert not run.exceptions, f"{name}: {run.exceptions}"
        predicted = run.metrics.get("Prediction")
        assert predicted is not None, f"{name}: no Prediction after the last stroke"
        # The page shows what the run sent (the websocket said which run answered the last stroke).
        expect(prediction_value(page)).to_have_text(predicted)
        if predicted != str(digit.label):
            misses.append(f"{name} -> {predicted}")
            save_drawing(drawing, name.replace(" ", "_"))
        if index == len(DIGITS) // 2:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "drawing_midway.png"), full_page=True)

        page.get_by_role("button", name="Clear").click()
        version += 1
        wait_for_empty_canvas(page, runs, f"canvas_{version}")

    correct = len(DIGITS) - len(misses)
    accuracy = correct / len(DIGITS)
    line = (f"Drawn digits through the real canvas: {correct}/{len(DIGITS)} = {accuracy:.1%} correct in "
            f"{time.monotonic() - started:.0f} s, {DRAW_PRESET} run {drawing_model['run_id']} (test accuracy "
            f"{drawing_model['test_accuracy']:.2%}, trained in {drawing_model['seconds']:.0f} s); "
            f"misses: {', '.join(misses) or 'none'}")
    print(line)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "drawing_accuracy.txt").write_text(line + "\n")
    record_property("drawing_accuracy", round(accuracy, 4))
    record_property("report", line)
    assert accuracy >= DRAWING_ACCURACY, line
