"""Plotly figures of a sweep and of runs side by side: small multiples of each training's curves coloured by its
swept value, the summary of a measure against a setting (a mean with a band over seeds, or a heatmap for two
settings), and parallel coordinates drawn as ordinary lines so that a click picks a run; pure functions, tested
without Streamlit."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from dashboard.charts import Curves, _series
from dashboard.safe_text import plotly_text

# Viridis runs from dark purple to yellow; its last fifth is too pale on white, so colours stop short of it.
COLOUR_SCALE = "Viridis"
COLOUR_RANGE = (0.0, 0.8)
MAX_PER_ROW = 4
SMALL_CHART_HEIGHT = 200  # each small chart's share of the figure's height, in pixels, with two title lines
TITLE_LINE_HEIGHT = 17  # pixels, at FONT_SIZE
FONT_SIZE = 13
FADED = 0.4  # the opacity of the lines not picked in the parallel coordinates


def format_value(value: object) -> str:
    """A swept value as a learner reads it: 0.001, 1e-05, 128, 0.25, relu."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1000 and float(value).is_integer():
        return f"{int(value):,}"  # 55,000 training images, not 5.5e+04
    return f"{value:g}"


def _numeric(values: Sequence[object]) -> bool:
    return all(isinstance(value, int | float) and not isinstance(value, bool) for value in values)


def value_colours(values: Sequence[object], log: bool = False) -> dict[object, str]:
    """A colour for each distinct value, from dark (smallest) to light (largest) along a sequential scale; log
    places the values by their logarithm (a learning rate's 0.0001, 0.001, 0.01 spread evenly). Values that are
    not numbers keep the order given."""
    distinct = list(dict.fromkeys(values))
    if not distinct:
        return {}
    if _numeric(distinct):
        if log and min(distinct) <= 0:
            raise ValueError("A log scale needs values above zero.")
        distinct.sort()
        places = [math.log10(value) if log else float(value) for value in distinct]
    else:
        places = [float(index) for index in range(len(distinct))]
    low, high = min(places), max(places)
    start, stop = COLOUR_RANGE
    fractions = [start + (stop - start) * ((place - low) / (high - low) if high > low else 0.5) for place in places]
    return dict(zip(distinct, sample_colorscale(COLOUR_SCALE, fractions), strict=True))


@dataclass(frozen=True)
class Panel:
    """One training of a sweep as its small chart shows it."""

    title: str  # its values and seed, e.g. "learning rate 0.001 · seed 0"
    status: str  # waiting, training, done, stopped, failed
    colour: str
    curves: Curves


def grid_columns(count: int) -> int:
    """Small charts per row: three while that keeps at most three rows, four beyond (twelve in three rows)."""
    return max(1, min(count, 3 if count <= 9 else MAX_PER_ROW))


def _title_lines(panels: Sequence[Panel]) -> int:
    return max(panel.title.count("\n") + 2 for panel in panels)  # the values' lines, then the status


def _row_height(panels: Sequence[Panel]) -> int:
    return SMALL_CHART_HEIGHT + TITLE_LINE_HEIGHT * (_title_lines(panels) - 2)


def small_multiples_height(panels: Sequence[Panel], columns: int | None = None) -> int:
    """The height in pixels of these trainings' small multiples."""
    rows = math.ceil(len(panels) / (columns or grid_columns(len(panels))))
    return max(300, rows * _row_height(panels) + 70)


