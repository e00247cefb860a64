"""Reading Keras code, part two: the layers of a keras.Sequential, as calls, turned into the ModelConfig they build.

The dashboard's networks are an input, convolutional blocks (Conv2D, then BatchNormalization and Activation
when batch norm is on, then MaxPooling2D), Flatten, dense blocks (Dense, the same batch norm, Dropout) and a
Dense(10, softmax) output. The codelab's own forms map onto that: a flat (784,) input reshaped to (28, 28, 1),
`input_shape=` on the first layer, an activation given as a layer, `scale=False` in batch norm. A layer that has
no place in such a network is refused with its line and what would work instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mnist_models.code_values import Call, CodeError, Model
from mnist_models.config import ACTIVATIONS, ConvLayer, ModelConfig

PARAMS = {
    "Dense": (("units", "activation", "use_bias", "name", "input_shape", "input_dim"), 2),
    "Conv2D": (("filters", "kernel_size", "strides", "padding", "activation", "use_bias", "name", "input_shape"), 4),
    "MaxPooling2D": (("pool_size", "strides", "padding", "name", "input_shape"), 3),
    "BatchNormalization": (("momentum", "center", "scale", "name"), 0),
    "Activation": (("activation", "name", "input_shape"), 1),
    "Flatten": (("name", "input_shape"), 0),
    "Reshape": (("target_shape", "name", "input_shape"), 1),
    "Dropout": (("rate", "name", "input_shape"), 1),
    "Input": (("shape", "name"), 1),
    "InputLayer": (("shape", "input_shape", "name"), 1),
}
INPUT_SHAPES = {(28, 28): "image", (784,): "flat", (28, 28, 1): "channels"}
OUTPUT_HINT = 'the last layer gives a probability for each digit: layers.Dense(10, activation="softmax")'


@dataclass
class Block:
    """A Conv2D or Dense layer with the layers that belong to it: batch norm, activation, pooling, dropout."""

    layer: Call
    options: dict[str, Any]
    activation: str
    batch_norm: Call | None = None
    pool_size: int = 1
    dropout: float = 0.0


class _Layers:
    """A cursor over the model's layers."""

    def __init__(self, model: Model):
        self.model = model
        self.layers = [_checked(layer, model.line) for layer in model.layers]
        self.index = 0

    def peek(self) -> Call | None:
        return self.layers[self.index] if self.index < len(self.layers) else None

    def take(self, *kinds: str) -> Call | None:
        layer = self.peek()
        if layer is not None and layer.kind in kinds:
            self.index += 1
            return layer
        return None


def _checked(layer: Any, model_line: int) -> Call:
    if not isinstance(layer, Call) or layer.kind not in PARAMS:
        line = layer.line if isinstance(layer, Call) else model_line
        raise CodeError(line, "A keras.Sequential holds layers, like layers.Dense(100, activation=\"relu\"); "
                              f"{getattr(layer, 'kind', type(layer).__name__)} is not one.")
    return layer


def options(layer: Call) -> dict[str, Any]:
    params, positional = PARAMS[layer.kind]
    bound = layer.bind(params, positional, label=f"layers.{layer.kind}")
    if "name" in bound and not isinstance(bound["name"], str):
        raise CodeError(layer.line, "A layer's name is a text, like name=\"dense1\".")
    return bound


def _input(value: Any, line: int) -> str:
    shape = tuple(value) if isinstance(value, list | tuple) else (value,)
    if shape not in INPUT_SHAPES:
        raise CodeError(line, f"The input is MNIST's 28x28 images: use shape=(28, 28), (784,) for the flattened "
                              f"pixels, or (28, 28, 1) (got {value!r}).")
    return INPUT_SHAPES[shape]


def _square(value: Any, what: str, line: int) -> int:
    """A size given as 3 or (3, 3)."""
    if isinstance(value, list | tuple) and len(value) == 2 and value[0] == value[1]:
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise CodeError(line, f"The {what} must be a whole number, or a pair of equal ones like (3, 3) "
                              f"(got {value!r}): this app's kernels, strides and pools are square.")
    return value


def _activation(value: Any, line: int, *, dense: bool) -> str:
    name = "linear" if value is None else value
    if name not in ACTIVATIONS and not (dense and name == "softmax"):
        raise CodeError(line, f"Activation {value!r} is not one of this app's: use one of {', '.join(ACTIVATIONS)} "
                              "(and \"softmax\" for the last layer).")
    return name


