"""Fixtures for the browser tests: a real `streamlit run` server on a free loopback port, and headless Chromium.

Loaded by test_browser.py through `pytest_plugins`, so its report hook can tell the page fixture that a test
failed: the fixture then saves a screenshot and the server's log under test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
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


def require_browser() -> None:
    """Skip without Chromium or Playwright; in CI (CI=true) fail instead, since CI is meant to have both."""
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install playwright)")
    if missing:
        message = "Browser tests need " + " and ".join(missing) + "."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run them, so this is a failure, not a skip.", pytrace=False)
        pytest.skip(message)


def free_port() -> int:
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


def _stop(process: subprocess.Popen) -> None:
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
        _stop(process)
        # Another program may have taken the port between probing and binding: try a new one.
        if "address already in use" not in server.log().lower():
            break
    raise RuntimeError(f"The Streamlit server did not become healthy; its log:\n{server.log()[-4000:]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (item.rep_setup, item.rep_call), for the page fixture."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module's tests (each test gets its own context)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def streamlit_server(tmp_path):
    """A fresh server (and so a fresh job manager) per test; always terminated, even when the test fails."""
    require_browser()
    server = start_server(tmp_path)
    try:
        yield server
    finally:
        _stop(server.process)


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture
def app_page(chromium, streamlit_server, request):
    """A page in a new browser context; on failure its screenshot and the server log go to test-artifacts/."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = _artifact_name(request.node.nodeid)
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(streamlit_server.log_path, ARTIFACTS / f"{name}.server.log")
        context.close()
