"""How long each recipe trains before its test accuracy first reaches 99%: the seed's recipe against fast-99.

Trains, in one process and with the threads a dashboard worker gets, the seed's recipe (the conv-bigger-dropout
network, batches of 32, Adam 0.003 with inverse-time decay 0.001), the `fast-99` preset, and any preset or saved
config asked for, seed by seed, the recipes interleaved so that both see the same machine. Every `--eval-every`
training images the clock stops, the test set (or, with `--score-on validation`, the validation split) is scored,
and the clock restarts: the times printed are training time only, model building and Keras's first-step tracing
included, scoring excluded. Prints per seed the training seconds at which accuracy first reached the target, the
final accuracy and the ratio of each recipe's time to the seed recipe's, then means over the seeds.

    python benchmarks/time_to_99.py --seeds 0 1 2
    python benchmarks/time_to_99.py --seeds 0 --preset conv-batchnorm --score-on validation

Choose recipes with `--score-on validation` (5,000 held-out training images); report them with the default,
the test set, which no choice may be tuned on.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mnist_models import config as configs  # noqa: E402
from mnist_models.config import TOTAL_TRAIN_IMAGES, ConfigError, ModelConfig, TrainConfig  # noqa: E402
from mnist_models.presets import PRESETS, get_preset  # noqa: E402
from mnist_models.store.files import CONFIG_FILE  # noqa: E402

SEED_RECIPE = "seed"
SELECTION_VALIDATION = 5000  # validation images held out when recipes are chosen on the validation split


@dataclass
class Recipe:
    """A named network and training recipe to time."""

    name: str
    model: ModelConfig
    train: TrainConfig


@dataclass
class Timing:
    """One training run's measurements: (training seconds, epoch, accuracy) at each scoring."""

    points: list[tuple[float, float, float]] = field(default_factory=list)
    seconds: float = 0.0  # training seconds of the whole run

    def first_reaching(self, target: float) -> float | None:
        """Training seconds at which the accuracy first reached `target`; None if it never did."""
        return next((seconds for seconds, _, accuracy in self.points if accuracy >= target), None)

    @property
    def final_accuracy(self) -> float:
        return self.points[-1][2] if self.points else math.nan


