"""dashboard/canvas_pad.py: the drawing pad's script copied where Streamlit serves static files, the element that
st_canvas draws, and, in Chromium, a second tab taking that script from the browser's cache and drawing with it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

pytest_plugins = ("browser_support",)

ROOT = Path(__file__).resolve().parents[1]
# A softmax network on a few hundred images: enough for the Draw page to show its pad and answer a stroke.
TRAIN_ARGS = ["--preset", "softmax", "--train-size", "300", "--epochs", "1"]
TRAIN_SECONDS = 300
# The first Draw run imports TensorFlow and loads the model; a busy 2-core machine needs the headroom.
FIRST_RUN_MS = 120_000


def _pad_script() -> None:
    from dashboard.canvas_pad import st_canvas

    st_canvas(stroke_width=18, stroke_color="#FFFFFF", height=280, width=280, return_image_data=True, key="pad")


@pytest.fixture(scope="module")
def pad_app() -> AppTest:
    """An app that draws the pad once. streamlit_drawable_canvas registers its element from its package's
    manifest, which only a Streamlit runtime reads, so dashboard.canvas_pad is first imported inside this run."""
    at = AppTest.from_function(_pad_script, default_timeout=60).run()
    assert not at.exception, [item.value for item in at.exception]
    return at


@pytest.fixture
def canvas_pad(pad_app):
    from dashboard import canvas_pad

    return canvas_pad


def test_the_static_copy_is_the_package_s_script_with_its_age(canvas_pad, tmp_path, monkeypatch):
    target = tmp_path / "static" / canvas_pad.CANVAS_JS.name
    monkeypatch.setattr(canvas_pad, "CANVAS_JS", target)
    assert canvas_pad.canvas_js_ready()
    source = canvas_pad.CANVAS_SOURCE
    assert source.parent == canvas_pad.PACKAGE_BUILD and re.fullmatch(r"index-[\w-]+\.js", source.name)
    assert target.read_bytes() == source.read_bytes()
    # The browser keeps a file cached for a while in proportion to its age: the copy keeps the source's.
    assert target.stat().st_mtime == source.stat().st_mtime
    # Once there, it is left alone (a browser may be reading it), and no partial file is left behind.
    inode = target.stat().st_ino
    assert canvas_pad.canvas_js_ready()
    assert target.stat().st_ino == inode
    assert [path.name for path in target.parent.iterdir()] == [target.name]


def test_where_the_copy_cannot_be_written_the_package_s_own_pad_is_used(canvas_pad, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the static folder would be")
    monkeypatch.setattr(canvas_pad, "CANVAS_JS", blocker / canvas_pad.CANVAS_JS.name)
    assert not canvas_pad.canvas_js_ready()
    assert canvas_pad.pad_element() is canvas_pad.PACKAGE_PAD


def test_without_static_serving_the_package_s_own_pad_is_used(canvas_pad, tmp_path, monkeypatch):
    monkeypatch.setattr(canvas_pad, "CANVAS_JS", tmp_path / canvas_pad.CANVAS_JS.name)
    assert st.get_option("server.enableStaticServing"), "the project's .streamlit/config.toml turns it on"
    monkeypatch.setattr(st, "get_option", lambda name: False if name == "server.enableStaticServing" else None)
    assert canvas_pad.pad_element() is canvas_pad.PACKAGE_PAD


def test_st_canvas_draws_the_loader_element(canvas_pad, pad_app):
    import streamlit_drawable_canvas

    assert streamlit_drawable_canvas.out is not canvas_pad.PACKAGE_PAD
    assert canvas_pad.st_canvas is streamlit_drawable_canvas.st_canvas
    [element] = pad_app.get("bidi_component")
    proto = element.proto
    assert proto.component_name == canvas_pad.NAME
    assert proto.js_content == canvas_pad.loader_js(canvas_pad.CANVAS_JS.name)
    assert f'"app/static/{canvas_pad.CANVAS_JS.name}"' in proto.js_content
    assert not proto.js_source_path, "no script from Streamlit's uncached component endpoint"
    stylesheet = next(canvas_pad.PACKAGE_BUILD.glob("index-*.css")).read_text(encoding="utf-8")
    assert proto.css_content.endswith(stylesheet) and not proto.css_source_path
    assert proto.html_content == canvas_pad.HTML and proto.isolate_styles
    # st_canvas's own arguments still reach the pad.
    data = json.loads(proto.json)
    assert (data["canvasWidth"], data["strokeWidth"], data["returnImageData"]) == (280, 18, True)


# In the browser. The canvas lives in a shadow root; Fabric's upper canvas takes the pointer events.
PAD_DRAWN_JS = """() => [...document.querySelectorAll('[data-testid="stBidiComponentIsolated"]')]
    .some((host) => host.shadowRoot && host.shadowRoot.querySelector("canvas.upper-canvas"))"""
# Across the middle of the pad (280 px), away from the toolbar over its top-right corner.
STROKE = [(140, 60), (140, 120), (140, 180), (140, 230)]


def _trained_run(runs_dir: Path) -> None:
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-m", "mnist_models", "train", *TRAIN_ARGS], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=TRAIN_SECONDS, check=False)
    assert result.returncode == 0, result.stderr[-3000:]


def _script_responses(context, page, file_name: str) -> dict[str, dict]:
    """The page's requests for `file_name` by CDP request id: whether it asked with the ETag it kept, and the
    response's status, ETag and whether the browser's cache answered. Filled in as the events arrive; attach
    before the page navigates."""
    found: dict[str, dict] = {}
    cdp = context.new_cdp_session(page)

    def sent(event) -> None:
        if event["request"]["url"].endswith(file_name):
            found[event["requestId"]] = {"from_cache": False, "revalidated": False}

    def sent_headers(event) -> None:
        # The headers the network stack really sent (validators included) come in this second event.
        if event["requestId"] in found and any(name.lower() == "if-none-match" for name in event["headers"]):
            found[event["requestId"]]["revalidated"] = True

    def received(event) -> None:
        if event["requestId"] in found:
            response, seen = event["response"], found[event["requestId"]]
            seen.update(status=response["status"], etag=response["headers"].get("etag"),
                        from_cache=seen["from_cache"] or response.get("fromDiskCache", False))

    def from_memory(event) -> None:
        if event["requestId"] in found:
            found[event["requestId"]]["from_cache"] = True

    cdp.on("Network.requestWillBeSent", sent)
    cdp.on("Network.requestWillBeSentExtraInfo", sent_headers)
    cdp.on("Network.responseReceived", received)
    cdp.on("Network.requestServedFromCache", from_memory)
    cdp.send("Network.enable")
    return found


def _pen_up_sends(page) -> list[str]:
    """The ids of the pen-up triggers (dashboard/pen_up.py) each rerun request the page sends carries."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    found: list[str] = []

    def sent(payload) -> None:
        if not isinstance(payload, bytes):
            return
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") == "rerun_script":
            found.extend(widget.id for widget in message.rerun_script.widget_states.widgets
                         if widget.WhichOneof("value") == "json_trigger_value" and "pen_up_" in widget.id)

    page.on("websocket", lambda socket: socket.url.endswith("/_stcore/stream") and socket.on("framesent", sent))
    return found


