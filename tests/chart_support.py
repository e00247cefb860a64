"""Reading what a page shows in its charts and pictures from an AppTest: the figure of a live chart (a Components v2
element, dashboard/live_chart.py) and the PNGs inside the HTML pictures (dashboard/pictures.py), decoded."""

from __future__ import annotations

import base64
import html
import io
import json
import re

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

_IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)"')
_HEADING = re.compile(r'<p style="font-weight:600[^"]*">([^<]*)</p>')


def live_figures(at: AppTest) -> dict[str, dict]:
    """Every live chart on the page: its widget key -> its Plotly figure (data and layout)."""
    found = {}
    for element in at.get("bidi_component"):
        if element.proto.component_name.endswith("mnist_live_chart"):
            key = element.proto.id.rsplit("-", 1)[-1]
            found[key] = json.loads(json.loads(element.proto.json)["figure"])
    return found


def live_figure(at: AppTest, key: str) -> dict:
    figures = live_figures(at)
    assert key in figures, f"no live chart {key!r}; the page has {sorted(figures)}"
    return figures[key]


def pictures(at: AppTest) -> list[tuple[str, np.ndarray]]:
    """Every PNG inside the page's HTML, in order: (its alt text, its pixels as (h, w) or (h, w, 3) uint8)."""
    found = []
    for element in at.get("html"):
        for data, alt in _IMAGE.findall(element.proto.body):
            found.append((html.unescape(alt), np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))))
    return found


def titles(at: AppTest) -> list[str]:
    """The title of every chart and picture on the page: live charts' titles, pictures' headings and alt texts."""
    found = [(figure["layout"].get("title") or {}).get("text", "") for figure in live_figures(at).values()]
    for element in at.get("html"):
        found.extend(html.unescape(text) for text in _HEADING.findall(element.proto.body))
    found.extend(alt for alt, _ in pictures(at))
    return found
