"""End to end in a real browser: two learners press Train this step on the same Lab step a moment apart; one
training runs for both (the queue shares identical requests), and both see its result as their best.

Same server and browser fixtures as test_browser.py (browser_support.py).
"""

from __future__ import annotations

import re
import time

import pytest

from dashboard.identity import COOKIE, owner_of
from mnist_models.store.progress import COMPLETED
from mnist_models.store.runs import RunStore

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXCEPTION = '[data-testid="stException"]'
STEP = "softmax"  # the course's quickest training step: one dense layer, 5 epochs
TRAIN_SECONDS = 120  # one softmax training on a busy 2-core machine, its worker perhaps started cold
PERCENT = re.compile(r"^\d{1,3}\.\d\d%$")  # "Your best" as the Lab writes it: 92.31%


def expect(*args, **kwargs):
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def your_best(page):
    return page.get_by_test_id("stMetric").filter(has_text="Your best").get_by_test_id("stMetricValue")


def identity_of(page) -> str:
    cookies = [cookie["value"] for cookie in page.context.cookies() if cookie["name"] == COOKIE]
    assert len(cookies) == 1 and re.fullmatch(r"[0-9a-f]{32}", cookies[0]), cookies
    return cookies[0]


def test_two_learners_pressing_the_same_step_share_one_training(chromium, streamlit_server, request):
    # Imported here, after pytest_plugins loaded it (an import at the top would come first and skip the assertion
    # rewriting pytest gives plugins).
    from browser_support import browser_page

    with (browser_page(chromium, streamlit_server, request) as first,
          browser_page(chromium, streamlit_server, request) as second):
        learners = [first, second]
        for page in learners:
            page.goto(f"{streamlit_server.url}/?step={STEP}")
            expect(page.get_by_role("heading", name="Step 2: One layer: softmax")).to_be_visible(timeout=60_000)
            expect(your_best(page)).to_have_text("–")
            expect(page.get_by_role("button", name="Train this step")).to_be_enabled()
        pressed = []
        for page in learners:
            page.get_by_role("button", name="Train this step").click()
            pressed.append(time.monotonic())
        assert pressed[1] - pressed[0] < 2, "the two presses were meant to come within a second or two"
        for page in learners:
            expect(your_best(page)).to_have_text(PERCENT, timeout=TRAIN_SECONDS * 1000)
        assert your_best(first).inner_text() == your_best(second).inner_text(), "one training, one result"

        runs = [info for info in RunStore(streamlit_server.runs_dir).list() if info.preset == STEP]
        assert len(runs) == 1, [(info.run_id, info.owners) for info in runs]
        [run] = runs
        assert run.status == COMPLETED and run.has_model
        owners = [owner_of(identity_of(page)) for page in learners]
        assert owners[0] != owners[1], "two browser contexts are two learners"
        assert sorted(run.owners) == sorted(owners)
        for page in learners:
            expect(page.locator(EXCEPTION)).to_have_count(0)
