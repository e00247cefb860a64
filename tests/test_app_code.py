"""The code features under AppTest: Train's code box fills the controls from Keras code (and refuses what it cannot
read, changing nothing), and a Lab step's exercise checks the learner's code, shows the solution and queues the
learner's network. Jobs go to a parked executor (accepted, never started): the browser test trains for real."""

from __future__ import annotations

import pytest
from lab_support import APP, LEARNER, open_lab
from streamlit.testing.v1 import AppTest
from test_code_in import CHALLENGE_99, DROPOUT, FIVE_LAYERS_SIGMOID

from dashboard.controls_spec import is_control_key
from dashboard.identity import owner_of
from mnist_models import course, exercises
from mnist_models.architecture import count_params
from mnist_models.code_out import preset_code
from mnist_models.config import loads
from mnist_models.exercises import MAX_CODE_CHARS
from mnist_models.presets import PRESETS

TIMEOUT = 60  # the first run imports pandas, plotly and the core package on a loaded 2-core machine


def open_train(identity: str = LEARNER, code_box: bool = True) -> AppTest:
    """Train, with the code box opened (folded, it draws nothing)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = identity
    at.session_state["code_box_open"] = code_box
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def use_code(at: AppTest, code: str) -> AppTest:
    at.text_area(key="code_box").input(code)
    at.button(key="code_box_use").click().run()
    assert not at.exception, [item.value for item in at.exception]
    return at


def controls(at: AppTest) -> dict:
    return {key: value for key, value in at.session_state.items() if is_control_key(key)}


def parameter_total(at: AppTest) -> str | None:
    for markdown in at.markdown:
        if markdown.value.endswith("(weights and biases the network learns)"):
            return markdown.value.split("**")[1].split()[0]
    return None


def test_the_codelab_s_99_solution_fills_every_control(lab):
    at = use_code(open_train(), CHALLENGE_99)
    [note] = [item.value for item in at.success]
    assert note.startswith("Read your code") and "709,370 parameters" in note
    assert at.selectbox(key="preset").value == "conv-batchnorm", "the nearest preset: a batch-normalised convnet"
    assert at.segmented_control(key="net_type").value == "Convolutional"
    assert at.number_input(key="conv_count").value == 3
    layers = [tuple(at.number_input(key=f"conv_{part}_{index}").value for part in ("filters", "kernel", "stride"))
              for index in range(3)]
    assert layers == [(24, 6, 1), (48, 5, 2), (64, 4, 2)]
    assert at.number_input(key="hidden_count").value == 1
    assert at.number_input(key="units_0").value == 200
    assert at.toggle(key="batch_norm").value is True
    assert at.slider(key="dropout_rate").value == pytest.approx(0.3)
    assert (at.selectbox(key="optimizer").value, at.number_input(key="learning_rate").value) == ("adam", 0.01)
    assert (at.number_input(key="batch_size").value, at.number_input(key="epochs").value) == (100, 10)
    assert at.text_input(key="run_name").value == "My Keras code"
    # The model summary shows the network the code builds.
    model, _ = exercises.read_learner_code(CHALLENGE_99)
    assert parameter_total(at) == f"{count_params(model):,}" == "709,370"
    # The seed's 10 epochs of this network are more than this server allows for one run: the page says so, as it
    # does for settings typed into the controls.
    assert all("times the work this server allows" in error.value for error in at.error)


def test_a_preset_s_own_code_selects_that_preset(lab):
    at = use_code(open_train(), preset_code("softmax"))
    assert at.selectbox(key="preset").value == "softmax"
    assert at.text_input(key="run_name").value == PRESETS["softmax"].title
    assert at.number_input(key="hidden_count").value == 0
    assert "It is the preset" in at.success[0].value
    # The note is said once; the settings may change from there on.
    at.run()
    assert not at.success


@pytest.mark.parametrize(("code", "line", "words"), [
    ("import keras\nfrom keras import layers\nmodel = keras.Sequential([layers.Dense(10, activation='softmax')\n",
     3, "Python cannot read this"),
    ("import os\nos.system('rm -rf /')\n", 1, "only keras, tensorflow and numpy can be imported"),
    ("import keras\nfrom keras import layers\nmodel = keras.Sequential([\n    keras.Input(shape=(28, 28)),\n"
     "    layers.Flatten(),\n    layers.Dense(100, activaton='relu'),\n"
     "    layers.Dense(10, activation='softmax'),\n])\n",
     6, "activaton"),
])
def test_code_that_cannot_be_read_shows_its_line_and_changes_nothing(lab, code, line, words):
    at = open_train()
    before = controls(at)
    use_code(at, code)
    [error] = [item.value for item in at.error]
    assert error.startswith(f"Line {line}:") and words in error.replace("\\", ""), error
    assert any(caption.value == f"Line {line} of your code:" for caption in at.caption)
    assert controls(at) == before
    assert not at.success


@pytest.mark.parametrize("sent", ["cut off by the browser", "sent whole by a hostile client"])
def test_oversized_code_is_refused_with_the_limit(lab, sent):
    at = open_train()
    before = controls(at)
    code = ("# a comment\n" * MAX_CODE_CHARS)[:MAX_CODE_CHARS] if sent.startswith("cut") else "# a comment\n" * 10**5
    # A browser stops the box at its limit (AppTest's `input` does too); the server cuts off what a client sends.
    (at.text_area(key="code_box").input if sent.startswith("cut") else at.text_area(key="code_box").set_value)(code)
    at.button(key="code_box_use").click().run()
    assert len(at.text_area(key="code_box").value) == MAX_CODE_CHARS
    [error] = [item.value.replace("\\", "") for item in at.error]
    assert f"{MAX_CODE_CHARS:,}" in error and "limit" in error
    assert controls(at) == before


CONV_TANH = """
import keras
from keras import layers
model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    layers.Reshape((28, 28, 1)),
    layers.Conv2D(8, 5, padding="same", activation="tanh"),
    layers.Flatten(),
    layers.Dense(100, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
"""


@pytest.mark.parametrize(("code", "words"), [
    # One Activation box for the whole network cannot show a tanh convolution before a relu dense layer.
    (CONV_TANH, "The layers use relu and tanh, but the Train page has one activation"),
    # The configs take up to 99% dropout; the page's slider stops at 90%.
    (DROPOUT.replace("Dropout(0.25)", "Dropout(0.95)"),
     "Dropout rate is 0.95 in the code, but the Train page's control takes 0 to 0.9"),
])
def test_code_the_controls_cannot_hold_is_refused_with_how_to_write_it(lab, code, words):
    assert exercises.read_learner_code(code), "valid code, as far as the configs go"
    at = open_train()
    before = controls(at)
    use_code(at, code)
    [error] = [item.value.replace("\\", "").replace("\u2060", "") for item in at.error]
    assert words in error, error
    assert controls(at) == before


def test_the_code_stays_in_the_box_while_other_pages_are_visited(lab):
    at = open_train()
    at.text_area(key="code_box").input(FIVE_LAYERS_SIGMOID).run()
    at.switch_page("app_pages/runs.py").run()
    at.switch_page("app_pages/train.py").run()
    assert at.text_area(key="code_box").value == FIVE_LAYERS_SIGMOID


def exercise_buttons(at: AppTest, step: str) -> dict:
    return {button.label: button for button in at.button if button.key and button.key.startswith(f"exercise_{step}")}


def test_steps_with_an_exercise_offer_it_folded_and_others_do_not(lab):
    at = open_lab("softmax")
    assert "Your turn: write the code" not in [item.label for item in at.expander]
    at.selectbox(key="lab_step").select("conv").run()
    [expander] = [item for item in at.expander if item.label == "Your turn: write the code"]
    assert not expander.proto.expanded
    assert at.text_area(key="exercise_conv_code").value == exercises.starting_code(course.get_step("conv"))


def test_check_gives_the_hint_then_matches_the_codelab_s_solution(lab):
    at = open_lab("five-layer-sigmoid")
    exercise_buttons(at, "five-layer-sigmoid")["Check"].click().run()
    [hint] = [item.value.replace("\\", "") for item in at.warning]
    assert hint.startswith("Layer 2 is Dense(10, softmax) but this step uses Dense(200, sigmoid)")
    at.text_area(key="exercise_five-layer-sigmoid_code").input(FIVE_LAYERS_SIGMOID).run()
    assert not at.warning and not at.success, "a verdict is about the code that was checked"
    exercise_buttons(at, "five-layer-sigmoid")["Check"].click().run()
    [match] = [item.value.replace("\\", "") for item in at.success]
    assert "matches this step's network" in match and "185,300 parameters" in match


def test_check_shows_the_line_of_code_that_cannot_be_read(lab):
    at = open_lab("conv")
    at.text_area(key="exercise_conv_code").input("import keras\nmodel = keras.Sequential([\n    lambda x: x,\n])\n")
    at.run()
    assert exercise_buttons(at, "conv")["Train my code"].disabled, "nothing to train until the code reads"
    exercise_buttons(at, "conv")["Check"].click().run()
    [error] = [item.value for item in at.error]
    assert error.startswith("Line 3:")


def test_show_the_solution_reveals_the_step_s_code(lab):
    at = open_lab("conv-batchnorm")
    exercise_buttons(at, "conv-batchnorm")["Show the solution"].click().run()
    solution = exercises.solution_code(course.get_step("conv-batchnorm"))
    assert solution.rstrip() in [block.value.rstrip() for block in at.code]
    assert "Hide the solution" in exercise_buttons(at, "conv-batchnorm")


def test_train_my_code_queues_the_learner_s_network(lab):
    at = open_lab("conv-batchnorm")
    # The seed trains this network for 10 epochs, more than this server allows for one run: the page says how
    # much to lower them, and Train my code waits.
    at.text_area(key="exercise_conv-batchnorm_code").input(CHALLENGE_99).run()
    assert exercise_buttons(at, "conv-batchnorm")["Train my code"].disabled
    assert any("lower the epochs" in caption.value for caption in at.caption)
    two_epochs = CHALLENGE_99.replace("epochs=10", "epochs=2")
    at.text_area(key="exercise_conv-batchnorm_code").input(two_epochs).run()
    exercise_buttons(at, "conv-batchnorm")["Train my code"].click().run()
    assert not at.exception, [item.value for item in at.exception]
    [info] = lab.list()
    assert (info.owner, info.name, info.preset) == (owner_of(LEARNER), "Batch normalisation (my code)", "custom")
    assert loads((lab.folder(info.run_id) / "config.json").read_text()) == exercises.read_learner_code(two_epochs)
    # The exercise follows it live (the parked worker never gets past its first batch).
    [bar] = at.get("progress")
    assert bar.proto.text.replace("\\", "").startswith("Training Batch normalisation (my code): epoch 1/2")
    # One training at a time: both Train buttons now wait for this one.
    assert exercise_buttons(at, "conv-batchnorm")["Train my code"].disabled
    assert next(button for button in at.button if button.label == "Train this step").disabled


def test_the_folded_code_box_draws_nothing_and_keeps_its_text(lab):
    at = open_train(code_box=False)
    assert "Write or paste Keras code" in [item.label for item in at.expander]
    assert not [area for area in at.text_area if area.key == "code_box"], "folded: nothing drawn"
    at.session_state["code_box_open"] = True
    at.run()
    at.text_area(key="code_box").input("# kept\n").run()
    at.session_state["code_box_open"] = False
    at.run()
    at.session_state["code_box_open"] = True
    at.run()
    assert at.text_area(key="code_box").value == "# kept\n"


def test_the_learner_s_code_stays_with_its_step(lab):
    at = open_lab("five-layer-relu")
    at.text_area(key="exercise_five-layer-relu_code").input("# my attempt\n").run()
    at.selectbox(key="lab_step").select("conv").run()
    at.selectbox(key="lab_step").select("five-layer-relu").run()
    assert at.text_area(key="exercise_five-layer-relu_code").value == "# my attempt\n"
    at.button(key="exercise_five-layer-relu_code_reset").click().run()
    assert at.text_area(key="exercise_five-layer-relu_code").value == exercises.starting_code(
        course.get_step("five-layer-relu"))


def test_in_presentation_mode_the_code_box_sits_in_the_folded_settings(lab):
    # Streamlit cannot nest expanders, and presentation mode folds all the settings into one.
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["identity"] = LEARNER
    at.query_params["present"] = "1"
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, [item.value for item in at.exception]
    assert "Write or paste Keras code" not in [item.label for item in at.expander]
    at.toggle(key="code_box_open_toggle").set_value(True).run()
    use_code(at, preset_code("conv"))
    assert at.selectbox(key="preset").value == "conv"