def small_multiples_figure(panels: Sequence[Panel], metric: str = "accuracy", epochs: float | None = None,
                           columns: int | None = None) -> go.Figure:
    """Each training's train (dashed) and test (solid) curves on its own small chart, in its value's colour, titled
    with its values (a line each: a panel's title may hold line breaks) and status; all charts share their axes'
    ranges so that they compare at a glance. `epochs`, the trainings' planned epochs, fixes the epoch axis from the
    start; `columns` sets the charts per row (a two-setting grid's second setting), else `grid_columns`."""
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', not {metric!r}")
    if not panels:
        raise ValueError("A sweep needs at least one training to draw.")
    columns = columns or grid_columns(len(panels))
    rows = math.ceil(len(panels) / columns)
    height = small_multiples_height(panels, columns)
    titles = ["<br>".join(plotly_text(line) for line in (*panel.title.split("\n"), panel.status)) for panel in panels]
    # Room between rows for the next row's titles, in the figure's share of height that Plotly asks for.
    spacing = min(0.9 / max(1, rows - 1), (TITLE_LINE_HEIGHT * _title_lines(panels) + 30) / height)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, shared_xaxes="all", shared_yaxes="all",
                           horizontal_spacing=0.04, vertical_spacing=spacing if rows > 1 else 0.0)
    hover = "epoch %{x:.2f}: %{y:.2%}" if metric == "accuracy" else "epoch %{x:.2f}: %{y:.4f}"
    tested, everything, last_epoch = [], [], 1.0
    for index, panel in enumerate(panels):
        row, column = divmod(index, columns)
        for split, dash, width in (("train", "dash", 1.5), ("test", "solid", 3)):
            x, y = _series(panel.curves.get(split, ()), metric)
            everything.extend(y)
            tested.extend(y if split == "test" else [])
            last_epoch = max([last_epoch, *x])
            figure.add_trace(go.Scatter(
                x=x, y=y, name=split, mode="lines+markers" if split == "test" else "lines", showlegend=False,
                line={"color": panel.colour, "dash": dash, "width": width}, marker={"size": 6},
                hovertemplate=f"{split} {hover}<extra></extra>"), row=row + 1, col=column + 1)
    for annotation, panel in zip(figure.layout.annotations, panels, strict=True):
        annotation.font = {"size": FONT_SIZE, "color": panel.colour}
    if metric == "accuracy":
        # Zoomed onto the test curves once they are past chance, as the large charts are.
        low = max(0.0, min(tested) - 0.03) if tested and min(tested) > 0.5 else 0.0
        figure.update_yaxes(tickformat=".0%", range=[low, 1.005])
    elif everything:
        figure.update_yaxes(range=[0, min(max(everything), sorted(everything)[len(everything) // 2] * 4 + 0.05)])
    figure.update_xaxes(range=[0, max(last_epoch, epochs or 0) * 1.02])
    figure.update_layout(height=height, font={"size": FONT_SIZE},
                         margin={"l": 10, "r": 10, "t": 60, "b": 10}, hovermode="closest",
                         uirevision="small multiples")
    return figure


def _percent_hover(percent: bool) -> str:
    return "%{y:.2%}" if percent else "%{y:.2f}"


def summary_figure(points: Sequence, field: str, label: str, measure: str, *, values: Sequence = (),
                   log: bool = False, percent: bool = True, height: int = 380) -> go.Figure:
    """A measure against one setting: each value's mean over its seeds as a line with markers, and the band from
    the lowest to the highest seed around it (none for a single seed). `points` carry .values[field], .mean,
    .low, .high and .count (the sweep engine's SummaryPoint); those without a result yet are left out. `values`,
    every value swept, fix the axis from the start, so that results fill it in rather than stretch it."""
    kept = sorted((point for point in points if point.mean is not None and point.count),
                  key=lambda point: _order(point.values[field]))
    every = sorted({*values, *(point.values[field] for point in kept)}, key=_order)
    numeric = _numeric(every)
    x = [point.values[field] if numeric else format_value(point.values[field]) for point in kept]
    figure = go.Figure()
    if any(point.count > 1 for point in kept):
        figure.add_trace(go.Scatter(x=x, y=[point.high for point in kept], mode="lines", line={"width": 0},
                                    showlegend=False, hoverinfo="skip"))
        figure.add_trace(go.Scatter(x=x, y=[point.low for point in kept], mode="lines", line={"width": 0},
                                    fill="tonexty", fillcolor="rgba(0, 114, 178, 0.2)", name="range over seeds",
                                    hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=x, y=[point.mean for point in kept], mode="lines+markers", name="mean over seeds",
        line={"color": "#0072B2", "width": 3}, marker={"size": 10},
        customdata=[[point.count, point.low, point.high] for point in kept],
        hovertemplate=f"{plotly_text(label)} %{{x}}: {_percent_hover(percent)} (%{{customdata[0]}} seed(s))"
                      "<extra></extra>"))
    if not kept:
        _no_results_yet(figure)
    if numeric and every:
        places = [math.log10(value) if log else value for value in every if not log or value > 0]
        pad = (max(places) - min(places)) * 0.08 or (0.5 if log else abs(places[0]) * 0.1 or 0.1)
        figure.update_xaxes(type="log" if log else "linear", range=[min(places) - pad, max(places) + pad],
                            tickvals=every, ticktext=[format_value(value) for value in every])
    elif every:
        figure.update_xaxes(type="category", categoryorder="array",
                            categoryarray=[format_value(value) for value in every])
    figure.update_xaxes(title=plotly_text(label))
    figure.update_yaxes(tickformat=".1%" if percent else None, range=_measure_range(kept))
    figure.update_layout(title={"text": plotly_text(measure)}, height=height, font={"size": FONT_SIZE + 2},
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, hovermode="closest",
                         legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0})
    return figure


def _measure_range(points: Sequence) -> list[float] | None:
    """The measure's axis: the results with a little room (Plotly's own range for one point spans 0 to 150%)."""
    if not points:
        return None
    low, high = min(point.low for point in points), max(point.high for point in points)
    room = max((high - low) * 0.15, 0.01)
    return [low - room, high + room]


def _no_results_yet(figure: go.Figure) -> None:
    figure.add_annotation(text="Results appear here as the trainings finish their first epoch.", showarrow=False,
                          xref="paper", yref="paper", x=0.5, y=0.5, font={"size": FONT_SIZE + 1, "color": "#555"})


def _order(value: object) -> tuple:
    return (0, value, "") if _numeric([value]) else (1, 0, str(value))


def heatmap_figure(points: Sequence, fields: tuple[str, str], labels: tuple[str, str], measure: str, *,
                   values: tuple[Sequence, Sequence] = ((), ()), percent: bool = True, height: int = 420,
                   ) -> go.Figure:
    """A measure for every pair of values of two settings: one cell per pair, the mean over its seeds written in
    it; a cell stays empty until one of its trainings has a result (`values`, every value swept of each setting,
    lay out the whole grid from the start). Values are equally spaced, as they are swept (a log-spaced rate's
    values are evenly spaced too)."""
    x_field, y_field = fields
    x_values = sorted({*values[0], *(point.values[x_field] for point in points)}, key=_order)
    y_values = sorted({*values[1], *(point.values[y_field] for point in points)}, key=_order)
    cells = {(point.values[x_field], point.values[y_field]): point for point in points}
    z, text = [], []
    for y_value in y_values:
        row_z, row_text = [], []
        for x_value in x_values:
            point = cells.get((x_value, y_value))
            mean = point.mean if point is not None and point.count else None
            row_z.append(mean)
            row_text.append("" if mean is None else (f"{mean:.2%}" if percent else f"{mean:.2f}"))
        z.append(row_z)
        text.append(row_text)
    scale = _measure_range([point for point in points if point.count])  # one cell alone: not 40% to 120%
    figure = go.Figure(go.Heatmap(
        z=z, x=[format_value(value) for value in x_values], y=[format_value(value) for value in y_values],
        text=text, texttemplate="%{text}", colorscale=COLOUR_SCALE, hoverongaps=False,
        colorbar={"tickformat": ".1%" if percent else None, "thickness": 15},
        zmin=scale[0] if scale else None, zmax=scale[1] if scale else None,
        hovertemplate=f"{plotly_text(labels[0])} %{{x}}, {plotly_text(labels[1])} %{{y}}: %{{text}}<extra></extra>"))
    if not any(point.count for point in points):
        _no_results_yet(figure)
    # The whole grid's labels, even while no cell has a value yet (Plotly would leave empty axes unlabelled).
    axes = ((figure.update_xaxes, labels[0], x_values), (figure.update_yaxes, labels[1], y_values))
    for update, label, shown in axes:
        names = [format_value(value) for value in shown]
        update(title=plotly_text(label), type="category", categoryorder="array", categoryarray=names,
               range=[-0.5, len(names) - 0.5])
    figure.update_layout(title={"text": plotly_text(measure)}, height=height, font={"size": FONT_SIZE + 2},
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return figure


@dataclass(frozen=True)
class ParallelAxis:
    """One vertical axis of the parallel coordinates: a setting or a result of each run."""

    key: str
    label: str
    log: bool = False
    percent: bool = False
    decimals: int | None = None  # a fixed number of decimals (a gap in points); None writes the value as given

    def text(self, value: float | None) -> str:
        if value is None:
            return "–"
        if self.percent:
            return f"{value:.2%}"
        return format_value(value) if self.decimals is None else f"{value:.{self.decimals}f}"


def _place(axis: ParallelAxis, value: object) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    if axis.log:
        return math.log10(value) if value > 0 else None
    return float(value)


def axis_ranges(rows: Sequence[Mapping], axes: Sequence[ParallelAxis]) -> dict[str, tuple[float, float] | None]:
    """Each axis's lowest and highest value among the runs (log10 of them on a log axis); None when no run has one."""
    ranges = {}
    for axis in axes:
        places = [place for row in rows if (place := _place(axis, row.get(axis.key))) is not None]
        ranges[axis.key] = (min(places), max(places)) if places else None
    return ranges


def normalised(axis: ParallelAxis, value: object, span: tuple[float, float] | None) -> float | None:
    """Where a value sits on its axis, from 0 (the lowest of the runs) to 1 (the highest); 0.5 when all agree."""
    place = _place(axis, value)
    if place is None or span is None:
        return None
    low, high = span
    return 0.5 if high == low else (place - low) / (high - low)


def parallel_figure(rows: Sequence[Mapping], axes: Sequence[ParallelAxis], *, picked: str | None = None,
                    colour_by: str | None = None, height: int = 440) -> go.Figure:
    """Parallel coordinates: one line per run (rows carry "run_id", "label" and a value per axis key) across one
    vertical axis per setting or result, each axis scaled from its lowest to its highest value among the runs.

    They are drawn as ordinary line traces with a marker on every axis, not as Plotly's parcoords trace, which
    reports no clicks: here a click on a line's marker selects it, and the marker's customdata is the run id.
    Lines are coloured by `colour_by` (an axis key, dark for low); the `picked` run's line is bold, the others
    faded."""
    if not axes:
        raise ValueError("Parallel coordinates need at least one axis.")
    ranges = axis_ranges(rows, axes)
    colour_axis = next((axis for axis in axes if axis.key == colour_by), None)
    colours = value_colours([row.get(colour_by) for row in rows if _place(colour_axis, row.get(colour_by))
                             is not None], log=colour_axis.log) if colour_axis else {}
    figure = go.Figure()
    positions = list(range(len(axes)))
    for row in rows:
        run_id = row["run_id"]
        colour = colours.get(row.get(colour_by), "#999999")
        bold = picked == run_id
        texts = [f"{axis.label}: {axis.text(row.get(axis.key))}" for axis in axes]
        figure.add_trace(go.Scatter(
            x=positions, y=[normalised(axis, row.get(axis.key), ranges[axis.key]) for axis in axes],
            mode="lines+markers", name=plotly_text(row.get("label", run_id)), showlegend=False,
            customdata=[run_id] * len(axes), text=[plotly_text(text) for text in texts],
            line={"color": colour, "width": 6 if bold else 2.5}, marker={"size": 12 if bold else 9, "color": colour},
            opacity=1.0 if picked is None or bold else FADED, connectgaps=False,
            hovertemplate=f"<b>{plotly_text(row.get('label', run_id))}</b><br>%{{text}}<extra></extra>"))
    for position, axis in zip(positions, axes, strict=True):
        figure.add_shape(type="line", x0=position, x1=position, y0=0, y1=1, line={"color": "#555", "width": 1},
                         layer="below")
        ends = _axis_ends(axis, [row.get(axis.key) for row in rows])
        for y, text, anchor in ((1.0, ends[1], "bottom"), (0.0, ends[0], "top")):
            figure.add_annotation(x=position, y=y, text=plotly_text(text), showarrow=False, yanchor=anchor,
                                  font={"size": FONT_SIZE - 1, "color": "#333"}, yshift=4 if anchor == "bottom" else -4)
    figure.update_xaxes(tickvals=positions, ticktext=[plotly_text(axis.label) for axis in axes], side="top",
                        range=[-0.4, len(axes) - 0.6], showgrid=False, zeroline=False,
                        tickfont={"size": FONT_SIZE + 1, "color": "#222"})
    figure.update_yaxes(visible=False, range=[-0.12, 1.12], fixedrange=True)
    figure.update_layout(height=height, font={"size": FONT_SIZE}, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                         hovermode="closest", clickmode="event+select", dragmode=False, showlegend=False)
    return figure


def _axis_ends(axis: ParallelAxis, values: Sequence[object]) -> tuple[str, str]:
    """The lowest and highest value on an axis, as its bottom and top labels."""
    kept = [value for value in values if _place(axis, value) is not None]
    return (axis.text(min(kept)), axis.text(max(kept))) if kept else ("–", "–")
