"""Train's code box: Keras code a learner writes or pastes, read (never run) into the page's controls."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.controls_spec import (
    CONTROLS,
    CONV_LAYER_CONTROLS,
    NUMERIC_KINDS,
    PRESET_KEY,
    UNITS_CONTROL,
    Control,
    control_values,
)
from dashboard.train_controls import set_controls
from dashboard.widgets import folding, plain
from mnist_models.architecture import count_params, plan_layers
from mnist_models.class_board import network_line
from mnist_models.code_in import CodeError
from mnist_models.config import OPTIMIZER_LABELS, ModelConfig, TrainConfig
from mnist_models.exercises import MAX_CODE_CHARS, read_learner_code
from mnist_models.presets import PRESETS

LABEL = "Write or paste Keras code"
OPEN_KEY = "code_box_open"  # the section's state: its content is drawn only while it is open
CODE_KEY = "code_box"  # the text area
SAVED_KEY = "_code_box_text"  # its text, kept while other pages show (Streamlit forgets an undrawn widget's value)
OUTCOME_KEY = "_code_box_outcome"  # what the last "Use this code" found
MY_CODE_NAME = "My Keras code"  # the run's name when the code is not a preset as it stands
# Code reads best in a monospaced font, unwrapped (a long line scrolls, as in an editor). Streamlit gives each keyed
# widget's box the class st-key-<key>; a style-only st.html takes no room on the page.
EDITOR_CSS = """
<style>
[class*="st-key-code_box"] textarea, [class*="st-key-exercise_"] textarea {
  font-family: "Source Code Pro", ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.82rem; line-height: 1.45; white-space: pre; overflow-wrap: normal; overflow-x: auto; tab-size: 4;
}
</style>
"""
PLACEHOLDER = ("import keras\nfrom keras import layers\n\nmodel = keras.Sequential([\n"
               "    keras.Input(shape=(28, 28)),\n    layers.Flatten(),\n"
               "    layers.Dense(200, activation=\"relu\"),\n    layers.Dense(10, activation=\"softmax\"),\n])\n"
               "model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003),\n"
               "              loss=\"sparse_categorical_crossentropy\", metrics=[\"accuracy\"])\n"
               "model.fit(x_train, y_train, batch_size=100, epochs=5)")


@dataclass(frozen=True)
class Outcome:
    """What "Use this code" found for a text: the settings it filled in, or why it could not."""

    text: str
    ok: bool
    message: str
    line: int | None = None


def editor_style() -> None:
    """The code boxes' monospaced style (the Train page's and the Lab's exercises')."""
    st.html(EDITOR_CSS)


def kept_text_area(label: str, key: str, saved_key: str, default: str, **options) -> str:
    """A text area whose text survives runs that do not draw it (another page, another Lab step)."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(saved_key, default)
    text = st.text_area(label, key=key, max_chars=MAX_CODE_CHARS, **options)
    st.session_state[saved_key] = text
    return text


def _control(key: str) -> Control | None:
    if key in CONTROLS:
        return CONTROLS[key]
    for control in (UNITS_CONTROL, *CONV_LAYER_CONTROLS.values()):
        if key.startswith(control.key) and key[len(control.key):].isdigit():
            return control
    return None


def control_problems(model: ModelConfig, train: TrainConfig) -> list[str]:
    """What the Train page's controls cannot hold of these (valid) configs, each with how to write it instead."""
    problems = []
    activations = {layer.activation for layer in model.conv_layers} | {model.activation}
    if len(activations) > 1:
        problems.append(f"The layers use {' and '.join(sorted(activations))}, but the Train page has one activation "
                        "for the whole network: use the same activation in every hidden layer.")
    if train.fine_tune_from:
        problems.append("FINE_TUNE_FROM continues a saved run's training, which the Train page does not do: remove "
                        "it (the Draw page fine-tunes a run on your own digits).")
    for key, value in control_values(model, train, MY_CODE_NAME).items():
        control = _control(key)
        if control is None or control.kind not in NUMERIC_KINDS or control.low <= value <= control.high:
            continue
        index = key[len(control.key):]  # a layer's control ends in the layer's index, from 0
        label = control.label.format(number=int(index) + 1) if index else control.label
        if index and "{number}" not in control.label:
            label = f"Layer {int(index) + 1} {label}"
        problems.append(f"{label} is {value:g} in the code, but the Train page's control takes {control.low:g} to "
                        f"{control.high:g}: change it in the code.")
    return problems


