"""End to end in a real browser: a two-value sweep started from Train's sweep section grows live (its small
charts appear, then fill with each training's curves, and the summary gets both values), and clicking a line of
the parallel coordinates on Runs shows that run's curves.

Same server and browser fixtures as test_browser.py (browser_support.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from benchmarks.browser import ROOT, set_fields

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXCEPTION = '[data-testid="stException"]'
SWEEP_SECONDS = 300  # two tiny trainings on a busy 2-core machine, worker start-up included
SUMMARY = "Best test accuracy (over the epochs)"
PLOTS_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => ({
    title: ((plot.layout && plot.layout.title && plot.layout.title.text) || '').replace(/<[^>]*>/g, ''),
    titles: ((plot.layout && plot.layout.annotations) || []).map(note => note.text || ''),
    traces: (plot.data || []).map(trace => ({
        name: trace.name || '', x: Array.from(trace.x || []), points: trace.x ? trace.x.length : 0,
        run: Array.isArray(trace.customdata) && typeof trace.customdata[0] === 'string' ? trace.customdata[0] : null,
    })),
}))"""


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def plots(page) -> dict[str, dict]:
    return {plot["title"]: plot for plot in page.evaluate(PLOTS_JS)}


def test_a_two_value_sweep_grows_live_and_summarises_both_values(app_page, streamlit_server):
    page = app_page
    page.goto(f"{streamlit_server.url}/train")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    set_fields(page, {"Epochs": "2", "Training images": "400"})
    page.get_by_text("Sweep: compare values of one or two settings").click()
    values = page.get_by_label("Values of learning rate", exact=True)
    values.fill("0.001,0.01")
    values.press("Enter")
    expect(page.get_by_text("2 trainings", exact=True)).to_be_visible()
    page.get_by_role("button", name="Run sweep").click()
    expect(page.get_by_role("button", name="Stop sweep")).to_be_visible(timeout=60_000)

    # Follow the small multiples as they grow: each snapshot is (every panel's title, its test points).
    snapshots = []
    deadline = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < deadline:
        # The small multiples: the chart titled with each training's values.
        chart = next((plot for plot in page.evaluate(PLOTS_JS) if any("learning rate 0.001" in title
                                                                        for title in plot["titles"])), None)
        if chart is not None:
            tests = [trace["points"] for trace in chart["traces"] if trace["name"] == "test"]
            snapshot = (tuple(chart["titles"]), tuple(tests))
            if not snapshots or snapshots[-1] != snapshot:
                snapshots.append(snapshot)
            if len(tests) == 2 and all("done" in title for title in chart["titles"]) and min(tests) >= 2:
                break
        page.wait_for_timeout(200)
    assert snapshots, "the small multiples never appeared"
    titles, tests = snapshots[-1]
    assert [title.split("<br>")[0] for title in titles] == ["learning rate 0.001", "learning rate 0.01"]
    assert all(title.endswith("done") for title in titles), snapshots
    assert tests == (2, 2), snapshots  # a test point per epoch on each small chart
    # It grew live on the page: the charts were there before the trainings had finished, and only gained points.
    first_titles, first_tests = snapshots[0]
    assert not all(title.endswith("done") for title in first_titles) and sum(first_tests) < 4, snapshots
    counts = [sum(tests) for _, tests in snapshots]
    assert counts == sorted(counts), snapshots
    expect(page.get_by_text(re.compile(r"2 of 2 done"))).to_be_visible(timeout=30_000)

    # The summary draws both learning rates' best test accuracy (the page redraws it once more at the end).
    deadline = time.monotonic() + 30
    mean = {}
    while time.monotonic() < deadline:
        summary = plots(page).get(SUMMARY)
        mean = summary["traces"][-1] if summary and summary["traces"] else {}
        if mean.get("x") == [0.001, 0.01]:
            break
        page.wait_for_timeout(200)
    assert mean.get("x") == [0.001, 0.01], plots(page).get(SUMMARY)
    expect(page.get_by_role("button", name="Stop sweep")).to_be_disabled()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def _train(runs_dir, learning_rate: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "mnist_models", "train", "--preset", "softmax", "--epochs", "1",
               "--train-size", "300", "--learning-rate", learning_rate]
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_clicking_a_line_in_parallel_coordinates_shows_that_run_s_curves(app_page, streamlit_server):
    trainings = [_train(streamlit_server.runs_dir, rate) for rate in ("0.001", "0.1")]
    for training in trainings:
        output, _ = training.communicate(timeout=300)
        assert training.returncode == 0, output
    page = app_page
    page.goto(f"{streamlit_server.url}/runs")
    expect(page.get_by_role("heading", name="Settings and results side by side")).to_be_visible(timeout=60_000)
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".scatterlayer")).first
    expect(chart.locator(".scatterlayer .trace")).to_have_count(2)
    # Drawn as a live chart (plotly.js's basic bundle, kept compiled by the browser), not by st.plotly_chart.
    assert chart.evaluate("(element) => element.classList.contains('mnist-live-chart')")
    [parallel] = [plot for plot in page.evaluate(PLOTS_JS) if any(trace["run"] for trace in plot["traces"])]
    lines = parallel["traces"]
    assert len(lines) == 2 and all(trace["points"] == len(lines[0]["x"]) for trace in lines)
    # The learning rate is the one setting that differs: its axis comes first, then the results.
    ticks = chart.locator(".xtick text").all_text_contents()
    assert ticks[0] == "learning rate" and "test accuracy" in ticks, ticks

    # A click on the second line's dot on the first axis picks that run.
    picked = lines[1]["run"]
    chart.locator(".scatterlayer .trace").nth(1).locator(".points path").first.click(force=True)
    expect(page.get_by_text(re.compile(rf"Curves of .*\({picked[-6:]}\)"))).to_be_visible(timeout=30_000)
    expect(page.get_by_role("combobox", name="Show the curves of")).to_have_value(re.compile(picked[-6:]))
    deadline = time.monotonic() + 30
    while {"Accuracy", "Loss"} - set(plots(page)) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    shown = plots(page)
    assert {"Accuracy", "Loss"} <= set(shown), list(shown)
    assert any(trace["name"] == "test" and trace["points"] >= 1 for trace in shown["Accuracy"]["traces"])
    expect(page.locator(EXCEPTION)).to_have_count(0)
