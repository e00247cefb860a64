"""Pen up: sends the drawing pad's picture the moment the pen leaves it, not 200 ms later.

streamlit-drawable-canvas 0.13 sends its drawing 200 ms after the last change (a fixed debounce in its
JavaScript), which alone was most of the wait between a stroke and its answer. This small Components v2 element,
placed beside the canvas, listens for the pointer leaving the canvas's drawing surface, waits for Fabric to paint
the finished stroke (two animation frames), and sends the pad's pixels as a PNG data URL at once, as a one-run
trigger. The canvas's own message still follows 200 ms later and stays the authority (undo, redo and its toolbar's
clear go only through it); see `latest_drawing`.
"""

from __future__ import annotations

import base64
import binascii

import streamlit as st

from mnist_models.drawing import MAX_DRAWING_BYTES

_JS = """
function findPad(parentElement) {
    // The canvas renders in a shadow root (its styles are isolated); look in the nearest block that holds one.
    let block = parentElement;
    for (let depth = 0; block && depth < 8; depth += 1, block = block.parentElement) {
        for (const host of block.querySelectorAll("*")) {
            const surface = host.shadowRoot && host.shadowRoot.querySelector("canvas.upper-canvas");
            if (surface) return { host, surface, pixels: host.shadowRoot.querySelector("canvas.lower-canvas") };
        }
    }
    return null;
}

export default function ({ parentElement, setTriggerValue }) {
    let tries = 0;
    const attach = () => {
        const pad = findPad(parentElement);
        if (!pad || !pad.pixels) {
            if (tries++ < 100) setTimeout(attach, 50);  // the canvas mounts a moment after this element
            return;
        }
        if (pad.surface.dataset.penUp === "1") return;
        pad.surface.dataset.penUp = "1";
        let strokes = 0;
        pad.surface.addEventListener("pointerup", () => {
            strokes += 1;
            const stroke = strokes;
            // Fabric adds the finished path on pointerup and paints it on the next animation frame.
            requestAnimationFrame(() => requestAnimationFrame(() => {
                const width = pad.surface.clientWidth, height = pad.surface.clientHeight;
                // The lower canvas holds the strokes only (the guide is a separate canvas beneath), at the
                // screen's pixel ratio: drawn at the pad's own size, as the canvas component reports it.
                const copy = document.createElement("canvas");
                copy.width = width;
                copy.height = height;
                copy.getContext("2d").drawImage(pad.pixels, 0, 0, width, height);
                setTriggerValue("drawing", { data: copy.toDataURL("image/png"), stroke });
            }));
        });
    };
    attach();
}
"""

_component = st.components.v2.component("mnist_pen_up", js=_JS, isolate_styles=False)


def pen_up_ui(key: str) -> bytes | None:
    """Mount the listener for the canvas in the same column; returns the PNG it sent in this run, if any."""
    result = _component(key=key, on_drawing_change=lambda: None, width="stretch")
    value = getattr(result, "drawing", None)
    url = value.get("data") if isinstance(value, dict) else None
    # Base64 takes 4 characters for 3 bytes: a longer text cannot be a drawing (read_drawing says so for the rest).
    if not isinstance(url, str) or ";base64," not in url or len(url) > MAX_DRAWING_BYTES * 4 // 3 + 100:
        return None
    try:
        return base64.b64decode(url.split(";base64,", 1)[1], validate=True)
    except (ValueError, binascii.Error):
        return None


def latest_drawing(canvas_png: bytes | None, pen_up_png: bytes | None, version: int) -> bytes | None:
    """The drawing to answer in this run: the pen-up picture when one came, else the canvas's own when it changed,
    else the one answered last time (another control reran the page)."""
    memory = st.session_state.get("drawing_memory")
    if not isinstance(memory, dict) or memory.get("version") != version:
        memory = {"version": version, "canvas": None, "current": None}
    if pen_up_png is not None:
        memory["current"] = pen_up_png
    elif canvas_png != memory["canvas"]:
        memory["current"] = canvas_png
    memory["canvas"] = canvas_png
    st.session_state["drawing_memory"] = memory
    return memory["current"]
