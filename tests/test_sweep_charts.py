"""The sweep's figures from known curves: one small chart per training in its value's colour, the summary's mean
and band over seeds, the heatmap's cells, and the parallel coordinates' axes, values and picked line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from plotly.colors import sample_colorscale

from dashboard import runs_parallel
from dashboard.runs_parallel import RESULT_AXES, chosen_axes, run_row, shared_settings
from dashboard.sweep_charts import (
    COLOUR_RANGE,
    COLOUR_SCALE,
    Panel,
    ParallelAxis,
    grid_columns,
    heatmap_figure,
    normalised,
    parallel_figure,
    small_multiples_figure,
    summary_figure,
    value_colours,
)
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.progress import COMPLETED, QUEUED, RUNNING, CurvePoint, Progress
from mnist_models.store.run_info import RunInfo
from mnist_models.store.sweeps import SweepRecord
from mnist_models.sweep import summarise


def progress(run_id: str, test: list[float], train: list[float] | None = None, status: str = COMPLETED,
             validation: list[float] = ()) -> Progress:
    """A finished (or running) training whose test accuracy after epoch i is test[i-1], train likewise."""
    train = train if train is not None else [value + 0.01 for value in test]

    def points(values):
        return tuple(CurvePoint(epoch=float(index), step=index * 100, loss=1 - value, accuracy=value)
                     for index, value in enumerate(values, start=1))

    return Progress(run_id=run_id, status=status, epoch=len(test), epochs=2, batch=0, batches_per_epoch=100,
                    step=len(test) * 100, elapsed_seconds=1.0, eta_seconds=None, learning_rate=0.001, device="CPU",
                    train=points(train), validation=points(validation), test=points(test),
                    test_accuracy=test[-1] if test else None)


def record(axes: dict, points: list[dict], seeds=(0,)) -> SweepRecord:
    run_ids = [f"20260101-000000-sweep-{index:06x}" for index in range(len(points))]
    return SweepRecord(id="20260101-000000-abcdef", name="Test sweep", created=0.0, axes=axes, points=points,
                       run_ids=run_ids, owner="learner", seeds=tuple(seeds))


def test_colours_follow_the_values_order_on_a_log_scale():
    colours = value_colours([0.01, 0.0001, 0.001], log=True)
    low, high = COLOUR_RANGE
    # Sorted by value, and a log scale puts 0.001 exactly half-way between 0.0001 and 0.01.
    assert list(colours) == [0.0001, 0.001, 0.01]
    assert list(colours.values()) == sample_colorscale(COLOUR_SCALE, [low, (low + high) / 2, high])
    linear = value_colours([0.01, 0.0001, 0.001])
    assert linear[0.001] != colours[0.001]  # on a linear scale 0.001 sits near 0.0001
    assert value_colours([5]) == {5: sample_colorscale(COLOUR_SCALE, [(low + high) / 2])[0]}
    with pytest.raises(ValueError, match="above zero"):
        value_colours([0.0, 1.0], log=True)


@pytest.mark.parametrize(("count", "columns"), [(1, 1), (3, 3), (6, 3), (9, 3), (10, 4), (12, 4)])
def test_up_to_twelve_small_charts_fit_three_rows(count, columns):
    assert grid_columns(count) == columns
    assert math.ceil(count / columns) <= 3


def test_small_multiples_draw_each_training_on_its_own_chart_in_its_colour():
    colours = value_colours([0.0001, 0.001, 0.01], log=True)
    runs = [progress("a", [0.90, 0.93]), progress("b", [0.95, 0.97], status=RUNNING), progress("c", [], train=[])]
    panels = [Panel(f"learning rate {value:g}", status, colours[value], item.curves())
              for value, status, item in zip(colours, ("done", "training 50%", "waiting"), runs, strict=True)]
    figure = small_multiples_figure(panels)
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["learning rate 0.0001<br>done", "learning rate 0.001<br>training 50%",
                      "learning rate 0.01<br>waiting"]
    assert [annotation.font.color for annotation in figure.layout.annotations] == list(colours.values())
    assert len(figure.data) == 6  # a train and a test line per training
    for index, (panel, run) in enumerate(zip(panels, runs, strict=True)):
        train, test = figure.data[2 * index], figure.data[2 * index + 1]
        axis = "x" if index == 0 else f"x{index + 1}"
        assert train.xaxis == test.xaxis == axis  # its own small chart
        assert (train.line.dash, test.line.dash) == ("dash", "solid")
        assert train.line.color == test.line.color == panel.colour
        assert list(test.y) == [point.accuracy for point in run.test]
    with pytest.raises(ValueError, match="at least one"):
        small_multiples_figure([])
    with pytest.raises(ValueError, match="metric"):
        small_multiples_figure(panels, metric="speed")


def test_the_summary_shows_each_value_s_mean_over_seeds_with_their_range():
    points = [{"learning_rate": rate, "seed": seed} for rate in (0.001, 0.01) for seed in (0, 1)]
    sweep = record({"learning_rate": (0.001, 0.01)}, points, seeds=(0, 1))
    results = {run_id: progress(run_id, [0.5, accuracy]) for run_id, accuracy
               in zip(sweep.run_ids, (0.90, 0.94, 0.97, 0.95), strict=True)}
    summary = summarise(sweep, results, "val_final")
    figure = summary_figure(summary, "learning_rate", "Learning rate", "Final test accuracy", log=True)
    high, low, mean = figure.data
    assert list(mean.x) == [0.001, 0.01]
    assert list(mean.y) == pytest.approx([0.92, 0.96])
    assert list(high.y) == pytest.approx([0.94, 0.97])
    assert list(low.y) == pytest.approx([0.90, 0.95])
    assert low.fill == "tonexty"
    assert figure.layout.xaxis.type == "log"
    assert list(figure.layout.xaxis.ticktext) == ["0.001", "0.01"]


def test_a_summary_of_one_seed_has_no_band_and_waits_for_results():
    sweep = record({"dropout_rate": (0.0, 0.5)}, [{"dropout_rate": 0.0, "seed": 0}, {"dropout_rate": 0.5, "seed": 0}])
    results = {sweep.run_ids[0]: progress(sweep.run_ids[0], [0.91, 0.96, 0.95])}
    best = summarise(sweep, results, "val_best")
    figure = summary_figure(best, "dropout_rate", "Dropout rate", "Best test accuracy", values=(0.0, 0.5))
    [mean] = figure.data
    assert list(mean.x) == [0.0] and list(mean.y) == [0.96]  # the best epoch, not the last
    # Every swept value has its place on the axis from the start; results fill it in.
    assert figure.layout.xaxis.type == "linear"
    assert list(figure.layout.xaxis.ticktext) == ["0", "0.5"]
    assert figure.layout.xaxis.range[0] < 0.0 and figure.layout.xaxis.range[1] > 0.5
    empty = summary_figure(summarise(sweep, {}, "val_best"), "dropout_rate", "Dropout rate", "Best")
    assert "Results appear" in empty.layout.annotations[0].text


def test_the_heatmap_has_a_cell_per_pair_of_values():
    points = [{"learning_rate": rate, "batch_size": size, "seed": 0} for rate in (0.001, 0.01) for size in (32, 128)]
    sweep = record({"learning_rate": (0.001, 0.01), "batch_size": (32, 128)}, points)
    accuracies = (0.95, 0.93, 0.97)  # the last pair has not finished a single epoch yet
    results = {run_id: progress(run_id, [accuracy]) for run_id, accuracy
               in zip(sweep.run_ids[:3], accuracies, strict=True)}
    figure = heatmap_figure(summarise(sweep, results, "val_best"), ("learning_rate", "batch_size"),
                            ("Learning rate", "Batch size"), "Best test accuracy")
    [heatmap] = figure.data
    assert list(heatmap.x) == ["0.001", "0.01"]
    assert list(heatmap.y) == ["32", "128"]
    # Rows are batch sizes, columns learning rates.
    assert [list(row) for row in heatmap.z] == [[0.95, 0.97], [0.93, None]]
    assert [list(row) for row in heatmap.text] == [["95.00%", "97.00%"], ["93.00%", ""]]


def _info(run_id: str, name: str, accuracy: float | None, params: int = 7850) -> RunInfo:
    return RunInfo(run_id=run_id, name=name, preset=None, status=COMPLETED if accuracy else QUEUED, created=0.0,
                   finished=None, device="CPU", params=params, epochs=2, epochs_completed=2, seconds=1.0,
                   test_accuracy=accuracy, test_loss=None, error=None, has_model=True, path=Path("."))


def test_a_run_s_line_holds_its_settings_and_results():
    model, train = ModelConfig(hidden_units=[200, 100], dropout_rate=0.25), TrainConfig(learning_rate=0.01)
    row = run_row(_info("r1", "one", 0.97), model, train,
                  progress("r1", [0.95, 0.97], train=[0.96, 0.99], validation=[0.94, 0.975, 0.97]))
    assert row["learning_rate"] == 0.01 and row["dropout_rate"] == 0.25 and row["layers"] == 2
    assert row["test_accuracy"] == 0.97
    assert row["best_validation"] == 0.975
    assert row["gap"] == pytest.approx(2.0)  # 99% on the training images against 97% on the test images
    waiting = run_row(_info("r2", "two", None), model, train, None)
    assert waiting["test_accuracy"] is None and waiting["gap"] is None and waiting["best_validation"] is None


def test_parallel_coordinates_place_each_run_on_each_axis():
    rows = [
        {"run_id": "r1", "label": "slow", "learning_rate": 0.0001, "batch_size": 100, "test_accuracy": 0.90},
        {"run_id": "r2", "label": "middle", "learning_rate": 0.001, "batch_size": 100, "test_accuracy": 0.96},
        {"run_id": "r3", "label": "fast", "learning_rate": 0.01, "batch_size": 100, "test_accuracy": None},
    ]
    axes = [ParallelAxis("learning_rate", "learning rate", log=True), ParallelAxis("batch_size", "batch size"),
            ParallelAxis("test_accuracy", "test accuracy", percent=True)]
    figure = parallel_figure(rows, axes, picked="r2", colour_by="test_accuracy")
    assert list(figure.layout.xaxis.ticktext) == ["learning rate", "batch size", "test accuracy"]
    lines = {trace.customdata[0]: trace for trace in figure.data}
    assert set(lines) == {"r1", "r2", "r3"}
    # The log axis puts 0.001 half-way; a setting all runs share sits in the middle; a missing result is a gap.
    assert list(lines["r1"].y) == [0.0, 0.5, 0.0]
    assert list(lines["r2"].y) == [0.5, 0.5, 1.0]
    assert list(lines["r3"].y) == [1.0, 0.5, None]
    assert list(lines["r2"].customdata) == ["r2"] * 3  # what a click on any of its dots reports
    assert lines["r2"].line.width > lines["r1"].line.width and lines["r1"].opacity < lines["r2"].opacity == 1
    assert lines["r2"].line.color != lines["r1"].line.color  # coloured by test accuracy
    ends = {annotation.text for annotation in figure.layout.annotations}
    assert {"0.0001", "0.01", "90.00%", "96.00%"} <= ends
    assert "learning rate: 0.001" in lines["r2"].text[0]
    assert normalised(axes[0], -1.0, (0.0, 1.0)) is None
    with pytest.raises(ValueError, match="axis"):
        parallel_figure(rows, [])


def test_only_settings_that_differ_get_an_axis():
    rows = [{"learning_rate": rate, "batch_size": 100, "dropout_rate": 0.0, "epochs": 2, "train_size": 500,
             "layers": 4, "params": 185300} for rate in (0.001, 0.01)]
    assert [axis.key for axis in chosen_axes(rows)] == ["learning_rate", *(axis.key for axis in RESULT_AXES)]
    assert shared_settings(rows) == ("batch size 100, dropout 0, epochs 2, training images 500, layers 4, "
                                     "parameters 185,300")
    same = [dict(rows[0]), dict(rows[0])]
    assert chosen_axes(same)[0].key == "learning_rate"  # nothing differs: the learning rate still anchors the view


def test_a_two_setting_grid_has_a_row_per_first_value_and_a_line_per_setting_in_titles():
    colours = value_colours([0.001, 0.01], log=True)
    panels = [Panel(f"learning rate {rate:g}\ndropout rate {dropout:g}", "done", colours[rate],
                    progress("r", [0.9, 0.95]).curves()) for rate in (0.001, 0.01) for dropout in (0.0, 0.5)]
    figure = small_multiples_figure(panels, columns=2)
    assert figure.layout.annotations[3].text == "learning rate 0.01<br>dropout rate 0.5<br>done"
    # Two per row: the third chart starts the second row, under the first.
    assert figure.layout.xaxis3.domain == figure.layout.xaxis.domain
    assert figure.layout.yaxis3.domain[1] < figure.layout.yaxis.domain[0]
    # A third title line makes each row taller than two lines would.
    assert figure.layout.height > small_multiples_figure([Panel("lr 0.001", "done", "#000", {})] * 4,
                                                         columns=2).layout.height


def test_the_heatmap_lays_out_the_whole_grid_before_any_result():
    figure = heatmap_figure([], ("learning_rate", "dropout_rate"), ("Learning rate", "Dropout rate"), "Best",
                            values=((0.001, 0.01), (0.0, 0.5)))
    [heatmap] = figure.data
    assert (list(heatmap.x), list(heatmap.y)) == (["0.001", "0.01"], ["0", "0.5"])
    assert [list(row) for row in heatmap.z] == [[None, None], [None, None]]
    assert "Results appear" in figure.layout.annotations[0].text


def test_the_runs_chart_is_built_once_for_the_same_lines_and_again_when_they_change():
    rows = [{"run_id": f"r{index}", "label": f"run {index}", "learning_rate": rate, "batch_size": 100,
             "test_accuracy": accuracy, "best_validation": accuracy, "gap": None}
            for index, (rate, accuracy) in enumerate([(0.001, 0.9), (0.01, 0.95), (0.1, None)])]
    shown = runs_parallel.figure_json(rows, picked=None)
    expected = parallel_figure(rows, chosen_axes(rows), colour_by="test_accuracy",
                               height=runs_parallel.PARALLEL_HEIGHT)
    assert json.loads(shown) == json.loads(expected.to_json())
    assert runs_parallel.figure_json([dict(row) for row in rows], picked=None) is shown, "built once"
    picked = json.loads(runs_parallel.figure_json(rows, picked="r1"))
    assert [trace["line"]["width"] for trace in picked["data"]] == [2.5, 6, 2.5]
    rows[2]["test_accuracy"] = 0.97  # the third run finished
    finished = json.loads(runs_parallel.figure_json(rows, picked=None))
    assert "97.00%" in {annotation["text"] for annotation in finished["layout"]["annotations"]}
