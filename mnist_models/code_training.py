"""Reading Keras code, part three: model.compile and model.fit, as calls, turned into the TrainConfig they say.

An optimiser given by name gets Keras's default learning rate; `keras.optimizers.SGD(momentum=0.9)` is the
dashboard's "momentum"; Keras 2's `decay=` is inverse-time decay; InverseTimeDecay with any decay_steps maps onto
the dashboard's per-step decay; a fit without batch_size or epochs gets Keras's defaults (32 and 1).
"""

from __future__ import annotations

import math
from typing import Any

from mnist_models.code_eval import OPTIMIZER_NAMES
from mnist_models.code_values import Call, CodeError
from mnist_models.config import ModelConfig, TrainConfig

KERAS_RATES = {"sgd": 0.01, "adam": 0.001, "rmsprop": 0.001, "adamw": 0.001}  # Keras's default learning rates
LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy")
OPTIMIZER_PARAMS = {
    "SGD": (("learning_rate", "momentum", "nesterov", "lr", "decay", "name"), 3),
    "Adam": (("learning_rate", "lr", "decay", "name"), 1),
    "RMSprop": (("learning_rate", "lr", "decay", "name"), 1),
    "AdamW": (("learning_rate", "weight_decay", "lr", "decay", "name"), 2),
}
SCHEDULE_PARAMS = {
    "InverseTimeDecay": (("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"), 4),
    "FlooredExponentialDecay": (("initial_learning_rate", "decay_steps", "floor"), 3),
    "OneCycle": (("peak", "floor", "total_steps", "warmup_fraction"), 4),
    "ExponentialDecay": (("initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"), 4),
}
FIT_PARAMS = ("x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data",
              "shuffle")


def _number(value: Any, what: str, line: int) -> float | int:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise CodeError(line, f"The {what} is a number (got {value!r}).")
    return value


def read_compile(call: Call, train: TrainConfig, said: dict[str, int]) -> tuple[Any, int] | None:
    """Read the optimiser, its learning rate and the loss; return OneCycle's (total_steps, line) if it has one."""
    bound = call.bind(("optimizer", "loss", "metrics"), 2, label="model.compile")
    loss = bound.get("loss")
    if isinstance(loss, Call) and loss.kind == "loss":
        if loss.bind(("from_logits", "name"), 0, label="The loss").get("from_logits", False) is not False:
            raise CodeError(call.line, "The last layer's softmax gives probabilities here: keep from_logits=False.")
    elif loss not in LOSSES:
        raise CodeError(call.line, "The loss is the cross-entropy: loss=\"sparse_categorical_crossentropy\" for "
                                   "labels 0..9 (or \"categorical_crossentropy\" for one-hot labels).")
    metrics = bound.get("metrics") or []
    if not isinstance(metrics, list | tuple) or not all(isinstance(metric, str) for metric in metrics):
        raise CodeError(call.line, "Metrics are a list of names, like metrics=[\"accuracy\"].")
    optimizer = bound.get("optimizer", "rmsprop")  # Keras's default
    said.update(dict.fromkeys(("optimizer", "learning_rate", "lr_schedule"), call.line))
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name not in KERAS_RATES:
            raise CodeError(call.line, f"Optimizer {optimizer!r} is not one of this app's: use \"sgd\", \"adam\", "
                                       "\"rmsprop\" or \"adamw\", or keras.optimizers.SGD(momentum=0.9).")
        train.optimizer, train.learning_rate = name, KERAS_RATES[name]
        return None
    if not isinstance(optimizer, Call) or optimizer.kind not in OPTIMIZER_NAMES:
        raise CodeError(call.line, "The optimizer is a name like \"adam\" or an optimiser like "
                                   "keras.optimizers.Adam(learning_rate=0.003).")
    return _optimizer(optimizer, train, said)


def _optimizer(call: Call, train: TrainConfig, said: dict[str, int]) -> tuple[Any, int] | None:
    params, positional = OPTIMIZER_PARAMS[call.kind]
    bound = call.bind(params, positional, label=f"keras.optimizers.{call.kind}")
    if "lr" in bound and "learning_rate" in bound:
        raise CodeError(call.line, "Give the learning rate once (learning_rate=..., the name Keras 3 uses).")
    train.optimizer = call.kind.lower()
    if call.kind == "SGD":
        momentum = bound.get("momentum", 0.0)
        if momentum not in (0, 0.9) or bound.get("nesterov", False) is not False:
            raise CodeError(call.line, "This app's SGD runs plain (momentum 0) or with momentum=0.9, without "
                                       "Nesterov.")
        train.optimizer = "momentum" if momentum == 0.9 else "sgd"
    if bound.get("weight_decay", 0.004) != 0.004:
        raise CodeError(call.line, "This app's AdamW keeps Keras's weight_decay of 0.004: leave it out.")
    rate = bound.get("learning_rate", bound.get("lr", KERAS_RATES[call.kind.lower()]))
    key = "lr" if "lr" in bound else "learning_rate"
    cycle = _learning_rate(rate, call.origin(key, params) if key in bound else call.line, train, said)
    decay = bound.get("decay")
    if decay not in (None, 0, 0.0):
        if train.lr_schedule != "constant":
            raise CodeError(call.line, "Give the optimiser a schedule or Keras 2's decay=..., not both.")
        said["lr_decay"] = call.origin("decay", params)
        train.lr_schedule, train.lr_decay = "inverse_time", _number(decay, "decay", said["lr_decay"])
    return cycle


