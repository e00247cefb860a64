"""Fixtures for the browser tests: a real `streamlit run` server and headless Chromium (benchmarks/browser.py).

Loaded by test_browser.py through `pytest_plugins`, so its report hook can tell the page fixture that a test
failed: the fixture then saves a screenshot and the server's log under test-artifacts/. ScriptRuns follows a
page's websocket, so a test can wait for the very script run its own action caused instead of sleeping.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import benchmarks.browser
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, StreamlitServer

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


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


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[StreamlitServer]:
    """The benchmarks' server (benchmarks/browser.py), once the browser is known to be there (see `require_browser`)."""
    require_browser()
    with benchmarks.browser.running_server(folder) as server:
        yield server


@pytest.fixture
def streamlit_server(tmp_path):
    """A fresh server (and so a fresh job manager) per test; always terminated, even when the test fails."""
    with running_server(tmp_path) as server:
        yield server


@pytest.fixture(scope="module")
def module_streamlit_server(tmp_path_factory):
    """One server for a whole module, for tests that share something slow to make, such as a trained run in
    its `runs_dir` (which the server reads on every script run, so runs may be added after it started)."""
    with running_server(tmp_path_factory.mktemp("server")) as server:
        yield server


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@contextlib.contextmanager
def browser_page(chromium, server: StreamlitServer, request) -> Iterator:
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
                shutil.copyfile(server.log_path, ARTIFACTS / f"{name}.server.log")
        context.close()


@pytest.fixture
def app_page(chromium, streamlit_server, request):
    """A page on the test's own server."""
    with browser_page(chromium, streamlit_server, request) as page:
        yield page


@pytest.fixture
def module_app_page(chromium, module_streamlit_server, request):
    """A page (and so a new browser session) on the module's shared server."""
    with browser_page(chromium, module_streamlit_server, request) as page:
        yield page


@dataclass
class Request:
    """A rerun the browser asked for, with the JSON widget values it sent (a component's state), by widget id."""

    json_values: dict[str, object]

    def component_state(self, key: str) -> dict | None:
        """The state of the component with this key (Streamlit's widget ids end in "-<key>")."""
        for widget_id, value in self.json_values.items():
            if widget_id.endswith(f"-{key}") and isinstance(value, dict):
                return value
        return None


@dataclass
class Run:
    """One script run as the server reported it: its status once finished, the metrics it drew and the messages
    of any exceptions it showed."""

    finished: int | None = None
    metrics: dict[str, str] = field(default_factory=dict)
    exceptions: list[str] = field(default_factory=list)


class ScriptRuns:
    """Follows a page's Streamlit websocket: the reruns the browser requests and the runs the server does.

    The page's running indicator cannot say whether the run a test's action causes has started yet (a
    component such as the drawing canvas sends its value 200 ms after the stroke, and a run can be over before
    the page ever shows "running"). The messages can: a rerun request goes out, a run starts (new_session),
    its elements arrive as deltas, and it ends (script_finished). Attach before `page.goto`.
    """

    def __init__(self, page):
        self.page = page
        # In arrival order: ("request", Request) or ("run", Run), so "a run after this request" is well defined.
        self.events: list[tuple[str, Request | Run]] = []
        self._run: Run | None = None
        page.on("websocket", self._attach)

    def _attach(self, websocket) -> None:
        if websocket.url.endswith("/_stcore/stream"):
            websocket.on("framesent", self._sent)
            websocket.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        if not isinstance(payload, bytes):
            return
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") != "rerun_script":
            return
        values = {}
        for widget in message.rerun_script.widget_states.widgets:
            if widget.WhichOneof("value") == "json_value":
                with contextlib.suppress(ValueError):
                    values[widget.id] = json.loads(widget.json_value)
        self.events.append(("request", Request(values)))

    def _received(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            self._run = Run()
            self.events.append(("run", self._run))
        elif self._run is None:
            return
        elif kind == "script_finished":
            self._run.finished = message.script_finished
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "metric":
                self._run.metrics[element.metric.label] = element.metric.body
            elif element.WhichOneof("type") == "exception":
                self._run.exceptions.append(f"{element.exception.type}: {element.exception.message}")

    def requests(self) -> list[Request]:
        return [event for kind, event in self.events if kind == "request"]

    def _runs_since_last_request(self) -> list[Run]:
        last_request = max((index for index, (kind, _) in enumerate(self.events) if kind == "request"), default=-1)
        return [event for kind, event in self.events[last_request + 1:] if kind == "run"]

    def run_started(self) -> bool:
        """Whether a run has started since the latest request. Once it has, every run that starts later answers a
        later request: the server starts runs in the order it receives the requests."""
        return bool(self._runs_since_last_request())

    def settled_run(self) -> Run | None:
        """The run that answered the latest request, once it has finished (not stopped early for a rerun)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        runs = self._runs_since_last_request()
        if not runs or runs[-1].finished in (None, ForwardMsg.FINISHED_EARLY_FOR_RERUN):
            return None
        return runs[-1]

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str):
        """Poll `condition` while Playwright delivers the websocket's messages; return its first truthy value."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {what}.")
            # Playwright dispatches websocket events only while it runs a call; this short wait is that call.
            self.page.wait_for_timeout(10)

    def wait_until_settled(self, timeout: float = 30) -> Run:
        return self.wait_for(self.settled_run, timeout, "the script run answering the last request to finish")


def pytest_terminal_summary(terminalreporter):
    """Show the figures tests measured (attached with record_property("report", line)), with or without -s."""
    lines = [value for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
             if getattr(report, "when", None) == "call" for name, value in report.user_properties if name == "report"]
    if lines:
        terminalreporter.write_sep("-", "measured by the browser tests")
        for line in lines:
            terminalreporter.write_line(line)
