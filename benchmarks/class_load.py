"""A class of thirty in the Lab pressing Train this step within 10 s: how long until the last learner has a result?

The learners are simulated below the browser, through the code the Lab page calls: each has an identity of its
own (its owner key from dashboard.identity.owner_of), opens a step (the learners' book records it for the Class
page) and, at a random moment within `--spread` seconds, presses Train this step as the page does: a completed
identical training's result is taken at once (the page's "Take that result"), anything else goes to
`JobQueue.submit_series`, which joins an identical training waiting or running. The queue is the dashboard's
(`make_executor`, a JobQueue over a fresh RunStore), in this process, with a ready worker waiting as in a
dashboard that has been up a while.

First one training of the one-step spec alone (its own runs folder and queue); then the class on one step
(`--step`, default conv), then the class spread over three steps (`--steps`; learner i on the (i mod 3)-th, all
with the next seed, so that the first class's finished run is not simply taken). For each class: the seconds from
the first press until the last learner has a result (the run's `finished` time, or the moment a result was
taken), as a ratio to the training alone (targets: 1.3 for one step, 3.5 for three), the longest a learner
waited, how many trainings ran and each one's own seconds in its worker, and the ratio again with the class's own
training of that step for a unit (the same machine's load in both). Last, the training alone once more: when the
two alone differ much, other programs changed the machine's load and the ratios say so. Keep the spread shorter
than one training: a learner pressing after it ended takes its result, so the spread itself then sets the time.

A real `streamlit run dashboard/app.py` on the class's runs folder runs beside it; its job queue follows this
one's (the folder's queue lock is this script's, see mnist_models/jobs/takeover.py). Its memory (VmRSS) is
sampled throughout. With `--tabs N`, N learners who share the running training watch their Lab step in headless
Chromium tabs while it trains; and until each class has its results a fresh browser context loads the Lab (until
its heading and Train this step show) and the Class page (a teacher unlocks it in the sidebar; timed from a click
on Class until its Queue heading shows) every `--interval` s.
Chromium runs at the lowest CPU priority (`--browser-nice 19`): in a class the learners' browsers draw on their own
computers, and here the harness's browser would otherwise take the training's second core. Even so it slows the
training (the two share the machine's memory bandwidth and caches), so with tabs the ratios' unit is one learner's
training alone under the same browser load (its tabs watching it, the fresh loads going on), and the ratio to the
training alone with no browser is printed beside it. What the server spends
on each watching tab is measured apart, with more tabs and longer samples: benchmarks/watching_cost.py.

    python benchmarks/class_load.py --quick --tabs 2     # a few minutes: every training 1 epoch
    python benchmarks/class_load.py --tabs 2             # the presets' own epochs
    python benchmarks/class_load.py --quick --train-size 6000 --spread 2    # smaller still

Exit code 0 once it has measured (whatever it found), 1 if the server or Chromium would not start, 2 for bad
arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.arguments import ranged  # noqa: E402
from benchmarks.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    niced_chromium,
    start_server,
    stop_process,
)
from benchmarks.class_browser import PAGE_SECONDS, TEACHER_PASSWORD, Watch, report_watch  # noqa: E402
from benchmarks.processes import cpu_seconds, process_memory  # noqa: E402
from dashboard.identity import TEACHER_ENV, owner_of  # noqa: E402
from mnist_models import course  # noqa: E402
from mnist_models.config import MAX_EPOCHS  # noqa: E402
from mnist_models.jobs import JobQueue, JobSpec, make_executor  # noqa: E402
from mnist_models.store.learners import LearnerBook  # noqa: E402
from mnist_models.store.progress import COMPLETED, FINAL_STATUSES  # noqa: E402
from mnist_models.store.runs import RunStore  # noqa: E402

ONE_STEP = "conv"
THREE_STEPS = ["five-layer-relu-adam", "conv", "conv-bigger-dropout"]
QUICK_EPOCHS = 1
MAX_TRAIN_SIZE = 55_000  # with every preset's validation split, within MNIST's 60,000 training images
WATCHED_SEED_OFFSET = 2  # the seed of the training alone under the browser's load: the classes use offsets 0 and 1
TARGET_ONE, TARGET_THREE = 1.3, 3.5  # the targets: the class's time as a multiple of one training alone
READY_SECONDS = 120  # the longest to wait for a queue's ready worker (TensorFlow imported, MNIST loaded)
MB = 2**20
DRIFT = 1.3  # two timings of the training alone further apart than this: the machine's load changed meanwhile


def training_steps(text: str) -> list[str]:
    """`conv,five-layer-relu-adam` → those step ids, each a Lab step that trains, none twice; ArgumentTypeError
    naming the steps otherwise."""
    ids = [part.strip() for part in text.split(",") if part.strip()]
    trainable = [step.id for step in course.steps() if step.preset]
    if not ids or len(set(ids)) != len(ids) or set(ids) - set(trainable):
        raise argparse.ArgumentTypeError(f"choose distinct training steps among {', '.join(trainable)}, "
                                         f"not {text!r}")
    return ids


def one_step(text: str) -> str:
    ids = training_steps(text)
    if len(ids) != 1:
        raise argparse.ArgumentTypeError(f"choose one training step, not {text!r}")
    return ids[0]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=ranged(1, 200), default=30, help="learners in the class (default 30)")
    parser.add_argument("--spread", type=ranged(0, 600, float), default=10.0,
                        help="each learner presses at a random moment within this many seconds (default 10)")
    parser.add_argument("--step", type=one_step, default=ONE_STEP,
                        help=f"the step of the one-step class, also trained alone (default {ONE_STEP})")
    parser.add_argument("--steps", type=training_steps, default=THREE_STEPS,
                        help=f"the steps of the spread class, comma-separated (default {','.join(THREE_STEPS)})")
    parser.add_argument("--quick", action="store_true",
                        help=f"every training {QUICK_EPOCHS} epoch unless --epochs says otherwise: a few minutes")
    parser.add_argument("--epochs", type=ranged(1, MAX_EPOCHS), help="epochs per training (default: the preset's)")
    parser.add_argument("--train-size", type=ranged(100, MAX_TRAIN_SIZE),
                        help="training images per training (default: the preset's)")
    parser.add_argument("--tabs", type=ranged(0, 10), default=0,
                        help="learners watching their Lab step in Chromium tabs, 0 for no browser (default 0)")
    parser.add_argument("--browser-nice", type=ranged(0, 19), default=19,
                        help="CPU niceness of Chromium: in a class the browsers run on the learners' own computers, "
                             "so by default the benchmark's browser only gets what the server leaves (default 19; "
                             "0 for the same priority as the server)")
    parser.add_argument("--interval", type=ranged(0, 600, float), default=3.0,
                        help="seconds between two rounds of fresh Lab and Class page loads (default 3)")
    parser.add_argument("--timeout", type=ranged(10, 86_400), default=7200,
                        help="seconds a class may take after its presses before it counts as NOT met (default 7200)")
    parser.add_argument("--seed", type=ranged(0, 2**31 - 1), default=0,
                        help="seed of the learners' identities and press moments (default 0)")
    args = parser.parse_args(argv)
    if args.tabs > args.learners:
        parser.error(f"--tabs ({args.tabs}) cannot be more than --learners ({args.learners})")
    if args.quick:
        args.epochs = args.epochs or QUICK_EPOCHS
    return args


def step_spec(step_id: str, epochs: int | None, train_size: int | None, seed_offset: int = 0) -> JobSpec:
    """The job the Lab's Train this step submits for a step (dashboard/app_pages/lab.py), with `epochs` and
    `train_size` when given and the seed moved on by `seed_offset`."""
    preset = course.get_step(step_id).trains
    model, train = preset.configs()
    train = dataclasses.replace(train, epochs=epochs or train.epochs, train_size=train_size or train.train_size,
                                seed=train.seed + seed_offset)
    return JobSpec(model, train, preset.name, preset.title)


def verdict(value: float | None, target: float) -> str:
    return "not measured: target NOT met" if value is None else (
        "target met" if value <= target else "target NOT met")


@dataclass
class Learner:
    """A learner of the class: who, which step, when they press; and what came of it (wall-clock times)."""

    name: str
    identity: str  # the browser's cookie: 32 hex characters
    step_id: str
    spec: JobSpec
    moment: float  # seconds after the class's start at which they press
    pressed: float | None = None
    run_id: str | None = None
    took_result: bool = False  # a finished identical training's result, taken at once
    result: float | None = None  # when their run ended (its `finished`), or when they took a result
    status: str | None = None
    error: str | None = None

    @property
    def owner(self) -> str:
        return owner_of(self.identity)

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None


def class_seconds(learners: list[Learner]) -> float | None:
    """From the first press until the last learner has a result; None if some learner has none."""
    if not learners or any(learner.result is None for learner in learners):
        return None
    return max(learner.result for learner in learners) - min(learner.pressed for learner in learners)


def longest_wait(learners: list[Learner]) -> float | None:
    waits = [learner.result - learner.pressed for learner in learners if learner.result is not None]
    return max(waits) if waits else None


def press(queue: JobQueue, learner: Learner) -> None:
    """What Train this step does (dashboard/app_pages/lab.py), the learner's choice made at once: a completed
    identical training's result is taken; else the step's job is submitted, joining an identical one under way."""
    learner.pressed = time.time()
    try:
        done = queue.identical_result(learner.spec)
        if done is not None:
            queue.take_result(done.run_id, learner.owner)
            learner.run_id, learner.took_result, learner.status = done.run_id, True, COMPLETED
            learner.result = time.time()
        else:
            [learner.run_id] = queue.submit_series([learner.spec], owner=learner.owner)
    except Exception as error:  # a report, not a crash: a refused press is a finding
        learner.error = f"{type(error).__name__}: {error}"


def press_all(queue: JobQueue, learners: list[Learner], start: float) -> None:
    for learner in sorted(learners, key=lambda learner: learner.moment):
        time.sleep(max(0.0, start + learner.moment - time.time()))
        press(queue, learner)


def collect_results(store: RunStore, learners: list[Learner]) -> None:
    """Note each learner whose run has ended (its worker's `finished` time), or gone."""
    infos = {info.run_id: info for info in store.list()}
    for learner in learners:
        if learner.run_id is None or learner.done:
            continue
        info = infos.get(learner.run_id)
        if info is None:
            learner.status, learner.result = "gone", time.time()
        elif info.status in FINAL_STATUSES:
            learner.status, learner.result = info.status, info.finished or time.time()


def wait_for_ready_worker(queue: JobQueue) -> None:
    """Until a local executor's ready worker has imported TensorFlow and loaded MNIST and waits for its job (its CPU
    time stands still), as in a dashboard that has been up a while; at once for executors without one (Ray)."""
    if not hasattr(queue.executor, "ready"):
        return
    deadline, last = time.monotonic() + READY_SECONDS, None
    while time.monotonic() < deadline:
        worker = queue.executor.ready
        try:
            now = cpu_seconds(worker.pid) if worker is not None else None
        except OSError:
            now = None
        if now is not None and now == last:
            return
        last = now
        time.sleep(1.5)


def new_queue(runs_dir: Path) -> JobQueue:
    """A job queue like the dashboard's (dashboard/state.py): the executor, jobs at once and threads of the settings."""
    choice = make_executor()
    return JobQueue(RunStore(runs_dir), executor=choice.executor, max_running=choice.max_running,
                    threads=choice.threads)


def time_alone(runs_dir: Path, spec: JobSpec, timeout: float) -> float | None:
    """Seconds from pressing until one training of `spec` has ended, alone on a fresh queue; None if it failed."""
    queue = new_queue(runs_dir)
    try:
        wait_for_ready_worker(queue)
        start, load = time.time(), os.getloadavg()[0]
        [run_id] = queue.submit_series([spec], owner=owner_of("0" * 32))
        queue.wait_idle(timeout)
        info = queue.store.get(run_id)
        print(f"  alone: {info.status} after {(info.finished or time.time()) - start:.1f} s (the machine's load "
              f"average {load:.1f} as it began)", flush=True)
        return info.finished - start if info.status == COMPLETED and info.finished else None
    finally:
        queue.shutdown(stop_running=True)


def run_class(queue: JobQueue, learners: list[Learner], args, watch: Watch | None, server_pid: int,
              samples: list[tuple[int, float]]) -> bool:
    """Every learner presses at their moment (in a thread of their own: learners press independently) while this
    thread follows the results, samples the server's memory and the machine's load average into `samples` and
    drives the browser; returns False if the class timed out."""
    book = LearnerBook(queue.store, step_ids=[step.id for step in course.steps()])
    for learner in learners:
        book.set_name(learner.owner, learner.name)
        book.record_step(learner.owner, learner.step_id)  # the Lab page records the step its learner is on
    wait_for_ready_worker(queue)
    start = time.time() + 1.0
    presser = threading.Thread(target=press_all, args=(queue, learners, start), name="learners", daemon=True)
    presser.start()
    deadline = start + args.spread + args.timeout
    try:
        while True:
            collect_results(queue.store, learners)
            samples.append((process_memory(server_pid)[0], os.getloadavg()[0]))
            if not presser.is_alive() and all(learner.done for learner in learners):
                return True
            if time.time() > deadline:
                return False
            if watch is not None:
                watch.during(queue, learners)
            else:
                time.sleep(0.2)
    finally:
        presser.join()
        if watch is not None:
            watch.close_tabs()


def report_class(label: str, learners: list[Learner], alone: float | None, target: float, store: RunStore,
                 finished: bool, loads: list[float], unit_step: str, unwatched: float | None = None) -> list[str]:
    """Prints one class's figures; returns what was NOT met. `alone` is the ratios' unit: one training alone under
    the same browser load as the class (when the tabs watch) or with none; `unwatched`, when given, the training
    alone with no browser at all, for a second ratio."""
    runs = {learner.run_id for learner in learners if learner.run_id}
    took = sum(learner.took_result for learner in learners)
    pressed = [learner.pressed for learner in learners if learner.pressed]
    print(f"\n{label}: {len(learners)} learners pressed within {max(pressed) - min(pressed):.1f} s; "
          f"{len(runs)} training(s) ran; {took} took a finished identical result; the machine's load average "
          f"{sum(loads) / max(1, len(loads)):.1f} on the mean")
    seconds, wait = class_seconds(learners), longest_wait(learners)
    ratio = seconds / alone if seconds is not None and alone else None
    shown = f"{seconds:.1f} s = {ratio:.2f}x one training alone" if ratio is not None else "–"
    print(f"  first press → last learner's result: {shown} (target ≤ {target}: {verdict(ratio, target)})")
    if seconds is not None and unwatched:
        print(f"  against one training alone with no browser on the machine ({unwatched:.1f} s): "
              f"{seconds / unwatched:.2f}x")
    if wait is not None:
        print(f"  the longest a learner waited (press → result): {wait:.1f} s")
    # Where the time went: each training's own seconds in its worker against the training alone (a busier machine
    # slows it), the rest being presses still to come and workers starting.
    infos = sorted((store.get(run_id) for run_id in runs), key=lambda info: info.created)
    for info in infos:
        slower = f" ({info.seconds / alone:.2f}x alone)" if alone else ""
        print(f"  training {info.name!r}: {len(info.owners)} learner(s), {info.status}, {info.seconds:.1f} s in its "
              f"worker{slower}")
    print(f"  the trainings' own seconds together: {sum(info.seconds for info in infos):.1f} s")
    # The same ratio with this class's own training of the unit's step for a unit: both under the same load, so
    # what it adds to 1 (one step) or to the trainings' sum is the queue's and the presses' own share.
    unit = next((info for info in infos if info.preset == course.get_step(unit_step).preset), None)
    if seconds is not None and unit is not None and unit.seconds:
        print(f"  against this class's own {unit_step} training ({unit.seconds:.1f} s, under the same load): "
              f"{seconds / unit.seconds:.2f}x")
    failures = [] if ratio is not None and ratio <= target else [f"{label}: {verdict(ratio, target)}"]
    failures += [] if finished else [f"{label}: timed out"]
    errors = [learner for learner in learners if learner.error or learner.status not in (COMPLETED, None)]
    for learner in errors:
        print(f"  {learner.name}: {learner.error or learner.status}")
    failures += [f"{label}: {len(errors)} learner(s) without a completed result"] if errors else []
    missing = [learner.name for learner in learners
               if learner.run_id and learner.owner not in store.get(learner.run_id).owners]
    print(f"  learners not among their run's owners: {', '.join(missing) or 'none'}")
    return failures + ([f"{label}: {len(missing)} learner(s) not credited"] if missing else [])


def drift(first: float, again: float) -> float:
    """How far apart two timings of the same training are, as the larger's multiple of the smaller."""
    return max(first, again) / min(first, again)


def report_alone(args: argparse.Namespace, sizes: str, alone: float | None, again: float | None) -> list[str]:
    """Prints the training alone, first and after the classes; returns what was NOT met."""
    if alone is None or again is None:
        print(f"\none training of {args.step} alone: did not complete ({alone=}, {again=})")
        return ["a training alone did not complete"]
    print(f"\none training of {args.step} alone ({sizes}): {alone:.1f} s first (the ratios' unit without tabs), "
          f"{again:.1f} s "
          f"after the classes")
    if alone < args.spread:
        print(f"  note: shorter than the presses' spread ({args.spread:g} s): the ratios then measure the learners' "
              "arrival more than the queue")
    if drift(alone, again) > DRIFT:
        print(f"  note: the two differ {drift(alone, again):.1f}x: the machine's load changed (other programs), so "
              "the ratios are unreliable; run again on a quieter machine")
    return []


def describe_sizes(epochs: int | None, train_size: int | None) -> str:
    """ "1 epoch(s), 6,000 images", or the preset's where not given."""
    return (f"{epochs} epoch(s)" if epochs else "the preset's epochs") + (
        f", {train_size:,} images" if train_size else ", the preset's images")


def time_alone_watched(queue: JobQueue, args, rng: random.Random, identity: str, watch: Watch,
                       server_pid: int) -> float | None:
    """One learner alone presses Train this step on `args.step` (a seed no class uses) while the browser does what it
    does during the classes (the tabs watch this training, fresh pages load every `--interval` s): the ratios' unit
    when tabs watch, so that they compare thirty learners with one under the same load on the machine."""
    print(f"one training of {args.step} alone, watched by {watch.tabs} tab(s), the page loads going on ...",
          flush=True)
    [learner] = make_learners(args, rng, [args.step], WATCHED_SEED_OFFSET, [identity])
    learner.moment = 0.0
    finished = run_class(queue, [learner], args, watch, server_pid, [])
    seconds = class_seconds([learner]) if finished and learner.status == COMPLETED else None
    print(f"  alone, watched: {learner.status} after {seconds or 0:.1f} s", flush=True)
    return seconds


def make_learners(args, rng: random.Random, steps: list[str], seed_offset: int,
                  identities: list[str]) -> list[Learner]:
    specs = {step_id: step_spec(step_id, args.epochs, args.train_size, seed_offset) for step_id in steps}
    return [Learner(f"learner {index + 1}", identity, steps[index % len(steps)], specs[steps[index % len(steps)]],
                    rng.uniform(0, args.spread)) for index, identity in enumerate(identities)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.tabs and not CHROMIUM.is_file():
        print(f"--tabs needs Chromium at {CHROMIUM}.")
        return 1
    rng = random.Random(args.seed)
    identities = [f"{rng.getrandbits(128):032x}" for _ in range(args.learners)]
    folder = Path(tempfile.mkdtemp(prefix="mnist-class-load-"))
    sizes = describe_sizes(args.epochs, args.train_size)
    print(f"one training of {args.step} alone ({sizes}) ...", flush=True)
    spec = step_spec(args.step, args.epochs, args.train_size)
    alone = time_alone(folder / "alone" / "runs", spec, args.timeout)
    queue = new_queue(folder / "class" / "runs")  # made before the server's: this script's queue leads
    os.environ[TEACHER_ENV] = TEACHER_PASSWORD  # the server's environment is this one's
    try:
        server = start_server(folder / "class")
    except RuntimeError as error:
        print(error)
        queue.shutdown(stop_running=True)
        return 1
    failures, memory, measured = [], [], False
    try:
        with contextlib.ExitStack() as stack:
            watch = None
            if args.tabs:
                from playwright.sync_api import expect, sync_playwright

                expect.set_options(timeout=PAGE_SECONDS * 1000)
                playwright = stack.enter_context(sync_playwright())
                launcher = niced_chromium(folder, args.browser_nice) if args.browser_nice else CHROMIUM
                browser = playwright.chromium.launch(executable_path=str(launcher), args=CHROMIUM_ARGS)
                stack.callback(browser.close)
                watch = Watch(browser, server.url, args.tabs, args)
            print(f"server on {server.url}; this script's queue leads: {queue.leading}; "
                  f"{queue.max_running} training(s) at once, {queue.threads} thread(s) each", flush=True)
            classes = [(f"class on one step ({args.step})", [args.step], TARGET_ONE),
                       (f"class on {len(args.steps)} steps ({', '.join(args.steps)})", args.steps, TARGET_THREE)]
            unit, unwatched = alone, None
            if watch is not None:
                unit, unwatched = time_alone_watched(queue, args, rng, identities[0], watch, server.process.pid), alone
                failures += [] if unit is not None else ["the training alone, watched, did not complete"]
            for offset, (label, steps, target) in enumerate(classes):
                print(f"{label} ...", flush=True)
                learners = make_learners(args, rng, steps, offset, identities)
                samples: list[tuple[int, float]] = []
                finished = run_class(queue, learners, args, watch, server.process.pid, samples)
                memory += [rss for rss, _ in samples]
                failures += report_class(label, learners, unit, target, queue.store, finished,
                                         [load for _, load in samples], args.step, unwatched)
            print(f"\none training of {args.step} alone again, after the classes ...", flush=True)
            again = time_alone(folder / "alone-again" / "runs", spec, args.timeout)
            failures += report_alone(args, sizes, alone, again)
            rss, peak = process_memory(server.process.pid)
            print(f"server memory (VmRSS of streamlit): {rss / MB:,.0f} MB at the end, {max(memory) / MB:,.0f} MB at "
                  f"most of {len(memory)} samples, peak (VmHWM) {peak / MB:,.0f} MB")
            if watch is not None:
                failures += report_watch(watch)
            measured = True
    finally:
        stop_process(server.process)
        queue.shutdown(stop_running=True)
        failures += [] if measured else ["the measurement did not finish (see the error above)"]
        if failures:
            print(f"result: NOT met: {'; '.join(failures)}\nthe runs and the server log are kept in {folder}")
        else:
            print("result: met (every target, every learner credited with a completed result)")
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
