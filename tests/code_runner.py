"""Run Keras scripts that code_out wrote, one after another in this process, and record each model's layers.

`python tests/code_runner.py JOBS.json RESULTS.json`: JOBS is a list of {"name", "code"}; RESULTS gets, for each,
the model's layers (name, class, output shape without the batch, parameters), its parameter count, the epochs
fit ran, whether it scored the validation images, and the script's last printed line; or the error it raised.
The scripts run as they are written; test_code_out only points MNIST_NPZ at a small MNIST file and shrinks
EPOCHS and TRAIN_SIZE, so that a few batches run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras


def run(job: dict) -> dict:
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(job["code"], job["name"], "exec"), namespace)
        model = namespace["model"]
        history = namespace.get("history")
        return {
            "layers": [[layer.name, type(layer).__name__, list(layer.output.shape[1:]), layer.count_params()]
                       for layer in model.layers],
            "params": model.count_params(),
            "epochs": len(history.history["loss"]) if history else None,
            "validated": bool(history) and "val_loss" in history.history,
            "printed": printed.getvalue().strip().splitlines()[-1:],
        }
    except Exception:
        return {"error": traceback.format_exc(limit=6)}
    finally:
        # Keeps the process's memory flat over hundreds of models (layer names are the scripts' own).
        keras.backend.clear_session(free_memory=False)


def main(jobs_path: str, results_path: str) -> None:
    with open(jobs_path) as handle:
        jobs = json.load(handle)
    results = [run(job) for job in jobs]
    with open(results_path, "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main(*sys.argv[1:3])
