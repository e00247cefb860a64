"""benchmarks/watching_cost.py: its arguments, the training it watches and the arithmetic of the cost per tab. The
benchmark itself (a server, a training, a browser) is run by hand, never by pytest."""

from __future__ import annotations

import pytest

from benchmarks import watching_cost
from benchmarks.watching_cost import Window, cost
from mnist_models.budget import budget_problems
from mnist_models.course import get_step


def test_the_defaults_are_eight_tabs_of_twenty_seconds_on_conv():
    args = watching_cost.parse_args([])
    assert (args.tabs, args.seconds, args.settle, args.step, args.browser_nice) == (8, 20.0, 5.0, "conv", 19)


@pytest.mark.parametrize("argv", [["--tabs", "1"], ["--tabs", "31"], ["--seconds", "2"], ["--settle", "-1"],
                                  ["--step", "nope"], ["--step", "conv,softmax"], ["--browser-nice", "20"]])
def test_bad_arguments_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        watching_cost.parse_args(argv)
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_the_training_watched_is_the_steps_for_as_long_as_the_budget_allows():
    spec = watching_cost.long_spec("conv")
    preset = get_step("conv").trains
    assert spec.preset == preset.name
    assert spec.model == preset.configs()[0]
    assert spec.train.epochs > preset.configs()[1].epochs
    assert not budget_problems(spec.model, spec.train)
    longer = spec.train.__class__(**{**spec.train.__dict__, "epochs": spec.train.epochs + 1})
    assert spec.train.epochs == watching_cost.MAX_EPOCHS or budget_problems(spec.model, longer)


def window(tabs: int, server_cpu: float, seconds: float = 10.0) -> Window:
    return Window(tabs=tabs, seconds=seconds, server_cpu=server_cpu, browser_cpu=0.0, batches=100)


def test_the_cost_splits_the_first_tab_from_each_further_one():
    result = cost(window(0, 0.1), window(1, 0.4), window(8, 1.1))
    assert result.first == pytest.approx(0.03)
    assert result.further == pytest.approx(0.01)
    assert result.class_of_thirty == pytest.approx(0.03 + 29 * 0.01)


def test_samples_of_different_lengths_are_compared_as_shares_of_a_core():
    result = cost(window(0, 0.0, seconds=5.0), window(1, 0.5, seconds=20.0), window(3, 0.6, seconds=10.0))
    assert result.first == pytest.approx(0.025)
    assert result.further == pytest.approx((0.06 - 0.025) / 2)


@pytest.mark.parametrize("samples", [(window(1, 0.1), window(1, 0.2), window(8, 0.3)),
                                     (window(0, 0.1), window(2, 0.2), window(8, 0.3)),
                                     (window(0, 0.1), window(1, 0.2), window(1, 0.3)),
                                     (window(0, 0.1, seconds=0.0), window(1, 0.2), window(8, 0.3))])
def test_samples_that_cannot_say_the_cost_are_refused(samples):
    with pytest.raises(ValueError):
        cost(*samples)


def test_the_report_says_whether_thirty_watchers_stay_under_half_a_core(capsys):
    assert watching_cost.report(window(0, 0.0), window(1, 0.3), window(8, 0.3 + 7 * 0.1))
    assert "target met" in capsys.readouterr().out
    assert not watching_cost.report(window(0, 0.0), window(1, 0.3), window(8, 0.3 + 7 * 0.2))
    assert "target NOT met" in capsys.readouterr().out
