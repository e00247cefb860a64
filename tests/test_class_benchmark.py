"""benchmarks/class_load.py: its arguments and pure helpers (the spec a step submits, ratios, percentiles, CPU and
memory readings of /proc). The benchmark itself (a class of trainings, a server, a browser) is run by hand, never
by pytest."""

from __future__ import annotations

import os
import subprocess

import pytest

from benchmarks import class_browser, class_load
from benchmarks.browser import CHROMIUM, niced_chromium
from benchmarks.class_load import Learner
from dashboard.identity import owner_of
from mnist_models.course import get_step


def test_the_defaults_are_a_class_of_thirty_on_conv_then_three_steps():
    args = class_load.parse_args([])
    assert (args.learners, args.spread, args.step, args.tabs, args.epochs, args.train_size) == (
        30, 10.0, "conv", 0, None, None)
    assert args.steps == ["five-layer-relu-adam", "conv", "conv-bigger-dropout"]


def test_quick_shortens_the_trainings_unless_told_otherwise():
    assert class_load.parse_args(["--quick"]).epochs == class_load.QUICK_EPOCHS
    args = class_load.parse_args(["--quick", "--epochs", "2", "--train-size", "3000", "--tabs", "2"])
    assert (args.epochs, args.train_size, args.tabs) == (2, 3000, 2)


def test_steps_are_read_as_the_course_names_them():
    args = class_load.parse_args(["--step", "softmax", "--steps", " softmax , five-layer-relu ,conv"])
    assert args.step == "softmax"
    assert args.steps == ["softmax", "five-layer-relu", "conv"]


@pytest.mark.parametrize("argv", [
    ["--learners", "0"], ["--learners", "201"], ["--learners", "x"], ["--spread", "-1"], ["--spread", "nan"],
    ["--tabs", "11"], ["--tabs", "3", "--learners", "2"], ["--epochs", "0"], ["--train-size", "99"],
    ["--train-size", "55001"], ["--step", "data"], ["--step", "conv,softmax"], ["--steps", "conv,conv"],
    ["--steps", "conv,nope"], ["--steps", ","], ["--interval", "601"], ["--timeout", "9"],
    ["--seed", "-1"], ["--quick", "yes"], ["--browser-nice", "20"], ["--browser-nice", "-1"],
])
def test_bad_arguments_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as ended:
        class_load.parse_args(argv)
    assert ended.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_browser_runs_at_the_lowest_priority_unless_told_otherwise(tmp_path):
    assert class_load.parse_args([]).browser_nice == 19
    assert class_load.parse_args(["--browser-nice", "0"]).browser_nice == 0
    launcher = niced_chromium(tmp_path, 19)
    assert os.access(launcher, os.X_OK)
    # The launcher passes its arguments on and runs at the niceness asked for: seen here with `nice` itself.
    shown = subprocess.run(["sh", "-c", launcher.read_text().replace(str(CHROMIUM), "nice").splitlines()[1]
                            .replace('"$@"', "")], capture_output=True, text=True, check=True)
    assert int(shown.stdout) == min(19, os.nice(0) + 19)
    with pytest.raises(ValueError, match="between 0 and 19"):
        niced_chromium(tmp_path, 20)


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as ended:
        class_load.parse_args(["--help"])
    assert ended.value.code == 0
    assert "--learners" in capsys.readouterr().out


def test_a_step_submits_what_the_lab_submits_with_the_sizes_given():
    preset = get_step("conv").trains
    spec = class_load.step_spec("conv", None, None)
    model, train = preset.configs()
    assert (spec.model, spec.train, spec.preset, spec.name) == (model, train, "conv", preset.title)
    quick = class_load.step_spec("conv", 1, 6000, seed_offset=1)
    assert (quick.train.epochs, quick.train.train_size, quick.train.seed) == (1, 6000, train.seed + 1)
    assert quick.train.batch_size == train.batch_size and quick.key != spec.key
    assert class_load.step_spec("conv", None, None).key == spec.key, "the same step is the same (shared) job"


def learner(pressed: float | None, result: float | None) -> Learner:
    spec = class_load.step_spec("softmax", 1, 100)
    return Learner("learner", "0" * 32, "softmax", spec, 0.0, pressed=pressed, result=result)


