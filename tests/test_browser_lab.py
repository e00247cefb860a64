"""End to end in a real browser: a shared link opens Train with its settings (and the back button goes back to
them), a bad link gets a note, and the Lab's one-click overfitting lesson trains its two runs and overlays them.

Same server and browser fixtures as test_browser.py (browser_support.py).
"""

from __future__ import annotations

import re
import time

import pytest

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXCEPTION = '[data-testid="stException"]'
LINK = "preset=conv&epochs=2&hidden_units=120&conv_layers=5x3s1,10x4s2&seed=3&activation=tanh"
# Two trainings of 40 epochs on 1,000 images, one after the other, on a busy 2-core machine.
LESSON_SECONDS = 300
PLOT_TRACES_JS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(plot => ({
    title: ((plot.layout && plot.layout.title && plot.layout.title.text) || '').replace(/<[^>]*>/g, ''),
    traces: (plot.data || []).map(trace => ({name: trace.name, points: trace.x ? trace.x.length : 0})),
}))"""


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def test_a_shared_link_opens_train_with_its_settings(app_page, streamlit_server):
    page = app_page
    page.goto(f"{streamlit_server.url}/train?{LINK}")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(r"\(conv\)"))
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("2")
    expect(page.get_by_label("Seed", exact=True)).to_have_value("3")
    expect(page.get_by_label("Layer 1", exact=True)).to_have_value("120")
    expect(page.get_by_label("Layer 2 filters", exact=True)).to_have_value("10")
    expect(page.get_by_label("kernel size").first).to_have_value("3")
    expect(page.get_by_role("combobox", name="Activation")).to_have_value("tanh")
    # The page writes every setting back into the address, ready to be copied again.
    expect(page).to_have_url(re.compile(r"epochs=2.*seed=3|seed=3.*epochs=2"))
    expect(page).to_have_url(re.compile(r"conv_layers=5x3s1%2C10x4s2|conv_layers=5x3s1,10x4s2"))
    # A change is a new address; the browser's back button returns to the link's settings.
    epochs = page.get_by_label("Epochs", exact=True)
    epochs.fill("6")
    epochs.press("Enter")
    expect(page).to_have_url(re.compile(r"epochs=6"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"epochs=2"))
    expect(page.get_by_label("Epochs", exact=True)).to_have_value("2")
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_a_bad_link_gets_a_note_and_no_exception(app_page, streamlit_server):
    page = app_page
    page.goto(f"{streamlit_server.url}/train?epochs=abc&dropout_rate=7")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("From the link: Ignored epochs='abc'")).to_be_visible()
    expect(page.get_by_text("From the link: Ignored dropout_rate='7'")).to_be_visible()
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_the_overfitting_lesson_trains_both_runs_and_overlays_them(app_page, streamlit_server):
    page = app_page
    page.goto(f"{streamlit_server.url}/?step=five-layer-dropout")
    expect(page.get_by_role("heading", name=re.compile("Dropout, and overfitting"))).to_be_visible(timeout=60_000)
    page.get_by_text("50% dropout (quicker, a smaller effect)").click()  # the quicker fix keeps the test short
    page.get_by_role("button", name="Run the overfitting lesson").click()
    expect(page.get_by_text("Your latest lesson")).to_be_visible(timeout=60_000)
    # The run names are shown as text: an invisible word joiner follows each colon (it keeps Streamlit from reading
    # "name: ..." as an icon or a link), so the pattern allows one.
    expect(page.get_by_text(re.compile("overfitting:\u2060? completed, with dropout:\u2060? completed"))).to_be_visible(
        timeout=LESSON_SECONDS * 1000)
    # Both runs' train and test curves on each chart, with every epoch's point (the charts redraw once more
    # after the last status change).
    deadline = time.monotonic() + 30
    while True:
        plots = {plot["title"]: plot["traces"] for plot in page.evaluate(PLOT_TRACES_JS)}
        accuracy = plots.get("Accuracy: train (dashed) and test", [])
        if (len(accuracy) == 4 and all(trace["points"] >= 10 for trace in accuracy)) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(trace["name"] for trace in accuracy) == [
        "overfitting: test", "overfitting: train", "with dropout: test", "with dropout: train"], plots
    assert all(trace["points"] >= 10 for trace in accuracy), accuracy
    assert len(plots.get("Loss: train (dashed) and test", [])) == 4
    expect(page.get_by_text("What to look at:")).to_be_visible()
    expect(page.locator(EXCEPTION)).to_have_count(0)
