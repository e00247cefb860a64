"""A busy class: many learners press Train at once; how fast do pages load meanwhile, and does every job end well?

Starts a real `streamlit run dashboard/app.py` server (a fresh runs folder, a free loopback port) and opens
`--sessions` learners in one headless Chromium, each in its own browser context and so with its own identity
cookie. Every learner opens Train, chooses the preset softmax and sets "Training images", "Epochs" and a "Seed" of
its own (identical trainings would be shared as one job); once all
are ready they press Train one right after the other (a burst of a second or two, not truly simultaneous:
Playwright's sync API clicks one page at a time) and keep their pages open on the live view; a press that brings
neither a job nor a message within 15 s is counted as lost (NOT met) and pressed again. Until every job has
ended, a fresh context loads Train (`/`, until its heading and the Train button show), then Runs (`/runs`, until
its heading shows), every `--interval` seconds: the p50/p95 of those loads are printed. The learners' pages are
read for their place in the queue ("number N in the queue") and, like every page loaded, for exception boxes.
Then it prints how the jobs ended, loads each completed run's model.keras with Keras and predicts 10 test digits,
and prints the server log's error lines. "NOT met" says what went wrong; the runs and the server log are then
kept in a temporary folder for a look.

Beside them a hostile learner (benchmarks/hostile.py; `--no-hostile` leaves it out), in fresh contexts while the
jobs run: trains one job with a Run name made of links and pictures to a host "e.vil"; opens crafted links; opens
private windows pressing Train until the server refuses (MNIST_MAX_WAITING is set to the sessions + 4); sends a
13,370 px square drawing from Draw; selects an honest run on Runs to rename or delete it. Every honest learner's
Train, Runs and Draw pages are checked for links or pictures to e.vil and for requests to it, and the server's
memory is sampled every round: any of these shown, a drawing accepted or memory over 1,500 MB is "NOT met".

    python benchmarks/load.py                              # 10 learners, softmax, 2,000 images, 2 epochs
    python benchmarks/load.py --sessions 20 --max-jobs 2   # MNIST_MAX_JOBS=2 on the server
    python benchmarks/load.py --no-hostile                 # honest learners only

Exit code 0 once it has measured (whatever it found), 1 if the server would not start, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    choose_preset,
    set_fields,
    start_server,
    stop_process,
)
from benchmarks.hostile import (  # noqa: E402
    EXTRA_WAITING,
    PRESS_SECONDS,
    Findings,
    Hostile,
    answer_to_press,
    owner_in,
    press_train,
)
from mnist_models.config import MAX_EPOCHS, TOTAL_TRAIN_IMAGES  # noqa: E402
from mnist_models.store.progress import COMPLETED, QUEUED  # noqa: E402
from mnist_models.store.runs import FINAL_STATUSES, RunStore  # noqa: E402

PRESET = "softmax"
PAGE_SECONDS = 60  # the longest a page may take to show before it counts as a failed load
PAGES = {"Lab /": ("/", [("heading", "Lab: neural networks, step by step"), ("button", "Next")]),
         "Train /train": ("/train", [("heading", "Train a network"), ("button", "Train")]),
         "Runs /runs": ("/runs", [("heading", "Saved runs")])}
QUEUE_TEXT = re.compile(r"Waiting for a free slot: number (\d+) in the queue")
EXCEPTION = '[data-testid="stException"]'
LOG_TROUBLE = re.compile(r"Traceback|Exception|Error")  # case matters: not the page's "train_error"
ERROR_MESSAGE = re.compile(r"[\w.]+(Error|Exception): ")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def ranged(low: int, high: int):
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}")
        return value
    parse.__name__ = "int"  # argparse names the type in its "invalid int value" message
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=ranged(1, 100), default=10, help="learners pressing Train (default 10)")
    parser.add_argument("--epochs", type=ranged(1, MAX_EPOCHS), default=2, help="epochs per training (default 2)")
    parser.add_argument("--train-size", type=ranged(10, TOTAL_TRAIN_IMAGES), default=2000,
                        help="training images per training (default 2000)")
    parser.add_argument("--max-jobs", type=ranged(1, 256), help="MNIST_MAX_JOBS for the server (default: unset)")
    parser.add_argument("--interval", type=ranged(0, 600), default=3,
                        help="seconds between two rounds of page loads (default 3)")
    parser.add_argument("--timeout", type=ranged(1, 86_400), default=900,
                        help="seconds to wait for every job to end after the presses (default 900)")
    parser.add_argument("--no-hostile", dest="hostile", action="store_false",
                        help="leave out the hostile learner (and MNIST_MAX_WAITING)")
    return parser.parse_args(argv)


def server_environment(args: argparse.Namespace) -> dict[str, str]:
    """The server's settings this load asks for: MNIST_MAX_JOBS if given, and a waiting cap the hostile learner
    reaches a few jobs after the honest ones."""
    settings = {"MNIST_MAX_JOBS": str(args.max_jobs)} if args.max_jobs is not None else {}
    return settings | ({"MNIST_MAX_WAITING": str(args.sessions + EXTRA_WAITING)} if args.hostile else {})


def prepare_learner(browser, url: str, train_size: int, epochs: int, seed: int, findings: Findings, name: str):
    """A new context (a new learner) on Train with softmax, `train_size` images, `epochs` and `seed` chosen, not yet
    pressed; its requests to the hostile host recorded in `findings`."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=VIEWPORT)
    findings.watch(context, name)
    page = context.new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    page.goto(url + "/train")
    expect(page.get_by_role("heading", name="Train a network")).to_be_visible()
    choose_preset(page, PRESET)
    set_fields(page, {"Training images": str(train_size), "Epochs": str(epochs), "Seed": str(seed)})
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    return page


