"""The command line's `sweep` verb: train a preset (or a config) with one or two settings varied and seeds repeated,
through the job queue; a line per finished training, then one JSON object with every run and the summary."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mnist_models import config as configs
from mnist_models.config import ConfigError
from mnist_models.jobs.job import QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.jobs.sweep_jobs import stop_sweep, submit_sweep
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.progress import FAILED, FINAL_STATUSES, Progress
from mnist_models.store.run_info import RunNotFoundError
from mnist_models.store.runs import RunStore
from mnist_models.sweep import (
    MEASURES,
    SWEEPABLE,
    Axis,
    Sweep,
    SweepRecord,
    format_value,
    max_trainings,
    measure_value,
    parse_values,
    summarise,
    sweep_progress,
)

COMMANDS = ("sweep",)
EXIT_USAGE = 2
POLL_SECONDS = 0.2
BAND = "the range over the seeds: low is the smallest value, high the largest"


def add_parsers(commands) -> None:
    """Add the `sweep` verb to the command line's subparsers."""
    sweep = commands.add_parser(
        "sweep", help="train a preset with one or two settings varied (and seeds repeated), side by side",
        description="Train a preset, or a config.json, once per combination of the values given with --vary (and "
                    "per seed); print a line per finished training and, last, one JSON object with every run and "
                    "the summary (the mean and range over seeds of the best and final test accuracy, and the "
                    "train-test gap).")
    source = sweep.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help="one of: " + ", ".join(PRESETS))
    source.add_argument("--config", metavar="FILE", help="a run's config.json ({\"model\": {...}, \"train\": {...}})")
    sweep.add_argument("--vary", action="append", required=True, metavar="FIELD=VALUES",
                       help="a setting and its values: a list (learning_rate=0.001,0.003,0.01) or a range "
                            "low:high:count (learning_rate=1e-4:1e-1:5, log-spaced for rates and sizes); "
                            "once or twice. Settings: " + ", ".join(SWEEPABLE))
    sweep.add_argument("--seeds", type=int, nargs="+", metavar="N",
                       help="repeat every combination with these seeds (default: the config's seed)")
    sweep.add_argument("--epochs", type=int, help="passes over the training images (every training)")
    sweep.add_argument("--train-size", type=int, help="training images to use (every training)")
    sweep.add_argument("--name", help="a display name for the sweep (its runs are named after it)")
    sweep.add_argument("--ray", metavar="ADDRESS",
                       help="train as Ray tasks: 'local' (Ray on this machine), 'auto', 'host:port' or "
                            "'ray://host:port'")


