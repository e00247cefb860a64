"""benchmarks/page_floor.py without a browser: its arguments, and floor pages that Streamlit runs as written."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from benchmarks import page_floor, page_load


def test_the_defaults_measure_every_floor_seven_times():
    args = page_floor.parse_args([])
    assert args.repeats == 7
    assert args.floors == list(page_floor.FLOORS)


def test_floors_are_chosen_in_any_case_and_measured_in_order():
    args = page_floor.parse_args(["--floors", "Live-Chart, sidebar", "--repeats", "3"])
    assert args.floors == ["sidebar", "live-chart"]
    assert args.repeats == 3


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--repeats", "51"], ["--floors", "sidebar,footer"],
                                  ["--floors", ","], ["--unknown"]])
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