def read_network(model: Model) -> ModelConfig:
    """The ModelConfig that `model`'s layers build; CodeError naming the layer's line when one does not fit."""
    cursor = _Layers(model)
    if not cursor.layers:
        raise CodeError(model.line, "The model has no layers: put them in the list, keras.Sequential([...]).")
    shape = None  # what the next layer receives: "image", "flat", "channels", or None when the code does not say
    first = cursor.take("Input", "InputLayer")
    if first is not None:
        bound = options(first)
        given = bound.get("shape", bound.get("input_shape"))
        shape = _input(given, first.line) if given is not None else None
    layer = cursor.peek()
    if layer is not None and "input_shape" in layer.kwargs:
        shape = _input(layer.kwargs["input_shape"], layer.line)
    elif layer is not None and "input_dim" in layer.kwargs:
        shape = _input((layer.kwargs["input_dim"],), layer.line)
    for extra in cursor.layers[cursor.index + 1:]:
        if "input_shape" in extra.kwargs or extra.kind in ("Input", "InputLayer"):
            raise CodeError(extra.line, "Only the first layer says the input's shape.")
    while (layer := cursor.take("Reshape", "Flatten")) is not None:
        if layer.kind == "Flatten":
            options(layer)
            shape = "flat"
            continue
        target = options(layer).get("target_shape")
        shape = _input(target, layer.line)
    convs = []
    while (layer := cursor.take("Conv2D")) is not None:
        if shape in ("flat", "image"):
            raise CodeError(layer.line, "Convolutions need a channel axis: put layers.Reshape(target_shape=(28, 28, "
                                        "1)) before the first Conv2D.")
        convs.append(_block(cursor, layer))
        shape = "channels"
    if convs or (cursor.peek() is not None and cursor.peek().kind == "Flatten"):
        layer = cursor.take("Flatten")
        if layer is None and cursor.peek() is not None and cursor.peek().kind != "Dense":
            raise CodeError(_line(cursor), _misplaced(cursor.peek(), False))
        if layer is None:
            raise CodeError(_line(cursor), "Dense layers take a flat vector: put layers.Flatten() after the last "
                                           "convolution (or its pooling).")
        options(layer)
        shape = "flat"
    dense = []
    while (layer := cursor.take("Dense")) is not None:
        if shape in ("image", "channels"):
            raise CodeError(layer.line, "Dense layers take a flat vector: put layers.Flatten() before the first Dense.")
        dense.append(_block(cursor, layer))
        shape = "flat"
    if cursor.peek() is not None:
        raise CodeError(_line(cursor), _misplaced(cursor.peek(), bool(dense)))
    if not dense:
        raise CodeError(model.line, f"The network has no Dense layer: {OUTPUT_HINT}.")
    return _config(convs, dense)


def _line(cursor: _Layers) -> int:
    layer = cursor.peek()
    return layer.line if layer is not None else cursor.model.line


def _misplaced(layer: Call, after_dense: bool) -> str:
    if layer.kind == "Conv2D":
        return "Convolutions come before Flatten and the Dense layers in this app's networks."
    if layer.kind == "Dropout":
        return "Dropout follows a Dense hidden layer here (after its activation); it is not used elsewhere."
    if layer.kind in ("BatchNormalization", "Activation"):
        return (f"{layer.kind} cannot come here: batch norm and an activation follow a Conv2D or Dense layer, as "
                "layers.Dense(200, use_bias=False), layers.BatchNormalization(), layers.Activation(\"relu\").")
    if layer.kind == "MaxPooling2D":
        return "Max pooling follows a convolution (and its activation) here."
    where = "after the Dense layers" if after_dense else "here"
    return f"layers.{layer.kind} cannot come {where} in this app's networks."


def _block(cursor: _Layers, layer: Call) -> Block:
    bound = options(layer)
    given = bound.get("activation")
    block = Block(layer, bound, _activation(given, layer.line, dense=layer.kind == "Dense"))
    if layer.kind == "Conv2D" and bound.get("padding", "valid") not in ("same", "valid"):
        raise CodeError(layer.line, f"Padding is \"same\" or \"valid\" (got {bound['padding']!r}).")
    block.batch_norm = cursor.take("BatchNormalization")
    if block.batch_norm is not None:
        if given not in (None, "linear"):
            raise CodeError(block.batch_norm.line, "Batch norm comes between the layer and its activation here: "
                                                   f"layers.{layer.kind}(..., use_bias=False), "
                                                   "layers.BatchNormalization(), layers.Activation(\"relu\").")
        _batch_norm_options(block.batch_norm)
        if cursor.peek() is None or cursor.peek().kind != "Activation":
            raise CodeError(block.batch_norm.line, "After BatchNormalization comes the activation, like "
                                                   "layers.Activation(\"relu\").")
    activation = cursor.take("Activation")
    if activation is not None:
        if given not in (None, "linear") and block.batch_norm is None:
            raise CodeError(activation.line, f"This {layer.kind} already has activation={given!r}; a second "
                                             "Activation layer is not one of this app's settings.")
        block.activation = _activation(options(activation).get("activation"), activation.line,
                                       dense=layer.kind == "Dense")
    if bound.get("use_bias", True) is False and block.batch_norm is None:
        raise CodeError(layer.line, "use_bias=False belongs to a layer followed by BatchNormalization (whose "
                                    "offset replaces the bias); without batch norm, keep the bias.")
    if layer.kind == "Conv2D":
        pool = cursor.take("MaxPooling2D")
        if pool is not None:
            block.pool_size = _pool(pool)
    elif (dropout := cursor.take("Dropout")) is not None:
        rate = options(dropout).get("rate")
        if not isinstance(rate, int | float) or isinstance(rate, bool):
            raise CodeError(dropout.line, f"Dropout's rate is a number, like 0.25 (got {rate!r}).")
        block.dropout = rate
    return block


