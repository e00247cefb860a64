"""Test accuracy and training time of presets with their own settings, over several seeds.

Trains each preset through the same TrainingThread the dashboard and the command line use (into a temporary
run store) and prints one line per run and a summary per preset: the lowest, mean and highest test
accuracy against the codelab's figure, and the seconds per epoch. Too slow for the test suite (a convnet
takes minutes on a laptop CPU), which is why the issue's accuracy targets are measured here.

    python benchmarks/preset_accuracy.py --preset conv-bigger-dropout --epochs 3 --seeds 0 1 2
    python benchmarks/preset_accuracy.py --preset softmax --preset five-layer-relu-adam
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mnist_models.data import load_mnist  # noqa: E402
from mnist_models.presets import PRESETS, get_preset  # noqa: E402
from mnist_models.store.progress import COMPLETED  # noqa: E402
from mnist_models.store.runs import RunStore  # noqa: E402
from mnist_models.worker.training import TrainingThread  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", action="append", choices=list(PRESETS), required=True,
                        help="preset to train (repeat for several)")
    parser.add_argument("--epochs", type=int, help="epochs (default: each preset's own)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds to train with")
    args = parser.parse_args()

    data = load_mnist()
    store = RunStore(tempfile.mkdtemp(prefix="preset-accuracy-"))
    for name in args.preset:
        preset = get_preset(name)
        model_config, train_config = preset.configs()
        if args.epochs:
            train_config.epochs = args.epochs
        accuracies, epoch_seconds = [], []
        for seed in args.seeds:
            train_config.seed = seed
            job = TrainingThread(model_config, train_config, store=store, preset=name, data=data).start()
            progress = job.wait()
            if progress.status != COMPLETED:
                sys.exit(f"{name} seed {seed} ended {progress.status}: {progress.error}")
            accuracy = progress.test_accuracy
            accuracies.append(accuracy)
            epoch_seconds.append(progress.elapsed_seconds / train_config.epochs)
            print(f"{name:22} seed {seed:<3} {train_config.epochs} epochs  test accuracy {accuracy:.2%}  "
                  f"{progress.elapsed_seconds:5.0f} s  {progress.device}", flush=True)
        target = f"{preset.codelab_accuracy:.1%}" if preset.codelab_accuracy else "-"
        print(f"{name:22} {len(accuracies)} seeds: min {min(accuracies):.2%}  mean "
              f"{statistics.mean(accuracies):.2%}  max {max(accuracies):.2%}  (codelab {target})  "
              f"{statistics.mean(epoch_seconds):.0f} s per epoch\n", flush=True)


if __name__ == "__main__":
    main()
