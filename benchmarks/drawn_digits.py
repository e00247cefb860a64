"""Hand-made pen strokes for every digit in several handwriting styles, and a renderer that imitates the canvas.

The strokes are polylines in the coordinates of a 280x280 streamlit-drawable-canvas, the Draw page's canvas,
so tests and benchmarks can feed them to the preprocessing or replay them with a mouse in a browser. `render`
produces what the canvas (0.13) returns as `image_data` with its default transparent background: RGBA uint8,
background (0, 0, 0, 0), strokes in the stroke colour with anti-aliased alpha. Run this file to write a contact
sheet.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

CANVAS_SIZE = 280
# Every point stays inside [MARGIN, CANVAS_SIZE - MARGIN] on both axes.
MARGIN = 10
# The canvas's floating toolbar covers its top-right corner and swallows pointer events there, so no point
# lies in the band x > TOOLBAR_LEFT, y < TOOLBAR_BOTTOM: a person's stroke starting there would be lost.
TOOLBAR_LEFT = 200
TOOLBAR_BOTTOM = 40

Point = tuple[float, float]
Stroke = tuple[Point, ...]
Strokes = tuple[Stroke, ...]


@dataclass(frozen=True)
class DrawnDigit:
    """One drawing: the digit it shows, a short name for its style, and its pen strokes in canvas pixels."""

    label: int
    style: str
    strokes: Strokes


# Shapes are drawn in a unit box (x to the right, y downwards, both in [0, 1]) and placed on the canvas by a
# style. Angles are in degrees with y pointing down, so 270 is the top of an ellipse, 0 its right side, and
# increasing angles run clockwise on screen.


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[Point]:
    """Points along an elliptical arc, 48 a full turn, so that a circle looks round at any size."""
    steps = max(2, math.ceil(abs(end - start) / 360 * 48))
    angles = np.radians(np.linspace(start, end, steps + 1))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _curve(p0: Point, control: Point, p1: Point, steps: int = 16) -> list[Point]:
    """Points along a quadratic Bezier curve from p0 to p1, pulled towards control."""
    result = []
    for t in np.linspace(0.0, 1.0, steps + 1):
        x = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * control[0] + t**2 * p1[0]
        y = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * control[1] + t**2 * p1[1]
        result.append((x, y))
    return result


def _figure_eight() -> list[Point]:
    """An 8 drawn in one stroke from its top: a smaller upper loop crossing into a wider lower loop."""
    points = []
    for s in np.linspace(0.0, 2 * math.pi + 0.35, 72):
        v = 0.5 - 0.5 * math.cos(s)
        upper = v < 0.5
        y = 0.9 * v if upper else 0.45 + 1.1 * (v - 0.5)
        x = 0.5 + (0.36 if upper else 0.5) * math.sin(2 * s)
        points.append((x, y))
    return points


# Each shape: (width / height of the unit box, strokes). A person's pen order is kept: 4 and 5 need two strokes.
_SHAPES: dict[str, tuple[float, list[list[Point]]]] = {
    "0": (0.7, [_arc(0.5, 0.5, 0.5, 0.5, 265, -105)]),
    "1": (0.35, [[(0.1, 0.22), (0.7, 0.0), (0.7, 1.0)]]),
    "1-plain": (0.3, [[(0.65, 0.0), (0.35, 1.0)]]),
    "1-serif": (0.55, [[(0.15, 0.2), (0.55, 0.0), (0.55, 1.0)], [(0.05, 1.0), (1.0, 1.0)]]),
    "2": (
        0.75,
        [_arc(0.5, 0.27, 0.45, 0.27, 195, 370) + _curve((0.94, 0.32), (0.75, 0.65), (0.02, 1.0)) + [(1.0, 0.98)]],
    ),
    "3": (0.7, [_arc(0.48, 0.25, 0.42, 0.25, 200, 460) + _arc(0.5, 0.74, 0.48, 0.26, 265, 515)]),
    "4": (0.75, [[(0.12, 0.0), (0.05, 0.62), (1.0, 0.62)], [(0.78, 0.0), (0.78, 1.0)]]),
    "4-closed": (0.8, [[(0.7, 0.0), (0.0, 0.68), (1.0, 0.68)], [(0.7, 0.0), (0.7, 1.0)]]),
    "5": (0.7, [[(0.22, 0.0), (0.2, 0.46), *_arc(0.5, 0.7, 0.45, 0.3, 235, 500)], [(0.22, 0.0), (0.92, 0.0)]]),
    "6": (0.7, [_curve((0.8, 0.0), (0.1, 0.2), (0.05, 0.73)) + _arc(0.48, 0.73, 0.43, 0.27, 180, -170)]),
    "7": (0.7, [[(0.0, 0.02), (1.0, 0.0), (0.35, 1.0)]]),
    "7-crossbar": (0.7, [[(0.0, 0.02), (1.0, 0.0), (0.35, 1.0)], [(0.4, 0.52), (0.9, 0.5)]]),
    "8": (0.6, [_figure_eight()]),
    "9": (0.65, [[*_arc(0.45, 0.27, 0.42, 0.27, 340, -20), (0.8, 1.0)]]),
    "9-curved": (0.65, [_arc(0.45, 0.27, 0.42, 0.27, 340, -20) + _curve((0.845, 0.18), (0.95, 0.9), (0.35, 1.0))]),
}

# Each style: (centre x, centre y, height, width factor, slant). The slant leans the top to the right by that
# fraction of the height. The top-right placement sits low enough to stay clear of the toolbar band.
_STYLES: dict[str, tuple[float, float, float, float, float]] = {
    "normal": (140, 145, 190, 1.0, 0.0),
    "narrow": (140, 145, 200, 0.55, 0.0),
    "wide": (140, 150, 160, 1.35, 0.0),
    "small": (140, 150, 60, 1.0, 0.0),
    "slanted": (140, 145, 180, 1.0, 0.3),
    "top-left": (75, 80, 110, 1.0, 0.0),
    "top-right": (195, 105, 110, 1.0, 0.0),
    "bottom-left": (75, 200, 110, 1.0, 0.0),
    "bottom-right": (205, 200, 110, 1.0, 0.0),
}

# Extra shapes and the styles each is drawn in, beside every digit's main shape in every style.
_VARIANTS: dict[str, tuple[str, ...]] = {
    "1-plain": ("normal", "slanted", "small"),
    "1-serif": ("normal", "slanted", "top-right"),
    "4-closed": ("normal", "slanted", "small", "bottom-left"),
    "7-crossbar": ("normal", "slanted", "top-left"),
    "9-curved": ("normal", "slanted", "bottom-right"),
}


def _place(shape: str, style: str) -> Strokes:
    """Scale, lean and move a unit-box shape onto the canvas, rounding to a tenth of a pixel."""
    aspect, unit_strokes = _SHAPES[shape]
    cx, cy, height, width_factor, slant = _STYLES[style]
    width = height * aspect * width_factor
    return tuple(
        tuple(
            (
                round(cx + (u - 0.5) * width + slant * (0.5 - v) * height, 1),
                round(cy + (v - 0.5) * height, 1),
            )
            for u, v in stroke
        )
        for stroke in unit_strokes
    )


def _all_digits() -> list[DrawnDigit]:
    digits = []
    for label in range(10):
        for style in _STYLES:
            # A wide 1 is a horizontal bar, not a 1.
            if label == 1 and style == "wide":
                continue
            digits.append(DrawnDigit(label, style, _place(str(label), style)))
        for shape, styles in _VARIANTS.items():
            if shape.startswith(str(label)):
                variant = shape.split("-", 1)[1]
                digits.extend(DrawnDigit(label, f"{variant} {style}", _place(shape, style)) for style in styles)
    return digits


DIGITS: list[DrawnDigit] = _all_digits()


def translate(strokes: Strokes, dx: float, dy: float) -> Strokes:
    """The same strokes moved by (dx, dy) canvas pixels."""
    return tuple(tuple((x + dx, y + dy) for x, y in stroke) for stroke in strokes)


def _rgb(colour: str | Sequence[int]) -> tuple[int, int, int]:
    if isinstance(colour, str):
        return ImageColor.getrgb(colour)[:3]
    red, green, blue = colour[:3]
    return int(red), int(green), int(blue)


def render(
    strokes: Strokes,
    size: int = CANVAS_SIZE,
    stroke_width: float = 18,
    stroke_colour: str | Sequence[int] = (0, 0, 0),
    background: str | Sequence[int] | None = None,
    supersample: int = 4,
) -> np.ndarray:
    """Draw strokes the way the canvas's round pen does and return the canvas's image_data.

    Returns uint8 (size, size, 4). With `background=None` (the canvas's default, a transparent background)
    the background is (0, 0, 0, 0) and the ink lives in the alpha channel, as in the PNG the canvas sends.
    With a background colour every pixel is opaque and the stroke colour is blended over the background.
    The strokes are drawn `supersample` times larger and shrunk by averaging, which gives the soft edges a
    browser's anti-aliasing gives; integer translations therefore render identically.
    """
    big = size * supersample
    radius = stroke_width * supersample / 2
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    for stroke in strokes:
        points = [(x * supersample, y * supersample) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=255, width=round(stroke_width * supersample))
        # Discs at every point give the pen's round caps and joins.
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    alpha = np.asarray(mask.resize((size, size), Image.Resampling.BOX)).astype(np.float32) / 255.0  # (size, size)

    ink = np.array(_rgb(stroke_colour), dtype=np.float32)
    if background is None:
        rgb = np.where(alpha[:, :, np.newaxis] > 0, ink, np.float32(0.0))
        opacity = alpha
    else:
        paper = np.array(_rgb(background), dtype=np.float32)
        rgb = paper * (1.0 - alpha[:, :, np.newaxis]) + ink * alpha[:, :, np.newaxis]
        opacity = np.ones_like(alpha)
    rgba = np.concatenate([rgb, 255.0 * opacity[:, :, np.newaxis]], axis=2)  # (size, size, 4)
    return np.rint(rgba).astype(np.uint8)


def contact_sheet(
    digits: Sequence[DrawnDigit],
    preprocess: Callable[[np.ndarray], np.ndarray | None],
    zoom: int = 3,
    columns: int = 12,
) -> Image.Image:
    """Tile every digit, preprocessed to 28x28 and enlarged, into one image: a row of tiles per label."""
    tile = 28 * zoom + 4
    by_label = [[d for d in digits if d.label == label] for label in range(10)]
    rows_per_label = [max(1, math.ceil(len(group) / columns)) for group in by_label]
    sheet = Image.new("L", (columns * tile, sum(rows_per_label) * tile), 40)
    row = 0
    for group, rows in zip(by_label, rows_per_label, strict=True):
        for index, digit in enumerate(group):
            image = preprocess(render(digit.strokes))
            if image is None:
                continue
            small = Image.fromarray(np.rint(image * 255).astype(np.uint8)).resize(
                (28 * zoom, 28 * zoom), Image.Resampling.NEAREST
            )
            sheet.paste(small, ((index % columns) * tile + 2, (row + index // columns) * tile + 2))
        row += rows
    return sheet


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from mnist_models.drawing import to_mnist

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/drawn_digits.png")
    contact_sheet(DIGITS, to_mnist).save(target)
    print(f"{len(DIGITS)} digits written to {target}")
