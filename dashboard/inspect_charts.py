"""Plotly bar charts of what a trained network answers: its probabilities for a digit, its accuracy per digit and
a dense layer's activations; pure functions. (Its pictures, the confusion matrix included, are in pictures.py.)"""

from __future__ import annotations

from collections.abc import Sequence

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


DIGITS = [str(digit) for digit in range(10)]


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
