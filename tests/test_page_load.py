"""benchmarks/page_load.py without a browser: its arguments, its helpers, and headings that match the pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import page_load

ROOT = Path(__file__).resolve().parents[1]


def test_the_defaults_measure_every_page_with_30_runs():
    args = page_load.parse_args([])
    assert (args.repeats, args.cold_repeats, args.runs) == (5, 1, 30)
    assert args.pages == ["Lab", "Train", "Runs", "Draw", "Inspect"]
    assert args.first_point == 0, "Train -> first point only when asked for"


def test_first_point_asks_for_that_many_learners():
    assert page_load.parse_args(["--first-point", "5"]).first_point == 5


def test_pages_are_chosen_in_any_case_and_measured_in_the_dashboards_order():
    args = page_load.parse_args(["--pages", "inspect, lab", "--repeats", "9", "--cold-repeats", "0", "--runs", "0"])
    assert args.pages == ["Lab", "Inspect"]
    assert (args.repeats, args.cold_repeats, args.runs) == (9, 0, 0)


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--repeats", "51"], ["--repeats", "two"],
                                  ["--cold-repeats", "-1"], ["--runs", "501"], ["--pages", "Lab,Settings"],
                                  ["--pages", ","], ["--first-point", "21"], ["--first-point", "one"],
                                  ["--unknown"]])
def test_bad_arguments_exit_with_code_2_and_a_message(argv, capsys):
    with pytest.raises(SystemExit) as ended:
        page_load.parse_args(argv)
    assert ended.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_ratio_is_relative_to_the_bare_page_and_a_dash_when_unknown():
    assert page_load.ratio(1.5, 1.0) == "1.50x"
    assert page_load.ratio(0.5, 2.0) == "0.25x"
    assert page_load.ratio(None, 1.0) == "–"
    assert page_load.ratio(1.0, None) == "–"
    assert page_load.median([3.0, 1.0, 2.0]) == 2.0
    assert page_load.median([]) is None


@pytest.mark.parametrize("name", list(page_load.PAGES))
def test_each_heading_waited_for_is_the_pages_title(name):
    path, heading = page_load.PAGES[name]
    source = (ROOT / "dashboard" / "app_pages" / f"{name.lower()}.py").read_text()
    assert f'st.title("{heading}")' in source, f"{name} no longer has the title {heading!r}: update PAGES"
    assert path == ("/" if name == "Lab" else f"/{name.lower()}")