def _batch_norm_options(layer: Call) -> None:
    bound = options(layer)
    for key in ("center", "scale"):
        if not isinstance(bound.get(key, True), bool):
            raise CodeError(layer.line, f"BatchNormalization's {key} is True or False.")
    if bound.get("center", True) is False:
        raise CodeError(layer.line, "Batch norm's offset replaces the layer's bias here: keep center=True.")


def _pool(layer: Call) -> int:
    bound = options(layer)
    size = _square(bound.get("pool_size", 2), "pool size", layer.line)
    if bound.get("strides") not in (None, size, (size, size), [size, size]):
        raise CodeError(layer.line, "This app's max pooling moves by its own size: leave strides out.")
    if bound.get("padding", "valid") != "valid":
        raise CodeError(layer.line, "This app's max pooling uses Keras's default padding: leave padding out.")
    return size


def _same(blocks: list[Block], value, what: str) -> Any:
    """The one value every block shares; CodeError at the first block that differs."""
    first = value(blocks[0])
    for block in blocks[1:]:
        if value(block) != first:
            raise CodeError(block.layer.line, f"This layer's {what} ({value(block)!r}) differs from the first's "
                                              f"({first!r}): this app gives them all the same one.")
    return first


def _config(convs: list[Block], dense: list[Block]) -> ModelConfig:
    output = dense.pop()
    bound = output.options
    if bound.get("units") != 10 or output.activation != "softmax" or output.batch_norm or output.dropout:
        raise CodeError(output.layer.line, f"This is the last layer: {OUTPUT_HINT}, without batch norm or dropout "
                                           "after it.")
    if "use_bias" in bound and bound["use_bias"] is not True:
        raise CodeError(output.layer.line, "The last layer keeps its bias.")
    hidden = convs + dense
    for block in hidden:
        if block.activation == "softmax":
            raise CodeError(block.layer.line, "Softmax belongs to the last layer only; hidden layers use "
                                              f"{', '.join(ACTIVATIONS)}.")
    config = ModelConfig(hidden_units=[block.options.get("units") for block in dense])
    if hidden:
        config.batch_norm = _same(hidden, lambda block: block.batch_norm is not None, "batch norm")
        if config.batch_norm:
            config.batch_norm_momentum = _same(
                hidden, lambda block: options(block.batch_norm).get("momentum", 0.99), "batch-norm momentum")
    if dense:
        config.activation = _same(dense, lambda block: block.activation, "activation")
        config.dropout_rate = _same(dense, lambda block: block.dropout, "dropout rate (after every Dense hidden layer)")
    if convs:
        config.padding = _same(convs, lambda block: block.options.get("padding", "valid"), "padding")
        config.conv_layers = [
            ConvLayer(filters=block.options.get("filters"),
                      kernel_size=_square(block.options.get("kernel_size"), "kernel size", block.layer.line),
                      stride=_square(block.options.get("strides", 1), "stride", block.layer.line),
                      activation=block.activation, pool_size=block.pool_size)
            for block in convs]
    _check(config, convs, dense, output)
    return config


def _check(config: ModelConfig, convs: list[Block], dense: list[Block], output: Block) -> None:
    """ModelConfig's own problems, each at the line of the layer it is about."""
    problems = config.problems()
    if not problems:
        return
    match = re.match(r"(Hidden|Convolutional) layer (\d+)", problems[0])
    line = output.layer.line
    if match:
        blocks = dense if match.group(1) == "Hidden" else convs
        line = blocks[min(int(match.group(2)), len(blocks)) - 1].layer.line
    raise CodeError(line, " ".join(problems))
