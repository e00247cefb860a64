"""Measure how much watching a training in the dashboard slows it down: 0, 1 and 3 browser tabs watching.

The same preset is trained four ways, one after the other: with the command line (nobody watching); through
a JobQueue in this process (the dashboard's worker path, nobody watching, no server); from the Train page of a
real `streamlit run dashboard/app.py` server with that one headless Chromium tab left open on the live view;
and started from one tab while two more tabs (each its own browser context, so its own identity) open Train
and watch the same run's live Accuracy and Loss charts. Each dashboard phase gets a fresh server and runs
folder. The figure compared is the training time the run store records (`seconds` in the run's meta.json),
so page loads and server start-up are not counted. The tabs' drawing (Chromium, and the server's fragment
reruns once a second per tab) shares the CPUs with the worker: that is the cost measured. Targets: at most
1.10 times the command line's time with one tab, 1.25 with three. Every path's `seconds` start once TensorFlow
is imported and MNIST loaded (a queue's worker does both before it takes a job); the "vs queue" column
compares with the worker path with nobody watching.

    python benchmarks/watchers.py                               # five-layer-relu-adam, 6 epochs: about 2 minutes
    python benchmarks/watchers.py --epochs 3 --repeats 3        # prints medians over the repeats
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, free_port, stop_process  # noqa: E402
from mnist_models.config import MAX_EPOCHS  # noqa: E402
from mnist_models.presets import PRESETS, get_preset  # noqa: E402
from mnist_models.store.progress import COMPLETED  # noqa: E402
from mnist_models.store.runs import FINAL_STATUSES, RunInfo, RunStore  # noqa: E402

TARGETS = {1: 1.10, 3: 1.25}  # the ratio to the command line's time allowed with that many tabs watching
LABELS = {0: "command line", "queue": "queue, no tab", 1: "1 tab", 3: "3 tabs"}
PAGE_SECONDS = 60  # a first page load on a busy 2-core machine, charts included
LOG_TROUBLE = re.compile(r"Traceback|Exception|Error|Warning", re.IGNORECASE)


def epochs_arg(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_EPOCHS}")
    return value


def port_arg(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be from 1 to 65535 (0: a free one)")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="five-layer-relu-adam", choices=list(PRESETS), metavar="NAME",
                        help="preset to train (default five-layer-relu-adam)")
    parser.add_argument("--epochs", type=epochs_arg, default=6, help="epochs per training (default 6)")
    parser.add_argument("--repeats", type=positive, default=1,
                        help="times to measure all four ways; with more than 1 the medians are printed (default 1)")
    parser.add_argument("--port", type=port_arg, default=0, help="the dashboard's port (default: a free one)")
    return parser.parse_args()


def train_cli(preset: str, epochs: int, folder: Path) -> tuple[float, float]:
    """(seconds, test accuracy) of the command line's training, nobody watching, from its last line's JSON."""
    env = {**os.environ, "MNIST_RUNS_DIR": str(folder / "runs")}
    done = subprocess.run([sys.executable, "-m", "mnist_models", "train", "--preset", preset, "--epochs", str(epochs)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"The command line's training failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["test_accuracy"]


def wait_completed(store: RunStore, run_id: str, pause) -> RunInfo:
    """Poll the run's meta until it is completed; any other final status (or an hour) ends the benchmark."""
    deadline = time.monotonic() + 3600
    while (info := store.get(run_id)).status != COMPLETED:
        if info.status in FINAL_STATUSES or time.monotonic() > deadline:
            raise SystemExit(f"The training is {info.status}: {info.error}; see {info.path}.")
        pause()
    return info


def train_queue(preset: str, epochs: int, folder: Path) -> tuple[float, float]:
    """(seconds, test accuracy) of the dashboard's own path without the dashboard: a JobQueue's worker, which
    imports TensorFlow and loads MNIST before it takes the job, as the server's does (the CLI's `seconds`
    include that start-up)."""
    from mnist_models.jobs.queue import JobQueue

    store = RunStore(folder / "runs")
    queue = JobQueue(store)
    try:
        model, train = get_preset(preset).configs()
        train.epochs = epochs
        run_id = queue.submit(model, train, preset=preset)
        info = wait_completed(store, run_id, lambda: time.sleep(0.5))
    finally:
        queue.shutdown(stop_running=True)
    return info.seconds, info.test_accuracy


