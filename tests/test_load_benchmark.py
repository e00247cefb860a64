"""benchmarks/load.py and its hostile learner (benchmarks/hostile.py): arguments, server settings and the pure
helpers. The benchmark itself (a server, a browser, minutes of training) is run by hand, never by pytest."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest

from benchmarks import hostile, load
from mnist_models.drawing import MAX_DRAWING_BYTES, read_drawing
from mnist_models.store.runs import RunStore


def test_the_defaults_bring_the_hostile_learner():
    args = load.parse_args([])
    assert (args.sessions, args.epochs, args.train_size, args.max_jobs, args.hostile) == (10, 2, 2000, None, True)
    assert load.parse_args(["--no-hostile", "--sessions", "6"]).hostile is False


@pytest.mark.parametrize("argv", [["--sessions", "0"], ["--sessions", "101"], ["--epochs", "x"],
                                  ["--max-jobs", "0"], ["--no-hostile", "yes"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as ended:
        load.parse_args(argv)
    assert ended.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_waiting_cap_is_set_only_for_the_hostile_learner():
    assert load.server_environment(load.parse_args(["--sessions", "6"])) == {
        "MNIST_MAX_WAITING": str(6 + hostile.EXTRA_WAITING)}
    assert load.server_environment(load.parse_args(["--no-hostile", "--max-jobs", "2"])) == {"MNIST_MAX_JOBS": "2"}
    assert load.server_environment(load.parse_args(["--no-hostile"])) == {}


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns on reading the header
def test_the_oversized_drawing_is_small_on_disk_and_refused_before_decoding():
    png = hostile.png_of_zeros(hostile.BOMB_SIDE)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (hostile.BOMB_SIDE, hostile.BOMB_SIDE)
    assert len(png) < MAX_DRAWING_BYTES, "it passes the file-size check: only its declared size can refuse it"
    with pytest.raises(ValueError, match=hostile.TOO_LARGE):
        read_drawing(png)
    assert read_drawing(hostile.png_of_zeros(28)).shape == (28, 28)


def test_the_init_script_replaces_to_data_url_with_the_picture():
    import base64

    png = b"\x89PNG-ish"
    script = hostile.to_data_url_script(png)
    assert script.startswith("HTMLCanvasElement.prototype.toDataURL = function () {")
    assert f"'data:image/png;base64,{base64.b64encode(png).decode()}'" in script


def test_memory_fields_read_the_process_status():
    status = "Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t  812000 kB\nVmRSS:\t  700000 kB\nThreads:\t12\n"
    assert hostile.memory_fields(status) == (700000 * 1024, 812000 * 1024)
    with pytest.raises(ValueError, match="VmRSS"):
        hostile.memory_fields("Name:\tpython\n")
    rss, peak = hostile.server_memory(__import__("os").getpid())
    assert 0 < rss <= peak


def test_findings_record_only_requests_to_the_hostile_host():
    handlers = []
    context = SimpleNamespace(on=lambda event, handler: handlers.append((event, handler)))
    findings = hostile.Findings()
    findings.watch(context, "learner 1")
    [(event, handler)] = handlers
    assert event == "request"
    for url in ("http://127.0.0.1:8501/_stcore/stream", "http://e.vil/t.png", "http://www.e.vil/",
                "http://127.0.0.1:8501/train?epochs=[answers](http://e.vil)"):  # the crafted link itself: no
        handler(SimpleNamespace(url=url))
    assert findings.requests == {"learner 1": ["http://e.vil/t.png", "http://www.e.vil/"]}


def test_the_crafted_content_points_at_the_hostile_host():
    from dashboard.controls_spec import RUN_NAME_CONTROL

    assert len(hostile.RUN_NAME) <= RUN_NAME_CONTROL.max_chars, "the Run name box would refuse it whole"
    for part in ("[a](http://e.vil)", "![](http://e.vil/t.png)", "<img src=http://e.vil/y.png>", "www.e.vil"):
        assert part in hostile.RUN_NAME
    assert all(link.startswith("/train?") for link in hostile.CRAFTED_LINKS)
    assert hostile.SHOWN.count(hostile.HOST) == 3


def quiet_hostile(tmp_path, **state) -> hostile.Hostile:
    learner = hostile.Hostile("http://127.0.0.1:1", RunStore(tmp_path / "runs"), 0, 100, 1)
    learner.refused, learner.drawing, learner.offered, learner.memory = True, "refused", [], [(2**28, 2**29)]
    for name, value in state.items():
        setattr(learner, name, value)
    return learner


def test_the_report_is_met_when_nothing_hostile_worked(tmp_path, capsys):
    assert quiet_hostile(tmp_path).report() == []
    printed = capsys.readouterr().out
    assert "hostile content shown on honest pages: none" in printed
    assert "requests to e.vil from honest pages: 0" in printed
    assert "refused: yes (refused)" in printed
    assert "rename/delete offered to the hostile learner on an honest run: no" in printed
    assert "peak (VmHWM) 512 MB; bound: stays under 1,500 MB" in printed


def test_the_report_names_each_thing_not_met(tmp_path, capsys):
    learner = quiet_hostile(tmp_path, refused=False, drawing="accepted (a Prediction shown)", offered=["Rename"],
                            memory=[(2**30, 2 * 2**30)], drawing_growth=200 * 2**20)
    learner.findings.shown["learner 1 Runs"] = {'<a href="http://e.vil">click</a>'}
    learner.findings.requests["learner 1"] = ["http://e.vil/t.png"]
    failures = learner.report()
    assert failures == ["hostile content shown on 1 page(s)", "1 request(s) to e.vil from honest pages",
                        "the hostile learner was never refused by the waiting cap",
                        "the oversized drawing was not refused (accepted (a Prediction shown))",
                        "the server's memory grew 200 MB with the oversized drawing",
                        "rename/delete offered on another's run (yes: Rename)",
                        "the server's memory peaked at 2,048 MB"]
    assert 'learner 1 Runs: <a href="http://e.vil">click</a>' in capsys.readouterr().out
    assert quiet_hostile(tmp_path, offered="not tried").report() == ["the delete check was not tried"]


def test_percentile_is_a_measured_value():
    assert load.percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert load.percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0


def browser_context(identity: str | None) -> SimpleNamespace:
    cookies = [{"name": "mnist_identity", "value": identity}] if identity else []
    return SimpleNamespace(cookies=lambda: [{"name": "_streamlit_xsrf", "value": "x"}, *cookies])


def test_a_context_finds_the_run_it_asked_for_or_joined(tmp_path):
    from dashboard.identity import owner_of
    from mnist_models.presets import PRESETS
    from mnist_models.store.progress import COMPLETED, QUEUED

    store = RunStore(tmp_path / "runs")
    first, joined, stranger = "a" * 32, "b" * 32, "c" * 32
    run_id = store.create(*PRESETS["softmax"].configs(), status=QUEUED, owner=owner_of(first))
    store.add_owner(run_id, owner_of(joined))
    assert hostile.owner_in(browser_context(first)) == owner_of(first)
    assert hostile.owner_in(browser_context(None)) is None
    assert [hostile.run_of(store, browser_context(who)) for who in (first, joined, stranger, None)] == [
        run_id, run_id, None, None]

    learner = hostile.Hostile("http://127.0.0.1:1", store, 0, 100, 1)
    assert learner.completed_honest_run() is None, "not completed yet"
    store.update(run_id, status=COMPLETED)
    assert learner.completed_honest_run() == run_id
    learner.run_ids.append(run_id)
    assert learner.completed_honest_run() is None, "the hostile learner's own runs are not honest ones"
