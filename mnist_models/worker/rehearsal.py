"""A ready worker's rehearsal: one tiny training step before any job is known, so the learner's first batch is quick.

Importing Keras is not all a fresh process pays before its first point: creating its first layers (TensorFlow's
eager context, its kernels) took 0.5-0.8 s here and tracing its first training step 1.3-2.0 s, on top of the
network's own tracing. A worker waiting for a job has that time to spare; once it has built, trained and asked
a small network once, the learner's network builds and takes its first step about twice as fast.
"""

from __future__ import annotations

import tempfile

import numpy as np

from mnist_models.config import ConvLayer, ModelConfig, TrainConfig

REHEARSAL_IMAGES = 8  # one batch of this many random images: the step is traced and run once
# Every kind of layer the presets use (convolution, batch norm, dense, dropout), kept tiny: a few thousand weights.
REHEARSAL_MODEL = ModelConfig(conv_layers=[ConvLayer(filters=2, kernel_size=3, stride=2)], hidden_units=[8],
                              dropout_rate=0.25, batch_norm=True)
REHEARSAL_TRAIN = TrainConfig(optimizer="adam", learning_rate=0.001, batch_size=REHEARSAL_IMAGES, epochs=1)


def rehearse() -> float:
    """Build, compile, train for one batch and ask a tiny network (about 1 s of a core, once per process); returns
    the loss of that one step. Nothing is kept: the job's own seed is set afterwards, so its run is unchanged."""
    from mnist_models.worker import models

    images = np.random.default_rng(0).random((REHEARSAL_IMAGES, 28, 28), dtype=np.float32)  # (8, 28, 28)
    labels = np.arange(REHEARSAL_IMAGES) % 10
    model = models.compile_model(models.build_model(REHEARSAL_MODEL), REHEARSAL_TRAIN)
    history = model.fit(images, labels, batch_size=REHEARSAL_IMAGES, epochs=1, verbose=0, shuffle=False)
    model.predict_on_batch(images)  # (8, 10): the compiled predict step the progress reports use
    _rehearse_tensorboard(model)
    # No keras.backend.clear_session() here: it would also empty TensorFlow's kernel cache, the point of this.
    return float(history.history["loss"][-1])


def _rehearse_tensorboard(model) -> None:
    """Write a scalar and the weights' histograms into a throwaway event file, as the insight recorder does for
    the weights as initialised while the job's first batch runs (its first time, in a fresh process, took that
    batch 0.15 s longer: TensorBoard's summary code being imported and traced beside it)."""
    import tensorflow as tf

    from mnist_models.worker.insight_recorder import weight_arrays

    with tempfile.TemporaryDirectory(prefix="mnist-rehearsal-") as folder:
        writer = tf.summary.create_file_writer(folder)
        with writer.as_default(step=0):
            tf.summary.scalar("loss/train", 1.0)
            for layer, kind, values in weight_arrays(model):
                tf.summary.histogram(f"{layer}/{kind}", values)
        writer.close()
