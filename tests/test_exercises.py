"""The Lab's exercises: each accepts the codelab's own solution and the step's code, refuses the code it starts from
(it has a gap), and points at the first difference of a typical mistake; a bad [step.exercise] table is explained."""

from __future__ import annotations

import pytest
from test_code_in import CHALLENGE_99, CONVNET, DROPOUT, FIVE_LAYERS_RELU, FIVE_LAYERS_SIGMOID

from mnist_models import course, exercises
from mnist_models.code_in import read_code
from mnist_models.code_out import WIDTH
from mnist_models.exercises import MAX_CODE_CHARS, TODO, check, solution_code, starting_code

# The codelab's own solution for each step that has one (tests/test_code_in.py holds them as learners write them).
SEED_SOLUTIONS = {
    "five-layer-sigmoid": FIVE_LAYERS_SIGMOID,
    "five-layer-relu": FIVE_LAYERS_RELU,
    "five-layer-dropout": DROPOUT,
    "conv": CONVNET,
    "conv-batchnorm": CHALLENGE_99,
}
EXERCISE_STEPS = [step.id for step in exercises.exercise_steps()]


def test_the_steps_where_the_codelab_asks_for_code_have_an_exercise():
    assert EXERCISE_STEPS == ["five-layer-sigmoid", "five-layer-relu", "five-layer-dropout", "conv",
                              "conv-bigger-dropout", "conv-batchnorm"]
    assert set(SEED_SOLUTIONS) <= set(EXERCISE_STEPS)


@pytest.mark.parametrize("step_id", SEED_SOLUTIONS)
def test_each_exercise_accepts_the_codelab_s_own_solution(step_id):
    verdict = check(course.get_step(step_id), SEED_SOLUTIONS[step_id])
    assert verdict.readable and verdict.matches, verdict.message
    assert "matches" in verdict.message
    assert (verdict.model, verdict.train) == read_code(SEED_SOLUTIONS[step_id])


@pytest.mark.parametrize("step_id", EXERCISE_STEPS)
def test_the_step_s_own_code_is_the_solution_and_trains_as_the_step(step_id):
    step = course.get_step(step_id)
    verdict = check(step, solution_code(step))
    assert verdict.matches and verdict.training_note is None
    assert (verdict.model, verdict.train) == step.trains.configs()
    assert TODO not in solution_code(step)


@pytest.mark.parametrize("step_id", EXERCISE_STEPS)
def test_the_starting_code_is_the_previous_step_s_with_the_gap_marked_and_does_not_pass(step_id):
    step = course.get_step(step_id)
    code = starting_code(step)
    previous = course.previous_training_step(step)
    assert read_code(code) == previous.trains.configs(), "the previous step's network and training, as generated"
    lines = code.splitlines()
    model_line = lines.index("model = keras.Sequential(")
    todo = [number for number, line in enumerate(lines) if line.startswith(TODO)]
    assert len(todo) == 1 and todo[0] < model_line
    assert all(line.startswith("# ") for line in lines[todo[0]:model_line])
    assert " ".join(line[2:] for line in lines[todo[0]:model_line]) == f"TO DO: {step.exercise.todo}"
    assert max(map(len, lines)) <= WIDTH
    verdict = check(step, code)
    assert verdict.readable and not verdict.matches
    assert verdict.message.startswith("Layer ")


def _without(code: str, *lines: str) -> str:
    for line in lines:
        assert line in code, line
        code = code.replace(line, "", 1)
    return code


def _replace(code: str, old: str, new: str, count: int = 1) -> str:
    assert old in code, old
    return code.replace(old, new, count)


# The codelab's 99% solution with its batch norm left out, as a learner who forgot it writes it.
NO_BATCH_NORM = """
model = tf.keras.Sequential([
    tf.keras.layers.Reshape(input_shape=(28*28,), target_shape=(28, 28, 1)),
    tf.keras.layers.Conv2D(filters=24, kernel_size=6, padding='same', activation='relu'),
    tf.keras.layers.Conv2D(filters=48, kernel_size=5, padding='same', activation='relu', strides=2),
    tf.keras.layers.Conv2D(filters=64, kernel_size=4, padding='same', activation='relu', strides=2),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(200, activation='relu'),
    tf.keras.layers.Dropout(0.3),
    tf.keras.layers.Dense(10, activation='softmax')
])
"""

