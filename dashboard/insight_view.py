"""Inside the network while it learns: each layer's weights over the epochs, the learning rate as applied, and
the codelab's wall of test digits with the wrong answers in red. Figure builders are pure; `insight_ui` draws
them, built once per published version of the run."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw

from dashboard import state
from dashboard.charts import TEST_COLOUR, styled_layout
from dashboard.live_chart import live_chart
from mnist_models.data import load_mnist
from mnist_models.insight import PERCENTILES, layer_names

BAND_OPACITY = (0.15, 0.3, 0.5)  # min-max, 10-90, 25-75: the closer to the median, the darker
WALL_CELL = 56  # pixels per digit on the wall (28 x 2, so the answer in the corner stays readable)
WRONG = (213, 94, 0)  # Okabe-Ito vermilion, like the charts' markers


def weights_figure(rows: Sequence[Mapping[str, Any]], layer: str, kind: str, height: int = 300) -> go.Figure:
    """Percentile bands (min-max, 10-90, 25-75 and the median) of one layer's weights or biases per epoch."""
    picked = sorted((row for row in rows if row.get("layer") == layer and row.get("kind") == kind),
                    key=lambda row: row["epoch"])
    figure = go.Figure()
    if picked:
        epochs = [row["epoch"] for row in picked]
        values = np.array([row["percentiles"] for row in picked], dtype=float)  # (epochs, 7 percentiles)
        bands = (("min to max", 0, 6), ("10th to 90th percentile", 1, 5), ("25th to 75th percentile", 2, 4))
        for (name, low, high), opacity in zip(bands, BAND_OPACITY, strict=True):
            figure.add_trace(go.Scatter(x=epochs, y=values[:, high], mode="lines", line={"width": 0},
                                        showlegend=False, hoverinfo="skip"))
            figure.add_trace(go.Scatter(x=epochs, y=values[:, low], mode="lines", line={"width": 0}, fill="tonexty",
                                        fillcolor=f"rgba(0, 114, 178, {opacity})", name=name, hoverinfo="skip"))
        figure.add_trace(go.Scatter(x=epochs, y=values[:, PERCENTILES.index(50)], mode="lines+markers",
                                    name="median", line={"color": TEST_COLOUR, "width": 2},
                                    hovertemplate="median %{y:.3g} at epoch %{x}<extra></extra>"))
    figure = styled_layout(figure, f"{layer}: {kind}", kind, height)
    # The bands explain themselves in the caption under the charts; a legend would take half a small chart.
    figure.update_layout(hovermode="closest", showlegend=False)
    return figure


def learning_rate_figure(points: Sequence[Mapping[str, float]], height: int = 260) -> go.Figure:
    """The learning rate the optimiser applied, against epochs (decay schedules show as falling lines)."""
    figure = go.Figure(go.Scatter(x=[point["epoch"] for point in points], y=[point["rate"] for point in points],
                                  mode="lines", line={"color": TEST_COLOUR, "width": 3},
                                  hovertemplate="%{y:.5f} at epoch %{x:.2f}<extra></extra>", name="learning rate"))
    figure = styled_layout(figure, "Learning rate", "rate", height)
    figure.update_layout(showlegend=False)
    figure.update_yaxes(rangemode="tozero", tickformat=".2g")
    return figure


