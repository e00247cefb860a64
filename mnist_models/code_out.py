"""The Keras code of a network and its training, in the codelab's style: as one script, or as a notebook's parts.

The layers come from `architecture.plan_layers`, the plan `worker/models.build_model` builds, so the code's
model has the dashboard's layers, names, output shapes and parameter counts. What Keras cannot say in this style
(fine-tuning from a run, how often the dashboard scores the validation images) is said in comments, and every
config field the network or its schedule leaves unused is kept as a constant, so `code_in` reads the same configs
back.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from mnist_models import code_templates
from mnist_models.architecture import LayerSpec, count_params, plan_layers
from mnist_models.config import (
    OPTIMIZER_LABELS,
    TEST_IMAGES,
    VALIDATION_CHECKS_PER_EPOCH,
    VALIDATION_SAMPLE,
    ModelConfig,
    TrainConfig,
)

WIDTH = 116  # characters a line of the code takes at most, where a comment decides

OPTIMIZER_CODE = {
    "sgd": "keras.optimizers.SGD(learning_rate=learning_rate)",
    "momentum": "keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)",
    "adam": "keras.optimizers.Adam(learning_rate=learning_rate)",
    "rmsprop": "keras.optimizers.RMSprop(learning_rate=learning_rate)",
    "adamw": "keras.optimizers.AdamW(learning_rate=learning_rate)",
}
_SETTING_COMMENTS = {
    "activation": "activation of the dense hidden layers",
    "dropout_rate": "share of the dense hidden layers' outputs dropped at each step",
    "batch_norm": "batch normalisation before every hidden activation",
    "batch_norm_momentum": "batch norm's weight of the past in its running statistics",
    "padding": "padding of the convolutions",
    "lr_decay": "inverse-time decay per step: lr / (1 + decay x step)",
    "lr_decay_steps": "exponential decay: steps for the rate above the floor to shrink by e",
    "min_learning_rate": "the floor of the exponential and one-cycle schedules",
    "warmup_fraction": "one cycle: the share of the steps spent warming up",
}


@dataclass(frozen=True)
class Section:
    """One part of the code: a title, a paragraph of Markdown explaining it (for a notebook) and its code."""

    title: str
    text: str
    code: str


def literal(value) -> str:
    """Python source for a setting's value: strings in double quotes (repr when they need escapes), floats exact."""
    if isinstance(value, str):
        plain = value.isascii() and value.isprintable() and '"' not in value and "\\" not in value
        return f'"{value}"' if plain else repr(value)
    return repr(value)


def sections(model: ModelConfig, train: TrainConfig, *, name: str = "custom", about: str = "",
             mnist_npz: str | None = None, log_dir: str | None = None,
             codelab_accuracy: float | None = None) -> list[Section]:
    """The parts of the code for `model` trained as `train`: settings, data, model, compile, fit and test.

    `name` names the TensorBoard folder (logs/NAME unless `log_dir` is given); `mnist_npz` sets MNIST_NPZ, the
    file MNIST is read from (None: Keras downloads it). Raises ConfigError (a ValueError) for an invalid config.
    """
    model.validate()
    train.validate()
    title = f"{_plain(name)}: the Keras code of this network and its training"
    intro = (f"# {title}\n\n{_plain(about)}\n\n" if about else f"# {title}\n\n") + (
        "Run every cell in order (Jupyter or Colab, with TensorFlow and Keras). The code builds the same network "
        "as the dashboard, with the same layers, shapes and parameter counts, and trains it the same way.")
    return [
        Section("Settings", intro + "\n\nFirst the imports and the settings: where MNIST comes from, where "
                "TensorBoard's logs go, batch size, epochs and how many images to train on.",
                _settings_code(model, train, name, mnist_npz, log_dir)),
        Section("Data", "MNIST's images are scaled from 0..255 to 0..1. The training images are put in a "
                "class-balanced order, as the dashboard does, so that the first `TRAIN_SIZE` are a fair sample; "
                "the last `VALIDATION_SIZE` are held out to watch for overfitting.", _data_code()),
        Section("Model", _model_text(model), _model_code(model)),
        Section("Compile", _compile_text(train), _compile_code(train)),
        Section("Train", "`fit` trains the network, measuring the validation images after every epoch. "
                "TensorBoard records the curves and a histogram of every layer's weights once an epoch: "
                "`%load_ext tensorboard` then `%tensorboard --logdir logs` in a notebook, or "
                "`tensorboard --logdir logs` in a terminal, shows them.", _fit_code(train)),
        Section("Test", "The score that counts: the 10,000 test images, never trained on.",
                _test_code(codelab_accuracy)),
    ]


