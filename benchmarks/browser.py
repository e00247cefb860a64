"""A real `streamlit run dashboard/app.py` on a free loopback port, and how headless Chromium is started on it.

The browser benchmarks use it as it is; tests/browser_support.py wraps it in pytest fixtures (tests may import
benchmarks' support code, never the reverse).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 60
VIEWPORT = {"width": 1400, "height": 1000}


def niced_chromium(folder: Path, niceness: int) -> Path:
    """A launcher that starts CHROMIUM at a lower CPU priority (`nice -n niceness`), written into `folder`.

    In a class each learner's browser runs on their own computer; a benchmark that drives Chromium on the server's
    own two cores would otherwise charge the browser's drawing to the server. At niceness 19 the browser only gets
    what the server and its trainings leave (its page loads then take longer, and say so)."""
    if not 0 <= niceness <= 19:
        raise ValueError(f"niceness must be between 0 and 19, not {niceness}")
    launcher = folder / "chromium-niced"
    launcher.write_text(f'#!/bin/sh\nexec nice -n {niceness} "{CHROMIUM}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


def in_chromium(measure, folder: Path):
    """`measure(browser)` in a headless Chromium, closed afterwards; returns what it returns, or None after printing
    why the measurement failed (a server that would not start, a page that never loaded). `folder`, the
    measurement's scratch folder, is removed either way."""
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                return measure(browser)
            finally:
                browser.close()
    except (RuntimeError, TimeoutError, Error) as error:
        print(f"measurement failed: {str(error).splitlines()[0]}")
        return None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    """A loopback port nothing listens on right now (another program may still take it before we bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class StreamlitServer:
    url: str
    process: subprocess.Popen
    log_path: Path
    runs_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def stop_process(process: subprocess.Popen) -> None:
    """Terminate a server (or any child process), killing it if it has not ended within 10 seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_server(folder: Path) -> StreamlitServer:
    """`streamlit run dashboard/app.py` on a free loopback port, with its runs under `folder`; waits until healthy."""
    runs_dir = folder / "runs"
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    for attempt in range(3):
        port = free_port()
        log_path = folder / f"streamlit-{attempt}.log"
        command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
                   "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
                   "--browser.gatherUsageStats", "false"]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = StreamlitServer(f"http://127.0.0.1:{port}", process, log_path, runs_dir)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(server.url):
                return server
            time.sleep(0.25)
        stop_process(process)
        # Another program may have taken the port between probing and binding: try a new one.
        if "address already in use" not in server.log().lower():
            break
    raise RuntimeError(f"The Streamlit server did not become healthy; its log:\n{server.log()[-4000:]}")


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[StreamlitServer]:
    """A started server (see `start_server`), always stopped on the way out, even after an exception."""
    server = start_server(folder)
    try:
        yield server
    finally:
        stop_process(server.process)


def choose_preset(page, name: str) -> None:
    """Choose a preset in Train's Preset box and wait until the run that fills the controls with it has arrived (the
    Run name, drawn after the other controls, shows the preset's title): a value typed before then is overwritten."""
    import re

    from playwright.sync_api import expect

    from mnist_models.presets import PRESETS

    preset = PRESETS[name]
    page.get_by_role("combobox", name="Preset").click()
    # The options read "<title>  (<name>)", as the Preset box's format_func writes them.
    page.get_by_role("option", name=f"{preset.title}  ({name})", exact=True).click()
    expect(page.get_by_role("combobox", name="Preset")).to_have_value(re.compile(re.escape(f"({name})")))
    expect(page.get_by_label("Run name", exact=True)).to_have_value(preset.title)


def set_fields(page, values: dict[str, str], settle_ms: int = 1000) -> None:
    """Type each value into the field with that label and press Enter; then, once the reruns have settled, type again
    any value a rerun replaced (an answer to an earlier edit can arrive after a later one)."""
    from playwright.sync_api import expect

    for _ in range(3):
        for label, value in values.items():
            field = page.get_by_label(label, exact=True)
            if field.input_value() != value:
                field.fill(value)
                field.press("Enter")
        page.wait_for_timeout(settle_ms)
        if all(page.get_by_label(label, exact=True).input_value() == value for label, value in values.items()):
            break
    for label, value in values.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)


def unlock_teacher(page, password: str) -> None:
    """Open the sidebar's Teacher box, give it `password` and wait until the navigation offers the Class page (the
    unlock lives in the browser session: reach /class through that link, since a new page load starts a new one)."""
    from playwright.sync_api import expect

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Teacher", exact=True).click()
    field = sidebar.get_by_label("Teacher password", exact=True)
    field.fill(password)
    field.press("Enter")
    expect(sidebar.get_by_test_id("stSidebarNavLink").filter(has_text="Class")).to_be_visible()
