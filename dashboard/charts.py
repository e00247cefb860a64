"""Plotly figure builders for the dashboard: pure functions of curves and numbers, testable without Streamlit."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

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


def _layout(figure: go.Figure, title: str, y_title: str, height: int) -> go.Figure:
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
    return _layout(figure, "Accuracy", "accuracy", height)


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
    return _layout(figure, "Loss", "cross-entropy loss", height)


def comparison_figure(runs: Mapping[str, Curves], metric: str, height: int = 380) -> go.Figure:
    """The test curves of several runs on one chart (metric "accuracy" or "loss"), one colour per run."""
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    figure = go.Figure()
    hover = "%{y:.2%}" if metric == "accuracy" else "%{y:.4f}"
    for index, (label, curves) in enumerate(runs.items()):
        x, y = _series(curves.get("test", ()), metric)
        figure.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines+markers", hovertemplate=hover,
                                    line={"width": 3, "color": COMPARE_COLOURS[index % len(COMPARE_COLOURS)]}))
    if metric == "accuracy":
        figure.update_yaxes(tickformat=".1%")
    title = "Test accuracy" if metric == "accuracy" else "Test loss"
    return _layout(figure, title, f"test {metric}", height)


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
        for split, dash, width in (("train", "dash", 2), ("test", "solid", 4)):
            x, y = _series(curves.get(split, ()), metric)
            values.extend(y)
            tested.extend(y if split == "test" else [])
            figure.add_trace(go.Scatter(x=x, y=y, name=f"{label}: {split}", mode="lines", hovertemplate=hover,
                                        legendgroup=label, line={"width": width, "dash": dash, "color": colour}))
    if metric == "accuracy":
        # Zoomed onto the test curves once they are past chance; the early training points may run off the bottom.
        low = max(0.0, min(tested) - 0.03) if tested and min(tested) > 0.5 else 0.0
        figure.update_yaxes(tickformat=".0%", range=[low, 1.005])
    elif values:
        top = min(max(values), float(np.median(values)) * 4 + 0.05)  # early losses would flatten the rest
        figure.update_yaxes(range=[0, top * 1.05])
    title = "Accuracy: train (dashed) and test" if metric == "accuracy" else "Loss: train (dashed) and test"
    return _layout(figure, title, metric, height)


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
        figure.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines+markers", hovertemplate=hover,
                                    line={"width": 3, "color": COMPARE_COLOURS[index % len(COMPARE_COLOURS)]}))
    # Zero is "as good on unseen images as on the training images": the line the gap grows away from.
    figure.add_hline(y=0, line={"color": "#555", "dash": "dash", "width": 1})
    y_title = "train − test accuracy (points)" if metric == "accuracy" else "test − train loss"
    return _layout(figure, f"Overfitting gap: {metric}", y_title, height)


def probability_figure(probabilities: Sequence[float], height: int = 300) -> go.Figure:
    """Ten bars, one per digit, the most likely one highlighted."""
    values = [float(value) for value in probabilities]
    best = int(np.argmax(values)) if values else -1
    colours = [TEST_COLOUR if digit == best else "#9db7d5" for digit in range(len(values))]
    figure = go.Figure(go.Bar(
        x=[str(digit) for digit in range(len(values))], y=values, marker_color=colours,
        text=[f"{value:.0%}" for value in values], textposition="outside",
        hovertemplate="digit %{x}: %{y:.2%}<extra></extra>",
    ))
    figure.update_yaxes(range=[0, 1.15], tickformat=".0%", title="probability")
    figure.update_xaxes(title="digit", type="category")
    figure.update_layout(title={"text": "Probabilities", "font": {"size": FONT_SIZE + 4}}, font={"size": FONT_SIZE},
                         height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10}, showlegend=False)
    return figure


def image_figure(image: Any, title: str, height: int = 300, colorscale: str = "gray") -> go.Figure:
    """A small image (e.g. 28x28) shown large with crisp pixels and hover values."""
    array = np.asarray(image, dtype=float)
    figure = go.Figure(go.Heatmap(z=array, colorscale=colorscale, showscale=False,
                                  hovertemplate="row %{y}, col %{x}: %{z:.2f}<extra></extra>"))
    figure.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    figure.update_xaxes(visible=False)
    figure.update_layout(title={"text": title, "font": {"size": FONT_SIZE}}, height=height,
                         margin={"l": 0, "r": 0, "t": 40, "b": 0})
    return figure


# Negative weights orange-red, zero white, positive blue: the two ends stay apart for colour-blind viewers.
DIVERGING_SCALE = [[0.0, "#B2182B"], [0.25, "#EF8A62"], [0.5, "#F7F7F7"], [0.75, "#67A9CF"], [1.0, "#2166AC"]]
MISTAKE_SCALE = [[0.0, "#FFFFFF"], [0.15, "#FDD9B5"], [1.0, BEST_COLOUR]]
CORRECT_SCALE = [[0.0, "#D6E6F4"], [1.0, "#D6E6F4"]]
DIGITS = [str(digit) for digit in range(10)]


def confusion_figure(matrix: Any, height: int = 620) -> go.Figure:
    """The 10x10 confusion matrix with its counts: correct answers on the diagonal, mistakes shaded by count.

    Rows are the true digit and columns the predicted one. The diagonal (about 1,000 per digit) gets its own
    flat colour, because on one shared scale it would wash out the few dozen mistakes that matter.
    """
    counts = np.asarray(matrix)
    if counts.shape != (10, 10):
        raise ValueError(f"A confusion matrix for ten digits has shape (10, 10); got {counts.shape}.")
    diagonal = np.eye(10, dtype=bool)
    off = np.where(diagonal, np.nan, counts.astype(float))
    on = np.where(diagonal, counts.astype(float), np.nan)
    # Empty cells stay blank so the eye finds the confusions (4 and 9, 7 and 2...) at once.
    labels = counts.astype(int).astype(str)
    text = np.where(diagonal | (counts == 0), "", labels).tolist()
    diagonal_text = np.where(diagonal, labels, "").tolist()
    figure = go.Figure()
    figure.add_trace(go.Heatmap(
        z=off, x=DIGITS, y=DIGITS, text=text, texttemplate="%{text}", textfont={"size": 14}, colorscale=MISTAKE_SCALE,
        zmin=0, zmax=max(1.0, float(np.nanmax(off))), hoverongaps=False, name="mistakes",
        colorbar={"title": {"text": "mistakes"}, "thickness": 14},
        hovertemplate="true %{y}, predicted %{x}: %{z} images<extra></extra>",
    ))
    figure.add_trace(go.Heatmap(
        z=on, x=DIGITS, y=DIGITS, text=diagonal_text, texttemplate="<b>%{text}</b>", textfont={"size": 13},
        colorscale=CORRECT_SCALE,
        showscale=False, hoverongaps=False, name="correct",
        hovertemplate="true %{y}, predicted %{x}: %{z} images (correct)<extra></extra>",
    ))
    figure.update_xaxes(title="predicted digit", type="category", side="bottom", showgrid=False)
    figure.update_yaxes(title="true digit", type="category", autorange="reversed", scaleanchor="x", showgrid=False)
    figure.update_layout(title={"text": "Confusion matrix", "font": {"size": FONT_SIZE + 4}}, font={"size": FONT_SIZE},
                         height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


def class_accuracy_figure(accuracies: Sequence[float], height: int = 620) -> go.Figure:
    """Ten horizontal bars, the test accuracy of each true digit, the weakest digit highlighted."""
    values = [float(value) for value in accuracies]
    if len(values) != 10:
        raise ValueError(f"Expected one accuracy per digit (10 values); got {len(values)}.")
    known = [value for value in values if np.isfinite(value)]
    worst = values.index(min(known)) if known else -1
    colours = [BEST_COLOUR if digit == worst else TEST_COLOUR for digit in range(10)]
    figure = go.Figure(go.Bar(
        x=[value if np.isfinite(value) else None for value in values], y=DIGITS, orientation="h",
        marker_color=colours, text=[f"{value:.1%}" if np.isfinite(value) else "no images" for value in values],
        textposition="outside", hovertemplate="digit %{y}: %{x:.2%} correct<extra></extra>",
    ))
    # Zoom onto the top of the scale, where trained networks differ; keep room for the labels on the right.
    low = max(0.0, min(known) - 0.05) if known and min(known) > 0.5 else 0.0
    figure.update_xaxes(range=[low, 1.0 + (1.0 - low) * 0.18], tickformat=".0%", title="correct on the test set")
    figure.update_yaxes(title="true digit", type="category", autorange="reversed")
    figure.update_layout(title={"text": "Accuracy per digit", "font": {"size": FONT_SIZE + 4}},
                         font={"size": FONT_SIZE}, height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         showlegend=False)
    return figure


def image_grid_figure(images: Any, titles: Sequence[str], *, columns: int = 6, title: str | None = None,
                      colorscale: Any = "gray", diverging: bool = False, zrange: tuple[float, float] | None = None,
                      tile_height: int = 130, colorbar_title: str | None = None) -> go.Figure:
    """Small images (n, h, w) side by side, each with its own title, on one shared colour scale.

    `diverging=True` centres the scale on 0 (negative orange-red, positive blue), for weights; otherwise the
    scale runs from `zrange` (default: the images' min and max) in `colorscale`.
    """
    from plotly.subplots import make_subplots

    array = np.asarray(images, dtype=float)
    if array.ndim != 3 or len(array) == 0:
        raise ValueError(f"Expected a stack of images with shape (n, height, width), n >= 1; got {array.shape}.")
    if len(titles) != len(array):
        raise ValueError(f"Give one title per image: {len(array)} images but {len(titles)} titles.")
    if columns < 1:
        raise ValueError(f"The grid needs at least one column (got {columns}).")
    count = len(array)
    cols = min(columns, count)
    rows = -(-count // cols)
    # Subplot titles sit above their tile: leave a band that high above every row, the first one included.
    title_px = 44 if any("<br>" in text for text in titles) else 26
    top = title_px + (50 if title else 0)
    plot_height = rows * tile_height + (rows - 1) * title_px
    figure = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles), horizontal_spacing=0.02,
                           vertical_spacing=title_px / plot_height if rows > 1 else 0.0)
    finite = array[np.isfinite(array)]
    scale = DIVERGING_SCALE if diverging else colorscale
    if diverging:
        # One symmetric range for every tile, so the same colour means the same value everywhere.
        extent = float(np.abs(finite).max()) if finite.size else 0.0
        low, high = -extent, extent
    elif zrange is not None:
        low, high = zrange
    elif finite.size:
        low, high = float(finite.min()), float(finite.max())
    else:
        low, high = 0.0, 1.0
    if high <= low:  # all-zero weights or a blank image: any range will do, but it must not be empty
        low, high = (-1.0, 1.0) if diverging else (low, low + 1.0)
    for index, image in enumerate(array):
        row, col = divmod(index, cols)
        figure.add_trace(go.Heatmap(z=image, coloraxis="coloraxis", name=str(titles[index]).split("<br>")[0],
                                    hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>"),
                         row=row + 1, col=col + 1)
        # Square pixels in every tile: each y axis is tied to its own x axis.
        axis = "x" if index == 0 else f"x{index + 1}"
        figure.update_yaxes(scaleanchor=axis, autorange="reversed", visible=False, row=row + 1, col=col + 1)
    figure.update_xaxes(visible=False)
    show_scale = diverging or colorbar_title is not None
    figure.update_layout(
        coloraxis={"colorscale": scale, "cmin": low, "cmax": high, "showscale": show_scale,
                   "colorbar": {"title": {"text": colorbar_title or ""}, "thickness": 12, "nticks": 3,
                                "lenmode": "pixels", "len": max(90, min(plot_height, 320))}},
        title={"text": title or "", "font": {"size": FONT_SIZE + 4}}, font={"size": FONT_SIZE},
        height=top + plot_height + 10, margin={"l": 10, "r": 10, "t": top, "b": 10}, plot_bgcolor="rgba(0,0,0,0)",
    )
    figure.update_annotations(font_size=FONT_SIZE - 3)
    return figure


def feature_maps_figure(maps: Any, title: str, columns: int = 12, max_maps: int = 48,
                        tile_height: int = 90) -> go.Figure:
    """The feature maps of one convolutional layer, (height, width, channels), as a grid of small heatmaps.

    All maps share one colour scale, so a filter that barely reacts to this image shows dark. Maps that can be
    negative (a convolution before its activation) get the diverging scale centred on 0.
    """
    array = np.asarray(maps, dtype=float)
    if array.ndim != 3 or array.shape[2] == 0:
        raise ValueError(f"Feature maps have shape (height, width, channels); got {array.shape}.")
    channels = array.shape[2]
    # (h, w, c) -> (c, h, w): one image per channel.
    stack = np.moveaxis(array, 2, 0)[:max_maps]
    shown = f" (first {len(stack)} of {channels})" if channels > len(stack) else ""
    titles = [f"#{index + 1}" for index in range(len(stack))]
    negative = bool(np.nanmin(stack) < 0)
    high = float(np.nanmax(stack)) if np.isfinite(stack).any() else 1.0
    return image_grid_figure(stack, titles, columns=columns, title=title + shown, diverging=negative,
                             zrange=(0.0, high if high > 0 else 1.0), colorscale="gray", tile_height=tile_height,
                             colorbar_title="activation")


def dense_activation_figure(values: Sequence[float], title: str, labels: Sequence[str] | None = None,
                            height: int = 240, y_title: str = "activation") -> go.Figure:
    """One bar per neuron of a dense layer: how strongly each reacts to the image (negative bars in orange)."""
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise ValueError("A dense layer needs at least one neuron to show.")
    names = list(labels) if labels is not None else [str(index + 1) for index in range(array.size)]
    if len(names) != array.size:
        raise ValueError(f"Give one label per neuron: {array.size} values but {len(names)} labels.")
    colours = [BEST_COLOUR if value < 0 else TEST_COLOUR for value in array]
    figure = go.Figure(go.Bar(x=names, y=array, marker_color=colours,
                              hovertemplate="neuron %{x}: %{y:.3f}<extra></extra>"))
    figure.update_xaxes(type="category", title="neuron" if labels is None else None,
                        showticklabels=array.size <= 40)
    figure.update_yaxes(title=y_title)
    figure.update_layout(title={"text": title, "font": {"size": FONT_SIZE + 2}}, font={"size": FONT_SIZE},
                         height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10}, showlegend=False, bargap=0.1)
    return figure


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
