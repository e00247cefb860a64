"""End to end in a real browser: the codelab's 99% solution pasted into Train's code box fills in the settings
(the filters, the model summary's parameter count), and Train then trains that network (a tiny training).

Drives Debian's Chromium with Playwright against `streamlit run dashboard/app.py`; see browser_support.py for the
server and browser fixtures (and the screenshots taken on failure).
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from test_code_in import CHALLENGE_99

from benchmarks.browser import set_fields
from mnist_models.architecture import count_params
from mnist_models.code_in import read_code
from mnist_models.config import loads

pytest_plugins = ("browser_support",)
pytestmark = [pytest.mark.browser, pytest.mark.slow]

TRAIN_SIZE = 500
# Importing TensorFlow, building the network and scoring the 10,000 test images on a busy 2-core machine.
FINISH_SECONDS = 240


def expect(*args, **kwargs):
    # Imported on use: without Playwright this module must still import, so the fixtures can skip (or, in CI,
    # fail) with a clear reason instead of a collection error.
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(*args, **kwargs)


def test_the_codelab_s_99_solution_pasted_into_train_fills_the_settings_and_trains(app_page, streamlit_server):
    page = app_page
    page.goto(f"{streamlit_server.url}/train")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible(timeout=60_000)
    page.get_by_text("Write or paste Keras code", exact=True).click()
    box = page.get_by_label("Keras code", exact=True)
    expect(box).to_be_visible()
    box.fill(CHALLENGE_99)  # as a paste: the whole text at once, then the button (the box hands it over on blur)
    page.get_by_role("button", name="Use this code").click()

    expect(page.get_by_text(re.compile(r"^Read your code"))).to_be_visible(timeout=30_000)
    for number, filters in enumerate((24, 48, 64), start=1):
        expect(page.get_by_label(f"Layer {number} filters", exact=True)).to_have_value(str(filters))
    expect(page.get_by_label("Batch norm", exact=True)).to_be_checked()
    expect(page.get_by_label("Run name", exact=True)).to_have_value("My Keras code")
    model, train = read_code(CHALLENGE_99)
    expect(page.get_by_text(f"{count_params(model):,} parameters", exact=True)).to_be_visible()

    # The seed trains for 10 epochs on 55,000 images; a tiny training shows the same network training.
    set_fields(page, {"Epochs": "1", "Training images": str(TRAIN_SIZE)})
    train_button = page.get_by_role("button", name="Train", exact=True)
    expect(train_button).to_be_enabled(timeout=30_000)
    train_button.click()
    expect(page.get_by_role("button", name="Stop", exact=True)).to_be_enabled(timeout=30_000)
    expect(page.get_by_text(re.compile(r"Finished after 1 epoch"))).to_be_visible(timeout=FINISH_SECONDS * 1000)

    [folder] = [path for path in streamlit_server.runs_dir.iterdir() if (path / "config.json").is_file()]
    trained = loads((folder / "config.json").read_text())
    assert trained == (model, dataclasses.replace(train, epochs=1, train_size=TRAIN_SIZE))