def start_server(folder: Path, port: int) -> tuple[subprocess.Popen, str, Path]:
    """`streamlit run dashboard/app.py` with its runs under folder/runs; waits until /_stcore/health answers."""
    import urllib.request

    port = port or free_port()
    url, log_path = f"http://127.0.0.1:{port}", folder / "streamlit.log"
    env = {**os.environ, "MNIST_RUNS_DIR": str(folder / "runs"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url, log_path
        except OSError:
            time.sleep(0.25)
    stop_process(process)
    raise SystemExit(f"The dashboard did not become healthy; its log:\n{log_path.read_text(errors='replace')[-3000:]}")


def open_train(browser, url: str):
    """A new browser context (its own identity cookie) on the Train page. /train answers "Page not found" while
    Train is the default page (served at /), and clicking the sidebar link of the page already shown can reset
    the Train page's controls: so the link is clicked only when another page (Lab, later) opens first."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    page.goto(url)
    heading = page.get_by_role("heading", name="Train a network")
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    if not heading.is_visible():
        page.get_by_test_id("stSidebarNav").get_by_role("link", name="Train", exact=True).click()
    expect(heading).to_be_visible()
    return page


def wait_for_charts(page, run_id: str) -> None:
    """Until the page shows this run's live view with both Plotly charts (Accuracy and Loss)."""
    from playwright.sync_api import expect

    expect(page.get_by_text(run_id).first).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(2)


def watched_training(browser, url: str, store: RunStore, preset: str, epochs: int, tabs: int) -> tuple[RunInfo, list]:
    """Start a training from one tab, have tabs-1 more watch it, and wait until the run is completed.
    Returns the run as the store records it and the exceptions any tab showed."""
    from playwright.sync_api import expect

    pages = [open_train(browser, url)]
    first = pages[0]
    first.get_by_role("combobox", name="Preset").click()
    first.get_by_role("option", name=f"{PRESETS[preset].title}  ({preset})", exact=True).click()
    epochs_field = first.get_by_label("Epochs", exact=True)
    epochs_field.fill(str(epochs))
    epochs_field.press("Enter")
    expect(epochs_field).to_have_value(str(epochs))
    train = first.get_by_role("button", name="Train", exact=True)
    expect(train).to_be_enabled()
    train.click()
    expect(train).to_be_disabled()
    runs = store.list()
    if len(runs) != 1:
        raise SystemExit(f"Expected one run in {store.root} after pressing Train, found {len(runs)}.")
    run_id = runs[0].run_id
    model, train_config = get_preset(preset).configs()
    train_config.epochs = epochs
    if store.load_configs(run_id) != (model, train_config):
        raise SystemExit(f"The dashboard started {run_id} with other settings than {preset}'s with {epochs} epochs.")
    pages += [open_train(browser, url) for _ in range(tabs - 1)]
    for page in pages:
        wait_for_charts(page, run_id)
    print(f"  {tabs} tab(s) showing the live charts of {run_id}", flush=True)
    # Chromium keeps drawing on its own; the page's short waits only pace the polling.
    info = wait_completed(store, run_id, lambda: first.wait_for_timeout(500))
    exceptions = [text for page in pages for text in page.locator('[data-testid="stException"]').all_inner_texts()]
    for page in pages:
        page.context.close()
    return info, exceptions


def dashboard_phase(browser, preset: str, epochs: int, tabs: int, port: int) -> tuple[float, float]:
    """(seconds, test accuracy) of a training watched by `tabs` tabs, on a fresh server and runs folder."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        process, url, log_path = start_server(folder, port)
        try:
            info, exceptions = watched_training(browser, url, RunStore(folder / "runs"), preset, epochs, tabs)
        finally:
            stop_process(process)
            trouble = [line for line in log_path.read_text(errors="replace").splitlines() if LOG_TROUBLE.search(line)]
            for line in trouble[:20]:
                print(f"  server log: {line}", flush=True)
        for text in exceptions:
            print(f"  exception shown on a page: {text[:300]}", flush=True)
        return info.seconds, info.test_accuracy


def main() -> int:
    args = parse_args()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PAGE_SECONDS * 1000)

    # (seconds, test accuracy) per repeat, by how many tabs watched (0: the command line).
    results: dict[int | str, list[tuple[float, float]]] = {0: [], "queue": [], 1: [], 3: []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for repeat in range(args.repeats):
                for tabs in results:
                    if isinstance(tabs, int) and tabs:
                        results[tabs].append(dashboard_phase(browser, args.preset, args.epochs, tabs, args.port))
                    else:
                        with tempfile.TemporaryDirectory() as folder:
                            train = train_cli if tabs == 0 else train_queue
                            results[tabs].append(train(args.preset, args.epochs, Path(folder)))
                    print(f"repeat {repeat + 1}: {LABELS[tabs]:<13} {results[tabs][-1][0]:7.2f} s", flush=True)
        finally:
            browser.close()

    seconds = {tabs: statistics.median(run[0] for run in runs) for tabs, runs in results.items()}
    print(f"\n{args.preset}, {args.epochs} epochs: training seconds as the run store records them"
          + (f" (medians of {args.repeats})" if args.repeats > 1 else ""))
    print(f"{'watching':<14}{'seconds':>8}{'ratio':>7}  {'target':<8}{'result':<9}{'vs queue':>8}   test accuracy")
    for tabs, runs in results.items():
        ratio = seconds[tabs] / seconds[0]
        target, result = "", ""
        if tabs in TARGETS:
            target, result = f"<= {TARGETS[tabs]:.2f}", "met" if ratio <= TARGETS[tabs] else "NOT met"
        accuracies = ", ".join(f"{accuracy:.2%}" for _, accuracy in runs)
        print(f"{LABELS[tabs]:<14}{seconds[tabs]:8.2f}{ratio:7.3f}  {target:<8}{result:<9}"
              f"{seconds[tabs] / seconds['queue']:8.3f}   {accuracies}")
    print("ratio: to the command line (the targets); vs queue: to the same worker path with nobody watching")
    return 0


if __name__ == "__main__":
    sys.exit(main())