def timed_load(browser, url: str, path: str, visible: list[tuple[str, str]],
               findings: Findings) -> tuple[float | None, list[str]]:
    """Seconds until a fresh context shows `visible` ((role, name) pairs) at url+path, or None if it never did;
    and the texts of any exception boxes that page showed. What it shows of the hostile learner goes to findings."""
    from playwright.sync_api import Error, expect

    context = browser.new_context(viewport=VIEWPORT)
    findings.watch(context, f"a fresh {path}")
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url + path)
        for role, name in visible:
            expect(page.get_by_role(role, name=name, exact=True)).to_be_visible()
        seconds = time.perf_counter() - start
        findings.look(page, f"a fresh {path}")
        return seconds, page.locator(EXCEPTION).all_inner_texts()
    except Error as error:
        print(f"  load of {path} failed: {str(error).splitlines()[0]}", flush=True)
        return None, []
    finally:
        context.close()


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share 0.5 for p50): a value that was really measured, fine for few samples."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def learner_jobs(store: RunStore, pages: list) -> dict[str, str]:
    """Each learner's job ("learner 3": run id), matched through the identity cookie that owns the run."""
    owners = {owner: info.run_id for info in store.list() for owner in info.owners}
    jobs = {}
    for index, page in enumerate(pages):
        if owner_in(page.context) in owners:
            jobs[f"learner {index + 1}"] = owners[owner_in(page.context)]
    return jobs


def check_models(store: RunStore, run_ids: list[str]) -> list[str]:
    """Load every run's model.keras and predict 10 test digits; returns the problems found (empty if all loaded)."""
    import keras

    from mnist_models.data import load_mnist

    digits = load_mnist().x_test[:10]  # (10, 28, 28)
    problems = []
    for run_id in run_ids:
        try:
            scores = keras.saving.load_model(store.model_path(run_id))(digits, training=False)
            if scores.shape != (10, 10):
                problems.append(f"{run_id}: predicted shape {scores.shape}, not (10, 10)")
        except Exception as error:  # a report, not a crash: any failure to load is a finding
            problems.append(f"{run_id}: {type(error).__name__}: {error}")
    return problems


