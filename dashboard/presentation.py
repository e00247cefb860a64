"""Presentation mode for a classroom projector: larger text, thicker chart lines, controls folded away.

It is on when the sidebar toggle is on, and `?present=1` in the address turns it on (a teacher's bookmark).
"""

from __future__ import annotations

import streamlit as st

KEY = "present"
ON_VALUES = ("1", "true", "yes", "on")

# Larger text everywhere, the sidebar narrower; Streamlit's theme has no size setting per session, so a small
# style block does it (the selectors are Streamlit's stable data-testid names).
PROJECTOR_CSS = """
<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.4rem; line-height: 1.5; }
[data-testid="stMain"] button p, [data-testid="stMain"] summary p { font-size: 1.25rem; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * { font-size: 2.8rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.2rem !important; }
[data-testid="stMain"] h1 { font-size: 3rem !important; }
[data-testid="stMain"] h2 { font-size: 2.3rem !important; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding-left: 2rem; padding-right: 2rem; }
</style>
"""


def presenting() -> bool:
    """Whether this browser tab is in presentation mode."""
    return bool(st.session_state.get(KEY, False))


def presentation_ui() -> bool:
    """The sidebar toggle, kept in step with `?present=` in the address; returns whether it is on. Called by the
    entry script on every run, before any page draws."""
    wanted = st.query_params.get(KEY)
    if wanted is not None and wanted != st.session_state.get("_present_param"):
        # A link or a bookmark with ?present=...: it decides, once; afterwards the toggle does.
        st.session_state[KEY] = wanted.strip().lower() in ON_VALUES
    st.session_state["_present_param"] = wanted
    st.session_state[KEY] = st.session_state.get(KEY, False)  # survives pages that do not draw the toggle
    on = st.sidebar.toggle("Presentation mode", key=KEY,
                           help="For a projector: larger text and charts, thicker lines, the settings folded away. "
                                "Add ?present=1 to the address to open the dashboard this way.")
    if on:
        st.html(PROJECTOR_CSS)
    if on and st.query_params.get(KEY) != "1":
        st.query_params[KEY] = "1"
        st.session_state["_present_param"] = "1"
    elif not on and KEY in st.query_params:
        del st.query_params[KEY]
        st.session_state["_present_param"] = None
    return on
