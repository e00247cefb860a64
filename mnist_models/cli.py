"""The command line: list presets, train one (a line per epoch, then a JSON summary), list saved runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mnist_models import cli_code, cli_lr_find, cli_sweep
from mnist_models import config as configs
from mnist_models.architecture import count_params
from mnist_models.budget import budget_problems
from mnist_models.config import ConfigError
from mnist_models.jobs.job import JobSpec
from mnist_models.presets import PRESETS, get_preset
from mnist_models.store.progress import ACTIVE_STATUSES, COMPLETED, FAILED, FINAL_STATUSES
from mnist_models.store.runs import RunStore, default_root

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2 (scripts can parse that)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m mnist_models", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("presets", help="list the codelab's presets", description="List the presets.")

    train = commands.add_parser("train", help="train a preset (or a saved config) and save the run",
                                description="Train a preset, or a config.json as the run store writes it; print a "
                                            "line per epoch and, last, one JSON object.")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=list(PRESETS), metavar="NAME", help="one of: " + ", ".join(PRESETS))
    source.add_argument("--config", metavar="FILE",
                        help="a run's config.json ({\"model\": {...}, \"train\": {...}}): reproduce that run")
    train.add_argument("--epochs", type=int, help="passes over the training images")
    train.add_argument("--batch-size", type=int, help="images per training step")
    train.add_argument("--learning-rate", type=float, help="initial learning rate")
    train.add_argument("--train-size", type=int, help="training images to use (a class-balanced subset)")
    train.add_argument("--seed", type=int, help="seed for weights, batch order and dropout")
    train.add_argument("--name", help="a display name for the run")
    train.add_argument("--reuse", action="store_true",
                       help="when an identical training (same settings and seed) has completed, take its result")
    train.add_argument("--fresh", action="store_true",
                       help="train even when an identical training is under way (by default it is followed)")
    train.add_argument("--ray", metavar="ADDRESS",
                       help="train as a Ray task: 'local' (Ray on this machine), 'auto', 'host:port' or "
                            "'ray://host:port'")

    runs = commands.add_parser("runs", help="list saved runs", description="List the saved runs, newest first.")
    runs.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    cli_code.add_parsers(commands)
    cli_lr_find.add_parser(commands)
    cli_sweep.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        return _presets()
    if args.command == "runs":
        return _runs(args.json)
    if args.command in cli_code.COMMANDS:
        return cli_code.main(args)
    if args.command == cli_lr_find.COMMAND:
        return cli_lr_find.main(args)
    if args.command in cli_sweep.COMMANDS:
        return cli_sweep.main(args)
    return _train(args)


def _presets() -> int:
    print(f"{'name':<22} {'params':>9}  {'codelab':>7}  description")
    for preset in PRESETS.values():
        accuracy = f"{preset.codelab_accuracy:.1%}" if preset.codelab_accuracy else "-"
        print(f"{preset.name:<22} {preset.params:>9,}  {accuracy:>7}  {preset.description}")
    return 0


def _runs(as_json: bool) -> int:
    runs = RunStore().list()
    if as_json:
        for info in runs:
            print(json.dumps({"run_id": info.run_id, "name": info.name, "preset": info.preset,
                              "status": info.status, "test_accuracy": info.test_accuracy,
                              "epochs_completed": info.epochs_completed, "device": info.device}))
        return 0
    if not runs:
        print(f"No runs yet in {default_root()}. Train one: python -m mnist_models train --preset softmax")
        return 0
    print(f"{'run id':<44} {'status':<11} {'test acc':>8} {'epochs':>6}  name")
    for info in runs:
        accuracy = f"{info.test_accuracy:.2%}" if info.test_accuracy is not None else "-"
        print(f"{info.run_id:<44} {info.status:<11} {accuracy:>8} {info.epochs_completed:>6}  {info.name}")
    return 0


def _fail_usage(message: str) -> int:
    print(f"python -m mnist_models train: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _configs(args: argparse.Namespace):
    """The model and training configs the arguments ask for, and the preset they came from (or None)."""
    if args.preset:
        preset = get_preset(args.preset)
        model_config, train_config = preset.configs()
    else:
        preset = None
        try:
            text = Path(args.config).read_text()
        except OSError as error:
            raise ConfigError([f"Cannot read {args.config}: {error.strerror or error}."]) from error
        model_config, train_config = configs.loads(text)
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                 "train_size": args.train_size, "seed": args.seed}
    for key, value in overrides.items():
        if value is not None:
            setattr(train_config, key, value)
    model_config.validate()
    train_config.validate()
    over_budget = budget_problems(model_config, train_config)
    if over_budget:
        raise ConfigError(over_budget)
    return model_config, train_config, preset


def _train(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        model_config, train_config, preset = _configs(args)
    except ConfigError as error:
        where = f"{args.config}: " if args.config else ""
        return _fail_usage(where + str(error))
    params = count_params(model_config)
    preset_name = preset.name if preset else "custom"
    name = args.name or (preset.title if preset else Path(args.config).parent.name or "Custom network")
    store = RunStore()
    same = [info for info in store.list() if info.job_key == JobSpec(model_config, train_config).key]
    done = next((info for info in same if info.status == COMPLETED and info.has_model), None)
    under_way = next((info for info in same if info.status in ACTIVE_STATUSES), None)
    if args.reuse and done is not None:
        print(f"An identical training completed as run {done.run_id}: taking its result", flush=True)
        return _summary(store, done.run_id, preset, params, done.executor, shared="reused")
    if under_way is not None and not args.fresh:
        # The same training would give the same run: follow the one under way instead of starting a second.
        print(f"An identical training is under way as run {under_way.run_id}: following it", flush=True)
        printed = 0
        while (progress := store.progress(under_way.run_id)).status not in FINAL_STATUSES:
            printed = _print_epochs(progress, printed)
            time.sleep(0.2)
        _print_epochs(progress, printed)
        return _summary(store, under_way.run_id, preset, params, under_way.executor, shared="joined")
    if done is not None:
        print(f"Note: an identical training completed as run {done.run_id} (test accuracy "
              f"{done.test_accuracy:.2%}): --reuse takes its result, --seed N trains with another seed.", flush=True)
    from mnist_models.jobs.ray_connect import ExecutorUnavailable
    from mnist_models.jobs.settings import make_executor

    try:
        # The same executor the dashboard makes: a worker process here, or a Ray task with --ray.
        choice = make_executor(args.ray or "")
    except (ExecutorUnavailable, ValueError) as error:
        return _fail_usage(str(error))
    executor = choice.executor
    run_id = store.create(model_config, train_config, preset=preset_name, name=name, params=params,
                          executor=executor.name, job_key=JobSpec(model_config, train_config).key)
    handle = choice.start(store, run_id, "training")
    print(f"Training {preset_name} ({params:,} parameters) as run {run_id}", flush=True)
    printed = 0
    while True:
        try:
            while handle.poll() is None:
                time.sleep(0.2)
                printed = _print_epochs(store.progress(run_id), printed)
            break
        except KeyboardInterrupt:
            # The same stop as the dashboard's: the worker ends after its batch, scores and saves the run.
            print("Stopping after the current batch...", flush=True)
            store.request_stop(run_id)
    store.fail_unless_finished(run_id, handle.exit_reason(handle.poll() or 0))
    executor.close()
    _print_epochs(store.progress(run_id), printed)
    return _summary(store, run_id, preset, params, executor.name)


def _summary(store: RunStore, run_id: str, preset, params: int, executor: str, shared: str | None = None) -> int:
    """The JSON last line of `train` (and its exit code): how the run ended; `shared` says "joined" or "reused"
    when an identical training's run stood in for a new one."""
    progress = store.progress(run_id)
    if progress.error:
        print(f"Failed: {progress.error}", file=sys.stderr)
    print(json.dumps({
        "run_id": run_id,
        "preset": preset.name if preset else "custom",
        "status": progress.status,
        "test_accuracy": progress.test_accuracy,
        "test_loss": progress.test_loss,
        "epochs_completed": progress.epoch,
        "seconds": round(progress.elapsed_seconds, 2),
        "params": params,
        "device": progress.device,
        "executor": executor,
        "codelab_accuracy": preset.codelab_accuracy if preset else None,
        "error": progress.error,
        "shared": shared,
    }), flush=True)
    return 1 if progress.status == FAILED else 0


def _print_epochs(progress, printed: int) -> int:
    """Print a line for every test point not printed yet; return how many are printed now."""
    for point in progress.test[printed:]:
        train = [p for p in progress.train if p.epoch <= point.epoch]
        train_text = f"train loss {train[-1].loss:.4f} acc {train[-1].accuracy:.2%}  " if train else ""
        print(f"epoch {point.epoch:g}/{progress.epochs}  {train_text}test loss {point.loss:.4f} "
              f"acc {point.accuracy:.2%}  ({progress.elapsed_seconds:.1f}s)", flush=True)
    return len(progress.test)