def measure(browser, url: str, store: RunStore, args: argparse.Namespace, server_pid: int) -> list[str]:
    """The load test on a running server: prints the figures, returns what was NOT met."""
    from playwright.sync_api import expect

    expect.set_options(timeout=PAGE_SECONDS * 1000)
    hostile = Hostile(url, store, server_pid, args.train_size, args.epochs)
    findings = hostile.findings
    print(f"preparing {args.sessions} learners on {url} ...", flush=True)
    learners = {f"learner {number}": prepare_learner(browser, url, args.train_size, args.epochs, number, findings,
                                                     f"learner {number}") for number in range(1, args.sessions + 1)}
    pressed = time.monotonic()
    for page in learners.values():
        page.get_by_role("button", name="Train", exact=True).click()
    print(f"pressed Train in {args.sessions} sessions within {time.monotonic() - pressed:.2f} s", flush=True)
    lost = 0  # presses that brought neither a job nor a message: pressed again, and counted
    for page in learners.values():
        if answer_to_press(page, store, PRESS_SECONDS) is None:
            lost += 1 + press_train(page, store)[1]
    if args.hostile:
        hostile.start(windows=args.sessions + EXTRA_WAITING + 4, timeout=args.timeout)  # more than the queue holds

    loads: dict[str, list[float]] = {name: [] for name in PAGES}
    # The exception boxes seen, by page: a learner's ("learner 3"), or a fresh page's load ("Train /").
    exceptions: dict[str, set[str]] = {name: set() for name in [*learners, *PAGES]}
    failed_loads, largest_position, jobs, timed_out = 0, 0, {}, False
    deadline = time.monotonic() + args.timeout
    while True:
        if len(jobs) < len(learners):
            jobs = learner_jobs(store, list(learners.values()))
        statuses = {info.run_id: info.status for info in store.list()}  # a cancelled job's folder is gone
        if (all(statuses.get(run_id, "gone") in (*FINAL_STATUSES, "gone")
                for run_id in [*jobs.values(), *hostile.run_ids])
                and (len(jobs) == len(learners) or time.monotonic() - pressed > PAGE_SECONDS) and not hostile.busy()):
            break
        if timed_out := time.monotonic() > deadline:
            break
        if args.hostile:
            hostile.each_round(learners, named_started=statuses.get(hostile.named_run, QUEUED) != QUEUED)
        for name, page in learners.items():
            for text in page.get_by_text(QUEUE_TEXT).all_inner_texts():
                largest_position = max([largest_position, *map(int, QUEUE_TEXT.findall(text))])
            exceptions[name].update(page.locator(EXCEPTION).all_inner_texts())
            findings.look(page, f"{name} Train")
        for name, (path, visible) in PAGES.items():
            seconds, shown = timed_load(browser, url, path, visible, findings)
            exceptions[name].update(shown)
            if seconds is None:
                failed_loads += 1
            else:
                loads[name].append(seconds)
        next(iter(learners.values())).wait_for_timeout(args.interval * 1000)
    ended_after = time.monotonic() - pressed
    for name, page in learners.items():
        exceptions[name].update(page.locator(EXCEPTION).all_inner_texts())
    if args.hostile:
        hostile.finish(learners, timeout=PAGE_SECONDS)
    exceptions |= findings.exceptions

    ending = f"timed out after {args.timeout} s" if timed_out else f"all ended {ended_after:.1f} s after the presses"
    print(f"\n{args.sessions} learners, {PRESET}, {args.train_size} images, {args.epochs} epochs; {ending}")
    print(f"{'page load during the load':<27}{'loads':>6}{'p50 s':>8}{'p95 s':>8}{'max s':>8}")
    for name, seconds in loads.items():
        if seconds:
            print(f"{name:<27}{len(seconds):6d}{percentile(seconds, 0.5):8.2f}{percentile(seconds, 0.95):8.2f}"
                  f"{max(seconds):8.2f}")
    final = {info.run_id: info for info in store.list()}
    ended = {run_id: final[run_id].status if run_id in final else "cancelled" for run_id in jobs.values()}
    counts = {status: list(ended.values()).count(status) for status in sorted(set(ended.values()))}
    print(f"jobs submitted: {len(jobs)} of {args.sessions} presses; at the end: "
          + ", ".join(f"{status} {count}" for status, count in counts.items()))
    for name in [name for name in learners if name not in jobs]:
        print(f"  {name} has no job; its page says: {learners[name].get_by_test_id('stAlert').all_inner_texts()}")
    for run_id, status in ended.items():
        if status != COMPLETED:
            print(f"  {run_id}: {status}: {final[run_id].error if run_id in final else ''}")
    print(f"Train presses lost (neither a job nor a message within {PRESS_SECONDS} s; pressed again): {lost}")
    print(f"largest queue position a learner saw: {largest_position or 'none shown'}")
    completed = [run_id for run_id, status in ended.items() if status == COMPLETED]
    problems = check_models(store, completed)
    print(f"models that load and predict: {len(completed) - len(problems)} of {len(completed)} completed runs")
    for problem in problems:
        print(f"  {problem}")
    shown = {name: texts for name, texts in exceptions.items() if texts}
    print(f"pages that showed an exception: {', '.join(shown) or 'none'}")
    for text in sorted(set().union(*shown.values())):
        print(f"  exception: {' '.join(text.split())[:400]}")

    failures = [f"{count} job(s) {status}" for status, count in counts.items() if status != COMPLETED]
    failures += [f"only {len(jobs)} of {args.sessions} presses made a job"] if len(jobs) < args.sessions else []
    failures += [f"{lost} Train press(es) lost"] if lost else []
    failures += [f"{len(problems)} model(s) did not load"] if problems else []
    failures += [f"exceptions shown on {len(shown)} page(s)"] if shown else []
    failures += hostile.report() if args.hostile else []
    return failures + ([f"{failed_loads} page load(s) failed"] if failed_loads else [])


