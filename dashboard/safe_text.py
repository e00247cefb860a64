"""User-given text (run names, stored errors, a link's values) made to show as typed: in Streamlit's Markdown, in a
code span, and in Plotly's labels; pure functions, no Streamlit."""

from __future__ import annotations

import html
import re

# Bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) are invisible, and one in a run name would
# reverse the rest of the sentence around it (the "Trojan source" trick). They are dropped; the characters typed
# stay, in the order they were typed. Marks (U+200E, U+200F) only act as one letter and are kept.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Every ASCII character with a meaning in Streamlit's Markdown (CommonMark, GFM tables and strikethrough, math,
# entities, setext headings), backslash-escaped; ':' and '@' are handled by the word joiner below.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&=])")
# Streamlit's Markdown makes links of http://..., www.... and name@host.tld, emoji and icons of :shortcodes:, and
# arrows of -> and <=, in a pass over the text after backslash escapes are read: no escape stops them. An invisible
# word joiner (U+2060) does: it goes after every ':' and '@', inside 'www.', and between the characters of an arrow.
WORD_JOINER = "\u2060"
_JOINED = re.compile(r"(?<=[:@])|(?<=www)(?=\.)|(?<=[-<>~])(?=[-<>=])", re.IGNORECASE)


def plain(text: object) -> str:
    """Text to put inside Markdown (a caption, a warning, a label, a tooltip): shown as typed, never as a link, an
    image, an icon or formatting."""
    joined = _JOINED.sub(WORD_JOINER, _BIDI_CONTROLS.sub("", str(text)))
    return _MARKDOWN.sub(r"\\\1", joined)


def code(text: object) -> str:
    """Text as a Markdown code span (a folder, a run id): fenced with more backticks than it holds, so a backtick
    in it cannot end the span; nothing inside a code span is a link or formatting."""
    value = _BIDI_CONTROLS.sub("", str(text)).replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall("`+", value)), default=0) + 1)
    return f"{fence} {value} {fence}"


def plotly_text(text: object) -> str:
    """Text for a Plotly trace name, title, axis or hover label. Plotly reads tags there (`<a href>` a link to
    anywhere, `<b>`, `<br>`, `<span style>`); escaped as entities (`&lt;`) they show as the characters typed."""
    return html.escape(_BIDI_CONTROLS.sub("", str(text)), quote=False)
