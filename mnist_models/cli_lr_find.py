"""The command line's `lr-find` verb: a learning-rate range test of a preset or a saved config, a line per stretch
of batches, then one JSON object with the suggested rate, the rule behind it and the range tried."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

from mnist_models import config as configs
from mnist_models import lr_find
from mnist_models.architecture import count_params
from mnist_models.config import ConfigError
from mnist_models.lr_range import DEFAULT_BATCHES, DEFAULT_END, DEFAULT_START, NOTE, RULE, RangeSettings
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.progress import FAILED
from mnist_models.store.runs import RunStore

COMMAND = "lr-find"
EXIT_USAGE = 2
PRINT_EVERY = 25  # batches between two progress lines


def add_parser(commands) -> None:
    """Add the `lr-find` verb to the command line's subparsers."""
    parser = commands.add_parser(
        COMMAND, help="find a learning rate to start from: a range test on a throwaway copy of a network",
        description="Train a throwaway copy of a preset's (or a config's) network for a few hundred batches while the "
                    "learning rate grows exponentially, stopping when the loss diverges; print progress lines and, "
                    "last, one JSON object with the suggested rate, the rule behind it and the range tried.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help="one of: " + ", ".join(PRESETS))
    source.add_argument("--config", metavar="FILE", help="a run's config.json ({\"model\": {...}, \"train\": {...}})")
    parser.add_argument("--batch-size", type=int, help="images per step (the config's unless given)")
    parser.add_argument("--train-size", type=int, help="training images to draw the batches from")
    parser.add_argument("--seed", type=int, help="seed for the weights and the order of the batches")
    parser.add_argument("--first-rate", type=float, default=DEFAULT_START, metavar="RATE",
                        help=f"the rate of the first batch (default {DEFAULT_START:g})")
    parser.add_argument("--last-rate", type=float, default=DEFAULT_END, metavar="RATE",
                        help=f"the rate of the last batch (default {DEFAULT_END:g})")
    parser.add_argument("--batches", type=int, default=DEFAULT_BATCHES,
                        help=f"batches over which the rate grows (default {DEFAULT_BATCHES})")
    parser.add_argument("--name", help="a display name for the test's run")
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run it as a Ray task: 'local', 'auto', 'host:port' or 'ray://host:port'")


def _fail(message: str) -> int:
    print(f"python -m mnist_models {COMMAND}: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_USAGE


def _configs(args: argparse.Namespace):
    """The model and training configs the arguments ask for (a preset's or a file's, with the overrides)."""
    if args.preset:
        model, train = get_preset(args.preset).configs()
    else:
        try:
            text = Path(args.config).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError([f"Cannot read it: {getattr(error, 'strerror', None) or error}."]) from error
        model, train = configs.loads(text)
    for key in ("batch_size", "train_size", "seed"):
        if getattr(args, key) is not None:
            setattr(train, key, getattr(args, key))
    return model, train


def main(args: argparse.Namespace) -> int:
    """Run the range test; 0 when it ends (stopped early included), 1 when it failed, 2 on bad input."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    store = RunStore()
    preset = args.preset or "custom"
    settings = RangeSettings(args.first_rate, args.last_rate, args.batches)
    try:
        model, train = _configs(args)
        name = args.name or (f"Range test: {get_preset(args.preset).title}" if args.preset
                             else f"Range test: {Path(args.config).parent.name or 'custom network'}")
        spec = lr_find.range_test_spec(model, train, settings=settings, preset=preset, name=name, store=store)
    except ConfigError as error:
        return _fail((f"{args.config}: " if args.config else "") + str(error))
    from mnist_models.jobs.ray_connect import ExecutorUnavailable
    from mnist_models.jobs.settings import make_executor

    try:
        choice = make_executor(args.ray or "")
    except (ExecutorUnavailable, ValueError) as error:
        return _fail(str(error))
    executor = choice.executor
    params = count_params(spec.model)
    run_id = store.create(spec.model, spec.train, preset=preset, name=spec.name, params=params,
                          executor=executor.name, files=spec.files, job_key=spec.key, task=spec.task)
    handle = choice.start(store, run_id, "range test")
    print(f"Range test of {preset} ({params:,} parameters) as run {run_id}: rates from {settings.start:g} to "
          f"{settings.end:g} over up to {settings.batches} batches of {spec.train.batch_size}", flush=True)
    printed = 0
    while True:
        try:
            while handle.poll() is None:
                time.sleep(0.2)
                printed = _print_batches(store, run_id, printed)
            break
        except KeyboardInterrupt:
            print("Stopping after the current batch...", flush=True)
            store.request_stop(run_id)
    store.fail_unless_finished(run_id, handle.exit_reason(handle.poll() or 0))
    executor.close()
    _print_batches(store, run_id, printed, last=True)
    return _summary(store, run_id, preset, executor.name)


def _print_batches(store: RunStore, run_id: str, printed: int, last: bool = False) -> int:
    """A line for every PRINT_EVERY batches measured since the last line (and for the last batch at the end)."""
    result = lr_find.load_result(store, run_id)
    if result is None:
        return printed
    smoothed = result.smoothed
    marks = list(range(printed + PRINT_EVERY, result.batches_run + 1, PRINT_EVERY))
    if last and result.batches_run > printed and result.batches_run not in marks:
        marks.append(result.batches_run)
    for count in marks:
        index = count - 1
        trend = f"  smoothed {smoothed[index]:.4f}" if math.isfinite(smoothed[index]) else ""
        print(f"batch {count}/{result.settings.batches}  rate {result.rates[index]:.2e}  loss "
              f"{result.losses[index]:.4f}{trend}", flush=True)
    return marks[-1] if marks else printed


def _summary(store: RunStore, run_id: str, preset: str, executor: str) -> int:
    """The JSON last line (and the exit code): the suggestion, the rule, the range tried and how the run ended."""
    progress = store.progress(run_id)
    result = lr_find.load_result(store, run_id)
    if progress.error:
        print(f"Failed: {progress.error}", file=sys.stderr)
    if result is not None:
        found = result.summary()
    else:
        found = {"suggested_learning_rate": None, "method": None, "reason": "The test measured nothing.",
                 "rule": RULE, "note": NOTE, "range": None}
    if found["suggested_learning_rate"] is not None:
        print(f"Suggested learning rate: {found['suggested_learning_rate']:.2g} ({found['reason']})", flush=True)
    elif result is not None:
        print(f"No suggestion: {found['reason']}", flush=True)
    print(json.dumps({"run_id": run_id, "preset": preset, "status": progress.status, **found,
                      "seconds": round(progress.elapsed_seconds, 2), "device": progress.device,
                      "executor": executor, "error": progress.error}), flush=True)
    return 1 if progress.status == FAILED else 0
