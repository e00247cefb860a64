"""What watching a training costs the server, per learner's tab: is thirty watchers under half a core?

A real `streamlit run dashboard/app.py` and one long training of a Lab step (`--step`, default conv), which learners
with identities of their own have all asked for (so it is each one's run, as in a class). Then the server's CPU
time (/proc/<pid>/stat, all its threads) over `--seconds` with no tab open, with one learner's tab watching their
step in headless Chromium, and with `--tabs` tabs, each sample taken `--settle` seconds after the last tab showed
its live view (a tab's first load and its plotly.js are not what watching costs). From the three:

- the first tab's cost (one tab minus no tab): the figures built once per update for all watchers, and its own
  fragment reruns;
- each further tab's (`--tabs` minus one tab, per tab): what a thirtieth watcher adds;
- thirty watchers: the first tab's cost plus 29 further tabs'. Target: under half a core.

Each window also prints the training's speed (batches per second, from its run folder) and Chromium's CPU (at the
lowest priority by default, `--browser-nice 19`): on this two-core machine the browser shares the training's cores,
which a class's browsers, on the learners' own computers, do not.

    python benchmarks/watching_cost.py                   # 8 tabs, 20 s samples: about 3 minutes
    python benchmarks/watching_cost.py --tabs 4 --seconds 10

Exit code 0 once it has measured (whatever it found), 1 if the server, the training or Chromium would not start,
2 for bad arguments.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.arguments import ranged  # noqa: E402
from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, niced_chromium, start_server, stop_process  # noqa: E402
from benchmarks.class_browser import LAB_HEADING  # noqa: E402
from benchmarks.class_load import new_queue, one_step, step_spec, wait_for_ready_worker  # noqa: E402
from benchmarks.processes import command_line, cpu_seconds, descendants, group_cpu_seconds  # noqa: E402
from dashboard.identity import COOKIE, owner_of  # noqa: E402
from mnist_models.budget import budget_problems  # noqa: E402
from mnist_models.config import MAX_EPOCHS  # noqa: E402
from mnist_models.jobs import JobQueue  # noqa: E402
from mnist_models.store.progress import FINAL_STATUSES  # noqa: E402

CLASS = 30  # the watchers a class brings
TARGET = 0.5  # of a core, for CLASS watchers
PAGE_SECONDS = 90  # a tab not showing its live view by then counts as a failure
START_SECONDS = 300  # for the training's first batches (a cold worker imports TensorFlow first)


@dataclass(frozen=True)
class Window:
    """One sample: how many tabs watched, the wall seconds, and what the server, Chromium and the training did."""

    tabs: int
    seconds: float
    server_cpu: float  # CPU seconds
    browser_cpu: float
    batches: int

    @property
    def server_cores(self) -> float:
        return self.server_cpu / self.seconds

    @property
    def browser_cores(self) -> float:
        return self.browser_cpu / self.seconds

    @property
    def batches_per_second(self) -> float:
        return self.batches / self.seconds


@dataclass(frozen=True)
class Cost:
    """Cores of the server: for the first watching tab, for each further one, and for a class of `CLASS`."""

    first: float
    further: float

    @property
    def class_of_thirty(self) -> float:
        return self.first + (CLASS - 1) * self.further


def cost(none: Window, one: Window, many: Window) -> Cost:
    """The server's cost per tab from three samples (no tab, one, several); ValueError if they cannot say it."""
    if none.tabs != 0 or one.tabs != 1 or many.tabs < 2:
        raise ValueError("Give samples with no tab, one tab and at least two tabs.")
    if min(none.seconds, one.seconds, many.seconds) <= 0:
        raise ValueError("Every sample needs some wall time.")
    further = (many.server_cores - one.server_cores) / (many.tabs - 1)
    return Cost(first=one.server_cores - none.server_cores, further=further)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=ranged(2, 30), default=8, help="tabs in the largest sample (default 8)")
    parser.add_argument("--seconds", type=ranged(3, 600, float), default=20.0,
                        help="seconds of each sample (default 20)")
    parser.add_argument("--settle", type=ranged(0, 120, float), default=5.0,
                        help="seconds between the last tab showing its live view and the sample (default 5)")
    parser.add_argument("--step", type=one_step, default="conv",
                        help="the Lab step the learners train and watch (default conv)")
    parser.add_argument("--browser-nice", type=ranged(0, 19), default=19,
                        help="CPU niceness of Chromium (default 19, the lowest priority; 0 for the server's)")
    return parser.parse_args(argv)


def long_spec(step_id: str):
    """The step's training as the Lab submits it, with as many epochs as the compute budget allows: it outlasts the
    samples (and is stopped after them)."""
    spec = step_spec(step_id, None, None)
    epochs = MAX_EPOCHS
    while epochs > spec.train.epochs and budget_problems(spec.model, dataclasses.replace(spec.train, epochs=epochs)):
        epochs -= 1
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=epochs))


