"""End to end in a real browser: pick a preset, train on a small subset, watch the charts grow, stop, find the run.

Drives Debian's Chromium with Playwright against `streamlit run dashboard/app.py` on a free loopback port;
see browser_support.py for the server and browser fixtures (and the screenshots taken on failure).
"""

from __future__ import annotations

import re
import time

import pytest

from mnist_models.presets import PRESETS

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

PRESET = "overfit-demo"
TRAIN_SIZE = 600
# Enough epochs that the job is still running when the test presses Stop, even on a fast machine.
EPOCHS = 20
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
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    expect(train_button(page)).to_be_visible()


def choose_preset(page, name: str) -> None:
    preset = PRESETS[name]
    page.get_by_role("combobox", name="Preset").click()
    # The options read "<title>  (<name>)", as the Preset box's format_func writes them.
    page.get_by_role("option", name=f"{preset.title}  ({name})", exact=True).click()
    expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(re.escape(f"({name})")))
    expect(page.get_by_text(preset.description[:40])).to_be_visible()


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
    expect(page.get_by_text(re.compile(r"Training .*Overfitting demo"))).to_be_visible()
    wait_for_more_points(page, {}, 30)

    stop_and_wait(page)
