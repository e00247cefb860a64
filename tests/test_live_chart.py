"""dashboard/live_chart.py: which plotly.js draws a figure, the vendored basic bundle, and the first point shown."""

from __future__ import annotations

import json
import re

import plotly
import plotly.graph_objects as go
import pytest

from dashboard import charts, live_chart
from dashboard.live_view import show_lone_points

VERSION = re.compile(r"plotly\.js (?:\([a-z -]+\) )?v(\d+\.\d+\.\d+)")


def _version(path) -> str:
    with open(path, encoding="utf-8") as source:
        return VERSION.search(source.read(400)).group(1)


def test_the_vendored_basic_bundle_is_the_installed_plotly_s_version():
    full = live_chart.Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    # After a plotly upgrade, fetch the matching plotly.js-basic-dist-min into dashboard/assets/.
    assert _version(live_chart.BASIC_SOURCE) == _version(full)
    assert (live_chart.ASSETS / "plotly-basic.LICENSE").read_text().startswith("MIT License")


@pytest.fixture
def static(tmp_path, monkeypatch):
    """dashboard/static/ in a temporary folder."""
    monkeypatch.setattr(live_chart, "STATIC", tmp_path)
    monkeypatch.setattr(live_chart, "PLOTLY_JS", tmp_path / "plotly.min.js")
    monkeypatch.setattr(live_chart, "BASIC_JS", tmp_path / "plotly-basic.min.js")
    live_chart.bundle_for.cache_clear()
    yield tmp_path
    live_chart.bundle_for.cache_clear()


def test_both_bundles_are_served_with_their_source_s_age(static):
    assert live_chart.plotly_js_ready()
    assert sorted(path.name for path in static.iterdir()) == ["plotly-basic.min.js", "plotly.min.js"]
    # The browser keeps a file cached for a while in proportion to its age: the copy keeps the source's.
    assert (static / "plotly-basic.min.js").stat().st_mtime == live_chart.BASIC_SOURCE.stat().st_mtime
    assert (static / "plotly-basic.min.js").read_bytes() == live_chart.BASIC_SOURCE.read_bytes()


def test_curves_and_bars_take_the_basic_bundle_a_heatmap_the_full_one(static):
    live_chart.plotly_js_ready()
    curves = {"train": [{"epoch": 0.5, "step": 5, "loss": 0.5, "accuracy": 0.8}],
              "test": [{"epoch": 1.0, "step": 10, "loss": 0.4, "accuracy": 0.9}]}
    for figure in (charts.accuracy_figure(curves, 0.98), charts.loss_figure(curves),
                   go.Figure(go.Bar(x=["0", "1"], y=[0.2, 0.8])), go.Figure()):
        assert live_chart.bundle_for(figure.to_json()) == "plotly-basic.min.js"
    heatmap = go.Figure([go.Scatter(x=[1], y=[1]), go.Heatmap(z=[[1, 2], [3, 4]])])
    assert live_chart.bundle_for(heatmap.to_json()) == "plotly.min.js"


def test_without_the_basic_bundle_everything_takes_the_full_one(static, monkeypatch):
    monkeypatch.setattr(live_chart, "BASIC_SOURCE", static / "missing.js")
    assert live_chart.plotly_js_ready()
    assert live_chart.bundle_for(go.Figure(go.Scatter(x=[1], y=[1])).to_json()) == "plotly.min.js"


def test_a_line_with_one_point_gets_a_marker_so_the_first_point_shows():
    curves = {"train": [{"epoch": 0.002, "step": 1, "loss": 2.2, "accuracy": 0.12}]}
    figure = charts.accuracy_figure(curves)
    show_lone_points(figure)
    assert figure.data[0].mode == "lines+markers"
    curves["train"].append({"epoch": 0.01, "step": 5, "loss": 1.9, "accuracy": 0.3})
    figure = charts.accuracy_figure(curves)
    show_lone_points(figure)
    assert figure.data[0].mode == "lines", "two points draw a line: no markers needed"


def _clickable_page():
    import plotly.graph_objects as go
    import streamlit as st

    from dashboard.live_chart import live_chart

    figure = go.Figure(go.Scatter(x=[0, 1], y=[1, 2], customdata=["run-a", "run-a"]))
    st.session_state["clicked"] = live_chart(figure, key="pick", on_click=lambda: None, mode_bar=False)
    live_chart(figure, key="plain")


def test_a_chart_with_on_click_asks_the_browser_for_clicks_and_returns_none_until_one_comes():
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_function(_clickable_page, default_timeout=30).run()
    assert not app.exception
    data = {element.proto.id.rsplit("-", 1)[-1]: json.loads(element.proto.json)
            for element in app.get("bidi_component")}
    assert data["pick"]["clickable"] is True and data["plain"]["clickable"] is False
    assert data["pick"]["modeBar"] is False and data["plain"]["modeBar"] is True
    assert app.session_state["clicked"] is None, "no click yet"


def test_a_click_is_read_from_either_chart_s_value():
    assert live_chart.clicked_value({"clicked": "run-a"}) == "run-a"  # the live chart
    selection = {"selection": {"points": [{"customdata": ["run-b", 0.5]}, {"customdata": ["run-c"]}]}}
    assert live_chart.clicked_value(selection) == "run-b"  # st.plotly_chart: the first point, its first item
    assert live_chart.clicked_value({"selection": {"points": [{"customdata": "run-d"}]}}) == "run-d"
    for nothing in (None, {}, {"clicked": None}, {"selection": {"points": []}}):
        assert live_chart.clicked_value(nothing) is None
