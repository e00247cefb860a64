"""How fast each dashboard page opens in headless Chromium, as a ratio to a bare Streamlit page measured alongside.

Starts a bare Streamlit page (a title and a line of text) and the dashboard (`streamlit run dashboard/app.py`,
both from the project root, so both read .streamlit/config.toml), and times each page from a new tab's
navigation to the page being idle with its heading drawn. Idle means, all at once: the page's `h1` heading is
visible; Streamlit's app element says the script run ended and the websocket is connected
(`data-test-script-state="notRunning"`, `data-test-connection-state="CONNECTED"`) and its running indicator
(`stStatusWidget`) is gone; no element still shows the skeleton Streamlit draws while that element's code
loads; every component has mounted and every live chart is drawn (its `data-drawn`); no HTTP request
the tab started is in flight (lazy JavaScript chunks, images, components); two animation frames have been
painted since. A load counts as idle at the first such moment after which nothing new starts for QUIET_SECONDS.

Cold: the first page a freshly started server serves, in a browser context with an empty cache (one server
start per page and per `--cold-repeats`); "start→idle" adds the server's own start, from `streamlit run` to that
first page idle. Warm: the median of `--repeats` new tabs of one context that has already seen every page,
pages and the bare page taken in turn so that a busy moment of the machine falls on all of them alike. It
measures with an empty run store and with `--runs` runs owned by the measuring browser (one real softmax
training, copied).

    python benchmarks/page_load.py                          # 5 warm repeats, cold once, 0 and 30 runs
    python benchmarks/page_load.py --repeats 9 --cold-repeats 3 --pages Lab,Train
    python benchmarks/page_load.py --first-point 5          # Train -> first live point drawn, instead

Exit code 0 once it has measured, 1 if a server would not start or a page never became idle, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.arguments import names_of, ranged  # noqa: E402
from benchmarks.browser import (  # noqa: E402
    SERVER_START_SECONDS,
    VIEWPORT,
    free_port,
    in_chromium,
    start_server,
    stop_process,
)

BARE = "bare"
PAGES = {"Lab": ("/", "Lab: neural networks, step by step"), "Train": ("/train", "Train a network"),
         "Runs": ("/runs", "Saved runs"), "Draw": ("/draw", "Draw a digit"),
         "Inspect": ("/inspect", "Inspect a trained network")}
BARE_HEADING = "A bare page"
BARE_SCRIPT = f'import streamlit as st\n\nst.title("{BARE_HEADING}")\nst.write("A line of text.")\n'
IDENTITY = "0123456789abcdef0123456789abcdef"  # the measuring browser's identity cookie: it owns the runs
LOAD_SECONDS = 90  # a page not idle by then counts as a failed load
QUIET_SECONDS = 0.3  # how long nothing new may start once a page looks idle, for it to count as idle
TARGET_WARM, TARGET_COLD = 1.5, 2.2  # the targets, as ratios to the bare page
TARGET_FIRST_POINT = 2.0  # seconds from the click on Train to the first live point drawn

# True once the app is connected, its script run has ended, its running indicator is gone, `heading` shows and
# everything the page holds is drawn: no element still loading its code (a skeleton), every chart (Streamlit's
# Plotly charts, and the live charts, which load plotly.js once their component's script runs), every custom
# component (the drawing pad) and every image, no spinner left.
IDLE_JS = """(heading) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app || app.dataset.testScriptState !== "notRunning" || app.dataset.testConnectionState !== "CONNECTED")
        return false;
    if (document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]'))
        return false;
    if (document.querySelector('[data-testid="stMain"] [data-testid="stSpinner"]')) return false;
    // An element whose code is still loading (Streamlit loads most element types on first use) shows a skeleton.
    if (document.querySelector('[data-testid="stMain"] [data-testid^="stSkeleton"]')) return false;
    const all = (selector, drawn) => [...document.querySelectorAll(selector)].every(drawn);
    const charts = all('[data-testid="stPlotlyChart"]', (chart) => chart.querySelector(".js-plotly-plot"))
        && all(".mnist-live-chart", (chart) => chart.dataset.drawn === "true")
        && all('[data-testid="stVegaLiteChart"]', (chart) => chart.querySelector("canvas, svg"));
    const components = all('[data-testid="stBidiComponentRegular"]', (host) => host.childElementCount > 0)
        && all('[data-testid="stBidiComponentIsolated"]', (host) => [host, ...host.querySelectorAll("*")].some(
            (element) => element.shadowRoot && element.shadowRoot.childElementCount > 0));
    if (!charts || !components || !all('[data-testid="stMain"] img', (image) => image.complete)) return false;
    return [...document.querySelectorAll("h1")].some(
        (element) => element.textContent.trim() === heading && element.getClientRects().length > 0);
}"""
TWO_FRAMES_JS = "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=ranged(1, 50), default=5,
                        help="warm loads of each page; the median is printed (default 5)")
    parser.add_argument("--cold-repeats", type=ranged(0, 10), default=1,
                        help="server starts per page for the cold loads, 0 for none (default 1)")
    parser.add_argument("--runs", type=ranged(0, 500), default=30,
                        help="runs in the full store, 0 to measure the empty store only (default 30)")
    parser.add_argument("--pages", type=names_of(PAGES), default=list(PAGES),
                        help=f"pages to measure, comma-separated (default {','.join(PAGES)})")
    parser.add_argument("--first-point", type=ranged(0, 20), default=0, metavar="N",
                        help="instead of the page loads: N new learners press Train (a ready worker waiting) and "
                             "the seconds to the first live point drawn are split by stage (see "
                             "benchmarks/first_point.py)")
    return parser.parse_args(argv)


def ratio(seconds: float | None, bare: float | None) -> str:
    """`seconds` as a multiple of the bare page's ("1.32x"), or "–" when either is missing."""
    return "–" if seconds is None or not bare else f"{seconds / bare:.2f}x"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fill_store(folder: Path, count: int, owner: str) -> None:
    """One real training (softmax, 2,000 images, 2 epochs) owned by `owner`, copied until `folder` holds `count`."""
    from mnist_models.presets import get_preset
    from mnist_models.store.runs import RunStore
    from mnist_models.worker.training import TrainingThread

    store = RunStore(folder)
    model, train = get_preset("softmax").configs()
    train.train_size, train.epochs = 2000, 2
    first = TrainingThread(model, train, store=store, preset="softmax", owner=owner).start().wait()
    created = store.get(first.run_id).created
    for index in range(1, count):
        run_id = f"{first.run_id[:-6]}{index:06x}"
        shutil.copytree(store.folder(first.run_id), folder / run_id)
        store.update(run_id, name=f"copy {index}", created=created + index)


