"""The Lab's sample digits as one block of HTML: each digit a small PNG inside the page, drawn large with crisp
pixels above its label, so the first page shows them with no request per image and without plotly.js."""

from __future__ import annotations

import base64
import functools
import io

import numpy as np
from PIL import Image

from mnist_models.glance import glance

COLUMNS = 6
MAX_TILE_PX = 90  # as large as the Plotly grid's tiles were; smaller when the column is narrow


def png_data_url(image: np.ndarray) -> str:
    """A (28, 28) uint8 image as a PNG `data:` URL (a few hundred bytes: the page carries it, no request)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@functools.cache
def samples_html(count: int) -> str:
    """The first `count` training digits in rows of COLUMNS, each with "label N" under it (built once a process)."""
    sample = glance(count)
    # `image-rendering: pixelated` scales the 28x28 pixels up as squares, as the heatmaps showed them.
    tiles = "".join(
        f'<figure style="margin:0;text-align:center">'
        f'<img src="{png_data_url(image)}" alt="a handwritten {label}" '
        f'style="width:100%;max-width:{MAX_TILE_PX}px;aspect-ratio:1;image-rendering:pixelated">'
        f'<figcaption style="font-size:0.85rem">label {label}</figcaption></figure>'
        for image, label in zip(sample.images, sample.labels.tolist(), strict=True))
    return (f'<div style="display:grid;grid-template-columns:repeat({COLUMNS},minmax(0,1fr));gap:0.5rem;'
            f'max-width:{COLUMNS * (MAX_TILE_PX + 8)}px;margin-bottom:1rem">{tiles}</div>')
