"""A hostile learner beside the honest ones of benchmarks/load.py: floods the queue, crafts links and a run name,
sends an oversized drawing, reaches for others' runs; and what the honest learners' pages showed of it.

The hostile learner acts in a thread of its own, with its own Playwright and Chromium, while the honest learners'
jobs run and their pages are measured; every step in a fresh browser context (a new identity, as a private window
has), each training with a seed of its own so that the server cannot share it with an identical one. Honest pages
are looked at for any element pointing at the hostile host (`[href*="e.vil"]`, `[src*="e.vil"]`, shadow roots
included: Playwright's CSS locators pierce open ones) and their requests towards it are counted (there is no
network here: such a request would only fail, but it would show that the page tried).
"""

from __future__ import annotations

import base64
import re
import struct
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.browser import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, choose_preset, set_fields
from dashboard.identity import COOKIE, owner_of
from mnist_models.drawing import HINTS
from mnist_models.store.progress import COMPLETED
from mnist_models.store.runs import RunStore

HOST = "e.vil"
# A link, a picture, an HTML picture and a bare address, in the 80 characters the Run name box keeps.
RUN_NAME = f"[a](http://{HOST}) ![](http://{HOST}/t.png) <img src=http://{HOST}/y.png> www.{HOST}"
CRAFTED_LINKS = (f"/train?epochs=[answers](http://{HOST})&batch_size=<img src=http://{HOST}/x.png>",
                 "/train?%21%5B%5D(http%3A%2F%2Fe.vil%2Ft.png)=1")
SHOWN = f'[href*="{HOST}"], [src*="{HOST}"], [srcset*="{HOST}"]'
# The elements that lead away from the dashboard: not its own links that carry a crafted address's query.
OUTER_HTML = """elements => elements.filter(element => {
    const value = element.getAttribute("href") || element.getAttribute("src") || element.getAttribute("srcset");
    try { return new URL(value, document.baseURI).origin !== location.origin; } catch (error) { return true; }
}).map(element => element.outerHTML.slice(0, 200))"""
EXCEPTION = '[data-testid="stException"]'
QUEUE_FULL = "as many as this server queues"
TOO_LARGE = "larger than any drawing pad"
EXTRA_WAITING = 4  # MNIST_MAX_WAITING is the honest sessions plus this: room for the hostile learner's first jobs
BOMB_SIDE = 13_370  # pixels a side of the oversized drawing (179 MB as grey pixels, 715 MB as RGBA)
MEMORY_BOUND = 1_500 * 2**20  # the server's resident memory must stay under this (bytes)
JUMP_BOUND = 100 * 2**20  # ... and must not grow by this much while it refuses the oversized drawing
STROKE = [(90, 80), (140, 130), (150, 200)]  # a stroke in the pad's own pixels, clear of the toolbar's corner
PRESS_SECONDS = 15  # a press of Train that brings neither a job nor a warning within this was lost
HOSTILE_SEED = 1000  # the hostile learner's seeds start here, clear of the honest learners' 1, 2, 3, ...


def png_of_zeros(side: int) -> bytes:
    """A greyscale PNG of side x side black pixels written row by row: 13,370 px square compresses to ~180 kB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    compressor = zlib.compressobj(9)
    row = b"\0" * (side + 1)  # a filter byte, then one grey byte a pixel
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def to_data_url_script(png: bytes) -> str:
    """An init script that makes every canvas in the page say it holds `png` (the drawing the page sends)."""
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return f"HTMLCanvasElement.prototype.toDataURL = function () {{ return {url!r}; }};"


def memory_fields(status: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in bytes from the text of /proc/<pid>/status: the process's own resident memory now and
    at its peak, its children not included."""
    fields = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB$", status, re.MULTILINE))
    if set(fields) != {"VmRSS", "VmHWM"}:
        raise ValueError("no VmRSS and VmHWM lines: not a Linux process status")
    return int(fields["VmRSS"]) * 1024, int(fields["VmHWM"]) * 1024


