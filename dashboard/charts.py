"""Plotly figures of curves against epochs: one run's live train/test curves, several runs compared, their
overfitting gap, and the projector style every chart shares; pure functions, testable without Streamlit."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from dashboard.safe_text import plotly_text

# Colours that stay apart on a washed-out classroom projector and for colour-blind viewers (Okabe-Ito).
TRAIN_COLOUR = "#E69F00"
VALIDATION_COLOUR = "#56B4E9"
TEST_COLOUR = "#0072B2"
BEST_COLOUR = "#D55E00"
COMPARE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
FONT_SIZE = 16

Curves = Mapping[str, Sequence[Mapping[str, float]]]


def _finite(points: Sequence[Mapping[str, float]], metric: str) -> list[Mapping[str, float]]:
    # A diverged run stores its last values as null (JSON has no NaN); those points are left out.
    return [point for point in points if isinstance(point.get(metric), int | float) and np.isfinite(point[metric])]


def _series(points: Sequence[Mapping[str, float]], metric: str) -> tuple[list[float], list[float]]:
    kept = _finite(points, metric)
    return [point["epoch"] for point in kept], [point[metric] for point in kept]


def styled_layout(figure: go.Figure, title: str, y_title: str, height: int) -> go.Figure:
    """The dashboard's look for a chart against epochs: title, fonts, margins, legend on top, shared hover."""
    figure.update_layout(
        title={"text": title, "font": {"size": FONT_SIZE + 6}},
        font={"size": FONT_SIZE},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        hovermode="x unified",
        xaxis={"title": "epoch", "rangemode": "tozero"},
        yaxis_title=y_title,
        uirevision=title,  # keep the learner's zoom while the live chart gains points
    )
    return figure


def _add_curves(figure: go.Figure, curves: Curves, metric: str, hover: str) -> None:
    styles = (
        ("train", "train (smoothed)", {"color": TRAIN_COLOUR, "width": 2}, "lines", 0.8),
        ("validation", "validation", {"color": VALIDATION_COLOUR, "width": 2, "dash": "dot"}, "lines", 1.0),
        ("test", "test", {"color": TEST_COLOUR, "width": 4}, "lines+markers", 1.0),
    )
    for key, name, line, mode, opacity in styles:
        x, y = _series(curves.get(key, ()), metric)
        if not x:
            continue
        figure.add_trace(go.Scatter(x=x, y=y, name=name, mode=mode, line=line, opacity=opacity,
                                    marker={"size": 9}, hovertemplate=hover))


def accuracy_figure(curves: Curves, target: float | None = None, height: int = 380) -> go.Figure:
    """Train, validation and test accuracy against epochs; a dotted line at `target` (the codelab's figure)."""
    figure = go.Figure()
    _add_curves(figure, curves, "accuracy", "%{y:.2%}")
    if target is not None:
        figure.add_hline(y=target, line={"color": "#555", "dash": "dash", "width": 1},
                         annotation_text=f"codelab {target:.1%}", annotation_position="top left")
    values = [p["accuracy"] for key in ("validation", "test") for p in _finite(curves.get(key, ()), "accuracy")]
    # Zoom onto the interesting top of the scale once the network is past chance, as the codelab's charts do.
    low = max(0.0, min(values) - 0.02) if values and min(values) > 0.5 else 0.0
    figure.update_yaxes(tickformat=".0%", range=[low, 1.005])
    return styled_layout(figure, "Accuracy", "accuracy", height)


def best_test_point(curves: Curves) -> Mapping[str, float] | None:
    """The test point with the lowest loss: where more training stopped helping (overfitting starts after it)."""
    test = _finite(curves.get("test", ()), "loss")
    return min(test, key=lambda point: point["loss"]) if test else None


def loss_figure(curves: Curves, height: int = 380) -> go.Figure:
    """Train, validation and test cross-entropy against epochs, with the lowest test loss marked."""
    figure = go.Figure()
    _add_curves(figure, curves, "loss", "%{y:.4f}")
    best = best_test_point(curves)
    if best is not None:
        last = _finite(curves["test"], "loss")[-1]
        figure.add_trace(go.Scatter(
            x=[best["epoch"]], y=[best["loss"]], name="lowest test loss", mode="markers",
            marker={"symbol": "star", "size": 20, "color": BEST_COLOUR, "line": {"width": 1, "color": "white"}},
            hovertemplate="lowest test loss %{y:.4f} at epoch %{x}<extra></extra>",
        ))
        if last is not best:
            figure.add_vline(x=best["epoch"], line={"color": BEST_COLOUR, "dash": "dot", "width": 2},
                             annotation_text="overfitting starts", annotation_position="top right",
                             annotation_font_color=BEST_COLOUR)
    values = [p["loss"] for key in ("train", "validation", "test") for p in _finite(curves.get(key, ()), "loss")]
    if values:
        # Early losses (around 2.3) would flatten everything else; cap the view at a few times the median.
        top = min(max(values), float(np.median(values)) * 4 + 0.05)
        figure.update_yaxes(range=[0, top * 1.05])
    return styled_layout(figure, "Loss", "cross-entropy loss", height)


