"""A Plotly chart that updates in place: new data goes through `Plotly.react` into the same element.

`st.plotly_chart` makes a new element whenever its figure changes, so a live chart was torn down and drawn
from scratch every second in every watching browser (the costliest part of watching), and a learner's zoom
was lost each time. This Components v2 chart keeps its element: each update hands the new figure to
`Plotly.react`, which redraws only what changed and, with `layout.uirevision`, keeps zoom, pan and hidden
legend entries. plotly.js is served by Streamlit's static file serving (`server.enableStaticServing`), never
from the internet: plotly.js's basic bundle (scatter, bar and pie; dashboard/assets/, MIT licence) for the
curves, a quarter of the full bundle's size and of its time in the browser, and the full bundle of the installed
`plotly` package for a figure that needs more (a heatmap).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit as st

from dashboard.static_files import STATIC, copy_once

ASSETS = Path(__file__).resolve().parent / "assets"
PLOTLY_JS = STATIC / "plotly.min.js"
BASIC_JS = STATIC / "plotly-basic.min.js"
BASIC_SOURCE = ASSETS / "plotly-basic.min.js"
BASIC_TRACES = frozenset({"scatter", "bar", "pie"})  # the trace types plotly.js's basic bundle draws

_JS = """
const loading = {};

function plotlyLoaded(bundle) {
    // Each bundle sets window.Plotly as it runs; its own copy is kept, so charts drawn by one keep using it.
    if (!loading[bundle]) {
        loading[bundle] = new Promise((resolve, reject) => {
            const script = document.createElement("script");
            // Relative to the page, so that a server behind a path prefix still finds it.
            script.src = new URL(`app/static/${bundle}`, document.baseURI).href;
            script.onload = () => resolve(window.Plotly);
            script.onerror = () => { delete loading[bundle]; reject(new Error(`${bundle} did not load`)); };
            document.head.appendChild(script);
        });
    }
    return loading[bundle];
}

export default function ({ data, parentElement, setTriggerValue }) {
    let chart = parentElement.querySelector(".mnist-live-chart");
    if (!chart) {
        chart = document.createElement("div");
        chart.className = "mnist-live-chart";
        parentElement.appendChild(chart);
    }
    chart.mnistClicked = data.clickable ? setTriggerValue : null;  // the latest mount's, for the listener below
    chart.style.height = `${data.height}px`;
    chart.style.width = "100%";
    // A live view re-sends its charts at every tick, most often unchanged (nothing published meanwhile): then
    // there is nothing to redraw.
    if (chart.mnistDrawn === data.figure + data.bundle) return;
    const figure = JSON.parse(data.figure);
    const layout = figure.layout || {};
    // What st.plotly_chart's theme would do: the page's font, room for tick labels, the title left of the legend.
    layout.font = { ...(layout.font || {}), family: getComputedStyle(parentElement).fontFamily };
    layout.xaxis = { ...(layout.xaxis || {}), automargin: true };
    layout.yaxis = { ...(layout.yaxis || {}), automargin: true };
    layout.title = { ...(layout.title || {}), x: 0, xanchor: "left", y: 0.98, yanchor: "top" };
    layout.margin = { ...(layout.margin || {}), t: 70, l: 80 };
    layout.paper_bgcolor = "rgba(0,0,0,0)";
    plotlyLoaded(data.bundle).then((Plotly) => {
        if (chart.mnistPlotly && chart.mnistPlotly !== Plotly) chart.mnistPlotly.purge(chart);
        chart.mnistPlotly = Plotly;
        chart.mnistDrawn = data.figure + data.bundle;
        const modeBar = data.modeBar === false ? false : "hover";  // "hover" is plotly.js's own default
        const config = { displaylogo: false, responsive: true, displayModeBar: modeBar };
        return Plotly.react(chart, figure.data, layout, config);
    }).then(() => {
        chart.dataset.drawn = "true";  // what a page-load measurement waits for
        if (chart.mnistListening || !chart.on) return;
        chart.mnistListening = true;
        // A click on a point tells the server that point's customdata (e.g. the run a line stands for).
        chart.on("plotly_click", (event) => {
            const point = (event && event.points && event.points[0]) || null;
            if (!chart.mnistClicked || !point || point.customdata === undefined) return;
            const value = Array.isArray(point.customdata) ? point.customdata[0] : point.customdata;
            chart.mnistClicked("clicked", value);
        });
    });
}
"""

# The chart's element comes with the component's HTML, before its script runs: a page with a chart not drawn yet
# says so from the start (what the page-load benchmark waits for: every .mnist-live-chart drawn).
_component = st.components.v2.component("mnist_live_chart", html='<div class="mnist-live-chart"></div>', js=_JS,
                                        isolate_styles=False)


def plotly_js_ready() -> bool:
    """Put plotly.js (the installed full bundle, and the basic one where the checkout has it) where Streamlit
    serves static files: once, or after an upgrade."""
    try:
        copy_once(Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js", PLOTLY_JS)
        if BASIC_SOURCE.is_file():
            copy_once(BASIC_SOURCE, BASIC_JS)
    except OSError:
        return False  # a read-only install: live charts fall back to st.plotly_chart
    return True


@st.cache_resource(show_spinner=False)
def _ready() -> bool:
    return plotly_js_ready()


@functools.lru_cache(maxsize=256)
def bundle_for(figure_json: str) -> str:
    """The plotly.js file that draws this figure (its JSON): the basic bundle when it has it and every trace is a
    scatter, bar or pie trace, else the full one."""
    traces = json.loads(figure_json).get("data") or []
    kinds = {trace.get("type", "scatter") for trace in traces}
    if kinds <= BASIC_TRACES and BASIC_JS.is_file():
        return BASIC_JS.name
    return PLOTLY_JS.name


def live_chart(figure: go.Figure | str, key: str, height: int = 380, on_click=None, mode_bar: bool = True):
    """Show `figure` (a Plotly figure, or its JSON); later calls with the same key update the chart in place.

    With `on_click` (a callback, run before the script as a widget's), a click on a point sends the point's
    customdata (its first item, for a list) to the server: the call returns it in the run the click starts, and
    None otherwise. `mode_bar=False` hides Plotly's zoom and download buttons (for a chart that is only clicked)."""
    if not _ready():
        shown = go.Figure(json.loads(figure)) if isinstance(figure, str) else figure
        if on_click is None:
            st.plotly_chart(shown, key=key, config={"displayModeBar": mode_bar})
            return None
        return clicked_value(st.plotly_chart(shown, key=key, on_select=on_click, selection_mode="points",
                                             config={"displayModeBar": mode_bar}))
    payload = figure if isinstance(figure, str) else figure.to_json()
    data = {"figure": payload, "height": height, "bundle": bundle_for(payload), "clickable": on_click is not None,
            "modeBar": mode_bar}
    if on_click is None:
        _component(data=data, key=key, height=height)
        return None
    return _component(data=data, key=key, height=height, on_clicked_change=on_click).clicked


def clicked_value(state) -> object:
    """What a click on a chart chose, from the chart's value (its `st.session_state[key]` in an on_click callback):
    the live chart's `clicked`, or st.plotly_chart's first selected point's customdata (its first item, for a
    list); None without a click."""
    state = state or {}
    points = (state.get("selection") or {}).get("points") or [{"customdata": state.get("clicked")}]
    value = points[0].get("customdata")
    return value[0] if isinstance(value, list) and value else value
