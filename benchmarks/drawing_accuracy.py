"""How well a trained network reads hand-drawn digits: MNIST-style preprocessing against a naive resize.

Renders the project's drawn test digits (benchmarks/drawn_digits.py) as the canvas would deliver them, and
classifies each one after `drawing.to_mnist` and after `drawing.naive_resize` (the whole canvas shrunk to
28x28). Uses a saved run (--run-id) or trains the conv-bigger-dropout preset for its default epochs first.

    python benchmarks/drawing_accuracy.py [--run-id ID]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.drawn_digits import DIGITS, render  # noqa: E402
from mnist_models.drawing import naive_resize, to_mnist  # noqa: E402
from mnist_models.predict import Predictor  # noqa: E402
from mnist_models.presets import get_preset  # noqa: E402
from mnist_models.store.runs import RunStore  # noqa: E402
from mnist_models.worker.training import TrainingThread  # noqa: E402


def trained_predictor(run_id: str | None) -> Predictor:
    if run_id:
        return Predictor.for_run(run_id)
    preset = get_preset("conv-bigger-dropout")
    store = RunStore(tempfile.mkdtemp(prefix="drawing-accuracy-"))
    print(f"Training {preset.name} for {preset.train.epochs} epochs (pass --run-id to reuse a saved run)...")
    job = TrainingThread(*preset.configs(), store=store, preset=preset.name).start()
    progress = job.wait()
    print(f"test accuracy {progress.test_accuracy:.4f} in {progress.elapsed_seconds:.0f} s")
    return Predictor.for_run(job.run_id, store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", help="a saved run to use instead of training one")
    args = parser.parse_args()
    predictor = trained_predictor(args.run_id)
    labels = np.array([digit.label for digit in DIGITS])
    canvases = [render(digit.strokes) for digit in DIGITS]
    for name, prepare in (("MNIST-style (to_mnist)", to_mnist), ("naive resize", naive_resize)):
        images = np.stack([prepare(canvas) for canvas in canvases])
        predicted = predictor.probabilities(images).argmax(axis=1)
        correct = predicted == labels
        misses = ", ".join(f"{DIGITS[i].label}/{DIGITS[i].style}->{predicted[i]}" for i in np.flatnonzero(~correct))
        print(f"{name:<24} {correct.mean():7.1%}  ({correct.sum()}/{len(labels)})  misses: {misses or 'none'}")


if __name__ == "__main__":
    main()
