"""Tests for mnist_models.sweep: the values a learner types, a sweep's expansion into trainings, its checks (cap,
budget, bad values), its records in the run store, and the summary's numbers from run folders written by the
worker's own reporter."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_models.budget import budget_problems
from mnist_models.presets import get_preset
from mnist_models.store.progress import CurvePoint
from mnist_models.store.runs import RunStore
from mnist_models.store.sweeps import SweepNotFoundError
from mnist_models.sweep import (
    MEASURES,
    SWEEPABLE,
    Axis,
    Sweep,
    apply_value,
    get_sweep,
    list_sweeps,
    log_range,
    max_trainings,
    measure_value,
    parse_values,
    save_sweep,
    suggest_values,
    summarise,
)
from mnist_models.worker.reporter import RunReporter


def dense(**train_changes) -> tuple:
    model, train = get_preset("five-layer-relu-adam").configs()
    for key, value in train_changes.items():
        setattr(train, key, value)
    return model, train


def lr_sweep(values=(0.001, 0.003, 0.01), seeds=(0,), **train_changes) -> Sweep:
    return Sweep(*dense(**train_changes), axes=(Axis("learning_rate", tuple(values)),), seeds=tuple(seeds),
                 name="LR", preset="five-layer-relu-adam")


# --- values -------------------------------------------------------------------------------------------------------


def test_lists_and_ranges_parse_to_the_setting_s_type():
    assert parse_values("learning_rate", "0.001, 0.003,0.01") == (0.001, 0.003, 0.01)
    assert parse_values("learning_rate", "1e-4:1e-1:4") == (0.0001, 0.001, 0.01, 0.1), "log-spaced, ends exact"
    assert parse_values("learning_rate", "1e-4:1e-1:5") == (0.0001, 0.000562, 0.00316, 0.0178, 0.1)
    assert parse_values("dropout_rate", "0:0.5:3") == (0.0, 0.25, 0.5), "linear for a linear setting"
    assert parse_values("batch_size", "32:512:5") == (32, 64, 128, 256, 512)
    assert parse_values("epochs", "1,2,3") == (1, 2, 3) and all(type(v) is int for v in parse_values("epochs", "1,2"))
    assert parse_values("hidden_width", "100") == (100,)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("momentum", "0.9", "cannot be swept: choose one of learning_rate"),
    ("seed", "1,2", "cannot be swept"),
    ("learning_rate", "", "give one or more values"),
    ("learning_rate", "fast", "'fast' is not a number"),
    ("learning_rate", "0.1,,0.2", "an empty value"),
    ("learning_rate", "0.1,0.1", "0.1 is listed more than once"),
    ("learning_rate", "nan", "not a finite number"),
    ("learning_rate", "0:0.1:3", "log scale: its range must start above 0"),
    ("learning_rate", "0.1:0.01:3", "0.1 is not below 0.01"),
    ("learning_rate", "1e-4:1e-1", "a range is low:high:count"),
    ("learning_rate", "1e-4:1e-1:1", "from 2 to 50 values"),
    ("learning_rate", "1e-4:1e-1:100000", "from 2 to 50 values"),
    ("epochs", "1.5,2", "whole numbers"),
    ("batch_size", "10:12:5", "repeat some values"),
])
def test_bad_values_say_what_to_write(name, text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_values(name, text)


@given(st.floats(1e-6, 1.0), st.floats(1.5, 1e4), st.integers(2, 30))
def test_a_log_range_keeps_its_ends_and_a_constant_ratio(low, factor, count):
    values = log_range(low, low * factor, count)
    assert len(values) == count and values[0] == low and values[-1] == low * factor
    assert all(a < b for a, b in itertools.pairwise(values)), "strictly increasing"
    ratio = factor ** (1 / (count - 1))
    for a, b in itertools.pairwise(values):
        assert b / a == pytest.approx(ratio, rel=0.01)  # inner values keep three significant digits


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=10, unique=True))
def test_a_list_of_whole_numbers_reads_back_as_written(numbers):
    assert parse_values("batch_size", ",".join(map(str, numbers))) == tuple(numbers)


@given(st.lists(st.sampled_from([0.001, 0.003, 0.01, 0.03]), min_size=1, max_size=4, unique=True),
       st.lists(st.sampled_from([32, 64, 128]), min_size=1, max_size=3, unique=True),
       st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True))
def test_every_combination_and_seed_is_one_distinct_training(rates, batches, seeds):
    sweep = Sweep(*dense(), axes=(Axis("learning_rate", tuple(rates)), Axis("batch_size", tuple(batches))),
                  seeds=tuple(seeds))
    points, specs = sweep.points(), sweep.specs()
    assert len(points) == len(specs) == sweep.count() == len(rates) * len(batches) * len(seeds)
    assert {(p["learning_rate"], p["batch_size"], p["seed"]) for p in points} == {
        (spec.train.learning_rate, spec.train.batch_size, spec.train.seed) for spec in specs}
    assert len({spec.key for spec in specs}) == len(specs)


def test_values_apply_to_copies_and_widths_keep_their_proportions():
    model, train = dense()
    wide_model, _ = apply_value("hidden_width", 400, model, train)
    assert wide_model.hidden_units == [400, 200, 120, 60] and model.hidden_units == [200, 100, 60, 30]
    _, fast = apply_value("learning_rate", 0.03, model, train)
    assert fast.learning_rate == 0.03 and train.learning_rate == 0.003
    conv_model, conv_train = get_preset("conv").configs()
    doubled, _ = apply_value("conv_filters", 8, conv_model, conv_train)
    assert [layer.filters for layer in doubled.conv_layers] == [8, 16, 24]
    with pytest.raises(ValueError, match="no convolutional layers"):
        apply_value("conv_filters", 8, model, train)


def test_suggestions_are_values_the_configs_accept():
    model, train = dense()
    assert suggest_values("learning_rate", model, train) == (0.001, 0.003, 0.009)
    assert suggest_values("train_size", model, train) == (18333, 55000), "165,000 is more than MNIST has"
    assert suggest_values("conv_filters", model, train) == ()
    assert {"learning_rate", "lr_decay", "dropout_rate", "batch_size", "epochs", "train_size"} <= set(SWEEPABLE)
    assert SWEEPABLE["learning_rate"].log_scale and not SWEEPABLE["dropout_rate"].log_scale


# --- sweeps -------------------------------------------------------------------------------------------------------


def test_a_grid_with_seeds_expands_into_one_named_training_each():
    sweep = Sweep(*dense(), axes=(Axis("learning_rate", (0.001, 0.01)), Axis("dropout_rate", (0.0, 0.25))),
                  seeds=(0, 1), name="Grid", preset="five-layer-relu-adam")
    points = sweep.points()
    assert len(points) == sweep.count() == 8
    assert points[:3] == [{"learning_rate": 0.001, "dropout_rate": 0.0, "seed": 0},
                          {"learning_rate": 0.001, "dropout_rate": 0.0, "seed": 1},
                          {"learning_rate": 0.001, "dropout_rate": 0.25, "seed": 0}]
    specs = sweep.specs()
    assert specs[1].name == "Grid · learning_rate=0.001 · dropout_rate=0 · seed 1"
    assert (specs[1].train.learning_rate, specs[1].model.dropout_rate, specs[1].train.seed) == (0.001, 0.0, 1)
    assert specs[2].model.dropout_rate == 0.25 and specs[2].preset == "five-layer-relu-adam"
    assert len({spec.key for spec in specs}) == 8, "two seeds are two trainings, never shared"
    assert sweep.problems() == []
    assert lr_sweep().specs()[0].name == "LR · learning_rate=0.001", "no seed in the name when it is not repeated"


def test_the_cap_comes_from_the_environment(monkeypatch):
    assert max_trainings() == 12
    sweep = lr_sweep(values=(0.001, 0.002, 0.003, 0.004, 0.005), seeds=(0, 1, 2))
    assert sweep.problems() == ["This sweep has 15 trainings (5 values × 3 seeds), more than the 12 a sweep may "
                                "have here: use fewer values or seeds."]
    monkeypatch.setenv("MNIST_MAX_SWEEP", "15")
    assert max_trainings() == 15 and sweep.problems() == []
    assert "more than the 4" in sweep.problems(cap=4)[0]
    for bad in ("0", "many", "-3"):
        monkeypatch.setenv("MNIST_MAX_SWEEP", bad)
        with pytest.raises(ValueError, match=r"MNIST_MAX_SWEEP=.* is not a number of trainings in a sweep"):
            max_trainings()


def test_every_training_and_the_whole_sweep_must_pass_the_budget(monkeypatch):
    # 150 epochs pass alone; 200 do not.
    model, train = dense(epochs=150)
    assert budget_problems(model, train) == []
    problems = Sweep(model, train, axes=(Axis("epochs", (150, 200)),)).problems()
    assert len(problems) == 1 and problems[0].startswith("With epochs=200: Training would take about 1.3 times")
    # Each of four 100-epoch trainings passes, but together they are over the sweep's limit (twice one run's).
    model, train = dense(epochs=100)
    four = Sweep(model, train, axes=(Axis("learning_rate", (0.001, 0.003, 0.01, 0.03)),))
    assert four.problems() == ["The whole sweep would take about 1.3 times the work this server allows for one "
                               "sweep: use fewer values, seeds, epochs or training images."]
    monkeypatch.setenv("MNIST_MAX_SWEEP_WORK", "1e14")
    assert four.problems() == []


def test_bad_sweeps_are_refused_with_a_message_for_each_problem():
    model, train = dense()
    cases = [
        (Sweep(model, train, axes=()), "one or two settings"),
        (Sweep(model, train, axes=(Axis("learning_rate", (0.1,)),) * 3), "one or two settings"),
        (Sweep(model, train, axes=(Axis("momentum", (0.9,)),)), "'momentum' cannot be swept"),
        (Sweep(model, train, axes=(Axis("learning_rate", (0.1,)), Axis("learning_rate", (0.2,)))), "varied twice"),
        (Sweep(model, train, axes=(Axis("learning_rate", ()),)), "has no values"),
        (Sweep(model, train, axes=(Axis("learning_rate", (0.1, 0.1)),)), "more than once"),
        (lr_sweep(seeds=(1, 1)), "seed is listed more than once"),
        (lr_sweep(seeds=()), "from 1 to 10 seeds"),
        (lr_sweep(seeds=(-1,)), "Seeds are whole numbers"),
        (lr_sweep(values=(0.003, 20.0)), "With learning_rate=20: Learning rate 20.0 is far too large"),
        (Sweep(model, train, axes=(Axis("dropout_rate", (0.5, 1.5)),)), "With dropout_rate=1.5: Dropout rate"),
        (Sweep(model, train, axes=(Axis("lr_decay", (0.001, 0.01)),)), "only matters with the inverse-time"),
        (Sweep(*get_preset("softmax").configs(), axes=(Axis("dropout_rate", (0.1, 0.2)),)), "this network has none"),
        (lr_sweep(fine_tune_from="20250101-000000-softmax-abcdef"), "cannot fine-tune"),
    ]
    for sweep, message in cases:
        problems = sweep.problems()
        assert any(message in problem for problem in problems), (message, problems)


# --- records and summaries ----------------------------------------------------------------------------------------


def fake_run(store: RunStore, sweep: Sweep, point: dict, tests: list[float], train_accuracy: float | None,
             finish: bool = True) -> str:
    """A run folder as a worker leaves it, written by the worker's own reporter: a train point, then a test point
    per epoch with the given accuracies."""
    model, train = sweep.configs(point)
    run_id = store.create(model, train, preset=sweep.preset, name=sweep.label(point))
    reporter = RunReporter(store, run_id, epochs=max(1, len(tests)))
    reporter.begin(batches_per_epoch=10, learning_rate=train.learning_rate)
    for epoch, accuracy in enumerate(tests, start=1):
        for _ in range(10):
            reporter.batch_done(_ + 1)
        if train_accuracy is not None:
            reporter.add_point("train", CurvePoint(epoch - 0.01, reporter.step, 0.1, train_accuracy))
        reporter.add_point("test", CurvePoint(float(epoch), reporter.step, 0.2, accuracy))
        reporter.epoch_done(epoch)
    if finish:
        reporter.finish()
    else:
        reporter.publish()
    return run_id


def test_a_record_keeps_the_sweep_s_runs_per_owner(runs_dir):
    store = RunStore(runs_dir)
    sweep = lr_sweep(seeds=(0, 1))
    run_ids = [fake_run(store, sweep, point, [0.9], 0.95) for point in sweep.points()]
    first = save_sweep(store, "a1b2c3d4", sweep, run_ids)
    second = save_sweep(store, "a1b2c3d4", lr_sweep(values=(0.1,)), run_ids[:1])
    assert [record.id for record in list_sweeps(store, "a1b2c3d4")] == [second, first], "newest first"
    record = get_sweep(store, "a1b2c3d4", first)
    assert record.name == "LR" and record.owner == "a1b2c3d4" and record.preset == "five-layer-relu-adam"
    assert record.axes == {"learning_rate": (0.001, 0.003, 0.01)} and record.seeds == (0, 1)
    assert record.points == sweep.points() and record.run_ids == run_ids
    assert record.run_of({"learning_rate": 0.003, "seed": 1}) == run_ids[3]
    assert record.train.learning_rate == 0.003 and record.model.hidden_units == [200, 100, 60, 30]
    assert list_sweeps(store, "ffff0000") == [], "another learner sees none of them"
    with pytest.raises(SweepNotFoundError):
        get_sweep(store, "ffff0000", first)
    with pytest.raises(SweepNotFoundError):
        get_sweep(store, "a1b2c3d4", "../../etc/passwd")
    with pytest.raises(ValueError, match="needs as many run ids"):
        save_sweep(store, "a1b2c3d4", sweep, run_ids[:2])
    command_line = save_sweep(store, None, sweep, run_ids)
    assert [record.id for record in list_sweeps(store, None)] == [command_line]


def test_the_summary_folds_seeds_into_a_mean_and_a_range(runs_dir):
    store = RunStore(runs_dir)
    sweep = lr_sweep(values=(0.001, 0.01, 0.1), seeds=(0, 1, 2))
    # Test accuracy per epoch for each point; the train accuracy at the end is 0.99 everywhere.
    curves = {
        (0.001, 0): [0.90, 0.95, 0.94], (0.001, 1): [0.91, 0.96, 0.96], (0.001, 2): [0.92, 0.93, 0.97],
        (0.01, 0): [0.80, 0.85, 0.82], (0.01, 1): [0.81, 0.83, 0.80],
        (0.1, 0): [], (0.1, 1): [], (0.1, 2): [],
    }
    run_ids, progress = [], {}
    for point in sweep.points():
        key = (point["learning_rate"], point["seed"])
        if key == (0.01, 2):
            run_ids.append("20250101-000000-cancelled-abcdef")  # cancelled: its folder is gone
            continue
        run_id = fake_run(store, sweep, point, curves[key], 0.99, finish=bool(curves[key]))
        run_ids.append(run_id)
        progress[run_id] = store.progress(run_id)
    record = get_sweep(store, None, save_sweep(store, None, sweep, run_ids))

    best = summarise(record, progress, "val_best")
    assert [point.values for point in best] == [{"learning_rate": 0.001}, {"learning_rate": 0.01}], \
        "a value with no test point yet is left out"
    slow, middle = best
    assert (slow.mean, slow.low, slow.high, slow.count) == (pytest.approx((0.95 + 0.96 + 0.97) / 3), 0.95, 0.97, 3)
    assert slow.std == pytest.approx(statistics.stdev([0.95, 0.96, 0.97]))
    assert slow.run_ids == tuple(run_ids[:3])
    assert (middle.mean, middle.low, middle.high, middle.count) == (pytest.approx(0.84), 0.83, 0.85, 2)

    final = summarise(record, progress, "val_final")
    assert (final[0].mean, final[0].low, final[0].high) == (pytest.approx((0.94 + 0.96 + 0.97) / 3), 0.94, 0.97)
    gap = summarise(record, progress, "gap")
    assert gap[1].mean == pytest.approx(0.99 - 0.81) and gap[1].low == pytest.approx(0.99 - 0.82)
    assert summarise(record, progress) == best, "the best accuracy is the default"
    with pytest.raises(ValueError, match="Unknown measure"):
        summarise(record, progress, "median")
    assert set(MEASURES) == {"val_best", "val_final", "gap"}


def test_a_training_under_way_counts_with_what_it_has(runs_dir):
    store = RunStore(runs_dir)
    sweep = lr_sweep(values=(0.003,))
    point = sweep.points()[0]
    run_id = fake_run(store, sweep, point, [0.9, 0.95], None, finish=False)
    progress = store.progress(run_id)
    assert progress.status == "running" and len(progress.test) == 2
    assert measure_value(progress, "val_best") == 0.95 and measure_value(progress, "gap") is None, \
        "no train point: no gap"
    record = get_sweep(store, None, save_sweep(store, None, sweep, [run_id]))
    assert [(p.mean, p.count) for p in summarise(record, {run_id: progress})] == [(0.95, 1)]
    assert not math.isnan(summarise(record, {run_id: progress}, "val_final")[0].mean)