def keras_code(model: ModelConfig, train: TrainConfig, **options) -> str:
    """One standalone Python script of the network and its training (the options are those of `sections`)."""
    parts = sections(model, train, **options)
    name = _plain(options.get("name", "custom"))
    about = _plain(options.get("about", ""))
    header = f'"""{name}: the Keras code of this network and its training, as the MNIST dashboard builds it.\n'
    if about:
        header += "\n" + textwrap.fill(about, WIDTH) + "\n"
    header += ("\nRun it with Python (TensorFlow and Keras installed); `python -m mnist_models read-code FILE` reads "
               "it back\ninto the dashboard's configs.\n\"\"\"\n")
    body = "\n\n".join(f"# {part.title}\n{part.code}" for part in parts)
    return header + "\n" + body


def _plain(text: str) -> str:
    """Text safe inside a docstring or a Markdown heading: one line, no quotes or backslashes to escape."""
    return " ".join(str(text).replace("\\", "/").replace('"', "'").split())


def _settings_code(model: ModelConfig, train: TrainConfig, name: str, mnist_npz: str | None,
                   log_dir: str | None) -> str:
    log_dir = log_dir if log_dir is not None else f"logs/{name}"
    lines = [
        "import keras",
        "import numpy as np",
        "from keras import layers",
        "",
        "# Where MNIST comes from: None downloads it with Keras (once; it is cached then). The path of an mnist.npz",
        "# with x_train, y_train, x_test and y_test (the dashboard's is mnist_models/data/mnist.npz) reads that file.",
        f"MNIST_NPZ = {literal(mnist_npz)}",
        f"LOG_DIR = {literal(log_dir)}  # TensorBoard's event files: tensorboard --logdir logs",
        "",
        f"BATCH_SIZE = {train.batch_size}  # images per training step",
        f"EPOCHS = {train.epochs}  # passes over the training images",
        f"TRAIN_SIZE = {train.train_size}  # training images, a class-balanced share of MNIST's 60,000",
        f"VALIDATION_SIZE = {train.validation_size}  # images held out of training, to watch for overfitting",
        f"SEED = {train.seed}  # fixes the first weights, the batch order and dropout (the same curves on a CPU)",
    ]
    if train.fine_tune_from:
        lines += [
            "# The dashboard starts this training from the trained weights of this run and mixes the learner's own",
            "# digits (Draw's My digits) into the training images. Keras here starts from new weights, on MNIST alone.",
            f"FINE_TUNE_FROM = {literal(train.fine_tune_from)}",
        ]
    unused = _unused_settings(model, train)
    if unused:
        lines += ["", "# Dashboard settings this network and its learning rate leave unused, kept for later:"]
        lines += unused
    return "\n".join(lines) + "\n"


def _unused_settings(model: ModelConfig, train: TrainConfig) -> list[str]:
    """A constant for every unused field that is not at its default (defaults need no line to come back)."""
    lines = []
    for config, fields in ((model, code_templates.unused_model_fields(model)),
                           (train, code_templates.unused_train_fields(train))):
        default = type(config)()
        for field in sorted(fields):
            value = getattr(config, field)
            if value != getattr(default, field):
                lines.append(f"{code_templates.SETTING_NAMES[field]} = {literal(value)}  # {_SETTING_COMMENTS[field]}")
    return lines


