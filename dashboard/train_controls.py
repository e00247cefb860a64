"""The Train page's controls: the Preset box, the network's shape, how to train, the problems they have and the
model summary. Each `*_ui()` function draws widgets and returns the (possibly invalid) config they describe."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from dashboard.controls_spec import (
    CONTROLS,
    CONV_LAYER_CONTROLS,
    DEFAULTS,
    MODEL_CONTROLS,
    NET_TYPES,
    NEW_CONV,
    NEW_UNITS,
    PRESET_KEY,
    RUN_NAME_CONTROL,
    TRAIN_CONTROLS,
    UNITS_CONTROL,
    Control,
    control_values,
    typed,
)
from mnist_models.architecture import count_params, summary_rows
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import DEFAULT_PRESET, PRESETS, Preset, get_preset


def fill_controls(preset: Preset) -> None:
    """Write every control's value from a preset (the Preset box's on_change, and the first visit)."""
    set_controls(*preset.configs(), run_name=preset.title)


def set_controls(model: ModelConfig, train: TrainConfig, run_name: str) -> None:
    """Write every control's value from a pair of configs (a preset, or a shared link)."""
    for key, value in control_values(model, train, run_name).items():
        st.session_state[key] = value


def _on_preset_change() -> None:
    fill_controls(get_preset(st.session_state[PRESET_KEY]))


def preset_ui() -> Preset:
    """The Preset box; returns the chosen preset."""
    if PRESET_KEY not in st.session_state:
        st.session_state[PRESET_KEY] = DEFAULT_PRESET
        fill_controls(PRESETS[DEFAULT_PRESET])
    name = st.selectbox("Preset", list(PRESETS), key=PRESET_KEY, on_change=_on_preset_change,
                        format_func=lambda key: f"{PRESETS[key].title}  ({key})",
                        help="The codelab's steps. Choosing one fills in every control below; then change anything.")
    preset = PRESETS[name]
    target = f" The codelab reports **{preset.codelab_accuracy:.1%}**." if preset.codelab_accuracy else ""
    st.caption(preset.description + target)
    return preset


def _widget(control: Control, key: str, label: str, default: Any) -> Any:
    """Draw one control as its table entry describes it; returns its value, typed as the config holds it."""
    st.session_state.setdefault(key, default)
    common = {"key": key, "help": control.help}
    if control.kind == "int":
        value = st.number_input(label, min_value=control.low, max_value=control.high, step=control.step or 1,
                                **common)
    elif control.kind == "float":
        value = st.number_input(label, min_value=control.low, max_value=control.high, step=control.step,
                                format=control.number_format, **common)
    elif control.kind == "slider":
        value = st.slider(label, control.low, control.high, step=control.step, **common)
    elif control.kind == "select":
        value = st.selectbox(label, control.options, **common,
                             format_func=control.option_labels.get if control.option_labels else str)
    elif control.kind == "segmented":
        value = st.segmented_control(label, control.options, required=True, **common)
    elif control.kind == "toggle":
        value = st.toggle(label, **common)
    else:
        value = st.text_input(label, max_chars=control.max_chars, **common)
    return typed(control, value)


def control_ui(key: str) -> Any:
    """Draw the control with this key (a config field's name, or one of the shape's) and return its value."""
    control = CONTROLS[key]
    return _widget(control, key, control.label, DEFAULTS[key])


def _layer_ui(control: Control, index: int, default: int) -> int:
    return _widget(control, f"{control.key}{index}", control.label.format(number=index + 1), default)


def _value(key: str) -> Any:
    """A control's value whether or not this run draws it (a schedule's settings stay while another is chosen)."""
    return typed(CONTROLS[key], st.session_state.get(key, DEFAULTS[key]))


def network_ui() -> ModelConfig:
    """Controls for the network's shape; returns the (possibly invalid) ModelConfig they describe."""
    conv_layers: list[ConvLayer] = []
    if control_ui("net_type") == NET_TYPES[1]:
        top = st.columns(2)
        with top[0]:
            count = control_ui("conv_count")
        with top[1]:
            control_ui("padding")
        for index in range(count):
            values = {}
            for column, (field, control) in zip(st.columns(4), CONV_LAYER_CONTROLS.items(), strict=True):
                with column:
                    values[field] = _layer_ui(control, index, getattr(NEW_CONV, field))
            conv_layers.append(ConvLayer(**values))
    hidden = control_ui("hidden_count")
    units = []
    if hidden:
        st.caption("Neurons per hidden layer")
    for row_start in range(0, hidden, 4):
        columns = st.columns(4)
        for index in range(row_start, min(hidden, row_start + 4)):
            with columns[index - row_start]:
                units.append(_layer_ui(UNITS_CONTROL, index, NEW_UNITS))
    columns = st.columns(2)
    with columns[0]:
        activation = control_ui("activation")
    with columns[1]:
        control_ui("dropout_rate")
    if control_ui("batch_norm"):
        control_ui("batch_norm_momentum")
    # One activation for the whole network: the convolutional layers take the dense layers' choice.
    conv_layers = [dataclasses.replace(layer, activation=activation) for layer in conv_layers]
    return ModelConfig(conv_layers=conv_layers, hidden_units=units,
                       **{control.key: _value(control.key) for control in MODEL_CONTROLS})


def training_ui() -> tuple[TrainConfig, str]:
    """Controls for how to train; returns the (possibly invalid) TrainConfig and the run's name."""
    columns = st.columns(2)
    with columns[0]:
        control_ui("optimizer")
    with columns[1]:
        control_ui("learning_rate")
    schedule = control_ui("lr_schedule")
    # Each schedule shows only its own settings; the others keep their values for when it is chosen again.
    if schedule == "inverse_time":
        control_ui("lr_decay")
    elif schedule in ("exponential", "one_cycle"):
        columns = st.columns(2)
        with columns[0]:
            control_ui("lr_decay_steps" if schedule == "exponential" else "warmup_fraction")
        with columns[1]:
            control_ui("min_learning_rate")
    columns = st.columns(3)
    for column, key in zip(columns, ("batch_size", "epochs", "seed"), strict=True):
        with column:
            control_ui(key)
    columns = st.columns(2)
    for column, key in zip(columns, ("train_size", "validation_size"), strict=True):
        with column:
            control_ui(key)
    name = control_ui(RUN_NAME_CONTROL.key)
    return TrainConfig(**{control.key: _value(control.key) for control in TRAIN_CONTROLS}), name


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
    # A Markdown table rather than a data grid: the page then loads neither pandas nor the grid's script.
    rows = "".join(f"| {row['layer']} | {row['type']} | {row['output shape']} | {row['params']:,} |\n"
                   for row in summary_rows(model))
    st.markdown("| layer | type | output shape | params |\n|---|---|---|---:|\n" + rows)