def seed_recipe() -> Recipe:
    """The seed's recipe: conv-bigger-dropout's network and data, batches of 32, Adam 0.003, inverse-time decay."""
    model, train = get_preset("conv-bigger-dropout").configs()
    train.batch_size, train.learning_rate = 32, 0.003
    train.lr_schedule, train.lr_decay = "inverse_time", 0.001
    return Recipe(SEED_RECIPE, model, train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to train each recipe with")
    parser.add_argument("--preset", action="append", default=[], choices=list(PRESETS), metavar="NAME",
                        help="another preset to time (repeat for several); one of: " + ", ".join(PRESETS))
    parser.add_argument("--config", action="append", default=[], metavar="FILE",
                        help="a run's config.json to time as well (repeat for several)")
    parser.add_argument("--no-default", action="store_true",
                        help="time only the --preset and --config recipes, not the seed's recipe and fast-99")
    parser.add_argument("--target", type=float, default=0.99, help="the accuracy to reach (default 0.99)")
    parser.add_argument("--epochs", type=int, help="train every recipe this many epochs (default: its own)")
    parser.add_argument("--eval-every", type=int, default=3000, metavar="IMAGES",
                        help="score after every this many training images (default 3000)")
    parser.add_argument("--score-on", choices=("test", "validation"), default="test",
                        help="test (to report) or validation (to choose recipes: 5,000 held-out images)")
    parser.add_argument("--curves", action="store_true", help="also print every scoring: seconds, epoch, accuracy")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The arguments, checked: exits with code 2 and a one-line message when they make no sense."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.target <= 1:
        parser.error(f"--target must be an accuracy above 0 and at most 1, like 0.99 (got {args.target})")
    if args.eval_every < 1:
        parser.error(f"--eval-every must be a positive number of images (got {args.eval_every})")
    if args.epochs is not None and not 1 <= args.epochs <= configs.MAX_EPOCHS:
        parser.error(f"--epochs must be from 1 to {configs.MAX_EPOCHS} (got {args.epochs})")
    if len(set(args.seeds)) != len(args.seeds) or any(seed < 0 for seed in args.seeds):
        parser.error("--seeds must be distinct whole numbers of at least 0")
    if args.no_default and not (args.preset or args.config):
        parser.error("--no-default needs at least one --preset or --config to time")
    try:
        args.recipes = recipes(args)
    except (OSError, ConfigError) as error:
        parser.error(str(error))
    return args


def recipes(args: argparse.Namespace) -> list[Recipe]:
    """The recipes the arguments ask for, with --epochs and the validation split applied, each validated."""
    chosen = [] if args.no_default else [seed_recipe(), Recipe("fast-99", *get_preset("fast-99").configs())]
    chosen += [Recipe(name, *get_preset(name).configs()) for name in args.preset]
    for path in args.config:
        model, train = configs.loads(Path(path).read_text())
        # A run's config.json is named after its run folder; any other file after itself.
        file = Path(path)
        chosen.append(Recipe(file.parent.name if file.name == CONFIG_FILE else file.stem, model, train))
    for recipe in chosen:
        if args.epochs:
            recipe.train.epochs = args.epochs
        if args.score_on == "validation":
            recipe.train.validation_size = SELECTION_VALIDATION
            recipe.train.train_size = min(recipe.train.train_size, TOTAL_TRAIN_IMAGES - SELECTION_VALIDATION)
        recipe.model.validate()
        recipe.train.validate()
    return chosen


def time_recipe(recipe: Recipe, seed: int, data, *, score_on: str, eval_every: int) -> Timing:
    """Train `recipe` with `seed`, scoring every `eval_every` images on a stopped clock."""
    import keras

    from mnist_models.data import make_split
    from mnist_models.store.progress import scores
    from mnist_models.worker import models
    from mnist_models.worker.callback import predict_probabilities
    from mnist_models.worker.training import steps_per_execution, visible_device_types

    train = recipe.train
    split = make_split(data, train.train_size, train.validation_size)
    x_score, y_score = (split.x_test, split.y_test) if score_on == "test" else (split.x_val, split.y_val)
    steps = math.ceil(len(split.y_train) / train.batch_size)
    timing = Timing()

    class Scorer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.started = time.perf_counter()
            self.images = 0
            self.next_score = eval_every

        def score(self, epoch: float) -> None:
            timing.seconds += time.perf_counter() - self.started
            accuracy = scores(predict_probabilities(self.model, x_score), y_score)[1]
            timing.points.append((timing.seconds, epoch, accuracy))
            self.started = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            self.images = self.epoch * len(split.y_train) + min((batch + 1) * train.batch_size, len(split.y_train))
            if self.images >= self.next_score:
                self.next_score += eval_every
                self.score(self.images / len(split.y_train))

        def on_train_end(self, logs=None):
            if not timing.points or timing.points[-1][1] < train.epochs:
                self.score(float(train.epochs))

    keras.utils.set_random_seed(seed)
    scorer = Scorer()  # the clock starts before the model is built, as a learner's does
    model = models.compile_model(models.build_model(recipe.model), train,
                                 steps_per_execution(visible_device_types(), steps))
    model.fit(split.x_train, split.y_train, batch_size=train.batch_size, epochs=train.epochs, shuffle=True,
              verbose=0, callbacks=[scorer])
    keras.backend.clear_session()
    return timing


def _seconds(value: float | None) -> str:
    return f"{value:6.1f} s" if value is not None else "  never"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from mnist_models.data import load_mnist
    from mnist_models.jobs.queue import threads_per_job
    from mnist_models.worker.training import device_report, set_thread_count

    set_thread_count(threads_per_job(1))  # what a dashboard worker training alone gets
    data = load_mnist()
    print(f"{device_report()}; scoring on the {args.score_on} set every {args.eval_every:,} images; "
          f"target {args.target:.1%}", flush=True)
    reached: dict[str, list[float | None]] = {recipe.name: [] for recipe in args.recipes}
    finals: dict[str, list[float]] = {recipe.name: [] for recipe in args.recipes}
    totals: dict[str, list[float]] = {recipe.name: [] for recipe in args.recipes}
    reference = args.recipes[0].name
    for seed in args.seeds:
        for recipe in args.recipes:
            timing = time_recipe(recipe, seed, data, score_on=args.score_on, eval_every=args.eval_every)
            first = timing.first_reaching(args.target)
            reached[recipe.name].append(first)
            finals[recipe.name].append(timing.final_accuracy)
            totals[recipe.name].append(timing.seconds)
            base = reached[reference][-1]
            ratio = f"{first / base:5.2f}" if first is not None and base else "    -"
            print(f"seed {seed:<3} {recipe.name:22} {args.target:.1%} at {_seconds(first)}  final "
                  f"{timing.final_accuracy:.2%} after {recipe.train.epochs} epochs ({timing.seconds:5.1f} s)  "
                  f"ratio to {reference}: {ratio}", flush=True)
            if args.curves:
                print("    " + "  ".join(f"{seconds:.1f}s/{epoch:.2f}:{accuracy:.2%}"
                                         for seconds, epoch, accuracy in timing.points), flush=True)
    print(f"\n| recipe | {args.target:.1%} reached at (s), per seed | mean | final {args.score_on} accuracy, per "
          f"seed | mean | training time (s) | ratio to {reference} |")
    print("|---|---|---|---|---|---|---|")
    base_times = [value for value in reached[reference] if value is not None]
    for recipe in args.recipes:
        times = reached[recipe.name]
        known = [value for value in times if value is not None]
        mean = statistics.mean(known) if len(known) == len(times) else None
        base_mean = statistics.mean(base_times) if len(base_times) == len(times) else None
        ratio = f"{mean / base_mean:.2f}" if mean is not None and base_mean else "-"
        print(f"| {recipe.name} | {' / '.join(_seconds(value).strip() for value in times)} | "
              f"{_seconds(mean).strip()} | {' / '.join(f'{value:.2%}' for value in finals[recipe.name])} | "
              f"{statistics.mean(finals[recipe.name]):.2%} | {statistics.mean(totals[recipe.name]):.1f} | {ratio} |")


if __name__ == "__main__":
    main()