def _data_code() -> str:
    return "\n\n".join([
        code_templates.source("load_mnist"),
        code_templates.source("interleaved_order"),
        "x_train, y_train, x_test, y_test = load_mnist()\n"
        "order = interleaved_order(y_train)\n"
        "x_train, y_train = x_train[order], y_train[order]\n"
        "# The validation images are the last VALIDATION_SIZE, the training images the first TRAIN_SIZE: never the "
        "same.\n"
        "x_val, y_val = x_train[-VALIDATION_SIZE:], y_train[-VALIDATION_SIZE:]\n"
        "x_train, y_train = x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE]\n",
    ])


def layer_code(spec: LayerSpec) -> str:
    """`layers.Dense(200, activation="relu", name="dense1")`: one layer of the plan as Keras code."""
    options = dict(spec.options)
    first = []
    # The codelab writes the number of units, the dropout rate and the activation first, without a keyword.
    for kind, key in (("Dense", "units"), ("Dropout", "rate"), ("Activation", "activation")):
        if spec.kind == kind:
            first.append(literal(options.pop(key)))
    keywords = [f"{key}={literal(value)}" for key, value in options.items()]
    return f"layers.{spec.kind}({', '.join([*first, *keywords, f'name={literal(spec.name)}'])})"


def _shape(shape: tuple[int, ...]) -> str:
    return "(batch, " + ", ".join(str(size) for size in shape) + ")"


def _model_code(model: ModelConfig) -> str:
    lines = [
        "keras.utils.set_random_seed(SEED)",
        "",
        "model = keras.Sequential(",
        "    [",
        '        keras.Input(shape=(28, 28), name="image"),  # (batch, 28, 28): the images, pixels in [0, 1]',
    ]
    for spec in plan_layers(model):
        note = _shape(spec.output_shape)
        if spec.name == "output":
            note += ": a probability for each digit"
        elif spec.kind == "Reshape":
            note += ": convolutions need a channel axis"
        line = f"        {layer_code(spec)},"
        if len(line) + len(note) + 4 > WIDTH:
            lines += [f"        # {note}", line]
        else:
            lines.append(f"{line}  # {note}")
    lines += ["    ],", f'    name="{model.kind}_network",', ")", "model.summary()"]
    return "\n".join(lines) + "\n"


def _model_text(model: ModelConfig) -> str:
    rows = "\n".join(f"| {spec.name} | {spec.kind} | {_shape(spec.output_shape)} | {spec.params:,} |"
                     for spec in plan_layers(model))
    extra = []
    if model.batch_norm:
        extra.append("Batch normalisation sits between every hidden layer and its activation; its offset replaces "
                     "the layer's bias (`use_bias=False`).")
    if model.dropout_rate > 0 and model.hidden_units:
        extra.append(f"Dropout drops {model.dropout_rate:.0%} of the dense hidden layers' outputs at each "
                     "training step (never when testing).")
    return (f"The network: a `keras.Sequential` {model.kind} network of {count_params(model):,} parameters. "
            + " ".join(extra) + "\n\n| layer | type | output shape | parameters |\n|---|---|---|---|\n" + rows)


def _compile_text(train: TrainConfig) -> str:
    return (f"The optimiser is {OPTIMIZER_LABELS[train.optimizer]}; {_rate_comment(train)}. The loss is the "
            "cross-entropy between the predicted probabilities and the true digit.")


def _rate_comment(train: TrainConfig) -> str:
    rate = f"{train.learning_rate:g}"
    if train.lr_schedule == "inverse_time":
        return (f"the learning rate decays as {rate} / (1 + {train.lr_decay:g} x step), what Keras 2's "
                f"`decay={train.lr_decay:g}` did")
    if train.lr_schedule == "exponential":
        return (f"the learning rate decays from {rate} towards {train.min_learning_rate:g}: "
                f"{train.min_learning_rate:g} + {rate} x e^(-step / {train.lr_decay_steps})")
    if train.lr_schedule == "one_cycle":
        return (f"the learning rate warms up from {train.min_learning_rate:g} to {rate} over the first "
                f"{train.warmup_fraction:.0%} of the steps, then follows half a cosine back down by the last step")
    return f"the learning rate stays at {rate}"


