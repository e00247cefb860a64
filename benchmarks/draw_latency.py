"""Time one drawing's trip: canvas RGBA -> to_mnist -> Predictor.predict, the Draw page's work per stroke.

Prints the median and 90th percentile over many drawings, for the preprocessing alone and with inference,
on the model of a saved run (--run-id) or on a freshly built, untrained network of the chosen preset (the
cost of a forward pass does not depend on the weights). Target: a median of 10 ms or less on the CPU.

    python benchmarks/draw_latency.py [--preset conv-bigger-dropout] [--run-id ID] [--repeats 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.drawn_digits import DIGITS, render  # noqa: E402
from mnist_models.drawing import to_mnist  # noqa: E402
from mnist_models.predict import Predictor  # noqa: E402
from mnist_models.presets import get_preset  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="conv-bigger-dropout")
    parser.add_argument("--run-id", help="time a saved run's model instead of an untrained one")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    if args.run_id:
        predictor = Predictor.for_run(args.run_id)
    else:
        from mnist_models.worker.models import build_model

        model = build_model(get_preset(args.preset).model)
        path = Path(tempfile.mkdtemp()) / "untrained.keras"
        model.save(path)
        predictor = Predictor(path)
    canvases = [render(digit.strokes) for digit in DIGITS]
    predictor.predict(to_mnist(canvases[0]))  # The first call traces the model; users pay it on page load.

    prep, total = [], []
    for index in range(args.repeats):
        canvas = canvases[index % len(canvases)]
        start = time.perf_counter()
        image = to_mnist(canvas)
        middle = time.perf_counter()
        predictor.predict(image)
        end = time.perf_counter()
        prep.append(middle - start)
        total.append(end - start)
    for name, values in (("preprocessing", prep), ("preprocessing + inference", total)):
        ms = np.array(values) * 1000
        print(f"{name:<28} median {np.median(ms):6.2f} ms   p90 {np.percentile(ms, 90):6.2f} ms   "
              f"({args.repeats} drawings, 280x280 canvas)")
    print(f"target: median <= 10 ms -> {'met' if np.median(np.array(total) * 1000) <= 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
