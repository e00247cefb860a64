"""Does a program at the lowest CPU priority still slow a training down? The training's speed beside two kinds of load.

One long training of a Lab step (`--step`, default conv) runs in the dashboard's worker (a JobQueue in this
process, no server). Its speed, in batches per second read from its run folder, is sampled over `--seconds`:
alone; beside a pure-Python loop that only spins on the CPU; beside a loop that streams through 160 MB of memory;
alone again. Both loops run at niceness 19, the lowest priority, as the benchmarks' browser does. The machine has
two cores and the worker trains on one thread, so a CPU loop at the lowest priority should cost it little; what
a loop that fills the memory bus costs shows how much of the slowdown a watching browser causes (see
benchmarks/class_load.py and benchmarks/watching_cost.py) comes from sharing the machine's memory and caches,
which no priority setting shares out.

    python benchmarks/contention.py                   # 15 s samples: about 2 minutes
    python benchmarks/contention.py --seconds 30

Exit code 0 once it has measured, 1 if the training would not start, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.arguments import ranged  # noqa: E402
from benchmarks.class_load import new_queue, one_step, wait_for_ready_worker  # noqa: E402
from benchmarks.watching_cost import long_spec, wait_for_batches  # noqa: E402
from dashboard.identity import owner_of  # noqa: E402

# The loads, each a Python program run at niceness 19.
LOADS = {
    "a CPU loop": "while True:\n    pass\n",
    "a memory loop": ("import numpy as np\nblock = np.ones(20_000_000)\n"  # 160 MB: far beyond the caches
                      "while True:\n    block.sum()\n    block.copy()\n"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=ranged(3, 600, float), default=15.0,
                        help="seconds of each sample (default 15)")
    parser.add_argument("--step", type=one_step, default="conv",
                        help="the Lab step whose training is measured (default conv)")
    return parser.parse_args(argv)


def slowdown(alone: float, beside: float) -> float:
    """How many times longer a batch takes beside a load than alone, from the two speeds (batches per second)."""
    if alone <= 0 or beside <= 0:
        raise ValueError("Both speeds must be positive: the training made no progress in a sample.")
    return alone / beside


def speed(store, run_id: str, seconds: float) -> float:
    """The training's batches per second over `seconds`."""
    first, started = store.progress(run_id).step, time.monotonic()
    time.sleep(seconds)
    return (store.progress(run_id).step - first) / (time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    queue = new_queue(Path(tempfile.mkdtemp(prefix="mnist-contention-")) / "runs")
    try:
        wait_for_ready_worker(queue)
        [run_id] = queue.submit_series([long_spec(args.step)], owner=owner_of("c" * 32))
        wait_for_batches(queue, run_id)
        print(f"one training of {args.step} on one thread; samples of {args.seconds:g} s", flush=True)
        alone = speed(queue.store, run_id, args.seconds)
        print(f"  alone: {alone:.0f} batches/s", flush=True)
        results = {}
        for name, program in LOADS.items():
            load = subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", program])
            try:
                results[name] = speed(queue.store, run_id, args.seconds)
            finally:
                load.kill()
                load.wait()
            print(f"  beside {name} at the lowest priority: {results[name]:.0f} batches/s "
                  f"({slowdown(alone, results[name]):.2f}x slower)", flush=True)
        again = speed(queue.store, run_id, args.seconds)
        print(f"  alone again: {again:.0f} batches/s (the first and last samples differ "
              f"{max(alone, again) / min(alone, again):.2f}x: the rest of the machine's load)")
        return 0
    except (RuntimeError, ValueError) as error:
        print(f"not measured: {error}")
        return 1
    finally:
        queue.shutdown(stop_running=True)


if __name__ == "__main__":
    sys.exit(main())
