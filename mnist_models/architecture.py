"""The layer stack a ModelConfig describes, with output shapes and parameter counts, computed without TensorFlow.

`models.build_model` turns exactly this plan into Keras layers, so the dashboard can show a model summary
instantly (TensorFlow takes seconds to import) and the tests check that the plan matches Keras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mnist_models.config import ModelConfig

IMAGE_SIZE = 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its name, Keras class name, constructor options, output shape (without batch) and params."""

    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)
    output_shape: tuple[int, ...] = ()
    params: int = 0


def _conv_output_size(size: int, kernel_size: int, stride: int, padding: str) -> int:
    # Keras's rule: "same" pads so that only the stride shrinks the image; "valid" never pads.
    if padding == "same":
        return math.ceil(size / stride)
    return (size - kernel_size) // stride + 1


def shape_problems(config: ModelConfig) -> list[str]:
    """Problems with image sizes: a convolution whose kernel no longer fits the image it receives."""
    found = []
    size = IMAGE_SIZE
    for index, conv in enumerate(config.conv_layers, start=1):
        out = _conv_output_size(size, conv.kernel_size, conv.stride, config.padding)
        if out < 1:
            found.append(
                f"Convolutional layer {index}: its {conv.kernel_size}x{conv.kernel_size} kernel does not fit the "
                f"{size}x{size} image it receives, so nothing is left; use 'same' padding, a smaller kernel "
                "or smaller strides."
            )
            break
        size = out
        if _is_whole(conv.pool_size) and conv.pool_size > 1:
            if size // conv.pool_size < 1:
                found.append(
                    f"Convolutional layer {index}: {conv.pool_size}x{conv.pool_size} max pooling does not fit the "
                    f"{size}x{size} image it receives; pool less or shrink the image less before it."
                )
                break
            size //= conv.pool_size
    return found


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def plan_layers(config: ModelConfig) -> list[LayerSpec]:
    """The layers of `config`, in order, from the (28, 28) input to the 10 softmax outputs."""
    layers: list[LayerSpec] = []
    # Batch norm's running mean and variance (what a trained network uses on new images) move towards each
    # batch's by 1 - momentum per step.
    batch_norm = {"momentum": config.batch_norm_momentum}

    if config.conv_layers:
        # (batch, 28, 28) -> (batch, 28, 28, 1): convolutions need a channel axis.
        layers.append(LayerSpec("to_channels", "Reshape", {"target_shape": (IMAGE_SIZE, IMAGE_SIZE, 1)},
                                (IMAGE_SIZE, IMAGE_SIZE, 1)))
        size, channels = IMAGE_SIZE, 1
        for index, conv in enumerate(config.conv_layers, start=1):
            size = _conv_output_size(size, conv.kernel_size, conv.stride, config.padding)
            shape = (size, size, conv.filters)
            weights = conv.kernel_size * conv.kernel_size * channels * conv.filters
            options = {
                "filters": conv.filters,
                "kernel_size": conv.kernel_size,
                "strides": conv.stride,
                "padding": config.padding,
            }
            if config.batch_norm:
                # Batch norm's offset replaces the bias, as in the codelab; its four vectors count as params.
                layers.append(LayerSpec(f"conv{index}", "Conv2D", {**options, "use_bias": False}, shape, weights))
                layers.append(LayerSpec(f"conv{index}_bn", "BatchNormalization", batch_norm, shape,
                                        4 * conv.filters))
                layers.append(LayerSpec(f"conv{index}_act", "Activation", {"activation": conv.activation}, shape))
            else:
                options["activation"] = conv.activation
                layers.append(LayerSpec(f"conv{index}", "Conv2D", options, shape, weights + conv.filters))
            if conv.pool_size > 1:
                # (batch, size, size, filters) -> (batch, size // pool, size // pool, filters): the largest value
                # of each pool x pool block; no weights.
                size //= conv.pool_size
                layers.append(LayerSpec(f"conv{index}_pool", "MaxPooling2D", {"pool_size": conv.pool_size},
                                        (size, size, conv.filters)))
            channels = conv.filters
        features = size * size * channels
    else:
        features = IMAGE_SIZE * IMAGE_SIZE
    # (batch, height, width[, channels]) -> (batch, features)
    layers.append(LayerSpec("flatten", "Flatten", {}, (features,)))

    for index, units in enumerate(config.hidden_units, start=1):
        weights = features * units
        if config.batch_norm:
            layers.append(LayerSpec(f"dense{index}", "Dense", {"units": units, "use_bias": False}, (units,), weights))
            layers.append(LayerSpec(f"dense{index}_bn", "BatchNormalization", batch_norm, (units,), 4 * units))
            layers.append(LayerSpec(f"dense{index}_act", "Activation", {"activation": config.activation}, (units,)))
        else:
            options = {"units": units, "activation": config.activation}
            layers.append(LayerSpec(f"dense{index}", "Dense", options, (units,), weights + units))
        if config.dropout_rate > 0:
            layers.append(LayerSpec(f"dropout{index}", "Dropout", {"rate": config.dropout_rate}, (units,)))
        features = units

    layers.append(LayerSpec("output", "Dense", {"units": NUM_CLASSES, "activation": "softmax"},
                            (NUM_CLASSES,), features * NUM_CLASSES + NUM_CLASSES))
    return layers


def count_params(config: ModelConfig) -> int:
    """Total parameters, as Keras's model.summary() counts them (batch-norm statistics included)."""
    return sum(layer.params for layer in plan_layers(config))


def summary_rows(config: ModelConfig) -> list[dict[str, Any]]:
    """Rows for a model summary table: layer, type, output shape (batch first, as Keras prints) and params."""
    return [
        {
            "layer": layer.name,
            "type": layer.kind,
            "output shape": "(None, " + ", ".join(str(dim) for dim in layer.output_shape) + ")",
            "params": layer.params,
        }
        for layer in plan_layers(config)
    ]
