"""Compare a learner's configs with an exercise step's, layer by layer, and say the first difference as a hint."""

from __future__ import annotations

from mnist_models.architecture import LayerSpec, plan_layers
from mnist_models.code_templates import unused_train_fields
from mnist_models.config import OPTIMIZER_LABELS, SCHEDULE_LABELS, ModelConfig, TrainConfig

# The options a layer's hint looks at, in the order they are checked, and how to fix each.
_FIXES = (
    ("use_bias", lambda step: "turn batch norm on" if step is False else "turn batch norm off"),
    ("units", lambda step: f"change the number of neurons to {step}"),
    ("filters", lambda step: f"use {step} filters"),
    ("kernel_size", lambda step: f"use a {step}x{step} kernel"),
    ("strides", lambda step: f"use a stride of {step}"),
    ("padding", lambda step: f"use {step!r} padding"),
    ("activation", lambda step: "change the activation"),
    ("pool_size", lambda step: f"pool {step}x{step}"),
    ("rate", lambda step: f"set the dropout rate to {step:g}"),
    ("momentum", lambda step: f"set batch norm's momentum to {step:g}"),
    ("target_shape", lambda step: "reshape as this step does"),
)


def describe(spec: LayerSpec) -> str:
    """A layer in a few words: `Dense(100, relu)`, `Conv2D(12, 5x5, stride 2, same, relu)`, `Dropout(0.25)`."""
    options = spec.options
    if spec.kind == "Dense":
        return f"Dense({options['units']}, {options.get('activation', 'no bias')})"
    if spec.kind == "Conv2D":
        size = options["kernel_size"]
        activation = options.get("activation", "no bias")
        return f"Conv2D({options['filters']}, {size}x{size}, stride {options['strides']}, {options['padding']}, " \
               f"{activation})"
    if spec.kind == "MaxPooling2D":
        return f"MaxPooling2D({options['pool_size']}x{options['pool_size']})"
    if spec.kind == "BatchNormalization":
        return f"BatchNormalization(momentum {options['momentum']:g})"
    if spec.kind == "Activation":
        return f"Activation({options['activation']})"
    if spec.kind == "Dropout":
        return f"Dropout({options['rate']:g})"
    if spec.kind == "Reshape":
        return f"Reshape{options['target_shape']}"
    return f"{spec.kind}()"


def _shape(shape: tuple[int, ...]) -> str:
    return "(batch, " + ", ".join(map(str, shape)) + ")"


def _kind_fix(mine: LayerSpec, step: LayerSpec) -> str:
    """How to fix a layer of another kind than the step's."""
    for kind, add, remove in (
        ("BatchNormalization", "turn batch norm on", "turn batch norm off"),
        ("Dropout", f"add dropout ({step.options.get('rate', 0):g}) after the dense hidden layers",
         "remove the dropout"),
        ("MaxPooling2D", "add max pooling after this convolution", "remove this max pooling"),
        ("Conv2D", "add a convolutional layer here", "remove this convolutional layer"),
        ("Reshape", "this step is a convolutional network: start with convolutional layers",
         "this step has no convolutional layers"),
    ):
        if step.kind == kind:
            return add
        if mine.kind == kind:
            return remove
    if mine.name == "output":
        return "add a hidden Dense layer before the output"
    if step.name == "output":
        return "remove this hidden layer"
    return "make this layer match"


def layer_difference(mine: ModelConfig, step: ModelConfig) -> str | None:
    """The first layer where `mine` differs from `step` (kind, size, activation, output shape, parameters), as a
    sentence that says how to fix it; None when the networks match layer for layer."""
    my_layers, step_layers = plan_layers(mine), plan_layers(step)
    for number, (my_layer, step_layer) in enumerate(zip(my_layers, step_layers, strict=False), start=1):
        start = f"Layer {number} is {describe(my_layer)} but this step uses {describe(step_layer)}"
        if my_layer.kind != step_layer.kind or (my_layer.name == "output") != (step_layer.name == "output"):
            return f"{start}: {_kind_fix(my_layer, step_layer)}."
        for key, fix in _FIXES:
            if my_layer.options.get(key) != step_layer.options.get(key):
                return f"{start}: {fix(step_layer.options.get(key))}."
        if my_layer.output_shape != step_layer.output_shape:
            return (f"Layer {number} ({describe(my_layer)}) outputs {_shape(my_layer.output_shape)} but this step's "
                    f"outputs {_shape(step_layer.output_shape)}: check the strides and pooling before it.")
        if my_layer.params != step_layer.params:
            return (f"Layer {number} ({describe(my_layer)}) has {my_layer.params:,} parameters but this step's has "
                    f"{step_layer.params:,}: check the layer before it.")
    if len(my_layers) < len(step_layers):
        return f"Your network stops after layer {len(my_layers)}; this step goes on with " \
               f"{describe(step_layers[len(my_layers)])}: add it."
    if len(my_layers) > len(step_layers):
        return f"Layer {len(step_layers) + 1} ({describe(my_layers[len(step_layers)])}) is not in this step: remove it."
    return None


def training_difference(mine: TrainConfig, step: TrainConfig) -> str | None:
    """The first way `mine` trains differently from `step` (optimiser, learning rate and its schedule, batch size,
    epochs, images), as a hint; None when they train alike."""
    if mine.optimizer != step.optimizer:
        return (f"You train with {OPTIMIZER_LABELS[mine.optimizer]} but this step uses "
                f"{OPTIMIZER_LABELS[step.optimizer]}: change the optimizer.")
    if mine.lr_schedule != step.lr_schedule:
        return (f"Your learning rate is {SCHEDULE_LABELS[mine.lr_schedule]} but this step's is "
                f"{SCHEDULE_LABELS[step.lr_schedule]}: change the schedule.")
    checks = [("learning_rate", "learning rate"), ("lr_decay", "decay"), ("lr_decay_steps", "decay steps"),
              ("min_learning_rate", "learning-rate floor"), ("warmup_fraction", "warm-up fraction"),
              ("batch_size", "batch size"), ("epochs", "number of epochs"), ("train_size", "number of training images")]
    unused = unused_train_fields(step)
    for field, label in checks:
        if field not in unused and getattr(mine, field) != getattr(step, field):
            return f"Your {label} is {getattr(mine, field):g} but this step's is {getattr(step, field):g}: change it."
    return None


def difference(mine: ModelConfig, step: ModelConfig, my_training: TrainConfig | None = None,
               step_training: TrainConfig | None = None) -> str | None:
    """The first difference between a learner's configs and a step's: the network's, then the training's."""
    hint = layer_difference(mine, step)
    if hint is None and my_training is not None and step_training is not None:
        hint = training_difference(my_training, step_training)
    return hint
