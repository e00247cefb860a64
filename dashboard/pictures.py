"""Pictures as HTML with small PNGs inside: a digit, a grid of digits, weights or feature maps with their colour
scale, and the confusion matrix as a table; pure functions, no Streamlit.

These are still pictures, so the browser needs no chart library to show them: as Plotly heatmaps (a subplot per
tile) they were most of the Inspect page's time in the browser, several seconds with 30 runs. Each tile is a PNG
of its own pixels, drawn large with `image-rendering: pixelated`; hovering a tile or a cell names it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np

from dashboard.charts import BEST_COLOUR
from dashboard.sample_digits import png_data_url

GREY_SCALE = [[0.0, "#000000"], [1.0, "#FFFFFF"]]  # low black, high white (MNIST's ink is 1)
# Negative weights orange-red, zero white, positive blue: the two ends stay apart for colour-blind viewers.
DIVERGING_SCALE = [[0.0, "#B2182B"], [0.25, "#EF8A62"], [0.5, "#F7F7F7"], [0.75, "#67A9CF"], [1.0, "#2166AC"]]
MISTAKE_SCALE = [[0.0, "#FFFFFF"], [0.15, "#FDD9B5"], [1.0, BEST_COLOUR]]
CORRECT_COLOUR = "#D6E6F4"
CAPTION = "font-size:0.8rem;line-height:1.2;color:rgba(49,51,63,0.8)"
TITLE = "font-weight:600;margin:0 0 0.4rem 0"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[index:index + 2], 16) for index in (1, 3, 5))


def colour_image(values: Any, low: float, high: float, scale: Sequence[Sequence] = GREY_SCALE) -> np.ndarray:
    """(h, w) values -> (h, w, 3) uint8: `low` takes the scale's first colour, `high` its last, linearly between
    (NaN shows as the middle of the scale)."""
    array = np.asarray(values, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"Expected one image of shape (height, width); got {array.shape}.")
    if not high > low:
        raise ValueError(f"The colour range needs high > low (got {low} to {high}).")
    where = np.clip((np.nan_to_num(array, nan=(low + high) / 2) - low) / (high - low), 0.0, 1.0)
    stops = [float(stop) for stop, _ in scale]
    colours = np.array([_rgb(colour) for _, colour in scale], dtype=float)  # (stops, 3)
    channels = [np.interp(where, stops, colours[:, channel]) for channel in range(3)]
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def _gradient(scale: Sequence[Sequence]) -> str:
    return ", ".join(f"{colour} {float(stop) * 100:g}%" for stop, colour in scale)


def colour_bar_html(low: float, high: float, scale: Sequence[Sequence], title: str) -> str:
    """A horizontal colour scale from `low` to `high`, with its title (a diverging one says where 0 is)."""
    middle = "<span>(white is 0)</span>" if low < 0 < high else ""
    return (f'<div style="display:flex;align-items:center;gap:0.4rem;margin:0.3rem 0;{CAPTION}">'
            f"<span>{html.escape(title)}</span><span>{low:.3g}</span>"
            f'<span role="img" aria-label="colour scale" style="display:inline-block;width:10rem;height:0.7rem;'
            f'border:1px solid #ccc;background:linear-gradient(to right, {_gradient(scale)})"></span>'
            f"<span>{high:.3g}</span>{middle}</div>")


def grid_range(images: np.ndarray, diverging: bool, zrange: tuple[float, float] | None) -> tuple[float, float]:
    """One colour range for every tile: symmetric around 0 for `diverging`, else `zrange` or the images' span."""
    finite = images[np.isfinite(images)]
    if diverging:
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
    return low, high


def picture_grid_html(images: Any, titles: Sequence[str], *, columns: int = 6, title: str | None = None,
                      diverging: bool = False, zrange: tuple[float, float] | None = None, tile_px: int = 110,
                      colorbar_title: str | None = None) -> str:
    """Small images (n, h, w) side by side, each with its caption (lines split by "<br>"), on one colour scale:
    centred on 0 for `diverging` (negative orange-red, positive blue), else grey from `zrange` (default: the
    images' min and max). A colour bar follows when `diverging` or `colorbar_title` asks for one."""
    array = np.asarray(images, dtype=float)
    if array.ndim != 3 or len(array) == 0:
        raise ValueError(f"Expected a stack of images with shape (n, height, width), n >= 1; got {array.shape}.")
    if len(titles) != len(array):
        raise ValueError(f"Give one title per image: {len(array)} images but {len(titles)} titles.")
    if columns < 1:
        raise ValueError(f"The grid needs at least one column (got {columns}).")
    low, high = grid_range(array, diverging, zrange)
    scale = DIVERGING_SCALE if diverging else GREY_SCALE
    tiles = []
    for image, text in zip(array, titles, strict=True):
        lines = [html.escape(line) for line in str(text).split("<br>")]
        source = png_data_url(colour_image(image, low, high, scale))
        tiles.append(
            f'<figure style="margin:0;text-align:center"><img src="{source}"'
            f' alt="{lines[0]}" title="{" · ".join(lines)}" style="width:100%;max-width:{tile_px}px;'
            f'aspect-ratio:{image.shape[1]}/{image.shape[0]};image-rendering:pixelated;border:1px solid #eee">'
            f'<figcaption style="{CAPTION}">{"<br>".join(lines)}</figcaption></figure>')
    cols = min(columns, len(array))
    heading = f'<p style="{TITLE}">{html.escape(title)}</p>' if title else ""
    bar = colour_bar_html(low, high, scale, colorbar_title or "") if diverging or colorbar_title else ""
    return (f'<div>{heading}<div style="display:grid;grid-template-columns:repeat({cols},minmax(0,1fr));'
            f'gap:0.4rem;max-width:{cols * (tile_px + 8)}px">{"".join(tiles)}</div>{bar}</div>')


