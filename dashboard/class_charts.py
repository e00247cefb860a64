"""Plotly figures of the class's guesses for a Lab step: the guessed accuracies against what the class measured,
and how many chose each answer; pure functions, testable without Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboard.charts import BEST_COLOUR, COMPARE_COLOURS, FONT_SIZE, TEST_COLOUR
from dashboard.safe_text import plotly_text

GUESS_COLOUR = COMPARE_COLOURS[2]
MEDIAN_COLOUR = TEST_COLOUR
BIN_POINTS = 0.5  # the histogram's bins, in percentage points
PROJECTOR_SCALE = 1.6  # as charts.projector_style: text and lines this much larger on a classroom projector


def _layout(figure: go.Figure, title: str, x_title: str, height: int, projector: bool) -> go.Figure:
    """The dashboard's look; for a projector (`projector`) the text is larger and the result lines thicker."""
    scale = PROJECTOR_SCALE if projector else 1.0
    for shape in figure.layout.shapes:
        shape.line.width = (shape.line.width or 1) * scale
    for annotation in figure.layout.annotations:
        annotation.font.size = round(FONT_SIZE * scale)
    figure.update_layout(
        title={"text": plotly_text(title), "font": {"size": round((FONT_SIZE + 6) * scale)}},
        font={"size": round(FONT_SIZE * scale)},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        xaxis_title=x_title,
        yaxis={"title": "learners", "rangemode": "tozero", "dtick": 1},
        showlegend=False,
        bargap=0.05,
    )
    return figure


def guess_histogram(accuracies: Sequence[float], best: float | None = None, median: float | None = None,
                    title: str = "Guessed test accuracy", height: int = 380, projector: bool = False) -> go.Figure:
    """A histogram of the guessed test accuracies (0..1, shown in %), with the class's best and median results as
    vertical lines when there are any."""
    figure = go.Figure(go.Histogram(
        x=[100.0 * value for value in accuracies], name="guesses", marker={"color": GUESS_COLOUR},
        xbins={"size": BIN_POINTS}, hovertemplate="%{x}%: %{y} guesses<extra></extra>"))
    for value, label, colour, position in ((best, "best result", BEST_COLOUR, "top right"),
                                           (median, "median result", MEDIAN_COLOUR, "top left")):
        if value is not None:
            figure.add_vline(x=100.0 * value, line={"color": colour, "width": 3, "dash": "dash"},
                             annotation={"text": f"{label}: {value:.2%}", "font": {"color": colour}},
                             annotation_position=position)
    return _layout(figure, title, "test accuracy (%)", height, projector)


def choice_bars(choices: Sequence[tuple[str, int]], title: str = "Answers chosen", height: int = 380,
                projector: bool = False) -> go.Figure:
    """A bar per answer, as long as the number of learners who chose it (the answers are the learners' own text,
    escaped so that Plotly shows them as typed)."""
    labels = [plotly_text(answer) for answer, _ in choices]
    figure = go.Figure(go.Bar(x=[count for _, count in choices], y=labels, orientation="h",
                              marker={"color": GUESS_COLOUR}, hovertemplate="%{y}: %{x}<extra></extra>"))
    _layout(figure, title, "learners", height, projector)
    figure.update_layout(yaxis={"title": None, "autorange": "reversed", "dtick": None},
                         xaxis={"rangemode": "tozero", "dtick": 1})
    return figure
