"""The range test's chart: each batch's loss and the smoothed loss against the learning rate (a log axis), with
the suggested rate marked; a pure function, testable without Streamlit."""

from __future__ import annotations

import math

import plotly.graph_objects as go

from dashboard.charts import BEST_COLOUR, FONT_SIZE, TEST_COLOUR, TRAIN_COLOUR
from mnist_models.lr_range import RangeResult, Suggestion

HEADROOM = 1.3  # the loss axis ends this far above the highest smoothed loss before the lowest point


def loss_axis_top(result: RangeResult) -> float | None:
    """Where the loss axis ends: a little above the smoothed curve on its way down (the start, usually), so that the
    explosion at the end, which can reach millions, does not flatten everything before it."""
    smoothed = [value for value in result.smoothed if math.isfinite(value)]
    if smoothed:
        lowest = smoothed.index(min(smoothed))
        return HEADROOM * max(smoothed[:lowest + 1])
    raw = [value for value in result.losses if math.isfinite(value)]
    return HEADROOM * max(raw) if raw else None


def range_test_figure(result: RangeResult, suggestion: Suggestion, height: int = 380) -> go.Figure:
    """Each batch's own loss (faint) and the smoothed loss against the rate it was trained at, on a log axis; the
    suggested rate, when there is one, as a dashed line with its value."""
    figure = go.Figure()
    raw = [(rate, loss) for rate, loss in zip(result.rates, result.losses, strict=True) if math.isfinite(loss)]
    figure.add_trace(go.Scatter(x=[rate for rate, _ in raw], y=[loss for _, loss in raw], name="each batch's loss",
                                mode="lines", line={"color": TRAIN_COLOUR, "width": 1}, opacity=0.55,
                                hovertemplate="rate %{x:.2e}<br>loss %{y:.3f}<extra></extra>"))
    smooth = [(rate, value) for rate, value in zip(result.rates, result.smoothed, strict=True) if math.isfinite(value)]
    figure.add_trace(go.Scatter(x=[rate for rate, _ in smooth], y=[value for _, value in smooth], name="smoothed",
                                mode="lines", line={"color": TEST_COLOUR, "width": 3},
                                hovertemplate="rate %{x:.2e}<br>smoothed %{y:.3f}<extra></extra>"))
    top = loss_axis_top(result)
    if suggestion.rate is not None and top is not None:
        # A trace rather than a shape: a shape's position on a log axis is in powers of ten, a trace's in rates.
        figure.add_trace(go.Scatter(x=[suggestion.rate, suggestion.rate], y=[0, top], mode="lines+text",
                                    name=f"suggested {suggestion.rate:.2g}",
                                    line={"color": BEST_COLOUR, "width": 2, "dash": "dash"},
                                    text=["", f"  {suggestion.rate:.2g}"], textposition="bottom right",
                                    textfont={"color": BEST_COLOUR}, hoverinfo="skip"))
    figure.update_layout(
        title={"text": "Loss against learning rate", "font": {"size": FONT_SIZE + 4}},
        font={"size": FONT_SIZE - 2},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="closest",
    )
    figure.update_xaxes(type="log", title="learning rate (log scale)", exponentformat="power")
    figure.update_yaxes(title="loss", range=[0, top] if top is not None else None)
    return figure
