"""The page-load benchmark's idle check in a real browser: a page counts as loaded only once everything on it is
drawn, its live charts included (they load plotly.js after their component mounts, after the rest of the page).

Drives Debian's Chromium with Playwright against `streamlit run dashboard/app.py` (see browser_support.py), with
one real training in the store, owned by the measuring browser, so that Train shows its Accuracy and Loss charts.
"""

from __future__ import annotations

import pytest

from benchmarks import page_load
from dashboard.identity import owner_of

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

# What the page holds once loaded: each live chart drawn, no element waiting for its code, the heading shown.
DRAWN_JS = """() => ({
    charts: document.querySelectorAll(".mnist-live-chart").length,
    drawn: [...document.querySelectorAll(".mnist-live-chart[data-drawn='true']")].filter(
        (chart) => chart.querySelector(".main-svg")).length,
    skeletons: document.querySelectorAll('[data-testid="stMain"] [data-testid^="stSkeleton"]').length,
})"""


@pytest.fixture(scope="module")
def server_with_a_run(module_streamlit_server):
    page_load.fill_store(module_streamlit_server.runs_dir, 1, owner_of(page_load.IDENTITY))
    return module_streamlit_server


def test_train_loads_with_its_live_charts_drawn(chromium, server_with_a_run):
    context = page_load.new_context(chromium, server_with_a_run.url)
    try:
        page_load.timed_load(context, server_with_a_run.url + "/train", "Train a network")  # the caches warm
        page = context.new_page()
        seconds = page_load.load_until_idle(page, server_with_a_run.url + "/train", "Train a network")
        found = page.evaluate(DRAWN_JS)
    finally:
        context.close()
    assert 0 < seconds < page_load.LOAD_SECONDS
    assert found == {"charts": 2, "drawn": 2, "skeletons": 0}, found


# A page as Streamlit draws it, at the moments the idle check must tell apart.
PAGE = """<div data-testid="stApp" data-test-script-state="notRunning" data-test-connection-state="CONNECTED">
<div data-testid="stMain"><h1>Train a network</h1>{content}</div></div>"""
HOST = '<div data-testid="stBidiComponentRegular"><div>{inside}</div></div>'


@pytest.mark.parametrize(("content", "idle"), [
    ("", True),
    ('<div data-testid="stSkeleton"></div>', False),  # an element's code is still loading
    (HOST.format(inside=""), True),  # a component that draws nothing (the pen-up listener, the identity cookie)
    (HOST.format(inside='<div class="mnist-live-chart"></div>'), False),  # a live chart whose script has not run
    (HOST.format(inside='<div class="mnist-live-chart js-plotly-plot"></div>'), False),  # drawing
    (HOST.format(inside='<div class="mnist-live-chart js-plotly-plot" data-drawn="true"></div>'), True),
    ('<div data-testid="stSpinner"></div>', False),
])
def test_the_idle_check_waits_for_skeletons_components_and_live_charts(chromium, content, idle):
    page = chromium.new_page()
    try:
        page.set_content(PAGE.format(content=content))
        assert page.evaluate(page_load.IDLE_JS, "Train a network") is idle
        assert page.evaluate(page_load.IDLE_JS, "Another heading") is False
    finally:
        page.close()


def test_a_page_that_never_shows_its_heading_is_not_loaded(chromium, server_with_a_run, monkeypatch):
    monkeypatch.setattr(page_load, "LOAD_SECONDS", 3)
    context = page_load.new_context(chromium, server_with_a_run.url)
    try:
        with pytest.raises(Exception, match="Timeout"):
            page_load.timed_load(context, server_with_a_run.url + "/train", "A heading no page has")
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/runs", "/draw/"])
def test_a_page_connects_to_its_server_without_trying_its_own_path_first(chromium, server_with_a_run, path):
    """The page shell: Streamlit's frontend no longer asks <page>/_stcore/health (a 404, then a 100 ms wait). /draw/
    is redirected to /draw by Streamlit, and then served the same way."""
    context = page_load.new_context(chromium, server_with_a_run.url)
    asked: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda request: asked.append(request.url))
        heading = {"/runs": "Saved runs", "/draw/": "Draw a digit"}[path]
        page_load.load_until_idle(page, server_with_a_run.url + path, heading)
        base = page.evaluate("window.__streamlit && window.__streamlit.BACKEND_BASE_URL")
    finally:
        context.close()
    assert base == server_with_a_run.url + "/"
    stcore = [url.removeprefix(server_with_a_run.url) for url in asked if "/_stcore/" in url]
    assert "/_stcore/health" in stcore
    assert not [url for url in stcore if not url.startswith("/_stcore/")], stcore


def test_a_measurement_in_chromium_returns_its_result_or_says_why_it_failed(tmp_path, capsys):
    from concurrent.futures import ThreadPoolExecutor

    from browser_support import require_browser

    from benchmarks.browser import in_chromium

    require_browser()

    def measured(measure, folder):  # a thread of its own: this session's tests hold Playwright on this one
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(in_chromium, measure, folder).result()

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert measured(lambda browser: browser.new_page().evaluate("1 + 1"), scratch) == 2
    assert not scratch.exists(), "the scratch folder goes once measured"

    def never_loads(browser):
        raise TimeoutError("http://127.0.0.1/train did not become idle within 90 s\nthe page's call log")

    scratch.mkdir()
    assert measured(never_loads, scratch) is None
    assert capsys.readouterr().out == "measurement failed: http://127.0.0.1/train did not become idle within 90 s\n"
    assert not scratch.exists(), "and also when the measurement failed"