# Typical mistakes, made in the codelab's own solutions, and the hint each gets.
MISTAKES = [
    ("five-layer-sigmoid", _without(FIVE_LAYERS_SIGMOID, "    tf.keras.layers.Dense(30, activation='sigmoid'),\n"),
     "Layer 5 is Dense(10, softmax) but this step uses Dense(30, sigmoid): add a hidden Dense layer before the "
     "output."),
    ("five-layer-sigmoid", FIVE_LAYERS_RELU,
     "Layer 2 is Dense(200, relu) but this step uses Dense(200, sigmoid): change the activation."),
    ("five-layer-sigmoid", _replace(FIVE_LAYERS_SIGMOID, "Dense(200,", "Dense(256,"),
     "Layer 2 is Dense(256, sigmoid) but this step uses Dense(200, sigmoid): change the number of neurons to 200."),
    ("five-layer-relu", FIVE_LAYERS_SIGMOID,
     "Layer 2 is Dense(200, sigmoid) but this step uses Dense(200, relu): change the activation."),
    ("five-layer-dropout", _without(DROPOUT, *["model.add(layers.Dropout(0.25))\n"] * 4),
     "Layer 3 is Dense(100, relu) but this step uses Dropout(0.25): add dropout (0.25) after the dense hidden "
     "layers."),
    ("five-layer-dropout", _replace(DROPOUT, "Dropout(0.25)", "Dropout(0.5)", 4),
     "Layer 3 is Dropout(0.5) but this step uses Dropout(0.25): set the dropout rate to 0.25."),
    ("conv", _replace(CONVNET, "filters=8, strides=2,", "filters=8, strides=1,"),
     "Layer 3 is Conv2D(8, 5x5, stride 1, same, relu) but this step uses Conv2D(8, 5x5, stride 2, same, relu): "
     "use a stride of 2."),
    ("conv", _replace(CONVNET, "kernel_size=4, filters=12", "kernel_size=5, filters=12"),
     "Layer 4 is Conv2D(12, 5x5, stride 2, same, relu) but this step uses Conv2D(12, 4x4, stride 2, same, relu): "
     "use a 4x4 kernel."),
    ("conv", _without(CONVNET, "    tf.keras.layers.Conv2D(kernel_size=4, filters=12, strides=2, activation='relu', "
                               "padding='same'),\n"),
     "Layer 4 is Flatten() but this step uses Conv2D(12, 4x4, stride 2, same, relu): add a convolutional layer "
     "here."),
    # Without batch norm, the seed's bigger filters are no closer to the codelab's solution than to the step's:
    # the hint follows the step's own network.
    ("conv-batchnorm", NO_BATCH_NORM,
     "Layer 2 is Conv2D(24, 6x6, stride 1, same, relu) but this step uses Conv2D(6, 6x6, stride 1, same, no bias): "
     "turn batch norm on."),
    # Further along the codelab's solution than the step's network, the hint follows the codelab's.
    ("conv-batchnorm", _replace(CHALLENGE_99, "Dropout(0.3)", "Dropout(0.5)"),
     "Layer 15 is Dropout(0.5) but this step uses Dropout(0.3): set the dropout rate to 0.3."),
    ("conv-bigger-dropout", CONVNET,
     "Layer 2 is Conv2D(4, 5x5, stride 1, same, relu) but this step uses Conv2D(6, 6x6, stride 1, same, relu): "
     "use 6 filters."),
]


@pytest.mark.parametrize(("step_id", "code", "hint"), MISTAKES,
                         ids=[f"{step}-{number}" for number, (step, _, _) in enumerate(MISTAKES)])
def test_typical_mistakes_get_the_hint_that_points_at_them(step_id, code, hint):
    verdict = check(course.get_step(step_id), code)
    assert verdict.readable and not verdict.matches
    assert verdict.message == hint


def test_a_match_says_how_the_training_differs_without_failing():
    verdict = check(course.get_step("five-layer-relu"), FIVE_LAYERS_RELU)  # the codelab trains it with Adam
    assert verdict.matches
    assert verdict.training_note == "You train with Adam but this step uses SGD (plain gradient descent): change the " \
                                    "optimizer."
    also = check(course.get_step("conv-batchnorm"), CHALLENGE_99)
    assert "the codelab's own solution (24, 48 and 64 filters, 30% dropout)" in also.message


@pytest.mark.parametrize(("code", "line", "words"), [
    ("model = keras.Sequential([\n    layers.Dense(10)\n", 1, "Python cannot read this"),
    ("import keras\nimport subprocess\n", 2, "only keras, tensorflow and numpy"),
    # A mistake code_in itself refuses, with what would work.
    (FIVE_LAYERS_RELU.replace("Dense(10, activation='softmax')", "Dense(10, activation='relu')"), 8,
     "the last layer gives a probability for each digit"),
    ("", None, "There is no code yet"),
    ("   \n", None, "There is no code yet"),
    ("#" * MAX_CODE_CHARS, None, f"limit of {MAX_CODE_CHARS:,}"),
])
def test_code_that_cannot_be_read_is_explained_with_its_line(code, line, words):
    verdict = check(course.get_step("conv"), code)
    assert not verdict.readable and not verdict.matches
    assert verdict.line == line and words in verdict.message


def test_a_step_without_an_exercise_says_which_have_one():
    with pytest.raises(ValueError, match="Step 'softmax' has no exercise: the steps with one are five-layer-sigmoid"):
        starting_code(course.get_step("softmax"))


STEP = '[[step]]\nid = "{id}"\ntitle = "T"\ntheory = "t"\nlook_for = "l"\nquestion = "q?"\nanswer = "a"\n{more}'
FIRST = STEP.format(id="one", more='preset = "softmax"\n')


@pytest.mark.parametrize(("text", "message"), [
    (STEP.format(id="two", more='preset = "conv"\n[step.exercise]\ntodo = "x"\n'), "its exercise lacks task"),
    (FIRST + STEP.format(id="two", more='preset = "conv"\n[step.exercise]\ntodo = "x"\ntask = "y"\ncolour = 1\n'),
     "its exercise has unknown fields colour"),
    (STEP.format(id="two", more='[step.exercise]\ntodo = "x"\ntask = "y"\n'), "trains no preset"),
    (STEP.format(id="two", more='preset = "conv"\n[step.exercise]\ntodo = "x"\ntask = "y"\n'),
     "no earlier step that trains a network"),
    (FIRST + STEP.format(id="two", more='preset = "conv"\n[step.exercise]\ntodo = "x"\ntask = "y"\n'
                                        '[[step.exercise.also_accept]]\nabout = "big"\nhidden_units = [0]\n'),
     "also_accept 1 is not a valid network: Hidden layer 1 needs between 1 and"),
    (FIRST + STEP.format(id="two", more='preset = "conv"\n[step.exercise]\ntodo = "x"\ntask = "y"\n'
                                        '[[step.exercise.also_accept]]\nhidden_units = [10]\n'),
     "also_accept 1 needs an `about` text"),
])
def test_a_broken_exercise_table_names_the_problem(tmp_path, text, message):
    path = tmp_path / "course.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        course.steps(path)
