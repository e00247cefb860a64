"""Train → first live point drawn: how long a learner who presses Train waits for the chart's first point, and where
that time goes. `python benchmarks/page_load.py --first-point N` runs it.

Each repeat is a new learner (a fresh browser context and identity, so no earlier run is on the page and the tab
has not loaded plotly.js yet) on a server whose queue holds a ready worker: once that worker sits idle (TensorFlow
imported, its CPU time flat), the page opens Train and clicks Train with the default preset. The tab's own clock
(epoch milliseconds) records the click, the live charts' first appearance (empty axes) and the first point drawn
(a chart holding a point, two frames painted after it); a thread here reads the run folder every 20 ms, as a page
would, for when the job was submitted, when its network was built (the run says "running") and when its first
point was written. Then Stop, and the next learner once the run is saved and a ready worker is back.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from pathlib import Path

from benchmarks.browser import VIEWPORT

READY_SECONDS = 120  # a ready worker not idle by then: the measurement fails
DRAWN_SECONDS = 60  # no point drawn by then: the measurement fails
IDLE_CPU_SECONDS = 1.0  # a worker whose CPU time has not grown for this long is waiting for its job

# In the tab: the click on Train, the live charts appearing, and the first point drawn, in epoch milliseconds.
PROBE_JS = """() => {
    const seen = window.__firstPoint = {click: null, chart: null, drawn: null};
    const now = () => performance.timeOrigin + performance.now();
    document.addEventListener("click", (event) => {
        const button = event.target.closest("button");
        if (button && button.innerText.trim().endsWith("Train") && seen.click === null) seen.click = now();
    }, true);
    const look = () => {
        if (seen.click !== null) {
            const charts = [...document.querySelectorAll(".mnist-live-chart, .js-plotly-plot")];
            if (seen.chart === null && charts.some((chart) => chart._fullLayout)) seen.chart = now();
            const pointed = charts.some((chart) => chart._fullLayout && (chart.data || []).some(
                (trace) => (trace.x || []).length > 0));
            if (pointed) {
                // Two frames later the point is on the screen.
                requestAnimationFrame(() => requestAnimationFrame(() => { seen.drawn = now(); }));
                return;
            }
        }
        requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
}"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _workers(server_pid: int) -> list[int]:
    found = []
    for pid in _children(server_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mnist_models.worker" in command:
            found.append(pid)
    return found


def wait_for_ready_worker(server_pid: int) -> float:
    """Wait until the server has exactly one worker process and it sits idle (TensorFlow imported, waiting for a
    job); returns the seconds waited."""
    began = time.monotonic()
    last: dict[int, tuple[int | None, float]] = {}
    while time.monotonic() - began < READY_SECONDS:
        workers = _workers(server_pid)
        if len(workers) == 1:
            pid = workers[0]
            ticks = _cpu_ticks(pid)
            seen, since = last.get(pid, (None, time.monotonic()))
            if ticks != seen:
                last[pid] = (ticks, time.monotonic())
            elif time.monotonic() - since >= IDLE_CPU_SECONDS:
                return time.monotonic() - began
        time.sleep(0.1)
    raise TimeoutError(f"no ready worker within {READY_SECONDS} s")


class FolderWatch(threading.Thread):
    """Reads the runs folder every 20 ms: when the new run appeared, had its network built, wrote its first point."""

    def __init__(self, runs_dir: Path, before: set[str]):
        super().__init__(daemon=True)
        from mnist_models.store.runs import RunStore

        self.store, self.before = RunStore(runs_dir), before
        self.run_id: str | None = None
        self.times: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        from mnist_models.store.progress import QUEUED, STARTING

        while not self.done.is_set():
            now = time.time()
            try:
                if self.run_id is None:
                    new = [info for info in self.store.list() if info.run_id not in self.before]
                    if new:
                        self.run_id = new[0].run_id
                        self.times["submitted"] = new[0].created
                if self.run_id is not None:
                    progress = self.store.progress(self.run_id)
                    if progress.status not in (QUEUED, STARTING):
                        self.times.setdefault("network built", now)
                    if progress.train:
                        self.times.setdefault("point written", now)
                        return
            except (OSError, ValueError):
                pass  # a file caught mid-write: read it again
            time.sleep(0.02)


def one_press(browser, server, preset_note: list[str]) -> dict[str, float]:
    """One new learner presses Train; returns seconds from the click to each stage."""
    from playwright.sync_api import expect

    from benchmarks.page_load import IDLE_JS, LOAD_SECONDS

    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": "mnist_identity", "value": uuid.uuid4().hex, "url": server.url}])
    page = context.new_page()
    try:
        # First the ready worker (and the previous learner's job gone from the queue, which Train would show).
        wait_for_ready_worker(server.process.pid)
        page.goto(server.url + "/train", timeout=LOAD_SECONDS * 1000)
        page.wait_for_function(IDLE_JS, arg="Train a network", polling="raf", timeout=LOAD_SECONDS * 1000)
        if page.locator(".mnist-live-chart, .js-plotly-plot").count():
            raise RuntimeError("Train already shows a chart before the click: another training is on the server")
        if not preset_note:
            preset_note.append(page.get_by_role("combobox", name="Preset").input_value())
        page.evaluate(PROBE_JS)
        watch = FolderWatch(server.runs_dir, {path.name for path in server.runs_dir.glob("*") if path.is_dir()})
        watch.start()
        page.get_by_role("button", name="Train", exact=True).click()
        page.wait_for_function("() => window.__firstPoint.drawn !== null", timeout=DRAWN_SECONDS * 1000)
        seen = page.evaluate("() => window.__firstPoint")
        watch.join(DRAWN_SECONDS)
        watch.done.set()
        click = seen["click"] / 1000
        stages = {"submitted": watch.times.get("submitted"), "network built": watch.times.get("network built"),
                  "point written": watch.times.get("point written"), "chart shown": seen["chart"] / 1000,
                  "point drawn": seen["drawn"] / 1000}
        page.get_by_role("button", name="Stop", exact=True).click()
        expect(page.get_by_role("button", name="Stop", exact=True)).to_be_disabled(timeout=DRAWN_SECONDS * 1000)
        return {name: (moment - click if moment is not None else float("nan")) for name, moment in stages.items()}
    finally:
        context.close()


def measure(browser, folder: Path, repeats: int) -> dict[str, float]:
    """`repeats` new learners pressing Train on one server; prints each and returns the medians per stage."""
    from benchmarks.browser import start_server, stop_process
    from benchmarks.page_load import new_context, timed_load

    server = start_server(folder)
    found: dict[str, list[float]] = {}
    preset: list[str] = []
    try:
        # The first page drawn lets the queue prepare its ready worker (dashboard/state.py holds it back until then).
        context = new_context(browser, server.url)
        timed_load(context, server.url + "/train", "Train a network")
        context.close()
        for repeat in range(repeats):
            stages = one_press(browser, server, preset)
            for name, seconds in stages.items():
                found.setdefault(name, []).append(seconds)
            print(f"  first point #{repeat + 1}: " + ", ".join(f"{name} {seconds:.2f}"
                                                            for name, seconds in stages.items()), flush=True)
    finally:
        stop_process(server.process)
    medians = {name: statistics.median(values) for name, values in found.items()}
    print(f"\nTrain -> first live point, a new learner with a ready worker ({preset[0] if preset else '?'}), "
          f"medians of {repeats}, seconds after the click:")
    for name, seconds in medians.items():
        print(f"  {name:<14}{seconds:6.2f}")
    return medians


def main(folder: Path, repeats: int, target: float) -> int:
    """Measures in headless Chromium, prints whether the first point was drawn within `target` seconds (median);
    returns page_load.py's exit code (1 if a server or a page failed)."""
    from benchmarks.browser import in_chromium

    medians = in_chromium(lambda browser: measure(browser, folder, repeats), folder)
    if medians is None:
        return 1
    drawn = medians["point drawn"]
    print(f"target (first point drawn <= {target:g} s after the click): "
          + ("met" if drawn <= target else f"NOT met ({drawn:.2f} s)"))
    return 0