def test_the_class_time_runs_from_the_first_press_to_the_last_result():
    learners = [learner(100.0, 130.0), learner(104.0, 130.0), learner(109.0, 109.5)]
    assert class_load.class_seconds(learners) == 30.0
    assert class_load.longest_wait(learners) == 30.0
    assert class_load.class_seconds([*learners, learner(101.0, None)]) is None, "someone still waits"
    assert class_load.class_seconds([]) is None
    assert class_load.longest_wait([learner(1.0, None)]) is None


def test_a_learner_is_done_with_a_result_or_an_error_and_owns_by_the_hash():
    waiting = learner(1.0, None)
    assert waiting.owner == owner_of("0" * 32) and not waiting.done
    assert learner(1.0, 2.0).done
    waiting.error = "QueueFullError: full"
    assert waiting.done


def test_percentile_is_a_measured_value():
    assert class_browser.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert class_browser.percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
    assert class_browser.percentile([5.0], 0.95) == 5.0


def test_the_verdict_says_met_only_within_the_target():
    assert class_load.verdict(1.3, 1.3) == "target met"
    assert class_load.verdict(1.31, 1.3) == "target NOT met"
    assert "NOT met" in class_load.verdict(None, 1.3)


def test_learners_are_spread_over_the_steps_in_turn_within_the_spread():
    import random

    args = class_load.parse_args(["--learners", "7", "--spread", "4", "--quick"])
    learners = class_load.make_learners(args, random.Random(1), ["softmax", "conv", "five-layer-relu"], 1,
                                        [f"{index:032x}" for index in range(7)])
    assert [item.step_id for item in learners] == ["softmax", "conv", "five-layer-relu"] * 2 + ["softmax"]
    assert all(0 <= item.moment <= 4 for item in learners)
    assert learners[0].spec.key == learners[3].spec.key != learners[1].spec.key
    assert learners[0].spec.train.epochs == 1
    assert learners[0].spec.train.seed == get_step("softmax").trains.train.seed + 1


def test_drift_is_the_larger_timing_over_the_smaller():
    assert class_load.drift(10.0, 12.0) == pytest.approx(1.2)
    assert class_load.drift(12.0, 10.0) == pytest.approx(1.2)


def test_the_training_alone_is_reported_with_notes_on_what_spoils_the_ratios(capsys):
    args = class_load.parse_args(["--quick"])
    assert class_load.report_alone(args, "1 epoch(s)", 30.0, 32.0) == []
    printed = capsys.readouterr().out
    assert "30.0 s first" in printed and "32.0 s after the classes" in printed and "note" not in printed
    assert class_load.report_alone(args, "1 epoch(s)", 8.0, 20.0) == []
    printed = capsys.readouterr().out
    assert "shorter than the presses' spread (10 s)" in printed
    assert "the two differ 2.5x" in printed
    assert class_load.report_alone(args, "1 epoch(s)", None, 20.0) == ["a training alone did not complete"]


def test_the_class_report_names_each_thing_not_met(tmp_path, capsys):
    from mnist_models.store.progress import COMPLETED, FAILED, QUEUED
    from mnist_models.store.runs import RunStore

    store = RunStore(tmp_path / "runs")
    spec = class_load.step_spec("conv", 1, 1000)
    run_id = store.create(spec.model, spec.train, preset="conv", name=spec.name, params=1, status=QUEUED,
                          owner=owner_of("a" * 32), job_key=spec.key)
    store.update(run_id, status=COMPLETED, seconds=20.0, finished=130.0)
    credited = Learner("learner 1", "a" * 32, "conv", spec, 0.0, pressed=100.0, run_id=run_id, result=130.0,
                       status=COMPLETED)
    assert class_load.report_class("one step", [credited], 25.0, 1.3, store, True, [2.0], "conv") == []
    printed = capsys.readouterr().out
    assert "30.0 s = 1.20x one training alone (target ≤ 1.3: target met)" in printed
    assert "20.0 s in its worker (0.80x alone)" in printed
    assert "against this class's own conv training (20.0 s, under the same load): 1.50x" in printed

    stranger = Learner("learner 2", "b" * 32, "conv", spec, 0.0, pressed=101.0, run_id=run_id, result=190.0,
                       status=FAILED)
    failures = class_load.report_class("one step", [credited, stranger], 25.0, 1.3, store, False, [], "conv")
    assert failures == ["one step: target NOT met", "one step: timed out",
                        "one step: 1 learner(s) without a completed result", "one step: 1 learner(s) not credited"]
    assert "learners not among their run's owners: learner 2" in capsys.readouterr().out
