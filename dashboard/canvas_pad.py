"""The Draw page's drawing pad (streamlit-drawable-canvas), its 400 KB script cached by the browser between tabs.

Streamlit serves a Components v2 element's script file without Last-Modified, ETag or max-age, so every new tab
downloaded and compiled the pad's script again (about 20 ms over loopback; more on a busy classroom network).
Here the script is copied into dashboard/static/ (keeping its age, see `static_files.copy_once`), which Streamlit
serves with Last-Modified and an ETag, and the pad is registered again with a few lines of JavaScript that
`import()` that copy and hand it what Streamlit hands them. The browser keeps the copy: the next tab takes it
from its cache. Where the copy cannot be written (a read-only install) or Streamlit serves no static files, the
package's own element is used.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st
import streamlit_drawable_canvas
from streamlit_drawable_canvas import st_canvas

from dashboard.static_files import STATIC, copy_once

__all__ = ["st_canvas"]

PACKAGE_BUILD = Path(streamlit_drawable_canvas.__file__).resolve().parent / "frontend" / "build"
PACKAGE_PAD = streamlit_drawable_canvas.out  # the package's own element, kept for the fallback
HTML = '<div class="canvas-root"></div>'  # what the package's element holds: its script draws into it
NAME = "mnist_canvas_pad"

# Streamlit calls the element's default export with {data, parentElement, setStateValue, ...} and awaits what
# it returns: the pad's cleanup function, which it calls when the element unmounts. The pad's module keeps each
# element's canvas in a map of its own, so the module must be imported once per page (import() does that for
# one URL) and every call must reach the same copy. The pad's script imports nothing and never reads
# import.meta.url, so it runs unchanged from another address.
_LOADER = """
const url = new URL(__FILE__, document.baseURI).href;  // relative to the page: a path prefix still works
let pad = null;
let loading = null;

function padLoaded() {
    if (!loading) {
        loading = import(url).then(
            (module) => { pad = module; return module; },
            (error) => { loading = null; throw error; },  // a later mount tries again
        );
    }
    return loading;
}

export default function (component) {
    // Once loaded, the pad is called at once, as Streamlit itself would call it.
    if (pad) return pad.default(component);
    return padLoaded().then((module) => module.default(component));
}
"""


def _built(pattern: str) -> Path:
    """The package's one built file matching `pattern` (its name carries a hash of its content)."""
    found = sorted(PACKAGE_BUILD.glob(pattern))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one {pattern} in {PACKAGE_BUILD}, found {len(found)}")
    return found[0]


def _script_paths() -> tuple[Path, Path]:
    """The package's script and where its static copy goes: under the built name, which changes with the
    content, so an upgraded package never meets an old copy in a browser's cache."""
    source = _built("index-*.js")
    return source, STATIC / f"drawable-canvas-{source.name}"


CANVAS_SOURCE, CANVAS_JS = _script_paths()


def canvas_js_ready() -> bool:
    """Put the pad's script where Streamlit serves static files (once, or after an upgrade); False if it cannot."""
    try:
        copy_once(CANVAS_SOURCE, CANVAS_JS)
    except OSError:
        return False
    return True


def loader_js(file_name: str) -> str:
    """The element's JavaScript: imports app/static/<file_name> and passes every call on to it."""
    return _LOADER.replace("__FILE__", json.dumps(f"app/static/{file_name}"))


def pad_element():
    """The pad as an element whose script the browser caches, or the package's own where that cannot be."""
    # Without static serving (a server started without .streamlit/config.toml) app/static/ answers 404: the pad
    # would never load, so the package's own element is better.
    if not st.get_option("server.enableStaticServing") or not canvas_js_ready():
        return PACKAGE_PAD
    try:
        stylesheet = _built("index-*.css").read_text(encoding="utf-8")
    except OSError:
        return PACKAGE_PAD
    # The stylesheet goes inline (2 KB; one request less). The comment line keeps it recognisably inline:
    # Streamlit takes a one-line string with a slash or brackets for a file's path.
    css = f"/* streamlit-drawable-canvas {streamlit_drawable_canvas.__version__} */\n{stylesheet}"
    return st.components.v2.component(NAME, js=loader_js(CANVAS_JS.name), css=css, html=HTML, isolate_styles=True)


# The package's st_canvas calls its module's global `out` at every call, so replacing that global once, here, is
# enough for every st_canvas call in the dashboard (tests/test_canvas_pad.py checks that st_canvas draws this
# element). Importing st_canvas from this module makes sure the replacement happened.
streamlit_drawable_canvas.out = pad_element()
