"""benchmarks/contention.py: its arguments, its loads and the slowdown it prints. The benchmark itself (a long
training beside busy loops) is run by hand, never by pytest."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks import contention


def test_the_defaults_are_fifteen_second_samples_of_conv():
    args = contention.parse_args([])
    assert (args.seconds, args.step) == (15.0, "conv")


@pytest.mark.parametrize("argv", [["--seconds", "2"], ["--seconds", "601"], ["--step", "nope"],
                                  ["--step", "conv,softmax"]])
def test_bad_arguments_exit_2_with_a_message(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        contention.parse_args(argv)
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_the_slowdown_is_how_many_times_longer_a_batch_takes():
    assert contention.slowdown(120.0, 60.0) == pytest.approx(2.0)
    assert contention.slowdown(100.0, 125.0) == pytest.approx(0.8)
    for alone, beside in ((0.0, 10.0), (10.0, 0.0)):
        with pytest.raises(ValueError, match="progress"):
            contention.slowdown(alone, beside)


@pytest.mark.parametrize("name", sorted(contention.LOADS))
def test_each_load_keeps_running_until_it_is_stopped(name):
    load = subprocess.Popen([sys.executable, "-c", contention.LOADS[name]], stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            load.wait(timeout=2)  # a load that ended (or failed to start) would return here
    finally:
        load.kill()
        load.wait()
    assert load.stderr.read() == b""
