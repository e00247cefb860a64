"""The Train page's controls: the Preset box, the network's shape, how to train, the problems they have and the
model summary. Each `*_ui()` function draws widgets and returns the (possibly invalid) config they describe."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_models import config as cfg
from mnist_models.architecture import count_params, summary_rows
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset

NET_TYPES = ("Dense", "Convolutional")
DEFAULT_CONV = ConvLayer(8, 5, 2)


def fill_controls(preset: Preset) -> None:
    """Write every control's value from a preset (the Preset box's on_change, and the first visit)."""
    set_controls(*preset.configs(), run_name=preset.title)


def set_controls(model: ModelConfig, train: TrainConfig, run_name: str) -> None:
    """Write every control's value from a pair of configs (a preset, or a shared link)."""
    values = {
        "net_type": NET_TYPES[1] if model.conv_layers else NET_TYPES[0],
        "conv_count": max(1, len(model.conv_layers)),
        "padding": model.padding,
        "hidden_count": len(model.hidden_units),
        "activation": model.activation,
        "dropout": float(model.dropout_rate),
        "batch_norm": model.batch_norm,
        "batch_norm_momentum": float(model.batch_norm_momentum),
        "optimizer": train.optimizer,
        "learning_rate": float(train.learning_rate),
        "lr_schedule": train.lr_schedule,
        "lr_decay": float(train.lr_decay),
        "lr_decay_steps": train.lr_decay_steps,
        "min_learning_rate": float(train.min_learning_rate),
        "warmup_fraction": float(train.warmup_fraction),
        "batch_size": train.batch_size,
        "epochs": train.epochs,
        "train_size": train.train_size,
        "validation_size": train.validation_size,
        "seed": train.seed,
        "run_name": run_name,
    }
    for index, units in enumerate(model.hidden_units):
        values[f"units_{index}"] = units
    for index, conv in enumerate(model.conv_layers):
        values.update({f"conv_filters_{index}": conv.filters, f"conv_kernel_{index}": conv.kernel_size,
                       f"conv_stride_{index}": conv.stride, f"conv_pool_{index}": conv.pool_size})
    for key, value in values.items():
        st.session_state[key] = value


def _on_preset_change() -> None:
    fill_controls(get_preset(st.session_state["preset"]))


def preset_ui() -> Preset:
    """The Preset box; returns the chosen preset."""
    if "preset" not in st.session_state:
        st.session_state["preset"] = DEFAULT_PRESET
        fill_controls(PRESETS[DEFAULT_PRESET])
    name = st.selectbox("Preset", list(PRESETS), key="preset", on_change=_on_preset_change,
                        format_func=lambda key: f"{PRESETS[key].title}  ({key})",
                        help="The codelab's steps. Choosing one fills in every control below; then change anything.")
    preset = PRESETS[name]
    target = f" The codelab reports **{preset.codelab_accuracy:.1%}**." if preset.codelab_accuracy else ""
    st.caption(preset.description + target)
    return preset


def _number(label: str, key: str, default: int, low: int, high: int, step: int = 1, help: str | None = None) -> int:
    st.session_state.setdefault(key, default)
    return int(st.number_input(label, min_value=low, max_value=high, step=step, key=key, help=help))


def network_ui() -> ModelConfig:
    """Controls for the network's shape; returns the (possibly invalid) ModelConfig they describe."""
    net_type = st.segmented_control("Network type", NET_TYPES, key="net_type", required=True,
                                    help="Dense layers see the image as 784 unrelated numbers; convolutional "
                                         "layers look at small patches and keep the 2-D layout.")
    conv_layers: list[ConvLayer] = []
    padding = st.session_state.get("padding", "same")
    if net_type == NET_TYPES[1]:
        top = st.columns(2)
        with top[0]:
            count = _number("Convolutional layers", "conv_count", 3, 1, cfg.MAX_CONV_LAYERS)
        with top[1]:
            padding = st.selectbox("Padding", cfg.PADDINGS, key="padding",
                                   help="'same' pads the border so only the stride shrinks the image; "
                                        "'valid' trims the border at every layer.")
        for index in range(count):
            columns = st.columns(4)
            with columns[0]:
                filters = _number(f"Layer {index + 1} filters", f"conv_filters_{index}", DEFAULT_CONV.filters, 1,
                                  cfg.MAX_FILTERS)
            with columns[1]:
                kernel = _number("kernel size", f"conv_kernel_{index}", DEFAULT_CONV.kernel_size, 1, 28)
            with columns[2]:
                stride = _number("stride", f"conv_stride_{index}", DEFAULT_CONV.stride, 1, cfg.MAX_STRIDE)
            with columns[3]:
                pool = _number("max pool", f"conv_pool_{index}", DEFAULT_CONV.pool_size, 1, cfg.MAX_POOL,
                               help="Keep the largest value of each block of this size after the layer: 2 halves "
                                    "the image's width and height without any weights; 1 = no pooling.")
            conv_layers.append(ConvLayer(filters, kernel, stride, st.session_state.get("activation", "relu"), pool))

    hidden = _number("Hidden dense layers", "hidden_count", 1, 0, cfg.MAX_HIDDEN_LAYERS,
                     help="0 gives the codelab's first network: one softmax layer straight from the pixels.")
    units = []
    if hidden:
        st.caption("Neurons per hidden layer")
    for row_start in range(0, hidden, 4):
        columns = st.columns(4)
        for index in range(row_start, min(hidden, row_start + 4)):
            with columns[index - row_start]:
                units.append(_number(f"Layer {index + 1}", f"units_{index}", 100, 1, cfg.MAX_UNITS))
    columns = st.columns(2)
    with columns[0]:
        activation = st.selectbox("Activation", cfg.ACTIVATIONS, key="activation",
                                  help="Applied after every hidden layer (convolutional ones too).")
    with columns[1]:
        dropout = st.slider("Dropout rate", 0.0, 0.9, step=0.05, key="dropout",
                            help="Fraction of dense neurons switched off at each training step; fights overfitting.")
    batch_norm = st.toggle("Batch norm", key="batch_norm",
                           help="Normalise each layer's inputs over the batch before the activation.")
    momentum = st.session_state.get("batch_norm_momentum", 0.99)
    if batch_norm:
        momentum = st.number_input("Batch-norm momentum", min_value=0.0, max_value=0.999, step=0.01, format="%.3f",
                                   key="batch_norm_momentum",
                                   help="Weight of the past in the running mean and variance a trained network uses "
                                        "on new images; 0.9 follows a fast-changing network sooner than 0.99.")
    conv_layers = [ConvLayer(c.filters, c.kernel_size, c.stride, activation, c.pool_size) for c in conv_layers]
    return ModelConfig(conv_layers=conv_layers, padding=padding, hidden_units=units, activation=activation,
                       dropout_rate=float(dropout), batch_norm=bool(batch_norm), batch_norm_momentum=float(momentum))