def server_memory(pid: int) -> tuple[int, int]:
    return memory_fields(Path(f"/proc/{pid}/status").read_text())


def megabytes(count: int) -> str:
    return f"{count / 2**20:,.0f} MB"


def owner_in(context) -> str | None:
    """The owner key of the identity this browser context holds (its cookie), or None before it has one."""
    cookie = next((c["value"] for c in context.cookies() if c["name"] == COOKIE), None)
    return owner_of(cookie) if cookie else None


def run_of(store: RunStore, context) -> str | None:
    """The run this context's identity counts as its own (each identity has one here), or None."""
    owner = owner_in(context)
    return next((info.run_id for info in store.list() if info.owned_by(owner)), None) if owner else None


def answer_to_press(page, store: RunStore, seconds: float) -> str | None:
    """After a press of Train: "in" once the page's identity has a job, the text of the warning if one refused it
    (the queue is full, or this identity has a job already), None if neither came within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if run_of(store, page.context):
            return "in"
        refusals = [text for text in page.get_by_test_id("stAlert").all_inner_texts() if "already" in text]
        if refusals:
            return " ".join(" ".join(refusals).split())
        if page.get_by_text("This exact training").count():  # an identical training finished: take it, or not
            return " ".join(page.get_by_text("This exact training").first.inner_text().split())
        page.wait_for_timeout(200)
    return None


def press_train(page, store: RunStore, presses: int = 3) -> tuple[str, int]:
    """Press Train until the server answers, at most `presses` times; returns the answer ("in" or the refusal) and
    how many presses were lost (neither a job nor a message)."""
    for lost in range(presses):
        page.get_by_role("button", name="Train", exact=True).click()
        if (answer := answer_to_press(page, store, PRESS_SECONDS)) is not None:
            return answer, lost
    return f"neither a job nor a refusal after {presses} presses", presses


def hostile_host(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(HOST)


class Findings:
    """What the pages an honest learner sees showed of the hostile learner's content, what they requested from its
    host, the exception boxes they showed, and the checks that could not be done."""

    def __init__(self):
        self.shown: dict[str, set[str]] = {}  # where ("learner 2 Runs") -> the elements' HTML
        self.requests: dict[str, list[str]] = {}  # where -> URLs requested from the hostile host
        self.exceptions: dict[str, set[str]] = {}
        self.undone: list[str] = []  # the checks that failed to run, with why
        self.looked: set[str] = set()  # every view looked at

    def watch(self, context, where: str) -> None:
        """Record the requests this context's pages send to the hostile host from now on."""
        context.on("request", lambda request: self.requests.setdefault(where, []).append(request.url)
                   if hostile_host(request.url) else None)

    def look(self, page, where: str) -> None:
        self.looked.add(where)
        for frame in page.frames:
            found = frame.locator(SHOWN).evaluate_all(OUTER_HTML)
            if found:
                self.shown.setdefault(where, set()).update(found)
        texts = page.locator(EXCEPTION).all_inner_texts()
        if texts:
            self.exceptions.setdefault(where, set()).update(texts)

    def failed(self, what: str, error: Exception) -> None:
        self.undone.append(f"{what}: {str(error).splitlines()[0][:200]}")