def log_trouble(log_path: Path) -> list[str]:
    """The server log's error and traceback lines without colours (an error's message joined back from Rich's
    88-column wrapping), each once, with how often it came."""
    trouble, joining = [], False
    for line in (ANSI.sub("", raw).rstrip() for raw in log_path.read_text(errors="replace").splitlines()):
        if joining and line and not line.startswith((" ", "─")):
            trouble[-1] += " " + line
            continue
        joining = bool(ERROR_MESSAGE.match(line))
        if LOG_TROUBLE.search(line):
            trouble.append(line.strip(" │╭╰─"))
    return [f"{trouble.count(line)}x {line}" for line in dict.fromkeys(trouble)]


def main() -> int:
    args = parse_args()
    from playwright.sync_api import sync_playwright

    os.environ.update(server_environment(args))  # the server's environment is this one's
    folder = Path(tempfile.mkdtemp(prefix="mnist-load-"))
    try:
        server = start_server(folder)  # runs in folder/runs, its log in folder/streamlit-*.log
    except RuntimeError as error:
        print(error)
        shutil.rmtree(folder, ignore_errors=True)
        return 1
    failures = ["the measurement did not finish"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                failures = measure(browser, server.url, RunStore(server.runs_dir), args, server.process.pid)
            finally:
                browser.close()
    finally:
        stop_process(server.process)
        trouble = log_trouble(server.log_path)
        for line in trouble[:30]:
            print(f"server log: {line[:600]}")
        failures += ["error lines in the server log"] if trouble else []
        if failures:
            print(f"result: NOT met: {'; '.join(failures)}\nthe server log and the runs are kept in {folder}")
        else:
            print("result: met (every press made a job, every job completed, every model loads, no errors shown"
                  + (", nothing hostile shown or accepted)" if args.hostile else ")"))
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
