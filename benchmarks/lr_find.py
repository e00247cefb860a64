"""Time the learning-rate range test, and check its suggestion against a tenth and ten times it.

Timing: `python -m mnist_models lr-find --preset NAME` end to end, as a learner waits for it (a fresh process that
imports TensorFlow, a worker process that loads MNIST, builds the network and runs up to 300 batches), with the
worker's own time beside it. The issue's target is at most 10 s for the dense preset on two CPU cores.

Check (`--check`): for each seed, the range test's suggestion s, then three 2-epoch trainings at s/10, s and 10 s
with the same seed, and whether the one at s reached the best test accuracy. Reported as measured, not as a
promise: the suggestion is a starting point.

    python benchmarks/lr_find.py                                  # timing, dense and conv: about 30 s
    python benchmarks/lr_find.py --check --quick                  # one seed, 10,000 images: about 2 minutes
    python benchmarks/lr_find.py --check --skip-timing            # three seeds, 55,000 images: 10+ minutes
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_models import lr_find
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
TRY_EPOCHS = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["five-layer-relu-adam", "conv"], choices=list(PRESETS),
                        metavar="NAME", help="presets to time (default: five-layer-relu-adam conv)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per preset (default 1)")
    parser.add_argument("--skip-timing", action="store_true", help="only the --check part")
    parser.add_argument("--check", action="store_true",
                        help="also train at the suggestion, a tenth and ten times it, for each seed")
    parser.add_argument("--check-preset", default="five-layer-relu-adam", choices=list(PRESETS), metavar="NAME")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds for --check (default 0 1 2)")
    parser.add_argument("--train-size", type=int, default=55_000, help="training images for --check")
    parser.add_argument("--quick", action="store_true", help="--check with one seed and 10,000 images")
    return parser.parse_args()


def time_cli(preset: str, runs: Path) -> dict:
    """One `lr-find` run of the command line: wall seconds, and what its JSON last line says."""
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs), "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "mnist_models", "lr-find", "--preset", preset], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    wall = time.perf_counter() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    result = lr_find.load_result(RunStore(runs), summary["run_id"])
    return {"wall": wall, "worker": summary["seconds"], "test": result.seconds if result else None,
            "batches": summary["range"]["batches_run"], "diverged": summary["range"]["stopped_on_divergence"],
            "suggested": summary["suggested_learning_rate"], "device": summary["device"]}


def timing(presets: list[str], repeats: int) -> None:
    print(f"{'preset':<22} {'wall s':>7} {'worker s':>8} {'batches s':>9} {'batches':>7}  diverged  suggested")
    for preset in presets:
        for _ in range(repeats):
            with tempfile.TemporaryDirectory(prefix="lr-find-bench-") as folder:
                row = time_cli(preset, Path(folder))
            suggested = f"{row['suggested']:.2g}" if row["suggested"] is not None else "-"
            print(f"{preset:<22} {row['wall']:>7.1f} {row['worker']:>8.1f} {row['test']:>9.1f} {row['batches']:>7} "
                  f"  {row['diverged']!s:<8}  {suggested}   ({row['device']})", flush=True)


def check(preset: str, seeds: list[int], train_size: int) -> None:
    """Range test, then 2-epoch trainings at s/10, s and 10 s, per seed (all in this process, one at a time)."""
    from mnist_models.data import load_mnist
    from mnist_models.worker.lr_finder import lr_find_run
    from mnist_models.worker.training import TrainingThread, set_thread_count

    set_thread_count(os.cpu_count() or 1)
    data = load_mnist()
    model, base = get_preset(preset).configs()
    wins = 0
    print(f"\n{preset}, {train_size:,} images, {TRY_EPOCHS} epochs per training (test accuracy):")
    print(f"{'seed':>4} {'suggested':>9}  {'s/10':>7} {'s':>7} {'10 s':>7}  best")
    with tempfile.TemporaryDirectory(prefix="lr-find-check-") as folder:
        store = RunStore(folder)
        for seed in seeds:
            train = dataclasses.replace(base, train_size=train_size, seed=seed)
            spec = lr_find.range_test_spec(model, train, store=store)
            run_id = store.create(spec.model, spec.train, name=spec.name, files=spec.files, job_key=spec.key,
                                  task=spec.task)
            lr_find_run(store, run_id, data=data)
            suggestion = lr_find.load_result(store, run_id).suggestion()
            if suggestion.rate is None:
                print(f"{seed:>4} no suggestion: {suggestion.reason}")
                continue
            rate = float(f"{suggestion.rate:.2g}")
            accuracies = []
            for tried in (rate / 10, rate, rate * 10):
                trial = dataclasses.replace(train, learning_rate=tried, epochs=TRY_EPOCHS)
                job = TrainingThread(model, trial, store=store, data=data, record_insight=False).start()
                accuracies.append(job.wait().test_accuracy or 0.0)
            best = ("s/10", "s", "10 s")[accuracies.index(max(accuracies))]
            wins += best == "s"
            print(f"{seed:>4} {rate:>9.2g}  " + " ".join(f"{value:>7.2%}" for value in accuracies) + f"  {best}",
                  flush=True)
    print(f"The suggestion beat a tenth and ten times it for {wins} of {len(seeds)} seeds.")


def main() -> None:
    args = parse_args()
    if not args.skip_timing:
        timing(args.presets, args.repeats)
    if args.check or args.quick:
        seeds, size = ([args.seeds[0]], min(args.train_size, 10_000)) if args.quick else (args.seeds, args.train_size)
        check(args.check_preset, seeds, size)


if __name__ == "__main__":
    main()