def feature_maps_html(maps: Any, title: str, columns: int = 12, max_maps: int = 48, tile_px: int = 80) -> str:
    """The feature maps of one convolutional layer, (height, width, channels), as a grid of small pictures.

    All maps share one colour scale, so a filter that barely reacts to this image shows dark. Maps that can be
    negative (a convolution before its activation) get the diverging scale centred on 0.
    """
    array = np.asarray(maps, dtype=float)
    if array.ndim != 3 or array.shape[2] == 0:
        raise ValueError(f"Feature maps have shape (height, width, channels); got {array.shape}.")
    channels = array.shape[2]
    stack = np.moveaxis(array, 2, 0)[:max_maps]  # (h, w, c) -> (c, h, w): one image per channel
    shown = f" (first {len(stack)} of {channels})" if channels > len(stack) else ""
    titles = [f"#{index + 1}" for index in range(len(stack))]
    negative = bool(np.nanmin(stack) < 0)
    high = float(np.nanmax(stack)) if np.isfinite(stack).any() else 1.0
    return picture_grid_html(stack, titles, columns=columns, title=title + shown, diverging=negative,
                             zrange=(0.0, high if high > 0 else 1.0), tile_px=tile_px, colorbar_title="activation")


def picture_html(image: Any, title: str, px: int = 240, zrange: tuple[float, float] = (0.0, 1.0)) -> str:
    """One grey image (e.g. 28x28, ink 1 in white) drawn `px` wide with crisp pixels, its title under it."""
    return picture_grid_html(np.asarray(image, dtype=float)[None], [title], columns=1, zrange=zrange, tile_px=px)


def confusion_html(matrix: Any) -> str:
    """The 10x10 confusion matrix as a table: rows the true digit, columns the answer, counts in the cells.

    The diagonal (the right answers, about 1,000 per digit) gets its own flat colour, because on one shared scale
    it would wash out the few dozen mistakes that matter; the mistakes are shaded by count, empty cells left blank.
    """
    counts = np.asarray(matrix)
    if counts.shape != (10, 10):
        raise ValueError(f"A confusion matrix for ten digits has shape (10, 10); got {counts.shape}.")
    mistakes = np.where(np.eye(10, dtype=bool), 0, counts)
    most = max(1, int(mistakes.max()))
    shades = colour_image(mistakes / most, 0.0, 1.0, MISTAKE_SCALE)  # (10, 10, 3)
    cell = "width:2.6rem;height:2.3rem;text-align:center;border:1px solid #fff;padding:0"
    head = "".join(f'<th scope="col" style="{cell};font-weight:400">{digit}</th>' for digit in range(10))
    rows = []
    for true in range(10):
        cells = []
        for guess in range(10):
            count = int(counts[true, guess])
            if true == guess:
                colour, text = CORRECT_COLOUR, f"<b>{count}</b>"
                note = f"true {true}, predicted {guess}: {count} images (correct)"
            else:
                colour, text = "#{:02X}{:02X}{:02X}".format(*shades[true, guess]), str(count) if count else ""
                note = f"true {true}, predicted {guess}: {count} images"
            cells.append(f'<td title="{note}" style="{cell};background:{colour}">{text}</td>')
        rows.append(f'<tr><th scope="row" style="{cell};font-weight:400">{true}</th>{"".join(cells)}</tr>')
    return (f'<div><p style="{TITLE}">Confusion matrix</p>'
            f'<table style="border-collapse:collapse;font-variant-numeric:tabular-nums;margin:0">'
            f'<caption style="caption-side:bottom;text-align:left;{CAPTION}">rows: true digit · columns: predicted '
            f'digit</caption><thead><tr><th style="{cell}"></th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f'</table>{colour_bar_html(0, most, MISTAKE_SCALE, "mistakes")}</div>')