def comparison_figure(runs: Mapping[str, Curves], metric: str, height: int = 380) -> go.Figure:
    """The test curves of several runs on one chart (metric "accuracy" or "loss"), one colour per run."""
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    figure = go.Figure()
    hover = "%{y:.2%}" if metric == "accuracy" else "%{y:.4f}"
    for index, (label, curves) in enumerate(runs.items()):
        x, y = _series(curves.get("test", ()), metric)
        # A run's label holds its name, which a learner types: Plotly would read tags in it (a link, styling).
        figure.add_trace(go.Scatter(x=x, y=y, name=plotly_text(label), mode="lines+markers", hovertemplate=hover,
                                    line={"width": 3, "color": COMPARE_COLOURS[index % len(COMPARE_COLOURS)]}))
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".1%")
    title = "Test accuracy" if metric == "accuracy" else "Test loss"
    return styled_layout(figure, title, f"test {metric}", height)


def train_test_figure(runs: Mapping[str, Curves], metric: str, height: int = 380) -> go.Figure:
    """Several runs' train (dashed, smoothed) and test (solid) curves on one chart, one colour per run: where a
    run's two curves drift apart, it overfits. Metric "accuracy" or "loss"."""
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    figure = go.Figure()
    hover = "%{y:.2%}" if metric == "accuracy" else "%{y:.4f}"
    values, tested = [], []
    for index, (label, curves) in enumerate(runs.items()):
        colour = COMPARE_COLOURS[index % len(COMPARE_COLOURS)]
        shown = plotly_text(label)  # a lesson run's label is its name, which a learner can change
        for split, dash, width in (("train", "dash", 2), ("test", "solid", 4)):
            x, y = _series(curves.get(split, ()), metric)
            values.extend(y)
            tested.extend(y if split == "test" else [])
            figure.add_trace(go.Scatter(x=x, y=y, name=f"{shown}: {split}", mode="lines", hovertemplate=hover,
                                        legendgroup=shown, line={"width": width, "dash": dash, "color": colour}))
    if metric == "accuracy":
        # Zoomed onto the test curves once they are past chance; the early training points may run off the bottom.
        low = max(0.0, min(tested) - 0.03) if tested and min(tested) > 0.5 else 0.0
        figure.update_yaxes(tickformat=".0%", range=[low, 1.005])
    elif values:
        top = min(max(values), float(np.median(values)) * 4 + 0.05)  # early losses would flatten the rest
        figure.update_yaxes(range=[0, top * 1.05])
    title = "Accuracy: train (dashed) and test" if metric == "accuracy" else "Loss: train (dashed) and test"
    return styled_layout(figure, title, metric, height)


def _step(point: Mapping[str, float]) -> int:
    return int(point.get("step") or 0)


def overfitting_gap(curves: Curves, metric: str) -> tuple[list[float], list[float]]:
    """At each test point, how much better the network does on its training images than on the test images.

    Accuracy: train minus test accuracy, in percentage points; loss: test minus train loss. Either way a positive
    gap means "better on the images it trained on". The train value is the last train point at or before the test
    point's step; test points before the first train point are left out. Returns (epochs, gaps).
    """
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    train = sorted(_finite(curves.get("train", ()), metric), key=_step)
    steps = [_step(point) for point in train]
    epochs, gaps = [], []
    for test in _finite(curves.get("test", ()), metric):
        index = bisect.bisect_right(steps, _step(test)) - 1
        if index < 0:
            continue
        if metric == "accuracy":
            gap = (train[index]["accuracy"] - test["accuracy"]) * 100
        else:
            gap = test["loss"] - train[index]["loss"]
        epochs.append(test["epoch"])
        gaps.append(gap)
    return epochs, gaps


def gap_figure(runs: Mapping[str, Curves], metric: str, height: int = 380) -> go.Figure:
    """The overfitting gap of several runs against epochs (metric "accuracy" or "loss"), one colour per run.

    The colours follow the runs' order, as in `comparison_figure`, so a run keeps its colour on every chart.
    """
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    figure = go.Figure()
    hover = "%{y:.2f} points" if metric == "accuracy" else "%{y:.4f}"
    for index, (label, curves) in enumerate(runs.items()):
        x, y = overfitting_gap(curves, metric)
        figure.add_trace(go.Scatter(x=x, y=y, name=plotly_text(label), mode="lines+markers", hovertemplate=hover,
                                    line={"width": 3, "color": COMPARE_COLOURS[index % len(COMPARE_COLOURS)]}))
    # Zero is "as good on unseen images as on the training images": the line the gap grows away from.
    figure.add_hline(y=0, line={"color": "#555", "dash": "dash", "width": 1})
    y_title = "train − test accuracy (points)" if metric == "accuracy" else "test − train loss"
    return styled_layout(figure, f"Overfitting gap: {metric}", y_title, height)


def projector_style(figure: go.Figure, scale: float = 1.6) -> go.Figure:
    """The same figure for a classroom projector: every line and marker `scale` times thicker, text larger."""
    for trace in figure.data:
        line = getattr(trace, "line", None)
        if line is not None:
            line.width = (line.width or 2) * scale
        marker = getattr(trace, "marker", None)
        if marker is not None and marker.size is not None:
            marker.size = marker.size * scale
    font = figure.layout.font.size or FONT_SIZE
    figure.update_layout(font={"size": round(font * scale)},
                         title={"font": {"size": round((figure.layout.title.font.size or font + 6) * scale)}})
    for shape in figure.layout.shapes:
        shape.line.width = (shape.line.width or 1) * scale
    return figure
