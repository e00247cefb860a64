"""How long each page's script takes to run with an empty run store and with 30 runs in it.

Trains one small real run, copies it into a store of `--runs` runs (each with its curves, weight statistics,
digit wall and model), then times Streamlit's AppTest runs of every page (the server-side work of one
refresh; the browser's drawing is not included). The Runs page is timed with a run selected, so that its
charts and downloads are drawn too. Target: at most 1 s more per refresh with 30 runs than with none.

    python benchmarks/page_time.py --runs 30 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PAGES = ("app_pages/lab.py", "app_pages/train.py", "app_pages/runs.py", "app_pages/draw.py", "app_pages/inspect.py")


def fill_store(folder: Path, count: int) -> None:
    """One real run (softmax, 2,000 images, 2 epochs), copied until the store holds `count` runs."""
    from mnist_models.presets import get_preset
    from mnist_models.store.runs import RunStore
    from mnist_models.worker.training import TrainingThread

    store = RunStore(folder)
    model, train = get_preset("softmax").configs()
    train.train_size, train.epochs = 2000, 2
    original = TrainingThread(model, train, store=store).start().wait()
    for index in range(1, count):
        run_id = f"{original.run_id[:-6]}{index:06x}"
        shutil.copytree(store.folder(original.run_id), folder / run_id)
        store.update(run_id, name=f"copy {index}", created=store.get(original.run_id).created + index)


def time_pages(folder: Path, repeats: int) -> dict[str, float]:
    """Median seconds of one script run of each page (after a first run that fills the caches)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["MNIST_RUNS_DIR"] = str(folder)
    os.environ["MNIST_MAX_JOBS"] = "1"
    st.cache_resource.clear()
    st.cache_data.clear()
    medians = {}
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=120)
        at.switch_page(page)
        if page.endswith("runs.py") and any(folder.iterdir()):
            at.session_state["runs_table"] = {"selection": {"rows": [0], "columns": []}}
        at.run()
        if at.exception:
            raise SystemExit(f"{page}: {at.exception[0].value}")
        seconds = []
        for _ in range(repeats):
            started = time.perf_counter()
            at.run()
            seconds.append(time.perf_counter() - started)
        medians[page] = statistics.median(seconds)
    from dashboard import state

    state.job_queue().shutdown()  # and its ready worker
    st.cache_resource.clear()
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs in the full store (default 30)")
    parser.add_argument("--repeats", type=int, default=5, help="timed refreshes per page (default 5)")
    args = parser.parse_args()
    if args.runs < 1 or args.repeats < 1:
        parser.error("--runs and --repeats must be at least 1")
    with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as full:
        fill_store(Path(full), args.runs)
        without = time_pages(Path(empty), args.repeats)
        with_runs = time_pages(Path(full), args.repeats)
    print(f"\nseconds of one refresh (median of {args.repeats}), server side")
    print(f"{'page':<12} {'no runs':>8} {f'{args.runs} runs':>8} {'extra':>7}")
    worst = 0.0
    for page in PAGES:
        extra = with_runs[page] - without[page]
        worst = max(worst, extra)
        print(f"{Path(page).stem:<12} {without[page]:8.3f} {with_runs[page]:8.3f} {extra:+7.3f}")
    print(f"largest extra: {worst:.3f} s (target <= 1 s: {'met' if worst <= 1.0 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
