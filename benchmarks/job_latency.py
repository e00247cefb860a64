"""How long a learner waits on the job queue: from Train to the first live point, and from Stop to a saved run.

Submits small trainings to a real JobQueue (local worker processes, as the dashboard does) and reads the run
folder as the Train page does. For each repeat it prints:
- first point, warm: submit -> first training point in the run folder, with a worker made ready beforehand
  (the queue keeps one ready whenever a slot is free), and on the way there when the worker had the job (the run
  folder names its device) and when its network was built and compiled (the run says "running");
- first point, cold: the same with no ready worker (it imports TensorFlow and loads MNIST first);
- stop heard: Stop -> the run folder says "stopping" (the training loop has ended or ends with this batch);
- stop saved: Stop -> the run folder says "stopped", with the test set scored and the model saved.

    python benchmarks/job_latency.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.first_point import wait_for_ready_worker
from mnist_models.jobs.local import LocalExecutor
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.progress import QUEUED, STARTING, STOPPED, STOPPING
from mnist_models.store.runs import RunStore


def wait(condition, timeout: float = 300.0, interval: float = 0.005) -> float:
    """Poll until `condition()` is true; return the monotonic time it was first seen true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out")
        time.sleep(interval)
    return time.monotonic()


def one_job(queue: JobQueue, store: RunStore, preset: str, owner: str) -> dict[str, float]:
    model, train = get_preset(preset).configs()
    train.epochs = 200 if preset == "softmax" else train.epochs * 10
    submitted = time.monotonic()
    run_id = queue.submit(model, train, owner=owner)
    has_job = wait(lambda: bool(store.progress(run_id).device))
    built = wait(lambda: store.progress(run_id).status not in (QUEUED, STARTING))
    first = wait(lambda: bool(store.progress(run_id).train))
    wait(lambda: store.progress(run_id).step >= 50)
    asked = time.monotonic()
    queue.stop(run_id, owner)
    heard = wait(lambda: store.progress(run_id).status in (STOPPING, STOPPED))
    saved = wait(lambda: store.progress(run_id).status == STOPPED)
    queue.wait_idle(120)
    return {"first": first - submitted, "has job": has_job - submitted, "built": built - submitted,
            "heard": heard - asked, "saved": saved - asked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="five-layer-relu-adam", choices=list(PRESETS))
    parser.add_argument("--repeats", type=int, default=3, help="jobs per variant (default 3)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    figures: dict[str, list[float]] = {"warm: has the job": [], "warm: network built": [], "warm first point": [],
                                       "cold first point": [], "stop heard": [], "stop saved": []}
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        for warm in (True, False):
            queue = JobQueue(store, executor=LocalExecutor(warm=warm), max_running=1)
            try:
                for repeat in range(args.repeats):
                    if warm:
                        queue.executor.prepare()
                        # Until the ready worker has imported TensorFlow, loaded MNIST and sits waiting for its job.
                        wait_for_ready_worker(os.getpid())
                    result = one_job(queue, store, args.preset, owner=f"learner-{warm}-{repeat}")
                    figures[f"{'warm' if warm else 'cold'} first point"].append(result["first"])
                    if warm:
                        figures["warm: has the job"].append(result["has job"])
                        figures["warm: network built"].append(result["built"])
                    figures["stop heard"].append(result["heard"])
                    figures["stop saved"].append(result["saved"])
                    print(f"{'warm' if warm else 'cold'} #{repeat + 1}: first point {result['first']:.2f} s, "
                          f"stop heard {result['heard']:.3f} s, stop saved {result['saved']:.2f} s", flush=True)
            finally:
                queue.shutdown(stop_running=True)
    print(f"\n{args.preset}, {args.repeats} job(s) per variant (medians):")
    for name, values in figures.items():
        print(f"  {name:<20} {statistics.median(values):6.2f} s   (max {max(values):.2f} s)")
    print("Targets: first point within 5 s of Train; Stop heard within 1 s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