class Server:
    """A started `streamlit run` (the dashboard, or the bare page) and how long it took to answer its health check."""

    def __init__(self, url: str, process: subprocess.Popen, started: float):
        self.url, self.process, self.started = url, process, started

    def stop(self) -> None:
        stop_process(self.process)


def start_dashboard(folder: Path) -> Server:
    started = time.perf_counter()
    server = start_server(folder)
    return Server(server.url, server.process, started)


def start_bare(folder: Path) -> Server:
    """The bare page, served like the dashboard: same flags, same working folder and so the same config file."""
    return start_page(folder, "bare_page.py", BARE_SCRIPT, what="The bare Streamlit page")


def start_page(folder: Path, name: str, script: str, what: str = "A measured page") -> Server:
    """`streamlit run` of `script` (written to `folder`/`name`) with the dashboard's flags, from the project root."""
    path = folder / name
    path.write_text(script)
    port = free_port()
    started = time.perf_counter()
    command = [sys.executable, "-m", "streamlit", "run", str(path), "--server.headless", "true", "--server.port",
               str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return Server(url, process, started)
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"{what} did not start.")


def new_context(browser, url: str):
    """A browser context with an empty cache, carrying the measuring learner's identity cookie."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": "mnist_identity", "value": IDENTITY, "url": url}])
    return context


def timed_load(context, url: str, heading: str) -> float:
    """Seconds from a new tab's navigation to the page idle with `heading` drawn (see the module's docstring)."""
    page = context.new_page()
    try:
        return load_until_idle(page, url, heading)
    finally:
        page.close()


def load_until_idle(page, url: str, heading: str) -> float:
    """Opens `url` in `page` and returns the seconds until it is idle with `heading` drawn; the page stays open."""
    in_flight: set = set()
    last_start = [0.0]

    def started(request) -> None:
        in_flight.add(request)
        last_start[0] = time.perf_counter()

    def ended(request) -> None:
        in_flight.discard(request)

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    began = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=LOAD_SECONDS * 1000)
    while True:
        page.wait_for_function(IDLE_JS, arg=heading, polling="raf", timeout=LOAD_SECONDS * 1000)
        while in_flight:
            page.wait_for_timeout(10)
        page.evaluate(TWO_FRAMES_JS)
        idle_at = time.perf_counter()
        page.wait_for_timeout(QUIET_SECONDS * 1000)
        if not in_flight and last_start[0] < idle_at and page.evaluate(IDLE_JS, heading):
            return idle_at - began
        if idle_at - began > LOAD_SECONDS:
            raise TimeoutError(f"{url} did not become idle within {LOAD_SECONDS} s")


def cold_loads(browser, folder: Path, pages: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """Per page: the medians of (first page load, `streamlit run` → that page idle) over `repeats` server starts."""
    found: dict[str, tuple[list, list]] = {name: ([], []) for name in [BARE, *pages]}
    for _ in range(repeats):
        for name in [BARE, *pages]:
            server = start_bare(folder) if name == BARE else start_dashboard(folder)
            try:
                context = new_context(browser, server.url)
                path, heading = ("/", BARE_HEADING) if name == BARE else PAGES[name]
                seconds = timed_load(context, server.url + path, heading)
                found[name][0].append(seconds)
                found[name][1].append(time.perf_counter() - server.started)
                context.close()
            finally:
                server.stop()
            print(f"  cold {name:<8} {seconds:6.2f} s", flush=True)
    return {name: (median(loads), median(starts)) for name, (loads, starts) in found.items()}


def warm_loads(browser, folder: Path, bare_url: str, pages: list[str], repeats: int) -> dict[str, float]:
    """Per page (and the bare page): the median seconds of `repeats` loads in new tabs of a context that knows it."""
    server = start_dashboard(folder)
    try:
        contexts = {BARE: new_context(browser, bare_url), "dashboard": new_context(browser, server.url)}
        targets = {BARE: (contexts[BARE], bare_url, BARE_HEADING)}
        targets.update({name: (contexts["dashboard"], server.url + PAGES[name][0], PAGES[name][1])
                        for name in pages})
        for context, url, heading in targets.values():
            timed_load(context, url, heading)  # fills the browser's cache and the server's caches
        seconds: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(repeats):
            for name, (context, url, heading) in targets.items():
                seconds[name].append(timed_load(context, url, heading))
        print("  warm " + ", ".join(f"{name} {' '.join(f'{value:.2f}' for value in values)}"
                                    for name, values in seconds.items()), flush=True)
        for context in contexts.values():
            context.close()
        return {name: median(values) for name, values in seconds.items()}
    finally:
        server.stop()


def report(label: str, pages: list[str], cold: dict, warm: dict) -> list[str]:
    """Prints one store's table; returns the targets it missed."""
    print(f"\n{label}: seconds from a new tab to the page idle with its heading drawn")
    print(f"{'page':<9}{'cold s':>8}{'ratio':>8}{'start→idle s':>14}{'ratio':>8}{'warm s':>8}{'ratio':>8}")
    bare_cold, bare_start = cold.get(BARE, (None, None))
    missed = []
    for name in [BARE, *pages]:
        load, start = cold.get(name, (None, None))
        shown = [f"{value:8.2f}" if value is not None else f"{'–':>8}" for value in (load, start, warm[name])]
        print(f"{name:<9}{shown[0]}{ratio(load, bare_cold):>8}{shown[1]:>14}{ratio(start, bare_start):>8}"
              f"{shown[2]}{ratio(warm[name], warm[BARE]):>8}")
        if name != BARE and warm[name] > TARGET_WARM * warm[BARE]:
            missed.append(f"{label}: {name} warm {warm[name] / warm[BARE]:.2f}x > {TARGET_WARM}x")
    lab_cold = cold.get("Lab", (None, None))[0]  # Lab is the first page: the one a fresh server serves first
    if lab_cold is not None and bare_cold and lab_cold > TARGET_COLD * bare_cold:
        missed.append(f"{label}: Lab cold {lab_cold / bare_cold:.2f}x > {TARGET_COLD}x")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="mnist-page-load-"))
    if args.first_point:
        from benchmarks import first_point

        return first_point.main(folder, args.first_point, TARGET_FIRST_POINT)
    stores = {"empty store": folder / "empty"}
    if args.runs:
        from dashboard.identity import owner_of

        stores[f"{args.runs} runs"] = folder / "full"
        print(f"training one softmax run and copying it {args.runs} times ...", flush=True)
        fill_store(folder / "full" / "runs", args.runs, owner_of(IDENTITY))

    def measure(browser) -> list[str]:
        missed = []
        bare = start_bare(folder)
        try:
            for label, store_folder in stores.items():
                store_folder.mkdir(exist_ok=True)
                print(f"{label} ...", flush=True)
                cold = cold_loads(browser, store_folder, args.pages, args.cold_repeats)
                warm = warm_loads(browser, store_folder, bare.url, args.pages, args.repeats)
                missed += report(label, args.pages, cold, warm)
        finally:
            bare.stop()
        return missed

    missed = in_chromium(measure, folder)
    if missed is None:
        return 1
    print(f"\ntargets (warm <= {TARGET_WARM}x, Lab cold <= {TARGET_COLD}x the bare page): "
          + ("met" if not missed else "NOT met: " + "; ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
