"""The codelab's steps, from one softmax layer to a batch-normalised convnet, as named ready-to-train configs.

Learning rates: the codelab's TensorFlow 1 code multiplied its cross-entropy by 100 (a sum over a batch of
100 images), so its SGD rate of 0.005 acts like 0.5 on Keras's mean loss. The SGD presets use the rescaled
rate, which reproduces the codelab's curves (0.005 reaches only about 86% after 3 epochs). Adam adapts to
the scale of the gradients, so its rates (0.003, 0.005) carry over unchanged.

The bigger convnet: the seed's recipe (batches of 100, Adam 0.003 with inverse-time decay 0.001) plateaued
at 98.9% here (98.76-98.95% after 3 to 6 epochs on 55,000 images). Two changes, each measured over seeds,
bring 3 epochs to 99.0% on average: batches of 32 with the codelab's exponential decay (98.93-99.04%), then
training on 59,000 images, holding out only the 1,000 the validation points are scored on (98.89-99.13% over
seeds 0-4, mean 99.01%; seed 0, the default, 99.02%). A 4th epoch adds only ~0.05 (98.99-99.08%). He
initialisation, cosine decay, batches of 16 and a higher rate made no difference beyond the seeds' spread.

Recipes are chosen on the validation split, never on the test set: a tool that teaches overfitting must not
tune on the images it reports. Learning rates, schedules, networks and epochs below were compared by their
accuracy on 5,000 held-out training images (`benchmarks/time_to_99.py --score-on validation`, training on the
other 55,000); only the chosen recipe's test accuracy is reported. On that split accuracies run about 0.15-0.2
point below the test set's (the seed's recipe: 98.86% validation, 99.02% test), so "as good as the seed's
recipe's final accuracy" meant 98.8% on validation.

fast-99 (seed 0 unless noted; the seconds are training time on 1 thread of 2 shared, often busy cores, so the
comparisons below use epochs, and seconds an epoch measured on a quiet machine). The seed's recipe
(conv-bigger-dropout's network, batches of 32, Adam 0.003 with inverse-time decay; about 12 s an epoch) first
reached 98.6% validation at 1.2 epochs, 98.7% at 1.7 and 98.8% at 2.2, and ended at 98.86% after 3. All the
candidates use batch norm, batches of 128 and Adam with one cycle over 2 epochs (peak 0.01 unless noted):
  two stride-2 convolutions, 16 5x5 and 32 3x3, dense 128 (about 6 s an epoch): 98.7% at 1.6 epochs, ends 98.82%;
      peak 0.005: ends 98.80%; 1 epoch instead of 2: ends 98.24%; batches of 256, peak 0.02: ends 98.58%
  8 and 16 5x5 filters, each followed by 2x2 max pooling, dense 100 (about 10 s an epoch): 98.7% at 1.15-1.5
      epochs, ends 99.00% (seed 1: 98.86%); peak 0.005: 98.90%; 1 epoch: 97.22%; batches of 256, peak 0.02: 98.50%
  the same with 3x3 kernels (about 6-7 s an epoch): 98.7% at 1.4 epochs, ends 98.82%; peak 0.005: 98.70%;
      peak 0.003: 98.56%; batches of 64, peak 0.005: 98.82%; 12 and 24 filters: ends 98.80%, no faster
  the seed's network with batch norm: ends 98.82%, at twice the cost of an epoch
  batch-norm momentum 0.9 instead of Keras's 0.99 (running statistics that follow the fast-moving weights
      sooner): pooled 5x5 8/16: 99.08% / 98.84% (seeds 0 / 1, against 99.00% / 98.86%); stride-2 16/32: 98.78% /
      98.92%; pooled 3x3 8/16: 98.7% at 1.4 epochs, ends 98.88%; the same with peak 0.005 and a warm-up of a
      tenth: 98.76%
Chosen: the pooled 3x3 8/16 network with momentum 0.9: among the networks cheap enough to reach the seed's
accuracy in half its time (98.7% after 1.4 epochs of about 6.5 s, against 1.7 epochs of 12 s), the best final
validation accuracy. Said plainly: the first choice was the pooled 5x5 network (the best validation accuracy,
99.08%), and the final benchmark measured it at 0.82 of the seed's time on the test set, because its epochs cost
10 s. The candidates were then compared again on validation by epochs to 98.7% times seconds an epoch, the cost
the first choice had ignored; so this choice was made after seeing one test result. A peak rate of 0.01 makes
the validation accuracy dip in the first half epoch (batch norm's running statistics lag the weights); lower
peaks did not end higher.
That pooled 3x3 network then measured 0.61 of the seed's time on the test set on a quiet machine (0.51 while the
machine was shared). Timing 60 steps of each part (1 thread, batches of 128) showed why: max pooling at 28x28 and
batch norm on the full-size maps cost most of a step (17 ms; without batch norm 9 ms; the seed's network 18 ms),
and the same network with stride-2 convolutions instead of pooling took 8 ms. Three stride-2 networks, all with
batch norm (momentum 0.9), dense 100-128, dropout 0.3, batches of 128 and one cycle to 0.01 over 2 epochs, compared
on validation (seeds 0 / 1; seconds to 98.8%, final accuracy; the pooled 3x3 network: 12.1 s / never, 98.88% /
98.72%, 14.6 s of training):
  12 5x5 and 24 3x3, dense 100: 6.4 s / 8.5 s, 98.98% / 98.78%, 9.4 s of training
  8 5x5 and 16 3x3, dense 100: 7.4 s / never, 98.78% / 98.54%, 7.7 s
  16 5x5 and 32 3x3, dense 128: 9.1 s / 8.9 s, 98.78% / 98.92%, 10.8 s
Chosen: 12 5x5 and 24 3x3 with stride 2, the fastest to 98.8% and the best final validation accuracy.

conv-batchnorm (the seed's 6/12/24 network with batch norm, batches of 100, seed 0, validation accuracy):
  Adam 0.003 decaying exponentially (the previous preset), 3 epochs: 98.87% on the test set, the issue's complaint
  exponential decay from 0.02 over 1,000 steps (the codelab's own schedule for this step): 98.86%; from 0.01: 98.84%
  one cycle to 0.01: 98.96% (batch-norm momentum 0.9: 98.98%); to 0.02: 99.02%; to 0.02, warm-up 0.1: 99.02%;
  to 0.02 with dropout 0.5: 99.00%; to 0.02 over 4 epochs: 99.30%
Chosen: one cycle to 0.02 over 4 epochs (about 50 s on one thread), 0.28 point above 3 epochs.

five-layer-sigmoid (validation, 10 epochs): SGD 0.3 94.48% (it sits at 11% through the first epoch, the slow
start the lesson is about), SGD 1.0 96.58%, SGD with momentum 0.9 at 0.1 96.80%, Adam 0.003 97.06% (the codelab's
own optimiser for this step, with no visible slow start). Kept: SGD 0.3, because the slow start is the lesson; on
the test set it has 94.7% after 10 epochs and 97.0% after 40, still short of the codelab's 97.9% (README).
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
            0.979,  # the codelab's script: Adam 0.003 for 10,000 steps (18 epochs); see the module's docstring
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
