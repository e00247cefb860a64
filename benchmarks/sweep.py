"""What a sweep costs against training the same runs one after the other, measured through the command line.

Part `sweep`: a learning-rate sweep of a preset (six rates, log-spaced, two epochs by default) run three ways,
each in a fresh runs folder so that no training is shared with another way's:
- one by one: `python -m mnist_models train` once per rate, one after the other (what a learner does by hand);
- sweep, one slot: `python -m mnist_models sweep --vary learning_rate=...` with MNIST_MAX_JOBS=1 (the target:
  at most 1.05 times the one-by-one time);
- sweep on Ray: the same with `--ray local` (a Ray cluster started on this machine; its start is included).
It prints each way's wall time, the ratio to one by one, and each rate's test accuracy.

    python benchmarks/sweep.py                                    # the full measure (minutes)
    python benchmarks/sweep.py --train-size 2000 --epochs 1       # a quick check
    python benchmarks/sweep.py --parts sweep --no-ray

Part `lr-find`: the learning-rate range test, timed for the dense and the conv preset and its suggestion checked
against a tenth and ten times it over three seeds (benchmarks/lr_find.py, run here with `--check`; with
`--train-size` below 55,000 it checks one seed on 10,000 images, `--quick`).

    python benchmarks/sweep.py --parts lr-find
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_models.presets import PRESETS  # noqa: E402
from mnist_models.sweep import format_value, log_range  # noqa: E402

TARGET_RATIO = 1.05


def cli(args: list[str], runs_dir: str, **env: str) -> tuple[float, list[str]]:
    """Run `python -m mnist_models ARGS` with its own runs folder; return its wall time and its output lines."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mnist_models", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "MNIST_RUNS_DIR": runs_dir, **env})
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return seconds, result.stdout.strip().splitlines()


def one_by_one(preset: str, rates: tuple[float, ...], epochs: int, train_size: int) -> tuple[float, dict]:
    """Each rate trained by the CLI's `train`, one after the other: total wall time, and accuracy per rate."""
    accuracy = {}
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        for rate in rates:
            seconds, lines = cli(["train", "--preset", preset, "--epochs", str(epochs), "--train-size",
                                  str(train_size), "--learning-rate", repr(rate)], folder)
            total += seconds
            accuracy[rate] = json.loads(lines[-1])["test_accuracy"]
            print(f"  train learning_rate={format_value('learning_rate', rate)}: {seconds:.1f} s, "
                  f"test accuracy {accuracy[rate]:.2%}", flush=True)
    return total, accuracy


def as_sweep(preset: str, rates: tuple[float, ...], epochs: int, train_size: int, ray: bool) -> tuple[float, dict]:
    """The same trainings as one `sweep`: wall time, and accuracy per rate (from its JSON last line)."""
    values = ",".join(repr(rate) for rate in rates)
    args = ["sweep", "--preset", preset, "--vary", f"learning_rate={values}", "--epochs", str(epochs),
            "--train-size", str(train_size)]
    env = {} if ray else {"MNIST_MAX_JOBS": "1"}
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        seconds, lines = cli([*args, "--ray", "local"] if ray else args, folder, **env)
    summary = json.loads(lines[-1])
    print(f"  {lines[0]}", flush=True)
    slowest = max(run["seconds"] for run in summary["runs"])
    print(f"  {len(summary['runs'])} trainings in {seconds:.1f} s (the longest trained for {slowest:.1f} s)",
          flush=True)
    return seconds, {run["learning_rate"]: run["test_accuracy"] for run in summary["runs"]}


def sweep_part(args: argparse.Namespace) -> None:
    """A learning-rate sweep against the same trainings one by one, and on Ray."""
    rates = log_range(1e-4, 1e-1, args.runs)
    print(f"Sweep part: {args.preset}, {args.runs} learning rates "
          f"({', '.join(format_value('learning_rate', rate) for rate in rates)}), {args.epochs} epochs on "
          f"{args.train_size:,} images, {os.cpu_count()} cores", flush=True)
    print("One by one (the CLI's train, each rate after the other):", flush=True)
    alone, accuracy = one_by_one(args.preset, rates, args.epochs, args.train_size)
    print("Sweep, one slot:", flush=True)
    swept, swept_accuracy = as_sweep(args.preset, rates, args.epochs, args.train_size, ray=False)
    ratio = swept / alone
    print(f"one by one {alone:.1f} s; sweep on one slot {swept:.1f} s: ratio {ratio:.2f} "
          f"(target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'missed'})", flush=True)
    same = all(abs(swept_accuracy[rate] - accuracy[rate]) < 1e-9 for rate in rates)
    print(f"same test accuracies as one by one (same seeds on the CPU): {'yes' if same else 'no'}", flush=True)
    if args.ray:
        print("Sweep on Ray (--ray local, the cluster's start included):", flush=True)
        on_ray, _ = as_sweep(args.preset, rates, args.epochs, args.train_size, ray=True)
        print(f"sweep on Ray {on_ray:.1f} s: ratio {on_ray / alone:.2f} to one by one", flush=True)


def lr_find_part(args: argparse.Namespace) -> None:
    """The range test's own benchmark, in its own process (its arguments are its own)."""
    command = [sys.executable, str(Path(__file__).with_name("lr_find.py")), "--check"]
    if args.train_size < 55_000:
        command.append("--quick")
    print("Learning-rate range test (benchmarks/lr_find.py):", flush=True)
    subprocess.run(command, check=False)


PARTS: dict[str, Callable[[argparse.Namespace], None]] = {"sweep": sweep_part, "lr-find": lr_find_part}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS), help="which parts to run")
    parser.add_argument("--preset", default="five-layer-relu-adam", choices=list(PRESETS))
    parser.add_argument("--epochs", type=int, default=2, help="epochs of every training (default 2)")
    parser.add_argument("--train-size", type=int, default=55_000, help="training images (default 55,000)")
    parser.add_argument("--runs", type=int, default=6, help="learning rates in the sweep (default 6)")
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the sweep on Ray")
    args = parser.parse_args()
    if not 2 <= args.runs <= 12:
        parser.error("--runs must be from 2 to 12 (the default cap of a sweep)")
    for part in args.parts:
        PARTS[part](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
