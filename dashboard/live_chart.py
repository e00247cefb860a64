"""A Plotly chart that updates in place: new data goes through `Plotly.react` into the same element.

`st.plotly_chart` makes a new element whenever its figure changes, so a live chart was torn down and drawn
from scratch every second in every watching browser (the costliest part of watching), and a learner's zoom
was lost each time. This Components v2 chart keeps its element: each update hands the new figure to
`Plotly.react`, which redraws only what changed and, with `layout.uirevision`, keeps zoom, pan and hidden
legend entries. plotly.js comes from the installed `plotly` package, served by Streamlit's static file
serving (`server.enableStaticServing`), never from the internet.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit as st

STATIC = Path(__file__).resolve().parent / "static"
PLOTLY_JS = STATIC / "plotly.min.js"

_JS = """
let loading = null;

function plotlyLoaded() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!loading) {
        loading = new Promise((resolve, reject) => {
            const script = document.createElement("script");
            // Relative to the page, so that a server behind a path prefix still finds it.
            script.src = new URL("app/static/plotly.min.js", document.baseURI).href;
            script.onload = () => resolve(window.Plotly);
            script.onerror = () => { loading = null; reject(new Error("plotly.min.js did not load")); };
            document.head.appendChild(script);
        });
    }
    return loading;
}

export default function ({ data, parentElement }) {
    let chart = parentElement.querySelector(".mnist-live-chart");
    if (!chart) {
        chart = document.createElement("div");
        chart.className = "mnist-live-chart";
        parentElement.appendChild(chart);
    }
    chart.style.height = `${data.height}px`;
    chart.style.width = "100%";
    const figure = JSON.parse(data.figure);
    const layout = figure.layout || {};
    // What st.plotly_chart's theme would do: the page's font, room for tick labels, the title left of the legend.
    layout.font = { ...(layout.font || {}), family: getComputedStyle(parentElement).fontFamily };
    layout.xaxis = { ...(layout.xaxis || {}), automargin: true };
    layout.yaxis = { ...(layout.yaxis || {}), automargin: true };
    layout.title = { ...(layout.title || {}), x: 0, xanchor: "left", y: 0.98, yanchor: "top" };
    layout.margin = { ...(layout.margin || {}), t: 70, l: 80 };
    layout.paper_bgcolor = "rgba(0,0,0,0)";
    plotlyLoaded().then((Plotly) => Plotly.react(chart, figure.data, layout, {
        displaylogo: false, responsive: true,
    }));
}
"""

_component = st.components.v2.component("mnist_live_chart", js=_JS, isolate_styles=False)


def plotly_js_ready() -> bool:
    """Put the installed plotly.js where Streamlit serves static files (once, or after a plotly upgrade)."""
    source = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    try:
        if not PLOTLY_JS.is_file() or PLOTLY_JS.stat().st_size != source.stat().st_size:
            STATIC.mkdir(exist_ok=True)
            partial = PLOTLY_JS.with_suffix(".partial")
            shutil.copyfile(source, partial)
            partial.replace(PLOTLY_JS)
    except OSError:
        return False  # a read-only install: live charts fall back to st.plotly_chart
    return True


@st.cache_resource(show_spinner=False)
def _ready() -> bool:
    return plotly_js_ready()


def live_chart(figure: go.Figure | str, key: str, height: int = 380) -> None:
    """Show `figure` (a Plotly figure, or its JSON); later calls with the same key update the chart in place."""
    if not _ready():
        st.plotly_chart(go.Figure(json.loads(figure)) if isinstance(figure, str) else figure, key=key)
        return
    payload = figure if isinstance(figure, str) else figure.to_json()
    _component(data={"figure": payload, "height": height}, key=key, height=height)
