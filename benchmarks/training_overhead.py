"""Time a TrainingThread against plain `model.fit` of the same model on the same data, and print the ratio.

The baseline is what a Keras user would write: `model.fit(..., validation_data=(x_test, y_test))`, which
also scores the test set after every epoch, as the job does. Both sides are timed from building the model to
the end of training (the job's time also includes its progress reports, validation checks and saving the run).
Runs alternate their order (baseline first, then job first) to spread out drifts in machine load. Besides wall
time it prints the process's CPU time, which other programs running on the machine disturb less.

The job's main extra work is scoring its 1,000-image validation sample 5 times per epoch, a fixed cost per
epoch; so the overhead is largest for small training subsets. The default is the presets' 55,000 images.

    python benchmarks/training_overhead.py                        # defaults: about 3 minutes on 2 cores
    python benchmarks/training_overhead.py --presets conv --epochs 3 --repeats 3

The issue's target is a wall-time ratio of at most 1.05. A third side, the job without its look inside the
network (weight statistics, the digit wall, TensorBoard's event files), measures what that look costs: at most
3% is the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_models.data import load_mnist, make_split
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.progress import COMPLETED
from mnist_models.store.runs import RunStore


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["five-layer-relu-adam", "conv"], choices=list(PRESETS),
                        metavar="NAME", help="presets to time (default: five-layer-relu-adam conv)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (default 1)")
    parser.add_argument("--train-size", type=int, default=55_000, help="training images (default 55,000)")
    parser.add_argument("--validation-size", type=int, default=5_000, help="validation images (default 5,000)")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs per preset (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def time_plain_fit(model_config, train_config, split) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of building, compiling and fitting the model the way Keras users do."""
    import keras

    from mnist_models.worker.models import build_model, compile_model

    started, cpu_started = time.perf_counter(), time.process_time()
    keras.utils.set_random_seed(train_config.seed)
    model = compile_model(build_model(model_config), train_config)
    model.fit(split.x_train, split.y_train, batch_size=train_config.batch_size, epochs=train_config.epochs,
              shuffle=True, verbose=0, validation_data=(split.x_test, split.y_test))
    return time.perf_counter() - started, time.process_time() - cpu_started


INSIDE_SECONDS = [0.0]  # time the training loop spent in the InsightRecorder (its calls, and its final wait)


def count_inside_time() -> None:
    """Time every call the training makes into the InsightRecorder: what the look inside costs the training
    loop itself, measured within each run (separate runs' wall times vary more than the 3% to be measured)."""
    from mnist_models.worker import insight_recorder

    for name in ("__init__", "record", "close"):
        original = getattr(insight_recorder.InsightRecorder, name)

        def timed(*args, _original=original, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                INSIDE_SECONDS[0] += time.perf_counter() - started

        setattr(insight_recorder.InsightRecorder, name, timed)


def time_job(model_config, train_config, data, store: RunStore, insight: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a TrainingThread from start() until it has saved the finished run."""
    from mnist_models.worker.training import TrainingThread

    started, cpu_started = time.perf_counter(), time.process_time()
    job = TrainingThread(model_config, train_config, store=store, data=data, record_insight=insight).start()
    progress = job.wait()
    seconds = time.perf_counter() - started, time.process_time() - cpu_started
    if progress.status != COMPLETED:
        raise SystemExit(f"The training job ended as {progress.status}: {progress.error}")
    return seconds


def main() -> int:
    args = parse_args()
    from mnist_models.worker.training import device_report

    data = load_mnist()
    count_inside_time()
    print(f"device: {device_report()}; {args.train_size:,} training images, {args.epochs} epochs, "
          f"{args.repeats} pair(s) of runs per preset", flush=True)
    totals = {"fit": 0.0, "job": 0.0, "bare": 0.0, "fit_cpu": 0.0, "job_cpu": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        # Warm up TensorFlow (thread pools, first graph builds) so that neither side pays for it.
        warm_model, warm_train = get_preset("softmax").configs()
        warm_train.train_size, warm_train.validation_size, warm_train.epochs = 1000, 100, 1
        time_plain_fit(warm_model, warm_train, make_split(data, 1000, 100))
        time_job(warm_model, warm_train, data, store)
        INSIDE_SECONDS[0] = 0.0

        for name in args.presets:
            model_config, train_config = get_preset(name).configs()
            train_config.epochs = args.epochs
            train_config.train_size = args.train_size
            train_config.validation_size = args.validation_size
            train_config.seed = args.seed
            train_config.validate()
            split = make_split(data, train_config.train_size, train_config.validation_size)
            seconds: dict[str, list[tuple[float, float]]] = {"fit": [], "job": [], "bare": []}
            for repeat in range(args.repeats):
                order = ("fit", "job", "bare") if repeat % 2 == 0 else ("bare", "job", "fit")
                for side in order:
                    if side == "fit":
                        wall, cpu = time_plain_fit(model_config, train_config, split)
                    else:
                        wall, cpu = time_job(model_config, train_config, data, store, insight=side == "job")
                    seconds[side].append((wall, cpu))
                    print(f"  {name:<22} {side:<4} run {repeat + 1}: {wall:7.2f} s wall, {cpu:7.2f} s CPU", flush=True)
            fit, job = (sum(wall for wall, _ in seconds[side]) for side in ("fit", "job"))
            fit_cpu, job_cpu = (sum(cpu for _, cpu in seconds[side]) for side in ("fit", "job"))
            totals["fit"] += fit
            totals["job"] += job
            totals["bare"] += sum(wall for wall, _ in seconds["bare"])
            totals["fit_cpu"] += fit_cpu
            totals["job_cpu"] += job_cpu
            print(f"{name:<22} model.fit {statistics.median(w for w, _ in seconds['fit']):7.2f} s   "
                  f"TrainingThread {statistics.median(w for w, _ in seconds['job']):7.2f} s   (medians)   "
                  f"ratio {job / fit:.3f} wall, {job_cpu / fit_cpu:.3f} CPU", flush=True)
    ratio = totals["job"] / totals["fit"]
    print(f"overall: model.fit {totals['fit']:.2f} s, TrainingThread {totals['job']:.2f} s, ratio {ratio:.3f} "
          f"(target <= 1.05: {'met' if ratio <= 1.05 else 'NOT met'}); "
          f"CPU time ratio {totals['job_cpu'] / totals['fit_cpu']:.3f}", flush=True)
    share = INSIDE_SECONDS[0] / totals["job"]
    verdict = "met" if share <= 0.03 else "NOT met"
    print(f"the look inside (weights, digit wall, TensorBoard): {INSIDE_SECONDS[0]:.2f} s of the jobs' "
          f"{totals['job']:.2f} s were spent in it, {share:.1%} (target <= 3%: {verdict}); "
          f"jobs without it took {totals['bare']:.2f} s in all (ratio {totals['job'] / totals['bare']:.3f}, "
          "wall times of separate runs)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
