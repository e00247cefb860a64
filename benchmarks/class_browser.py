"""The browser's side of benchmarks/class_load.py: learners' Chromium tabs watching their Lab step while a class
trains, and a fresh browser context loading the Lab and the Class page every `--interval` seconds."""

from __future__ import annotations

import argparse
import math
import re
import time
from typing import TYPE_CHECKING

from benchmarks.browser import VIEWPORT, unlock_teacher
from dashboard.identity import COOKIE
from mnist_models.jobs import JobQueue

if TYPE_CHECKING:
    from benchmarks.class_load import Learner

TEACHER_PASSWORD = "class-load-chalk"
PAGE_SECONDS = 60  # a page not shown by then counts as a failed load
LAB_HEADING = "Lab: neural networks, step by step"
EXCEPTION = '[data-testid="stException"]'


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share 0.5 for p50): a value that was really measured, fine for few samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Watch:
    """The browser's side: learners' tabs watching their step, fresh page loads."""

    def __init__(self, browser, url: str, tabs: int, args: argparse.Namespace):
        self.browser, self.url, self.tabs, self.args = browser, url, tabs, args
        self.open: list = []  # the watching tabs' contexts
        self.loads: dict[str, list[float]] = {"Lab": [], "Class": []}
        self.failed_loads = 0
        self.exceptions: set[str] = set()
        self.next_round = 0.0

    def during(self, queue: JobQueue, learners: list[Learner]) -> None:
        """One piece of the browser's work while a class trains (the caller repeats it until the class is done):
        open the tabs of learners whose training runs, or a round of page loads."""
        from playwright.sync_api import Error as PlaywrightError

        if not self.open:
            running = {job.run_id for job in queue.jobs() if job.position is None}
            watchers = [learner for learner in learners if learner.run_id in running][:self.tabs]
            if len(watchers) < min(self.tabs, len(learners)):
                time.sleep(0.2)
                return
            try:
                self._open_tabs(watchers)
            except PlaywrightError as error:
                self.failed_loads += 1
                print(f"  a watching tab failed to show: {str(error).splitlines()[0]}", flush=True)
                return
        elif time.monotonic() >= self.next_round:
            step_id = learners[0].step_id
            self._timed("Lab", self._load_lab, step_id)
            self._timed("Class", self._load_class)
            self.next_round = time.monotonic() + self.args.interval
        else:
            time.sleep(0.2)

    def close_tabs(self) -> None:
        for context in self.open:
            context.close()
        self.open = []

    def _open_tabs(self, watchers: list[Learner]) -> None:
        from playwright.sync_api import expect

        for index in range(self.tabs):  # a class of one watches with all the tabs (one learner's several tabs)
            learner = watchers[index % len(watchers)]
            context = self.browser.new_context(viewport=VIEWPORT)
            context.add_cookies([{"name": COOKIE, "value": learner.identity, "url": self.url}])
            self.open.append(context)
            page = context.new_page()
            page.set_default_timeout(PAGE_SECONDS * 1000)
            page.goto(f"{self.url}/?step={learner.step_id}")
            expect(page.get_by_role("heading", name=LAB_HEADING)).to_be_visible()
            expect(page.get_by_test_id("stMetric").filter(has_text="Your best")).to_be_visible()
        self.open[-1].pages[0].wait_for_timeout(1000)  # the live views' first ticks

    def _timed(self, name: str, load, *args) -> None:
        from playwright.sync_api import Error as PlaywrightError

        context = self.browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.set_default_timeout(PAGE_SECONDS * 1000)
        try:
            self.loads[name].append(load(page, *args))
            self.exceptions.update(page.locator(EXCEPTION).all_inner_texts())
        except PlaywrightError as error:
            self.failed_loads += 1
            print(f"  {name} load failed: {str(error).splitlines()[0]}", flush=True)
        finally:
            context.close()

    def _load_lab(self, page, step_id: str) -> float:
        from playwright.sync_api import expect

        start = time.perf_counter()
        page.goto(f"{self.url}/?step={step_id}")
        expect(page.get_by_role("heading", name=LAB_HEADING)).to_be_visible()
        expect(page.get_by_role("button", name="Train this step")).to_be_visible()
        return time.perf_counter() - start

    def _load_class(self, page) -> float:
        from playwright.sync_api import expect

        page.goto(self.url)
        expect(page.get_by_role("heading", name=LAB_HEADING)).to_be_visible()
        unlock_teacher(page, TEACHER_PASSWORD)
        start = time.perf_counter()
        page.get_by_test_id("stSidebarNavLink").filter(has_text="Class").click()
        expect(page.get_by_role("heading", name="Class", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name=re.compile(r"^Queue: "))).to_be_visible()
        return time.perf_counter() - start


def report_watch(watch: Watch) -> list[str]:
    print(f"\npage loads during the classes (a fresh Chromium context; every {watch.args.interval:g} s)")
    print(f"{'page':<8}{'loads':>6}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for name, seconds in watch.loads.items():
        if seconds:
            print(f"{name:<8}{len(seconds):6d}{percentile(seconds, 0.5):8.2f}{percentile(seconds, 0.95):8.2f}"
                  f"{max(seconds):8.2f}")
    print(f"failed loads: {watch.failed_loads}; exceptions shown: {len(watch.exceptions)}")
    for text in sorted(watch.exceptions):
        print(f"  exception: {' '.join(text.split())[:300]}")
    print("the server's CPU per watching tab: see benchmarks/watching_cost.py")
    return ([f"{watch.failed_loads} page load(s) failed"] if watch.failed_loads else []) + (
        [f"exceptions shown on {len(watch.exceptions)} page(s)"] if watch.exceptions else [])