class Hostile:
    """The hostile learner on a running server; `findings` collects what honest pages showed."""

    def __init__(self, url: str, store: RunStore, server_pid: int, train_size: int, epochs: int):
        self.browser, self.url, self.store, self.pid = None, url, store, server_pid
        self.train_size, self.epochs, self.seed = train_size, epochs, HOSTILE_SEED
        self.thread: threading.Thread | None = None
        self.findings = Findings()
        self.run_ids: list[str] = []  # every job it got in, the named one first
        self.named_run: str | None = None
        self.flood_in, self.refused, self.refusal = 0, False, ""
        self.link_notes: list[str] = []
        self.drawing = "not tried"  # "refused", or what happened instead
        self.drawing_growth = 0
        self.offered: list[str] | str = "not tried"  # the controls shown to change another's run, or why not checked
        self.watching_listed = 0  # honest Watching boxes that listed the hostile run
        self.watching_checked = False
        self.lost_presses = 0
        self.memory: list[tuple[int, int]] = []

    def start(self, windows: int, timeout: float) -> None:
        """Right after the honest presses, in a thread of its own: the named job, the crafted links, `windows`
        private windows; then, once an honest run is completed, the oversized drawing and the delete."""
        self.sample_memory()
        self.thread = threading.Thread(target=self._act, args=(windows, time.monotonic() + timeout),
                                       name="hostile learner", daemon=True)
        self.thread.start()

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _act(self, windows: int, deadline: float) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:  # Playwright's sync API wants one instance per thread
                self.browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    self.train_named()
                    self.crafted_links()
                    self.flood(windows)
                    print(f"hostile learner: the named job {'in' if self.named_run else 'not in'}, {self.flood_in} "
                          f"more in, then refused: {'yes' if self.refused else 'no'}", flush=True)
                    while not (honest := self.completed_honest_run()) and time.monotonic() < deadline:
                        time.sleep(1)
                    if honest:
                        self.oversized_drawing()
                        self.try_delete(honest)
                finally:
                    self.browser.close()
        except Exception as error:  # a report, not a crash: the honest measurement goes on
            self.findings.failed("the hostile learner", error)

    def completed_honest_run(self) -> str | None:
        """A completed run that is not the hostile learner's: an honest learner's (every run here is one or other)."""
        return next((info.run_id for info in self.store.list()
                     if info.status == COMPLETED and info.run_id not in self.run_ids), None)

    def each_round(self, learners: dict, named_started: bool) -> None:
        """From the measuring thread each round: sample the server's memory; once the named job has left the queue,
        look at the honest learners' Watching boxes."""
        self.sample_memory()
        if named_started and not self.watching_checked:
            self.watching_checked = True
            self.look_at_train_pages(learners)

    def finish(self, learners: dict, timeout: float) -> None:
        """After every job ended: wait for the hostile learner, then each honest learner's Runs and Draw."""
        if self.thread is not None:
            self.thread.join(timeout)
        if self.busy():
            self.findings.undone.append(f"the hostile learner was still busy {timeout:.0f} s after the jobs ended")
        self.each_round(learners, named_started=self.named_run is not None)
        self.look_at_runs_and_draw(learners)
        self.sample_memory()

    def sample_memory(self) -> tuple[int, int]:
        self.memory.append(server_memory(self.pid))
        return self.memory[-1]

    def _context(self, **options):
        context = self.browser.new_context(viewport=VIEWPORT, **options)
        context.set_default_timeout(60_000)
        return context

    def _train_page(self, context, name: str | None = None):
        """Train in `context` with softmax and the small settings chosen (and `name` as the Run name); not pressed."""
        from playwright.sync_api import expect

        page = context.new_page()
        page.goto(self.url + "/train")
        expect(page.get_by_role("heading", name="Train a network")).to_be_visible()
        choose_preset(page, "softmax")
        self.seed += 1  # never an identical training: the server would share it rather than queue another
        set_fields(page, {"Training images": str(self.train_size), "Epochs": str(self.epochs), "Seed": str(self.seed)}
                   | ({"Run name": name} if name else {}))
        return page

    def _press_train(self, page) -> str:
        """Press Train (again if a press is lost); "in" once the job is made, else the warning that refused it."""
        answer, lost = press_train(page, self.store)
        self.lost_presses += lost
        if answer == "in":
            self.run_ids.append(run_of(self.store, page.context))
        return answer

    def train_named(self) -> None:
        """One job with a hostile Run name, for the honest learners' Train, Runs and Draw pages to show."""
        context = self._context()
        try:
            outcome = self._press_train(self._train_page(context, RUN_NAME))
            if outcome == "in":
                self.named_run = self.run_ids[-1]
            else:
                self.findings.undone.append(f"the job with the hostile run name was refused: {outcome}")
        except Exception as error:  # a report, not a crash: the run goes on without this check
            self.findings.failed("training with the hostile run name", error)
        finally:
            context.close()

    def crafted_links(self) -> None:
        """Open the crafted links as a classmate who was sent them would."""
        from playwright.sync_api import expect

        for number, link in enumerate(CRAFTED_LINKS, start=1):
            where = f"crafted link {number}"
            context = self._context()
            self.findings.watch(context, where)
            try:
                page = context.new_page()
                page.goto(self.url + link)
                notes = page.get_by_test_id("stAlert").filter(has_text="From the link:")
                expect(notes.first).to_be_visible()
                # The notes show until the page's next full run: read them now, and look again a moment later
                # for any picture they asked for.
                self.link_notes += [" ".join(text.split()) for text in notes.all_inner_texts()]
                self.findings.look(page, where)
                page.wait_for_timeout(1000)
                self.findings.look(page, where)
            except Exception as error:
                self.findings.failed(where, error)
            finally:
                context.close()

    def flood(self, windows: int, batches: int = 3) -> None:
        """Private windows (new identities) made ready on Train `windows` at a time, then pressing Train one right
        after the other, faster than jobs leave the queue, until the server refuses one (a new batch while none is)."""
        for _ in range(batches):
            contexts = []
            try:
                pages = []
                for _ in range(windows):
                    contexts.append(self._context())
                    pages.append(self._train_page(contexts[-1]))
                for page in pages:
                    outcome = self._press_train(page)
                    if outcome != "in":
                        self.refused, self.refusal = QUEUE_FULL in outcome, outcome
                        return
                    self.flood_in += 1
            except Exception as error:
                self.findings.failed("a private window pressing Train", error)
                return
            finally:
                for context in contexts:
                    context.close()

    def look_at_train_pages(self, learners: dict) -> None:
        """Every honest learner opens the Watching box (it lists the hostile job once the page has rerun since it
        was queued: when the learner's own job started or ended); the last one also watches the hostile job."""
        for name, page in learners.items():
            if not page.get_by_role("combobox", name="Watching").count():
                continue  # one job to watch: no box
            try:
                page.get_by_role("combobox", name="Watching").click()
                page.get_by_role("option").first.wait_for()
                self.findings.look(page, f"{name} Train, Watching box open")
                hostile = page.get_by_role("option").filter(has_text=HOST)
                self.watching_listed += hostile.count() > 0
                if name == list(learners)[-1] and hostile.count():
                    hostile.first.click()
                    page.wait_for_timeout(2000)  # the live view of the hostile job
                    self.findings.look(page, f"{name} Train, watching the hostile run")
                else:
                    page.keyboard.press("Escape")
            except Exception as error:
                self.findings.failed(f"{name}'s Watching box", error)

    def oversized_drawing(self) -> None:
        """Draw one stroke on a pad whose canvases all report a 13,370 px square PNG; the server must refuse it."""
        from playwright.sync_api import expect

        from benchmarks.draw_answer_latency import draw

        context = self._context()
        context.add_init_script(to_data_url_script(png_of_zeros(BOMB_SIDE)))
        try:
            page = context.new_page()
            page.goto(self.url + "/draw")
            # Draw's hint under the pad shows once the model is loaded (a first load grows the server by ~600 MB).
            expect(page.get_by_test_id("stAlert").filter(has_text=HINTS["empty"])).to_be_visible()
            page.wait_for_timeout(500)
            before = self.sample_memory()
            draw(page, STROKE)
            refused = page.get_by_text(TOO_LARGE)
            answered = page.get_by_test_id("stMetric").filter(has_text="Prediction")
            expect(refused.or_(answered).first).to_be_visible()
            page.wait_for_timeout(1000)  # the canvas's own message follows the pen-up one
            after = self.sample_memory()
            self.drawing_growth = max(after[0] - before[0], after[1] - before[1])
            self.drawing = "refused" if refused.count() and not answered.count() else "accepted (a Prediction shown)"
            self.findings.look(page, "the hostile learner's Draw")
        except Exception as error:
            self.drawing = f"not checked: {str(error).splitlines()[0][:200]}"
        finally:
            context.close()

    def select_row(self, page, run_id: str) -> bool:
        """Select `run_id`'s row in the Runs table (a canvas grid: scrolled to the row, its row marker clicked);
        True once the page shows that run."""
        rows = [info.run_id for info in self.store.list()]
        index = rows.index(run_id)
        grid = page.get_by_test_id("stDataFrame")
        grid.wait_for()
        page.wait_for_timeout(500)
        top = grid.locator(".dvn-scroller").evaluate(f"element => {{ element.scrollTop = {index} * 35; "
                                                     "return element.scrollTop; }")
        page.wait_for_timeout(300)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 15, box["y"] + 35 + index * 35 - top + 17)  # 35 px header and rows
        shown = page.locator(f".st-key-download_curves_{run_id}")
        try:
            shown.wait_for(timeout=30_000)
        except Exception:
            return False
        return True

    def try_delete(self, run_id: str) -> None:
        """Select an honest learner's run on Runs and note every control offered to change it."""
        context = self._context()
        try:
            page = context.new_page()
            page.goto(self.url + "/runs")
            if not self.select_row(page, run_id):
                self.offered = f"not checked: the honest run {run_id} could not be selected on Runs"
                return
            page.wait_for_timeout(1000)
            offered = [label for label, locator in (
                ("Rename", page.get_by_label("Rename", exact=True)),
                ("Save name", page.get_by_role("button", name="Save name")),
                ("Delete", page.get_by_role("button", name="Delete", exact=True))) if locator.count()]
            if "Delete" in offered:
                page.get_by_role("button", name="Delete", exact=True).click()
                yes = page.get_by_role("button", name="Yes, delete")
                if yes.count():
                    offered.append("Yes, delete")
                    yes.click()
                    page.wait_for_timeout(2000)
                    if run_id not in [info.run_id for info in self.store.list()]:
                        offered.append(f"and {run_id} WAS DELETED")
            self.offered = offered
        except Exception as error:
            self.offered = f"not checked: {str(error).splitlines()[0][:200]}"
        finally:
            context.close()

    def look_at_runs_and_draw(self, learners: dict) -> None:
        """Each honest learner opens a fresh Runs page (the hostile run selected and compared) and Draw (the Model
        box open, every network's opinion shown) in its own context."""
        for name, learner in learners.items():
            page = learner.context.new_page()
            page.set_default_timeout(60_000)
            try:
                self._look_at_runs(page, name)
                self._look_at_draw(page, name)
            finally:
                page.close()

    def _look_at_runs(self, page, name: str) -> None:
        where = f"{name} Runs"
        try:
            page.goto(self.url + "/runs")
            page.get_by_role("heading", name="Saved runs").wait_for()
            selected = bool(self.named_run) and self.select_row(page, self.named_run)
            if self.named_run and not selected:
                self.findings.undone.append(f"{name} could not select the hostile run on Runs")
            if self.named_run:
                page.get_by_role("combobox", name="Compare test curves of").click()
                page.keyboard.type(HOST)
                page.get_by_role("option").filter(has_text=HOST).first.click()
                page.keyboard.press("Escape")
                # The compared curves and their gaps (4 charts), after the selected run's own 2.
                page.locator(".js-plotly-plot").nth(5 if selected else 3).wait_for()
            self.findings.look(page, where)
        except Exception as error:
            self.findings.failed(where, error)

    def _look_at_draw(self, page, name: str) -> None:
        where = f"{name} Draw"
        try:
            page.goto(self.url + "/draw")
            page.get_by_role("combobox", name="Model").click()
            page.get_by_role("option").first.wait_for()
            self.findings.look(page, f"{where}, Model box open")
            page.keyboard.press("Escape")
            page.get_by_text("Every network's opinion").click()
            page.get_by_text("Draw a digit to see every network's answer.").wait_for()
            self.findings.look(page, where)
        except Exception as error:
            self.findings.failed(where, error)

    def report(self) -> list[str]:
        """Print what the hostile learner found; returns what was NOT met."""
        found = self.findings
        print(f"hostile run name: {self.store.get(self.named_run).name!r}; listed in {self.watching_listed} honest "
              "Watching box(es)" if self.named_run else "hostile run name: no such run was made")
        for note in self.link_notes:
            print(f"  a crafted link's note: {note[:300]}")
        counts = {kind: sum(kind in where for where in found.looked)
                  for kind in ("Watching box open", "Runs", "Model box open", "crafted link")}
        print(f"honest views looked at: {len(found.looked)} (among them {counts['Watching box open']} Train pages with "
              f"the Watching box open, {counts['Runs']} Runs with the hostile run selected and compared, "
              f"{counts['Model box open']} Draw with the Model box open, {counts['crafted link']} crafted links)")
        print(f"hostile content shown on honest pages: {'none' if not found.shown else ''}")
        for where, html in found.shown.items():
            for element in sorted(html):
                print(f"  {where}: {element}")
        requests = sum(len(urls) for urls in found.requests.values())
        print(f"requests to {HOST} from honest pages: {requests}"
              + "".join(f"\n  {where}: {', '.join(sorted(set(urls)))}" for where, urls in found.requests.items()))
        print(f"hostile jobs that got in before refusal: {self.flood_in} (and the named one: "
              f"{'in' if self.named_run else 'not in'}); then refused: {'yes' if self.refused else 'no'}"
              + (f" ({self.refusal})" if self.refusal else "") + f"; its presses lost and pressed again: "
              f"{self.lost_presses}")
        print(f"oversized drawing ({BOMB_SIDE:,} px square, {len(png_of_zeros(BOMB_SIDE)):,} bytes) refused: "
              f"{'yes' if self.drawing == 'refused' else 'no'} ({self.drawing}); the server's memory grew "
              f"{megabytes(max(0, self.drawing_growth))} meanwhile (bound {megabytes(JUMP_BOUND)})")
        checked = isinstance(self.offered, list)
        offered = (f"yes: {', '.join(self.offered)}" if self.offered else "no") if checked else self.offered
        print(f"rename/delete offered to the hostile learner on an honest run: {offered}")
        rss, peak = (max(sample[0] for sample in self.memory), max(sample[1] for sample in self.memory)
                     ) if self.memory else (0, 0)
        print(f"server memory (its own VmRSS, workers not counted): max sampled {megabytes(rss)} in "
              f"{len(self.memory)} samples, peak (VmHWM) {megabytes(peak)}; bound: stays under "
              f"{megabytes(MEMORY_BOUND)}")
        for problem in found.undone:
            print(f"  check not done: {problem}")

        failures = [f"hostile content shown on {len(found.shown)} page(s)"] if found.shown else []
        failures += [f"{requests} request(s) to {HOST} from honest pages"] if requests else []
        failures += [] if self.refused else ["the hostile learner was never refused by the waiting cap"]
        failures += [] if self.drawing == "refused" else [f"the oversized drawing was not refused ({self.drawing})"]
        failures += [f"the server's memory grew {megabytes(self.drawing_growth)} with the oversized drawing"
                     ] if self.drawing_growth > JUMP_BOUND else []
        failures += [f"rename/delete offered on another's run ({offered})"] if checked and self.offered else []
        failures += [] if checked else [f"the delete check was {offered}"]
        failures += [f"the server's memory peaked at {megabytes(peak)}"] if peak >= MEMORY_BOUND else []
        return failures + ([f"{len(found.undone)} hostile check(s) not done"] if found.undone else [])