def training_ui() -> tuple[TrainConfig, str]:
    """Controls for how to train; returns the (possibly invalid) TrainConfig and the run's name."""
    columns = st.columns(2)
    with columns[0]:
        optimizer = st.selectbox("Optimizer", cfg.OPTIMIZERS, key="optimizer", format_func=cfg.OPTIMIZER_LABELS.get)
    with columns[1]:
        rate = st.number_input("Learning rate", min_value=0.0, max_value=100.0, step=0.0005, format="%.5f",
                               key="learning_rate", help="Step size of each update. SGD here needs about 0.1-0.5; "
                                                         "Adam about 0.001-0.005.")
    schedule = st.selectbox("Learning-rate schedule", cfg.SCHEDULES, key="lr_schedule",
                            format_func=cfg.SCHEDULE_LABELS.get)
    decay = st.session_state.get("lr_decay", 0.001)
    decay_steps = st.session_state.get("lr_decay_steps", 2000)
    floor = st.session_state.get("min_learning_rate", 0.0001)
    warmup = st.session_state.get("warmup_fraction", 0.2)
    if schedule == "inverse_time":
        decay = st.number_input("Decay per step", min_value=0.0, max_value=1.0, step=0.0005, format="%.5f",
                                key="lr_decay")
    elif schedule == "exponential":
        columns = st.columns(2)
        with columns[0]:
            decay_steps = _number("Decay steps", "lr_decay_steps", 2000, 1, 1_000_000, step=100,
                                  help="Steps for the rate above the floor to shrink by a factor e (2.7).")
        with columns[1]:
            floor = st.number_input("Floor", min_value=0.0, max_value=1.0, step=0.0001, format="%.5f",
                                    key="min_learning_rate")
    elif schedule == "one_cycle":
        columns = st.columns(2)
        with columns[0]:
            warmup = st.slider("Warm-up fraction", 0.0, 0.9, step=0.05, key="warmup_fraction",
                               help="The share of all steps in which the rate rises from the floor to the learning "
                                    "rate; a cosine then brings it back to the floor by the last step.")
        with columns[1]:
            floor = st.number_input("Floor", min_value=0.0, max_value=1.0, step=0.0001, format="%.5f",
                                    key="min_learning_rate")
    columns = st.columns(3)
    with columns[0]:
        batch_size = _number("Batch size", "batch_size", 100, 1, cfg.MAX_BATCH_SIZE)
    with columns[1]:
        epochs = _number("Epochs", "epochs", 5, 1, cfg.MAX_EPOCHS)
    with columns[2]:
        seed = _number("Seed", "seed", 0, 0, 2**31 - 1, help="Same seed, same settings: the same curves (on a CPU).")
    columns = st.columns(2)
    with columns[0]:
        train_size = _number("Training images", "train_size", 55_000, 10, cfg.TOTAL_TRAIN_IMAGES, step=1000,
                             help="Fewer images make overfitting easy to see; more pull train and test together.")
    with columns[1]:
        validation_size = _number("Validation images", "validation_size", 5_000, cfg.MIN_VALIDATION,
                                  cfg.TOTAL_TRAIN_IMAGES, step=1000,
                                  help=f"Held out of training; the first {cfg.VALIDATION_SAMPLE:,} are scored during "
                                  "each epoch to measure progress, so more than that only costs training images.")
    name = st.text_input("Run name", key="run_name", max_chars=80, help="How the run is listed in Runs and Draw.")
    return TrainConfig(
        optimizer=optimizer, learning_rate=float(rate), lr_schedule=schedule, lr_decay=float(decay),
        lr_decay_steps=int(decay_steps), min_learning_rate=float(floor), warmup_fraction=float(warmup),
        batch_size=batch_size, epochs=epochs,
        train_size=train_size, validation_size=validation_size, seed=seed,
    ), name


def problems_ui(problems: list[str]) -> None:
    """The core's validation messages, shown right under the controls they are about."""
    for problem in problems:
        st.error(problem, icon=":material/error:")


def summary_ui(model: ModelConfig, valid: bool) -> None:
    """The model summary table, computed without TensorFlow so it follows every change instantly."""
    if not valid:
        st.info("The summary appears once the settings are valid.")
        return
    total = count_params(model)
    st.markdown(f"**{total:,} parameters** (weights and biases the network learns)")
    st.dataframe(pd.DataFrame(summary_rows(model)), hide_index=True, width="stretch",
                 column_config={"params": st.column_config.NumberColumn("params", format="localized")})