def _compile_code(train: TrainConfig) -> str:
    rate = literal(float(train.learning_rate))  # Keras refuses an int rate
    parts = []
    if train.lr_schedule in ("exponential", "one_cycle"):
        parts.append(code_templates.source("FlooredExponentialDecay" if train.lr_schedule == "exponential"
                                           else "OneCycle"))
    comment = _rate_comment(train)
    lines = textwrap.wrap(f"{comment[0].upper()}{comment[1:]}.", WIDTH, initial_indent="# ", subsequent_indent="# ")
    if train.lr_schedule == "inverse_time":
        lines.append(f"learning_rate = keras.optimizers.schedules.InverseTimeDecay({rate}, decay_steps=1, "
                     f"decay_rate={literal(train.lr_decay)})")
    elif train.lr_schedule == "exponential":
        lines.append(f"learning_rate = FlooredExponentialDecay({rate}, decay_steps={literal(train.lr_decay_steps)}, "
                     f"floor={literal(train.min_learning_rate)})")
    elif train.lr_schedule == "one_cycle":
        lines += [
            "steps_per_epoch = -(-TRAIN_SIZE // BATCH_SIZE)  # batches per epoch; the last one may be partial",
            f"learning_rate = OneCycle(peak={rate}, floor={literal(train.min_learning_rate)}, "
            f"total_steps=steps_per_epoch * EPOCHS, warmup_fraction={literal(train.warmup_fraction)})",
        ]
    else:
        lines.append(f"learning_rate = {rate}")
    lines += [
        "model.compile(",
        f"    optimizer={OPTIMIZER_CODE[train.optimizer]},",
        "    # Labels are digits 0..9, so the sparse loss needs no one-hot labels. Keras averages the loss over the",
        "    # batch: the codelab's rates (for a loss summed over 100 images) are 100 times too small here.",
        '    loss="sparse_categorical_crossentropy",',
        '    metrics=["accuracy"],',
        ")",
    ]
    parts.append("\n".join(lines) + "\n")
    return "\n\n".join(parts)


def _fit_code(train: TrainConfig) -> str:
    lines = [
        f"# The dashboard scores the first {VALIDATION_SAMPLE:,} validation images {VALIDATION_CHECKS_PER_EPOCH} "
        f"times an epoch and the {TEST_IMAGES:,}",
        "# test images after every epoch; validation_data here scores all the validation images after each epoch.",
    ]
    if train.fine_tune_from:
        lines.append("# Fine-tuning (FINE_TUNE_FROM) is the dashboard's: this fit starts from new weights.")
    lines += [
        "history = model.fit(",
        "    x_train,",
        "    y_train,",
        "    batch_size=BATCH_SIZE,",
        "    epochs=EPOCHS,",
        "    validation_data=(x_val, y_val),",
        "    callbacks=[keras.callbacks.TensorBoard(LOG_DIR, histogram_freq=1)],",
        ")",
    ]
    return "\n".join(lines) + "\n"


def _test_code(codelab_accuracy: float | None) -> str:
    note = f"  # the codelab reports {codelab_accuracy:.1%} for this network" if codelab_accuracy else ""
    return ("test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=2)\n"
            f'print(f"Test accuracy: {{test_accuracy:.2%}}"){note}\n')


def preset_code(preset_name: str, **options) -> str:
    """The script of a preset (see `keras_code`); ValueError naming the presets for an unknown name."""
    from mnist_models.presets import get_preset

    return keras_code(*get_preset(preset_name).configs(), **preset_options(preset_name), **options)


def preset_options(preset_name: str) -> dict:
    """The name, description and codelab accuracy `sections` takes for a preset."""
    from mnist_models.presets import get_preset

    preset = get_preset(preset_name)
    return {"name": preset.name, "about": f"{preset.title}. {preset.description}",
            "codelab_accuracy": preset.codelab_accuracy}
