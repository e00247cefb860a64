"""benchmarks/page_floor.py without a browser: its arguments, and floor pages that Streamlit runs as written."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks import page_floor, page_load


def test_the_defaults_measure_every_floor_seven_times_without_the_dashboard():
    args = page_floor.parse_args([])
    assert args.repeats == 7
    assert args.floors == list(page_floor.FLOORS)
    assert args.dashboard == 0


def test_each_dashboard_page_has_a_floor_to_stand_beside():
    assert set(page_floor.LIKE) == set(page_load.PAGES)
    assert set(page_floor.LIKE.values()) <= set(page_floor.FLOORS)
    assert page_floor.parse_args(["--dashboard", "30"]).dashboard == 30


def test_the_report_sets_each_page_beside_its_floor(capsys):
    medians = {page_load.BARE: 0.5, **{name: 1.0 for name in page_load.PAGES}, "lab-like": 0.8,
               "train-like": 1.25}
    args = page_floor.parse_args(["--floors", "lab-like,train-like", "--dashboard", "30"])
    page_floor.report(medians, args)
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert lines["lab-like"][1:3] == ["0.80", "1.60x"]
    assert lines["Lab"][1:] == ["1.00", "2.00x", "lab-like", "0.80", "1.60x", "1.25x"]
    assert lines["Train"][-1] == "0.80x"
    assert lines["Runs"][-3:] == ["–", "–", "–"], "a floor not measured this time"


def test_floors_are_chosen_in_any_case_and_measured_in_order():
    args = page_floor.parse_args(["--floors", "Live-Chart, sidebar", "--repeats", "3"])
    assert args.floors == ["sidebar", "live-chart"]
    assert args.repeats == 3


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--repeats", "51"], ["--floors", "sidebar,footer"],
                                  ["--floors", ","], ["--dashboard", "-1"], ["--dashboard", "many"],
                                  ["--unknown"]])
def test_bad_arguments_exit_with_code_2_and_a_message(argv, capsys):
    with pytest.raises(SystemExit) as ended:
        page_floor.parse_args(argv)
    assert ended.value.code == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", list(page_floor.FLOORS))
def test_each_floor_is_the_bare_page_and_its_content_and_runs_without_an_exception(name):
    source = page_floor.script(name)
    assert source.startswith(page_load.BARE_SCRIPT), "the same heading as the bare page, so timed alike"
    app = AppTest.from_string(source, default_timeout=60).run()
    assert not app.exception, [item.value for item in app.exception]
    assert [title.value for title in app.title] == [page_load.BARE_HEADING]
    assert len(list(app.main)) > 2, "the floor adds content to the bare page's title and line of text"
