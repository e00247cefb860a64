"""Plotly figures of what a trained network answers and holds: its probabilities for a digit, images, the
confusion matrix, per-digit accuracy, weight and feature-map grids, and dense activations; pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from dashboard.charts import BEST_COLOUR, FONT_SIZE, TEST_COLOUR


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
