"""Tests for benchmarks/draw_answer_latency.py: its arguments and the drawings it times (the latency itself is
measured by running the benchmark, not asserted here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "draw_answer_latency.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("draw_answer_latency", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_defaults_draw_twenty_digits_on_a_small_softmax_run(bench):
    args = bench.parse_args([])
    assert (args.digits, args.preset, args.train_size, args.epochs, args.warmup, args.compare) == (
        20, "softmax", 2000, 1, 2, 0)
    assert args.runs_dir is None


def test_options_are_read(bench, tmp_path):
    args = bench.parse_args(["--digits", "5", "--compare", "10", "--warmup", "0", "--runs-dir", str(tmp_path)])
    assert (args.digits, args.compare, args.warmup, args.runs_dir) == (5, 10, 0, tmp_path)


@pytest.mark.parametrize("argv", [
    ["--digits", "0"], ["--digits", "78"], ["--compare", "11"], ["--compare", "-1"], ["--warmup", "-1"],
    ["--runs-dir", "/no/such/folder"], ["--digits", "many"],
])
def test_bad_arguments_exit_with_code_2_and_a_message(bench, argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.parse_args(argv)
    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_digits_are_single_strokes_spread_over_every_label(bench):
    digits = bench.held_out_digits(20)
    assert len(digits) == 20 and all(len(digit.strokes) == 1 for digit in digits)
    assert len({digit.label for digit in digits}) >= 7
    assert len({(digit.label, digit.style) for digit in digits}) == 20, "no drawing twice"