def our_chromium() -> set[int]:
    """The processes of the Chromium this script started (not another program's browser on the same machine)."""
    return {pid for pid in descendants(os.getpid()) if "chrom" in Path(command_line(pid).split(" ")[0]).name}


class Sampler:
    def __init__(self, queue: JobQueue, run_id: str, server_pid: int, seconds: float):
        self.queue, self.run_id, self.server_pid, self.seconds = queue, run_id, server_pid, seconds

    def take(self, tabs: int) -> Window:
        status = self.queue.store.get(self.run_id).status
        if status in FINAL_STATUSES:
            raise RuntimeError(f"The training ended ({status}) before the samples were taken.")
        step, server, browser = self._step(), cpu_seconds(self.server_pid), group_cpu_seconds(our_chromium())
        started = time.monotonic()
        time.sleep(self.seconds)
        window = Window(tabs, time.monotonic() - started, cpu_seconds(self.server_pid) - server,
                        group_cpu_seconds(our_chromium()) - browser, self._step() - step)
        print(f"  {tabs:2d} tab(s): server {window.server_cores:.3f} core, Chromium {window.browser_cores:.3f} "
              f"core, training {window.batches_per_second:.0f} batches/s, load average {os.getloadavg()[0]:.1f}",
              flush=True)
        return window

    def _step(self) -> int:
        return self.queue.store.progress(self.run_id).step


def open_tab(browser, url: str, identity: str, step_id: str):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    context.add_cookies([{"name": COOKIE, "value": identity, "url": url}])
    page = context.new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    page.goto(f"{url}/?step={step_id}")
    expect(page.get_by_role("heading", name=LAB_HEADING)).to_be_visible()
    expect(page.get_by_text("Training on")).to_be_visible()  # the live view's caption: it is watching
    return context


def wait_for_batches(queue: JobQueue, run_id: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while queue.store.progress(run_id).step < 20:
        if time.monotonic() > deadline or queue.store.get(run_id).status in FINAL_STATUSES:
            raise RuntimeError(f"The training did not get going ({queue.store.get(run_id).status}).")
        time.sleep(0.5)


def report(none: Window, one: Window, many: Window) -> bool:
    result = cost(none, one, many)
    verdict = "target met" if result.class_of_thirty < TARGET else "target NOT met"
    print(f"\nthe first watching tab: {result.first:.4f} core (the figures, built once per update for every "
          f"watcher, and its own reruns)")
    print(f"each further tab: {result.further:.4f} core")
    print(f"thirty watchers: {result.class_of_thirty:.3f} core (target < {TARGET}: {verdict})")
    print(f"the training: {none.batches_per_second:.0f} batches/s with no tab, {one.batches_per_second:.0f} with one, "
          f"{many.batches_per_second:.0f} with {many.tabs} (Chromium: {one.browser_cores:.2f} and "
          f"{many.browser_cores:.2f} core, on the same two cores)")
    return result.class_of_thirty < TARGET


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not CHROMIUM.is_file():
        print(f"This benchmark needs Chromium at {CHROMIUM}.")
        return 1
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="mnist-watching-"))
    identities = [f"{index:032x}" for index in range(1, args.tabs + 1)]
    queue = new_queue(folder / "runs")  # made before the server's: this script's queue leads
    server = None
    try:
        server = start_server(folder)
        wait_for_ready_worker(queue)
        spec = long_spec(args.step)
        run_ids = {run_id for identity in identities
                   for run_id in queue.submit_series([spec], owner=owner_of(identity))}
        if len(run_ids) != 1:
            raise RuntimeError(f"The learners' identical requests made {len(run_ids)} trainings, not one.")
        [run_id] = run_ids
        wait_for_batches(queue, run_id)
        print(f"server on {server.url}; {args.tabs} learners share one training of {args.step}; samples of "
              f"{args.seconds:g} s", flush=True)
        sampler = Sampler(queue, run_id, server.process.pid, args.seconds)
        with sync_playwright() as playwright:
            launcher = niced_chromium(folder, args.browser_nice) if args.browser_nice else CHROMIUM
            browser = playwright.chromium.launch(executable_path=str(launcher), args=CHROMIUM_ARGS)
            none = sampler.take(0)
            tabs = [open_tab(browser, server.url, identities[0], args.step)]
            time.sleep(args.settle)
            one = sampler.take(1)
            tabs += [open_tab(browser, server.url, identity, args.step) for identity in identities[1:]]
            time.sleep(args.settle)
            many = sampler.take(args.tabs)
            for context in tabs:
                context.close()
            browser.close()
        report(none, one, many)
        return 0
    except (RuntimeError, PlaywrightError) as error:
        print(f"not measured: {str(error).splitlines()[0]}")
        return 1
    finally:
        queue.shutdown(stop_running=True)
        if server is not None:
            stop_process(server.process)


if __name__ == "__main__":
    sys.exit(main())