def nearest_preset(model: ModelConfig, train: TrainConfig) -> str:
    """The preset these configs are, or else the closest: the same network first, then the same kind of network
    (convolutional or dense, batch norm or not) with the nearest number of layers and parameters."""
    for name, preset in PRESETS.items():
        if preset.configs() == (model, train):
            return name
    layers, params = len(plan_layers(model)), count_params(model)

    def distance(name: str) -> tuple:
        other = PRESETS[name].model
        return (other != model, bool(other.conv_layers) != bool(model.conv_layers),
                other.batch_norm != model.batch_norm, abs(len(plan_layers(other)) - layers),
                abs(PRESETS[name].params - params))

    return min(PRESETS, key=distance)


def _use_code() -> None:
    """The "Use this code" button: read the text and fill in every control. It runs as the button's callback,
    before the page draws any widget: the only time Streamlit lets a drawn widget's value be set (as the Preset box
    does)."""
    text = st.session_state.get(CODE_KEY) or ""
    try:
        model, train = read_learner_code(text)
        problems = control_problems(model, train)
        if problems:
            raise CodeError(None, problems[0])
    except CodeError as error:
        st.session_state[OUTCOME_KEY] = Outcome(text, False, error.reason, error.line)
        return
    name = nearest_preset(model, train)
    preset = PRESETS[name]
    exact = preset.configs() == (model, train)
    st.session_state[PRESET_KEY] = name
    set_controls(model, train, run_name=preset.title if exact else MY_CODE_NAME)
    where = (f"It is the preset {preset.title} exactly." if exact else
             f"The Preset box shows the nearest preset, {preset.title}; trained, the run is saved as custom.")
    message = (f"Read your code: {network_line(model, train)} · batches of {train.batch_size} · {train.epochs} "
               f"epoch{'s' if train.epochs != 1 else ''}; {count_params(model):,} parameters. The settings on this "
               f"page are now your code's. {where}")
    st.session_state[OUTCOME_KEY] = Outcome(text, True, message)


def _defaults() -> str:
    train = TrainConfig()
    return (f"{OPTIMIZER_LABELS[train.optimizer]} at {train.learning_rate:g}, batches of {train.batch_size}, "
            f"{train.epochs} epochs, {train.train_size:,} training images")


def code_error_ui(text: str, message: str, line: int | None) -> None:
    """Why code cannot be read, with the line it is about shown as the learner wrote it."""
    st.error((f"Line {line}: " if line else "") + plain(message), icon=":material/error:")
    lines = text.splitlines()
    if line and 1 <= line <= len(lines) and lines[line - 1].strip():
        st.caption(f"Line {line} of your code:")
        st.code(lines[line - 1].strip(), language="python")


def code_box_ui() -> None:
    """A folded box where a learner writes or pastes Keras code, and "Use this code", which reads it (never running
    it) into the page's settings, or says which line it cannot read and what would work instead."""
    box = folding(LABEL, OPEN_KEY, ":material/code:")
    if box is None:
        return  # folded: nothing drawn (the text is kept by kept_text_area)
    with box:
        editor_style()
        st.caption("A `keras.Sequential([...])` list or `model.add(...)` lines, with `compile` and `fit` if you "
                   "like: the code is read, never run, and fills in the settings below. Left out of `compile` or "
                   "`fit`, a setting is Keras's default, as Keras would train it; without them, this page's "
                   f"({_defaults()}).")
        text = kept_text_area("Keras code", CODE_KEY, SAVED_KEY, "", height=320, placeholder=PLACEHOLDER,
                              help=f"At most {MAX_CODE_CHARS:,} characters: the imports, the model, compile and "
                                   "fit are enough.")
        # Never disabled: a pasted text reaches the server only as the button is pressed (when the box loses focus),
        # so a button waiting for the text would miss that very click.
        st.button("Use this code", key="code_box_use", icon=":material/input:", on_click=_use_code,
                  help="Reads the code into the settings below; nothing in it is run.")
        outcome = st.session_state.get(OUTCOME_KEY)
        if outcome is None or outcome.text != text:
            return
        if outcome.ok:
            st.success(plain(outcome.message), icon=":material/check_circle:")
            st.session_state.pop(OUTCOME_KEY)  # said once: the settings may change from here on
        else:
            code_error_ui(text, outcome.message, outcome.line)