def _learning_rate(rate: Any, line: int, train: TrainConfig, said: dict[str, int]) -> tuple[Any, int] | None:
    if not isinstance(rate, Call):
        train.learning_rate, train.lr_schedule = _number(rate, "learning rate", line), "constant"
        said["learning_rate"] = line
        return None
    if rate.kind not in SCHEDULE_PARAMS:
        raise CodeError(line, "The learning rate is a number or one of this app's schedules: keras.optimizers."
                              "schedules.InverseTimeDecay, FlooredExponentialDecay or OneCycle.")
    params, positional = SCHEDULE_PARAMS[rate.kind]
    bound = rate.bind(params, positional)
    missing = [name for name in params[:3 if rate.kind != "OneCycle" else 4] if name not in bound]
    if missing:
        raise CodeError(rate.line, f"{rate.kind} needs {', '.join(missing)}.")
    values = {name: _number(bound[name], name, rate.origin(name, params)) for name in params[:4] if name in bound
              and name != "staircase"}
    said["lr_schedule"] = rate.line
    if bound.get("staircase", False) is not False:
        raise CodeError(rate.line, "This app's schedules change at every step: leave staircase out.")
    if rate.kind == "ExponentialDecay":
        hint = ""
        if 0 < values["decay_rate"] < 1 and values["decay_steps"] > 0:
            steps = round(values["decay_steps"] / -math.log(values["decay_rate"]))
            hint = (f"; yours is close to FlooredExponentialDecay({values['initial_learning_rate']!r}, "
                    f"decay_steps={steps}, floor=0.0)")
        raise CodeError(rate.line, "ExponentialDecay has no floor: this app's exponential schedule is "
                                   "FlooredExponentialDecay(initial_learning_rate, decay_steps, floor), floor + "
                                   "initial_learning_rate x e^(-step / decay_steps), as the dashboard writes it"
                                   f"{hint}.")
    if rate.kind == "InverseTimeDecay":
        train.learning_rate, train.lr_schedule = values["initial_learning_rate"], "inverse_time"
        steps = values["decay_steps"]
        if steps <= 0:
            raise CodeError(rate.line, "InverseTimeDecay's decay_steps is a positive number, like 1.")
        # lr / (1 + rate x step / steps) is lr / (1 + (rate / steps) x step).
        train.lr_decay = values["decay_rate"] if steps == 1 else values["decay_rate"] / steps
        said.update(learning_rate=rate.origin("initial_learning_rate", params),
                    lr_decay=rate.origin("decay_rate", params))
    elif rate.kind == "FlooredExponentialDecay":
        train.learning_rate, train.lr_schedule = values["initial_learning_rate"], "exponential"
        train.lr_decay_steps, train.min_learning_rate = values["decay_steps"], values["floor"]
        said.update(learning_rate=rate.origin("initial_learning_rate", params),
                    lr_decay_steps=rate.origin("decay_steps", params), min_learning_rate=rate.origin("floor", params))
    else:
        train.learning_rate, train.lr_schedule = values["peak"], "one_cycle"
        train.min_learning_rate, train.warmup_fraction = values["floor"], values["warmup_fraction"]
        said.update(learning_rate=rate.origin("peak", params), min_learning_rate=rate.origin("floor", params),
                    warmup_fraction=rate.origin("warmup_fraction", params))
        return values["total_steps"], rate.origin("total_steps", params)
    return None


def read_fit(call: Call, train: TrainConfig, said: dict[str, int]) -> None:
    bound = call.bind(FIT_PARAMS, len(FIT_PARAMS), label="model.fit")
    if bound.get("validation_split", 0) not in (0, 0.0, None):
        raise CodeError(call.line, "The dashboard holds its validation images out itself: drop validation_split and "
                                   "set VALIDATION_SIZE = 5000 (how many) above.")
    if bound.get("shuffle", True) is not True:
        raise CodeError(call.line, "The dashboard shuffles the images every epoch: leave shuffle out.")
    for callback in bound.get("callbacks") or []:
        if not isinstance(callback, Call) or callback.kind != "TensorBoard":
            raise CodeError(call.line, "The one callback read here is keras.callbacks.TensorBoard(LOG_DIR, "
                                       "histogram_freq=1): the dashboard records the curves itself.")
    train.batch_size = bound.get("batch_size") if bound.get("batch_size") is not None else 32  # Keras's default
    train.epochs = bound.get("epochs", 1)
    said.update(batch_size=call.origin("batch_size", FIT_PARAMS), epochs=call.origin("epochs", FIT_PARAMS))


def blame(config: ModelConfig | TrainConfig, said: dict[str, int], fallback: int) -> None:
    """Raise the config's problems at the line of the first field (in the code's order) that has one of them
    alone; problems between fields go to `fallback`, the line of the model, or of compile or fit."""
    problems = config.problems()
    if not problems:
        return
    for field, line in sorted(said.items(), key=lambda item: item[1]):
        alone = set(type(config)(**{field: getattr(config, field)}).problems())
        if alone & set(problems):
            raise CodeError(line, " ".join(problem for problem in problems if problem in alone))
    raise CodeError(fallback, " ".join(problems))
