"""The Lab's "your turn" exercises: the code a step starts from with its gap marked, the step's solution, and Check,
which reads a learner's code (never running it) and compares their network with the step's, layer by layer.

The exercises themselves (which steps, the TO DO text, the task) live in course.toml as [step.exercise] tables.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from mnist_models import course
from mnist_models.architecture import count_params, plan_layers
from mnist_models.code_in import CodeError, read_code
from mnist_models.code_out import WIDTH, sections
from mnist_models.compare import layer_difference, training_difference
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.course import Exercise, Step

# What a code box reads at most: about three times the longest code the dashboard writes (7,000 characters for
# the batch-normalised convnet), far below what code_in itself refuses.
MAX_CODE_CHARS = 20_000
# The parts of the code an exercise shows: the cell a learner fills in. The data cell before it loads MNIST
# (code_in takes x_train and friends in fit's arguments as arrays from an earlier cell); the full script, data
# and test included, is under "Show the Keras code".
CELL_PARTS = ("Settings", "Model", "Compile", "Train")
CELL_INTRO = ("# MNIST is in x_train, y_train, x_val and y_val, loaded by the cell before (\"Show the Keras code\" "
              "has it all).\n")
MODEL_LINE = "model = keras.Sequential("
TODO = "# TO DO:"


def exercise_steps() -> list[Step]:
    """The course's steps that have an exercise, in order."""
    return [step for step in course.steps() if step.exercise is not None]


def _exercise(step: Step) -> Exercise:
    if step.exercise is None:
        raise ValueError(f"Step {step.id!r} has no exercise: the steps with one are "
                         f"{', '.join(other.id for other in exercise_steps())}.")
    return step.exercise


def cell_code(model: ModelConfig, train: TrainConfig, name: str, todo: str | None = None) -> str:
    """The code of a network and its training as an exercise's cell (settings, model, compile, fit), in
    code_out's style; with `todo`, a `# TO DO:` comment saying what to write stands right above the model."""
    parts = [part for part in sections(model, train, name=name) if part.title in CELL_PARTS]
    code = CELL_INTRO + "\n" + "\n\n".join(f"# {part.title}\n{part.code}" for part in parts)
    # Where MNIST comes from is the data cell's business: its setting and the comment on it go.
    code = re.sub(r"# Where MNIST comes from:[^\n]*\n(#[^\n]*\n)*MNIST_NPZ = [^\n]*\n", "", code, count=1)
    if todo is None:
        return code
    lines = code.splitlines(keepends=True)
    index = next(number for number, line in enumerate(lines) if line.startswith(MODEL_LINE))
    comment = textwrap.wrap(f"TO DO: {todo}", WIDTH - 2, break_long_words=False, break_on_hyphens=False)
    marked = "".join(f"# {line}\n" for line in comment)
    return "".join(lines[:index]) + marked + "".join(lines[index:])


def starting_code(step: Step) -> str:
    """What the learner starts from: the previous trained step's code, with the gap marked by a TO DO comment."""
    exercise = _exercise(step)
    previous = course.previous_training_step(step)
    if previous is None:  # course.steps() refuses such an exercise; a hand-made Step may still have one
        raise ValueError(f"Step {step.id!r} has no earlier step with code to start from.")
    return cell_code(*previous.trains.configs(), name=step.preset, todo=exercise.todo)


def solution_code(step: Step) -> str:
    """The step's own code, what the TO DO asks for written out."""
    _exercise(step)
    return cell_code(*step.trains.configs(), name=step.preset)


def read_learner_code(source: str) -> tuple[ModelConfig, TrainConfig]:
    """A learner's code read into configs, never run; CodeError (a ValueError) with the line and reason, and for
    code at a code box's size limit, which a browser cuts off there."""
    if not isinstance(source, str) or not source.strip():
        raise CodeError(None, "There is no code yet: write or paste the Keras code of a network.")
    if len(source) >= MAX_CODE_CHARS:
        raise CodeError(None, f"The code is {len(source):,} characters long, at this box's limit of "
                              f"{MAX_CODE_CHARS:,} (the rest was cut off): keep only the imports, the model, "
                              "compile and fit.")
    return read_code(source)


@dataclass(frozen=True)
class Verdict:
    """What Check says about a learner's code for a step."""

    readable: bool  # the code reads into configs (so it can be trained)
    matches: bool  # its network is the step's (or one the exercise also accepts), layer for layer
    message: str  # "it matches", the hint that points at the first difference, or why the code cannot be read
    line: int | None = None  # the line a read error is about
    training_note: str | None = None  # how the code trains differently from the step, once the network matches
    model: ModelConfig | None = None
    train: TrainConfig | None = None


def _same(mine, theirs) -> bool:
    return (mine.kind, mine.options, mine.output_shape, mine.params, mine.name == "output") == \
        (theirs.kind, theirs.options, theirs.output_shape, theirs.params, theirs.name == "output")


def agreeing_layers(mine: ModelConfig, target: ModelConfig) -> int:
    """How many layers, from the first, `mine` has exactly as `target` has them."""
    count = 0
    for my_layer, target_layer in zip(plan_layers(mine), plan_layers(target), strict=False):
        if not _same(my_layer, target_layer):
            break
        count += 1
    return count


def check(step: Step, source: str) -> Verdict:
    """Read `source` and compare its network with the step's (and the exercise's other accepted networks)."""
    exercise = _exercise(step)
    try:
        model, train = read_learner_code(source)
    except CodeError as error:
        return Verdict(False, False, error.reason, error.line)
    step_model, step_train = step.trains.configs()
    targets = [("this step's network", step_model), *exercise.also_accept]
    for about, target in targets:
        if layer_difference(model, target) is None:
            size = f"{len(plan_layers(model))} layers, {count_params(model):,} parameters"
            message = (f"Your network matches {about}, layer for layer ({size}): kinds, sizes, activations, output "
                       "shapes and parameter counts.")
            note = training_difference(train, step_train)
            return Verdict(True, True, message, training_note=note, model=model, train=train)
    # The hint follows the accepted network the code is furthest along, the step's own on a tie.
    closest = max(targets, key=lambda item: agreeing_layers(model, item[1]))[1]
    return Verdict(True, False, layer_difference(model, closest), model=model, train=train)