def digit_wall_image(images: np.ndarray, labels: Sequence[int], predicted: Sequence[int] | None,
                     columns: int = 10) -> np.ndarray:
    """(rows*56, columns*56, 3) uint8: the digits in white on black, each wrong one on red with the network's
    answer in its corner. `images` is (n, 28, 28) in 0..1; without answers yet, every digit is plain."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"Expected (n, 28, 28) images, got shape {images.shape}.")
    count = len(images)
    rows = max(1, -(-count // columns))
    wall = Image.new("RGB", (columns * WALL_CELL, rows * WALL_CELL), (255, 255, 255))
    draw = ImageDraw.Draw(wall)
    for index in range(count):
        grey = (np.clip(images[index], 0, 1) * 255).astype(np.uint8)
        cell = np.repeat(grey[:, :, None], 3, axis=2)
        wrong = predicted is not None and index < len(predicted) and int(predicted[index]) != int(labels[index])
        if wrong:
            # Ink stays white; the background turns red, so a wrong answer stands out from across the room.
            background = np.array(WRONG, dtype=np.float32) * (1 - grey[:, :, None] / 255.0)
            cell = np.maximum(cell, background.astype(np.uint8))
        tile = Image.fromarray(cell).resize((WALL_CELL - 4, WALL_CELL - 4), Image.NEAREST)
        x, y = (index % columns) * WALL_CELL + 2, (index // columns) * WALL_CELL + 2
        wall.paste(tile, (x, y))
        if wrong:
            draw.text((x + 2, y + 1), str(int(predicted[index])), fill=(255, 255, 0))
    return np.asarray(wall)


def insight_ui(run_id: str, key: str) -> None:
    """The run's weights of a chosen layer over training, its learning rate, and its digit wall, drawn with the
    live charts (plotly.js's basic bundle): they change only when the run's worker publishes."""
    version = state.published_version(run_id)
    insight, learning_rates = state.insight_at(run_id, version)
    rows = insight.get("weights") or []
    digits = insight.get("digits") or {}
    left, right = st.columns(2)
    with left:
        layers = layer_names(rows)
        if layers:
            layer = st.selectbox("Layer", layers, key=f"{key}_layer",
                                 help="Sigmoid layers' weights barely move; ReLU layers' spread out; a learning "
                                      "rate that is too high blows them up.")
            live_chart(_weights_json(run_id, version, layer, "weights"), key=f"{key}_weights", height=300)
            if any(row.get("layer") == layer and row.get("kind") == "biases" for row in rows):
                live_chart(_weights_json(run_id, version, layer, "biases"), key=f"{key}_biases", height=300)
            st.caption("Line: the median. Bands, darker towards the middle: the middle half of the values (25th to "
                       "75th percentile), 80% of them (10th to 90th), and all of them (min to max).")
        else:
            st.caption("The weights' spread appears once training has started.")
    with right:
        if digits.get("indices"):
            predicted = digits.get("predicted") or []
            wrong = sum(int(p) != int(t) for p, t in zip(predicted, digits.get("labels") or [], strict=False))
            when = f"after epoch {digits['epoch']:g}" if digits.get("epoch") is not None else "before training"
            # As a PNG: 49 KB, crisp digits; Streamlit's automatic choice, a JPEG at full quality, took 230 KB to
            # blur them.
            st.image(_wall_png(run_id, version), width="stretch", output_format="PNG",
                     caption=f"100 test digits {when}: {wrong} wrong, in red with the network's answer.")
        if learning_rates:
            live_chart(_learning_rate_json(run_id, version), key=f"{key}_lr", height=260)


# Built once per published version of a run, whoever looks (Inspect and every tab watching the run): building
# these figures and the wall took about 0.14 s of every Inspect view.
@st.cache_resource(show_spinner=False, max_entries=256)
def _weights_json(run_id: str, version: tuple[int, int], layer: str, kind: str) -> str:
    insight, _ = state.insight_at(run_id, version)
    return weights_figure(insight.get("weights") or [], layer, kind).to_json()


@st.cache_resource(show_spinner=False, max_entries=64)
def _learning_rate_json(run_id: str, version: tuple[int, int]) -> str:
    return learning_rate_figure(state.insight_at(run_id, version)[1]).to_json()


@st.cache_resource(show_spinner=False, max_entries=64)
def _wall_png(run_id: str, version: tuple[int, int]) -> bytes:
    digits = state.insight_at(run_id, version)[0].get("digits") or {}
    wall = digit_wall_image(load_mnist().x_test[digits.get("indices") or []], digits.get("labels") or [],
                            digits.get("predicted") or None)
    output = io.BytesIO()
    Image.fromarray(wall).save(output, format="PNG")
    return output.getvalue()
