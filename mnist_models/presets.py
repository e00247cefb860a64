"""The codelab's steps, from one softmax layer to a batch-normalised convnet, as named ready-to-train configs.

Learning rates: the codelab's TensorFlow 1 code multiplied its cross-entropy by 100 (a sum over a batch of
100 images), so its SGD rate of 0.005 acts like 0.5 on Keras's mean loss. The SGD presets use the rescaled
rate, which reproduces the codelab's curves (0.005 reaches only about 86% after 3 epochs). Adam adapts to
the scale of the gradients, so its rates (0.003, 0.005) carry over unchanged.

What was tried for each preset's recipe, in order, and what it measured: docs/presets-research.md.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from mnist_models.architecture import count_params
from mnist_models.config import TOTAL_TRAIN_IMAGES, VALIDATION_SAMPLE, ConvLayer, ModelConfig, TrainConfig

FIVE_LAYERS = [200, 100, 60, 30]


@dataclass(frozen=True)
class Preset:
    """A named step of the codelab: what to build, how to train it, and the accuracy the codelab reports."""

    name: str
    title: str
    description: str
    model: ModelConfig
    train: TrainConfig
    codelab_accuracy: float | None  # test accuracy the codelab reports; None where it has no such step

    @property
    def params(self) -> int:
        return count_params(self.model)

    def configs(self) -> tuple[ModelConfig, TrainConfig]:
        """Fresh copies of the configs, safe for a caller to edit."""
        return copy.deepcopy(self.model), copy.deepcopy(self.train)


_CONV_SMALL = [ConvLayer(4, 5, 1), ConvLayer(8, 5, 2), ConvLayer(12, 4, 2)]
_CONV_BIG = [ConvLayer(6, 6, 1), ConvLayer(12, 5, 2), ConvLayer(24, 4, 2)]

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "softmax",
            "1 layer: softmax",
            "One dense softmax layer (784 -> 10), plain SGD at 0.5 (the codelab's 0.005 on its x100 loss): ~92%.",
            ModelConfig(hidden_units=[]),
            TrainConfig(optimizer="sgd", learning_rate=0.5, batch_size=100, epochs=5),
            0.92,
        ),
        Preset(
            "five-layer-sigmoid",
            "5 layers: sigmoid",
            "Five dense layers (200/100/60/30/10) with sigmoid and SGD: accuracy sits near 10% for a while "
            "before it takes off, the slow start deep sigmoid networks are known for.",
            ModelConfig(hidden_units=FIVE_LAYERS, activation="sigmoid"),
            TrainConfig(optimizer="sgd", learning_rate=0.3, batch_size=100, epochs=10),
            0.979,  # the codelab's script: Adam 0.003 for 10,000 steps (18 epochs); see docs/presets-research.md
        ),
        Preset(
            "five-layer-relu",
            "5 layers: ReLU",
            "The same five layers with ReLU instead of sigmoid: no slow start, faster and better with the same SGD.",
            ModelConfig(hidden_units=FIVE_LAYERS, activation="relu"),
            TrainConfig(optimizer="sgd", learning_rate=0.3, batch_size=100, epochs=10),
            0.97,
        ),
        Preset(
            "five-layer-relu-adam",
            "5 layers: ReLU + Adam",
            "ReLU with the Adam optimiser (0.003): ~98%, but the test loss soon starts to climb (overfitting).",
            ModelConfig(hidden_units=FIVE_LAYERS, activation="relu"),
            TrainConfig(optimizer="adam", learning_rate=0.003, batch_size=100, epochs=10),
            0.982,  # the codelab's script: 98.25% after 10,000 steps
        ),
        Preset(
            "five-layer-decay",
            "5 layers: learning-rate decay",
            "Adam starting faster (0.005) and decaying towards 0.0001: the noisy test curve calms and settles "
            "near 98%; the test loss still climbs (overfitting, next step).",
            ModelConfig(hidden_units=FIVE_LAYERS, activation="relu"),
            TrainConfig(optimizer="adam", learning_rate=0.005, lr_schedule="exponential", lr_decay_steps=2000,
                        min_learning_rate=0.0001, batch_size=100, epochs=10),
            0.982,
        ),
        Preset(
            "five-layer-dropout",
            "5 layers: decay + dropout",
            "Learning-rate decay (0.005 towards 0.0001) and 25% dropout calm the noisy curves and the "
            "overfitting: ~98%.",
            ModelConfig(hidden_units=FIVE_LAYERS, activation="relu", dropout_rate=0.25),
            TrainConfig(optimizer="adam", learning_rate=0.005, lr_schedule="exponential", lr_decay_steps=2000,
                        min_learning_rate=0.0001, batch_size=100, epochs=10),
            0.982,  # the codelab's script: 98.17% with dropout after 10,000 steps
        ),
        Preset(
            "conv",
            "Convolutional network",
            "Three convolutional layers (4/8/12 filters, 5x5 s1, 5x5 s2, 4x4 s2), a dense layer of 200 and "
            "exponential learning-rate decay: ~98.9% with fewer weights than the dense network.",
            ModelConfig(conv_layers=_CONV_SMALL, hidden_units=[200], activation="relu"),
            TrainConfig(optimizer="adam", learning_rate=0.003, lr_schedule="exponential", lr_decay_steps=2000,
                        min_learning_rate=0.0001, batch_size=100, epochs=3),
            0.989,
        ),
        Preset(
            "conv-bigger-dropout",
            "Bigger convnet + dropout",
            "More filters (6/12/24, 6x6 s1, 5x5 s2, 4x4 s2), dense 200 with 35% dropout, Adam 0.003 decaying "
            "towards 0.0001, batches of 32, 59,000 images: ~99.0% after 3 epochs (the codelab's 99.3% takes ~18).",
            ModelConfig(conv_layers=_CONV_BIG, hidden_units=[200], activation="relu", dropout_rate=0.35),
            TrainConfig(optimizer="adam", learning_rate=0.003, lr_schedule="exponential", lr_decay_steps=2000,
                        min_learning_rate=0.0001, batch_size=32, epochs=3,
                        train_size=TOTAL_TRAIN_IMAGES - VALIDATION_SAMPLE, validation_size=VALIDATION_SAMPLE),
            0.993,
        ),
        Preset(
            "conv-batchnorm",
            "Convnet + batch norm",
            "The bigger convnet with batch normalisation before every activation (the codelab's last step), which "
            "tolerates a 7x higher learning rate: one cycle up to 0.02 and back down over 4 epochs.",
            ModelConfig(conv_layers=_CONV_BIG, hidden_units=[200], activation="relu", dropout_rate=0.35,
                        batch_norm=True),
            TrainConfig(optimizer="adam", learning_rate=0.02, lr_schedule="one_cycle", warmup_fraction=0.2,
                        min_learning_rate=0.0001, batch_size=100, epochs=4,
                        train_size=TOTAL_TRAIN_IMAGES - VALIDATION_SAMPLE, validation_size=VALIDATION_SAMPLE),
            0.995,
        ),
        Preset(
            "fast-99",
            "Fast 99%",
            "Built for speed: two convolutions with a stride of 2 (12 filters 5x5, 24 filters 3x3), batch norm "
            "(momentum 0.9), dense 100 with 30% dropout, batches of 128, a one-cycle learning rate (warm up to "
            "0.01, cosine down) over 2 epochs: 99% in well under half the seed's time.",
            ModelConfig(conv_layers=[ConvLayer(12, 5, 2), ConvLayer(24, 3, 2)],
                        hidden_units=[100], activation="relu", dropout_rate=0.3, batch_norm=True,
                        batch_norm_momentum=0.9),
            TrainConfig(optimizer="adam", learning_rate=0.01, lr_schedule="one_cycle", warmup_fraction=0.2,
                        min_learning_rate=0.0001, batch_size=128, epochs=2,
                        train_size=TOTAL_TRAIN_IMAGES - VALIDATION_SAMPLE, validation_size=VALIDATION_SAMPLE),
            None,
        ),
        Preset(
            "overfit-demo",
            "Overfitting demo",
            "A wide dense network (two layers of 512) on only 1,000 training images, no dropout: train accuracy "
            "reaches 100% while the test loss climbs. Add dropout or more images to pull the curves together.",
            ModelConfig(hidden_units=[512, 512], activation="relu"),
            TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=50, epochs=40, train_size=1000),
            None,
        ),
    )
}

DEFAULT_PRESET = "five-layer-relu-adam"


def get_preset(name: str) -> Preset:
    """The preset called `name`; ValueError listing the valid names otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.") from None