@pytest.mark.browser
@pytest.mark.slow
def test_a_second_tab_takes_the_pad_s_script_from_the_cache_and_draws(chromium, streamlit_server, canvas_pad):
    import browser_support
    from playwright.sync_api import expect

    _trained_run(streamlit_server.runs_dir)
    context = chromium.new_context(viewport=browser_support.VIEWPORT)
    try:
        tabs = []
        for _ in range(2):
            page = context.new_page()
            page.set_default_timeout(30_000)
            responses = _script_responses(context, page, canvas_pad.CANVAS_JS.name)
            pen_up, runs = _pen_up_sends(page), browser_support.ScriptRuns(page)
            page.goto(f"{streamlit_server.url}/draw")
            expect(page.get_by_role("heading", name="Draw a digit")).to_be_visible(timeout=FIRST_RUN_MS)
            page.wait_for_function(PAD_DRAWN_JS, timeout=FIRST_RUN_MS)
            runs.wait_until_settled(FIRST_RUN_MS / 1000)
            tabs.append((page, responses, pen_up, runs))

        (_, first, _, _), (page, second, pen_up, runs) = tabs
        [fetched] = first.values()
        assert fetched["status"] == 200 and not fetched["from_cache"] and fetched["etag"], fetched
        [again] = second.values()
        # From the browser's cache; or, once the cache's freshness for the copy's age has run out (a package
        # installed moments before the test), asked again with its ETag: the browser kept it either way.
        assert again["from_cache"] or again["revalidated"], again

        # The pad served this way still draws: the pen-up trigger and the pad's own message both go out, and
        # the page answers the stroke.
        box = page.locator("canvas.upper-canvas").bounding_box()
        points = [(box["x"] + x, box["y"] + y) for x, y in STROKE]
        page.mouse.move(*points[0], steps=4)
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=8)
        page.mouse.up()
        expect(page.get_by_test_id("stMetric").filter(has_text="Prediction")
               .get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\d$"), timeout=60_000)

        def stroke_sent():
            states = [request.component_state("canvas_0") or {} for request in runs.requests()]
            return [state for state in states if len(((state.get("drawing") or {}).get("raw") or {})
                                                       .get("objects", [])) == 1]

        runs.wait_for(stroke_sent, 10, "the pad to send its stroke")
        assert any("pen_up_0" in widget_id for widget_id in pen_up), pen_up
    finally:
        context.close()