def _fail(message: str) -> int:
    print(f"python -m mnist_models sweep: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def build_sweep(args: argparse.Namespace) -> Sweep:
    """The sweep the arguments describe, checked (cap, values, budget); ValueError (ConfigError) saying what is
    wrong otherwise."""
    if args.preset:
        preset = get_preset(args.preset)
        model, train = preset.configs()
        name = args.name or preset.title
    else:
        try:
            text = Path(args.config).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError([f"Cannot read {args.config}: {getattr(error, 'strerror', None) or error}."]) from error
        model, train = configs.loads(text)
        name = args.name or Path(args.config).parent.name or "Sweep"
    for key, value in (("epochs", args.epochs), ("train_size", args.train_size)):
        if value is not None:
            setattr(train, key, value)
    axes = []
    for text in args.vary:
        field, equals, values = text.partition("=")
        field = field.strip()
        if not equals:
            raise ValueError(f"--vary {text!r}: write a setting, '=' and its values, like learning_rate=0.001,0.01.")
        if field in [axis.field for axis in axes]:
            raise ValueError(f"--vary {field} is given twice: give each setting once, with all its values.")
        axes.append(Axis(field, parse_values(field, values)))
    seeds = tuple(args.seeds) if args.seeds else (train.seed,)
    sweep = Sweep(model, train, tuple(axes), seeds=seeds, name=name,
                  preset=args.preset or "custom")
    problems = sweep.problems(max_trainings())
    if problems:
        raise ConfigError(problems)
    return sweep


def main(args: argparse.Namespace) -> int:
    """Run the `sweep` verb: 0 when every training completed, 1 if one failed, 2 with a message on bad input."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sweep = build_sweep(args)
    except ValueError as error:
        return _fail((f"{args.config}: " if args.config and isinstance(error, ConfigError) else "") + str(error))
    from mnist_models.jobs.ray_connect import ExecutorUnavailable
    from mnist_models.jobs.settings import make_executor

    try:
        choice = make_executor(args.ray or "")
    except (ExecutorUnavailable, ValueError) as error:
        return _fail(str(error))
    store = RunStore()
    started = time.monotonic()
    # Through the job queue, as the dashboard does: the trainings wait their turn, run side by side on its
    # slots, and one identical to a training under way joins it.
    queue = JobQueue(store, executor=choice.executor, max_running=choice.max_running, threads=choice.threads)
    try:
        record = submit_sweep(queue, sweep)
    except (ValueError, QueueFullError) as error:  # refused as a whole (too long for the queue): nothing queued
        queue.shutdown()
        return _fail(str(error))
    try:
        values = " × ".join(f"{axis.field} = {', '.join(format_value(axis.field, v) for v in axis.values)}"
                            for axis in sweep.axes)
        seeds = f" × seeds {' '.join(map(str, sweep.seeds))}" if len(sweep.seeds) > 1 else ""
        print(f"Sweep {record.id}: {values}{seeds} ({len(record.run_ids)} trainings, {choice.max_running} at a "
              f"time, {choice.executor.name})", flush=True)
        _follow(store, queue, record)
    except BaseException:
        queue.shutdown(stop_running=True)
        raise
    queue.shutdown()
    return _summary(store, record, sweep, choice.executor.name, time.monotonic() - started)


def _follow(store: RunStore, queue: JobQueue, record: SweepRecord) -> None:
    """Print a line as each training ends, until all have; Ctrl-C stops the whole sweep (waiting ones are
    cancelled, running ones end after their batch) and keeps following until they have."""
    done: set[str] = set()
    total = len(set(record.run_ids))
    while len(done) < total:
        try:
            for point, run_id in zip(record.points, record.run_ids, strict=True):
                if run_id in done:
                    continue
                try:
                    progress = store.progress(run_id)
                except RunNotFoundError:
                    done.add(run_id)  # cancelled: nothing was trained
                    print(f"[{len(done)}/{total}] {_point_text(record, point)}  cancelled", flush=True)
                    continue
                if progress.status in FINAL_STATUSES:
                    done.add(run_id)
                    print(f"[{len(done)}/{total}] {_point_text(record, point)}  {_result_text(progress)}  "
                          f"run {run_id}", flush=True)
            time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            print("Stopping the sweep: waiting trainings are cancelled, running ones end after their batch...",
                  flush=True)
            stop_sweep(queue, record, None, teacher=True)


def _point_text(record: SweepRecord, point: dict) -> str:
    text = "  ".join(f"{field}={format_value(field, point[field])}" for field in record.axes)
    return f"{text}  seed {point['seed']}" if len(record.seeds) > 1 else text


def _result_text(progress: Progress) -> str:
    if progress.status == FAILED:
        return f"failed: {progress.error}"
    best = measure_value(progress, "val_best")
    final = measure_value(progress, "val_final")
    scores = f"test acc {final:.2%} (best {best:.2%})" if final is not None and best is not None else "no test score"
    return f"{progress.status}: {scores}  {progress.elapsed_seconds:.1f}s"


def _summary(store: RunStore, record: SweepRecord, sweep: Sweep, executor: str, wall_seconds: float) -> int:
    """The JSON last line: every run with its values, seed and results, and the summary per measure."""
    found = sweep_progress(store, record)
    runs = []
    for point, run_id in zip(record.points, record.run_ids, strict=True):
        progress = found.get(run_id)
        runs.append({
            "run_id": run_id,
            **point,
            "status": progress.status if progress else "cancelled",
            "test_accuracy": progress.test_accuracy if progress else None,
            "best_accuracy": measure_value(progress, "val_best") if progress else None,
            "test_loss": progress.test_loss if progress else None,
            "gap": measure_value(progress, "gap") if progress else None,
            "epochs_completed": progress.epoch if progress else 0,
            "seconds": round(progress.elapsed_seconds, 2) if progress else 0.0,
            "device": progress.device if progress else "",
            "error": progress.error if progress else None,
        })
    summary = {measure: [{"values": point.values, "mean": point.mean, "low": point.low, "high": point.high,
                          "std": point.std, "count": point.count, "run_ids": list(point.run_ids)}
                         for point in summarise(record, found, measure)]
               for measure in MEASURES}
    print(json.dumps({
        "sweep_id": record.id,
        "name": record.name,
        "preset": sweep.preset,
        "axes": {field: list(values) for field, values in record.axes.items()},
        "seeds": list(record.seeds),
        "executor": executor,
        "trainings": len(runs),
        "wall_seconds": round(wall_seconds, 2),
        "runs": runs,
        "summary": summary,
        "band": BAND,
    }), flush=True)
    return 1 if any(run["status"] == FAILED for run in runs) else 0
