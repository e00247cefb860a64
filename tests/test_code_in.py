"""Tests for code_in (with code_eval, code_network, code_training) and compare: Keras code read back into configs
without running it; the codelab's solutions read; hostile code refused, with its line, and never executed; the
first difference from an exercise's step given as a hint."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest
from code_support import valid_pairs
from hypothesis import given, settings

from mnist_models import code_eval, code_in, code_network, code_training, code_values
from mnist_models.code_in import MAX_SOURCE_CHARS, CodeError, read_code
from mnist_models.code_out import keras_code, preset_code, preset_options
from mnist_models.compare import difference, layer_difference, training_difference
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import PRESETS, get_preset

EXAMPLES = settings().max_examples

# The codelab's Keras solutions, as a learner writes them in the practical's TO DO cells.
FIVE_LAYERS_SIGMOID = """
import tensorflow as tf

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.mnist.load_data()
x_train = x_train.reshape(60000, 784).astype('float32') / 255
x_test = x_test.reshape(10000, 784).astype('float32') / 255
y_train = tf.keras.utils.to_categorical(y_train, 10)
y_test = tf.keras.utils.to_categorical(y_test, 10)

# TO DO: five dense layers
model = tf.keras.Sequential([
    tf.keras.layers.Dense(200, activation='sigmoid', input_shape=(28*28,)),
    tf.keras.layers.Dense(100, activation='sigmoid'),
    tf.keras.layers.Dense(60, activation='sigmoid'),
    tf.keras.layers.Dense(30, activation='sigmoid'),
    tf.keras.layers.Dense(10, activation='softmax'),
])
model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.3), loss='categorical_crossentropy',
              metrics=['accuracy'])
tensorboard = tf.keras.callbacks.TensorBoard(log_dir='logs/five_layers', histogram_freq=1)
model.fit(x_train, y_train, batch_size=100, epochs=10, validation_data=(x_test, y_test), callbacks=[tensorboard])
"""

FIVE_LAYERS_RELU = """
model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(28*28,)),
    tf.keras.layers.Dense(200, activation='relu'),
    tf.keras.layers.Dense(100, activation='relu'),
    tf.keras.layers.Dense(60, activation='relu'),
    tf.keras.layers.Dense(30, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.003), loss='categorical_crossentropy',
              metrics=['accuracy'])
model.summary()
history = model.fit(x_train, y_train, batch_size=100, epochs=10, validation_data=(x_test, y_test),
                    callbacks=[tf.keras.callbacks.TensorBoard(log_dir='logs/relu', histogram_freq=1)])
"""

DROPOUT = """
from tensorflow import keras
from tensorflow.keras import layers

model = keras.Sequential()
model.add(layers.Flatten(input_shape=(28, 28)))
model.add(layers.Dense(200, activation='relu'))
model.add(layers.Dropout(0.25))
model.add(layers.Dense(100, activation='relu'))
model.add(layers.Dropout(0.25))
model.add(layers.Dense(60, activation='relu'))
model.add(layers.Dropout(0.25))
model.add(layers.Dense(30, activation='relu'))
model.add(layers.Dropout(0.25))
model.add(layers.Dense(10, activation='softmax'))
model.compile(optimizer=keras.optimizers.Adam(lr=0.005, decay=0.0001), loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=100, epochs=10, validation_data=(x_test, y_test),
          callbacks=[keras.callbacks.TensorBoard(log_dir='logs/dropout', histogram_freq=1)])
"""

CONVNET = """
model = tf.keras.Sequential([
    tf.keras.layers.Reshape(input_shape=(28*28,), target_shape=(28, 28, 1)),
    tf.keras.layers.Conv2D(kernel_size=5, filters=4, activation='relu', padding='same'),
    tf.keras.layers.Conv2D(kernel_size=5, filters=8, strides=2, activation='relu', padding='same'),
    tf.keras.layers.Conv2D(kernel_size=4, filters=12, strides=2, activation='relu', padding='same'),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(200, activation='relu'),
    tf.keras.layers.Dense(10, activation='softmax')
])
model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=100, epochs=3, validation_data=(x_test, y_test),
          callbacks=[tf.keras.callbacks.TensorBoard(log_dir='logs/conv', histogram_freq=1)])
"""

CHALLENGE_99 = """
import tensorflow as tf

model = tf.keras.Sequential([
    tf.keras.layers.Reshape(input_shape=(28*28,), target_shape=(28, 28, 1)),

    tf.keras.layers.Conv2D(filters=24, kernel_size=6, padding='same', use_bias=False),  # no bias before batch norm
    tf.keras.layers.BatchNormalization(scale=False, center=True),  # no scaling before "relu"
    tf.keras.layers.Activation('relu'),  # activation after batch norm

    tf.keras.layers.Conv2D(filters=48, kernel_size=5, padding='same', use_bias=False, strides=2),
    tf.keras.layers.BatchNormalization(scale=False, center=True),
    tf.keras.layers.Activation('relu'),

    tf.keras.layers.Conv2D(filters=64, kernel_size=4, padding='same', use_bias=False, strides=2),
    tf.keras.layers.BatchNormalization(scale=False, center=True),
    tf.keras.layers.Activation('relu'),

    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(200, use_bias=False),
    tf.keras.layers.BatchNormalization(scale=False, center=True),
    tf.keras.layers.Activation('relu'),
    tf.keras.layers.Dropout(0.3),  # dropout on the dense layer only

    tf.keras.layers.Dense(10, activation='softmax')
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01), loss='categorical_crossentropy',
              metrics=['accuracy'])
model.fit(x_train, y_train, batch_size=100, epochs=10, validation_data=(x_test, y_test),
          callbacks=[tf.keras.callbacks.TensorBoard(log_dir='logs/challenge', histogram_freq=1)])
"""

SOLUTIONS = {
    "five layers, sigmoid": (FIVE_LAYERS_SIGMOID, *PRESETS["five-layer-sigmoid"].configs()),
    "five layers, relu": (FIVE_LAYERS_RELU, *PRESETS["five-layer-relu-adam"].configs()),
    "dropout": (DROPOUT, ModelConfig(hidden_units=[200, 100, 60, 30], dropout_rate=0.25),
                TrainConfig(learning_rate=0.005, lr_schedule="inverse_time", lr_decay=0.0001, epochs=10)),
    "convnet": (CONVNET, PRESETS["conv"].configs()[0], TrainConfig(learning_rate=0.001, epochs=3)),
    "99% challenge": (CHALLENGE_99, ModelConfig(
        conv_layers=[ConvLayer(24, 6, 1), ConvLayer(48, 5, 2), ConvLayer(64, 4, 2)], hidden_units=[200],
        dropout_rate=0.3, batch_norm=True), TrainConfig(learning_rate=0.01, epochs=10)),
}


@pytest.mark.parametrize("name", SOLUTIONS)
def test_the_codelab_s_solutions_are_read(name):
    code, model, train = SOLUTIONS[name]
    assert read_code(code) == (model, train)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_comes_back_from_its_code(name):
    assert read_code(preset_code(name)) == get_preset(name).configs()


@settings(max_examples=3 * EXAMPLES)
@given(pair=valid_pairs())
def test_generated_configs_come_back_from_their_code(pair):
    model, train = pair
    code = keras_code(model, train, name="generated", mnist_npz="/data/mnist.npz")
    assert read_code(code) == (model, train)
    assert read_code(code.encode("utf-8")) == (model, train)


def test_the_cli_s_json_line_after_the_code_is_read_too():
    code = preset_code("conv") + '\n{"preset": "conv", "params": 5, "lines": 3}\n'
    assert read_code(code) == get_preset("conv").configs()


def test_unused_settings_and_fine_tuning_come_back():
    model = ModelConfig(hidden_units=[], activation="gelu", dropout_rate=0.2, batch_norm=True,
                        batch_norm_momentum=0.5, padding="valid")
    train = TrainConfig(optimizer="adamw", lr_decay=0.5, lr_decay_steps=7, min_learning_rate=0.0,
                        warmup_fraction=0.9, fine_tune_from="20261129-071713-softmax-f08e61", seed=42)
    assert read_code(keras_code(model, train)) == (model, train)


# Each would create CANARY (a file) if it ran: (code, words the refusal says, its line).
HOSTILE = [
    ("import os\nos.system('touch CANARY')", "Importing os", 1),
    ("import subprocess\nsubprocess.run(['touch', 'CANARY'])", "Importing subprocess", 1),
    ("from os import system\nsystem('touch CANARY')", "Importing os.system", 1),
    ("import keras\n__import__('os').system('touch CANARY')", "`__import__` is not allowed", 2),
    ("open('CANARY', 'w').write('ran')", "`open(...)` cannot be read", 1),
    ("exec(\"open('CANARY', 'w')\")", "`exec(...)` cannot be read", 1),
    ("eval(\"open('CANARY', 'w')\")", "`eval(...)` cannot be read", 1),
    ("getattr(__builtins__, 'open')('CANARY', 'w')", "`getattr(...)` cannot be read", 1),
    ("x = ().__class__.__base__.__subclasses__()", "is not allowed: names starting with an underscore", 1),
    ("import keras\nkeras.__dict__['utils']", "`__dict__` is not allowed", 2),
    ("import numpy as np\nnp.save('CANARY', 1)", "`numpy.save(...)` cannot be read", 2),
    ("import tensorflow as tf\ntf.io.write_file('CANARY', 'x')", "`tensorflow.io.write_file(...)` cannot", 2),
    ("import keras\nkeras.utils.get_file('CANARY', 'http://example.com')", "`keras.utils.get_file(...)`", 2),
    ("f = lambda: open('CANARY', 'w')", "a lambda is a function", 1),
    ("def lr_decay(epoch):\n    open('CANARY', 'w')\n    return 0.01", "Defining `lr_decay` is not read", 1),
    ("class Evil(keras.layers.Layer):\n    pass", "Defining `Evil` is not read", 1),
    ("def load_mnist():\n    open('CANARY', 'w')", "differs from the one the dashboard writes", 1),
    ("with open('CANARY', 'w') as f:\n    pass", "`with` blocks are not read", 1),
    ("for i in range(3):\n    open('CANARY', 'w')", "`for` loops are not read", 1),
    ("if True:\n    open('CANARY', 'w')", "`if` are not read", 1),
    ("x = [open('CANARY', 'w') for _ in 'a']", "comprehensions are not read", 1),
    ("model = keras.Sequential([layers.Lambda(lambda x: open('CANARY', 'w'))])", "keras.layers.Lambda(...)", 1),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\nmodel.save('CANARY')",
     "model.save(...) is not read", 2),
    ("x_train = 1\nprint(f\"{open('CANARY', 'w')}\")", "`open(...)` cannot be read", 2),
    ("from keras import *", "`import *` is not read", 1),
    ("import keras as __builtins__", "`__builtins__` is not allowed", 1),
    ("x = 10**10**10", "far too large", 1),
    ("x = 2**1000", "no setting of any network", 1),
    ("x = 'a' * 10**9", "Only numbers can be computed with", 1),
    ("x = 1" + "0" * 5000, "Exceeds the limit", 1),
    ("x = " + "[" * 200 + "]" * 200, "nested", 1),
    ("x = " + "-(" * 200 + "1" + ")" * 200, "nested", 1),
    ("x = " + "-" * 100_000 + "1", "nested too deeply", None),
    ("x = '" + "a" * 10_001 + "'", "far longer than any setting", 1),
    ("x = 1\n\x00open('CANARY', 'w')", "NUL", 2),
    ("x = " + repr("a" * 10_000_000), "far longer than a network's code", None),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
     "model.fit(open('CANARY', 'w'), y, callbacks=[keras.callbacks.TensorBoard(LOG_DIR)])", "`open(...)` cannot", 3),
]


@pytest.mark.parametrize(("code", "words", "line"), HOSTILE, ids=[f"hostile-{i}" for i in range(len(HOSTILE))])
def test_hostile_code_is_refused_with_its_line_and_never_runs(code, words, line, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "CANARY"
    code = code.replace("CANARY", str(canary))
    with pytest.raises(CodeError) as error:
        read_code(code)
    assert words in str(error.value), str(error.value)
    assert error.value.line == line
    assert "\n" not in str(error.value) and len(str(error.value)) < 600
    if line is not None:
        assert str(error.value).startswith(f"Line {line}: ")
    assert not canary.exists() and not list(tmp_path.iterdir()), "something ran"


def test_non_utf8_bytes_are_refused_at_their_line():
    with pytest.raises(CodeError, match=r"^Line 3: Byte 0xff is not UTF-8") as error:
        read_code(b"import keras\nx = 1\ny = '\xff\xfe'\n")
    assert error.value.line == 3


def test_over_long_code_is_refused_before_it_is_parsed(monkeypatch):
    def parse(*args, **kwargs):
        raise AssertionError("parsed")

    monkeypatch.setattr(code_in.ast, "parse", parse)
    with pytest.raises(CodeError, match="characters long"):
        read_code("#" * (MAX_SOURCE_CHARS + 1))
    with pytest.raises(CodeError, match="characters long"):
        read_code(b"#" * (MAX_SOURCE_CHARS + 1))


def test_the_readers_never_execute_compile_or_import_what_they_read():
    forbidden = {"exec", "eval", "compile", "__import__", "import_module", "run_path", "run_module", "loads", "load"}
    for module in (code_in, code_eval, code_network, code_training, code_values):
        tree = ast.parse(Path(module.__file__).read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
                    for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree)
                                                 if isinstance(node, ast.ImportFrom) and node.module}
        assert not imported & {"importlib", "runpy", "pickle", "marshal", "subprocess", "os", "builtins"}, imported
        called = {node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                  for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert not called & forbidden, f"{module.__name__} calls {called & forbidden}"


MISTAKES = [
    # (code, words of the refusal, line)
    ("model = keras.Sequential([layers.Dense(200, activation='relu'), layers.Dense(10)])", "the last layer", 1),
    ("model = keras.Sequential([layers.Dense(200, activation='relu'), layers.Dense(10, activation='relu')])",
     'layers.Dense(10, activation="softmax")', 1),
    ("model = keras.Sequential([layers.Dense(200, activation='relu'), layers.Dense(12, activation='softmax')])",
     "This is the last layer", 1),
    ("model = keras.Sequential([\n  keras.Input(shape=(28, 28)),\n  layers.Conv2D(4, 3, activation='relu'),\n"
     "  layers.Flatten(),\n  layers.Dense(10, activation='softmax')])", "put layers.Reshape", 3),
    ("model = keras.Sequential([\n  layers.Reshape((28, 28, 1)),\n  layers.Conv2D(4, 3, activation='relu'),\n"
     "  layers.Dense(10, activation='softmax')])", "put layers.Flatten()", 4),
    ("model = keras.Sequential([\n  layers.Reshape((28, 28, 1)),\n  layers.Conv2D(4, 3, activation='relu'),\n"
     "  layers.Dropout(0.2),\n  layers.Flatten(),\n  layers.Dense(10, activation='softmax')])", "Dropout follows", 4),
    ("model = keras.Sequential([\n  layers.Dense(200, activation='relu'),\n  layers.Dense(100, activation='tanh'),\n"
     "  layers.Dense(10, activation='softmax')])", "differs from the first's", 3),
    ("model = keras.Sequential([\n  layers.Dense(200, activation='relu'),\n  layers.Dropout(0.25),\n"
     "  layers.Dense(100, activation='relu'),\n  layers.Dense(10, activation='softmax')])", "dropout rate", 4),
    ("model = keras.Sequential([layers.Dense(200, activation='swish'), layers.Dense(10, activation='softmax')])",
     "'swish' is not one of this app's", 1),
    ("model = keras.Sequential([layers.LSTM(20), layers.Dense(10, activation='softmax')])",
     "this app's networks use Dense, Conv2D", 1),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model.compile(optimizer='nadam', loss='sparse_categorical_crossentropy')", "'nadam' is not one", 2),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\nmodel.compile(optimizer=keras.optimizers."
     "Adam(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.003, 1000, 0.5)), loss='mse')",
     "The loss is the cross-entropy", 2),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\nmodel.compile(optimizer=keras.optimizers."
     "Adam(learning_rate=keras.optimizers.schedules.ExponentialDecay(0.003, 1000, 0.5)),\n"
     "  loss='sparse_categorical_crossentropy')", "close to FlooredExponentialDecay(0.003, decay_steps=1443", 2),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
     "model.fit(x, y, epochs=5, callbacks=[keras.callbacks.LearningRateScheduler(lr_decay)])",
     "learning-rate schedules are objects here", 3),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
     "model.fit(x, y, epochs=0)", "Epochs must be a whole number from 1 to 200 (got 0)", 3),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')\n"
     "model.fit(x, y, validation_split=0.1)", "drop validation_split", 3),
    ("model = keras.Sequential([layers.Dense(5000, activation='relu'), layers.Dense(10, activation='softmax')])",
     "Hidden layer 1 needs between 1 and 4096 neurons", 1),
    ("TRAIN_SIZE = 59000\nmodel = keras.Sequential([layers.Dense(10, activation='softmax')])",
     "add up to more than the 60,000", 1),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\nmodel.fit(x, y)", "before model.fit", 2),
    ("import keras", "No keras.Sequential model found", None),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax')])\n"
     "model2 = keras.Sequential([layers.Dense(10, activation='softmax')])", "a second model", 2),
    ("model = keras.Sequential([layers.Conv2D(4, (3, 5), input_shape=(28, 28, 1)), layers.Flatten(), "
     "layers.Dense(10, activation='softmax')])", "kernels, strides and pools are square", 1),
    ("model = keras.Sequential([layers.Dense(10, activation='softmax', kernel_initializer='zeros')])",
     "`kernel_initializer` is not one of this app's settings", 1),
    ("model = keras.Sequential([layers.Dense(100, activation='relu'), layers.BatchNormalization(), "
     "layers.Dense(10, activation='softmax')])", "Batch norm comes between the layer and its activation", 1),
]


@pytest.mark.parametrize(("code", "words", "line"), MISTAKES, ids=[f"mistake-{i}" for i in range(len(MISTAKES))])
def test_typical_mistakes_are_refused_with_what_would_work(code, words, line):
    with pytest.raises(CodeError) as error:
        read_code("import keras\nfrom keras import layers\n" + code)
    assert words in str(error.value), str(error.value)
    assert error.value.line == (line + 2 if line else None), str(error.value)


def _five_layers(code_activation: str = "relu", units: tuple = (200, 100, 60, 30), extra: str = "") -> str:
    layers = "".join(f"    layers.Dense({size}, activation='{code_activation}'),\n{extra}" for size in units)
    return (f"from keras import layers\nmodel = keras.Sequential([\n    layers.Flatten(input_shape=(28, 28)),\n{layers}"
            "    layers.Dense(10, activation='softmax'),\n])\n")


@pytest.mark.parametrize(("code", "step", "hint"), [
    (_five_layers("sigmoid"), "five-layer-relu",
     "Layer 2 is Dense(200, sigmoid) but this step uses Dense(200, relu): change the activation."),
    (_five_layers(units=(200, 100, 50, 30)), "five-layer-relu",
     "Layer 4 is Dense(50, relu) but this step uses Dense(60, relu): change the number of neurons to 60."),
    (_five_layers(units=(200, 100, 60)), "five-layer-relu",
     "Layer 5 is Dense(10, softmax) but this step uses Dense(30, relu): add a hidden Dense layer before the output."),
    (_five_layers(), "five-layer-dropout",
     "Layer 3 is Dense(100, relu) but this step uses Dropout(0.25): add dropout (0.25) after the dense hidden layers."),
    (_five_layers(extra="    layers.Dropout(0.5),\n"), "five-layer-dropout",
     "Layer 3 is Dropout(0.5) but this step uses Dropout(0.25): set the dropout rate to 0.25."),
    (_five_layers(), "conv",
     "Layer 1 is Flatten() but this step uses Reshape(28, 28, 1): this step is a convolutional network: start with "
     "convolutional layers."),
    (CONVNET, "conv", None),
    (CONVNET.replace("kernel_size=4", "kernel_size=3"), "conv",
     "Layer 4 is Conv2D(12, 3x3, stride 2, same, relu) but this step uses Conv2D(12, 4x4, stride 2, same, relu): "
     "use a 4x4 kernel."),
    (CONVNET.replace("padding='same'", "padding='valid'"), "conv",
     "Layer 2 is Conv2D(4, 5x5, stride 1, valid, relu) but this step uses Conv2D(4, 5x5, stride 1, same, relu): "
     "use 'same' padding."),
    (CHALLENGE_99, "conv-batchnorm",
     "Layer 2 is Conv2D(24, 6x6, stride 1, same, no bias) but this step uses Conv2D(6, 6x6, stride 1, same, no bias): "
     "use 6 filters."),
    (CONVNET, "conv-batchnorm",
     "Layer 2 is Conv2D(4, 5x5, stride 1, same, relu) but this step uses Conv2D(6, 6x6, stride 1, same, no bias): "
     "turn batch norm on."),
])
def test_typical_mistakes_get_the_expected_hint(code, step, hint):
    model, _ = read_code(code)
    assert layer_difference(model, get_preset(step).model) == hint


def test_training_differences_are_hints_too():
    step = get_preset("five-layer-decay").train
    assert training_difference(step, step) is None
    assert training_difference(dataclasses.replace(step, optimizer="sgd"), step) == (
        "You train with SGD (plain gradient descent) but this step uses Adam: change the optimizer.")
    assert "this step's is exponential decay" in training_difference(
        dataclasses.replace(step, lr_schedule="constant"), step)
    assert training_difference(dataclasses.replace(step, min_learning_rate=0.001), step) == (
        "Your learning-rate floor is 0.001 but this step's is 0.0001: change it.")
    # A setting the step's schedule does not use is no difference.
    assert training_difference(dataclasses.replace(step, warmup_fraction=0.5), step) is None
    model, train = read_code(FIVE_LAYERS_RELU)
    assert difference(model, get_preset("five-layer-relu-adam").model, train,
                      get_preset("five-layer-relu-adam").train) is None
    assert difference(model, get_preset("five-layer-decay").model, train, step).startswith("Your learning rate is")


def test_shapes_and_parameters_count_in_the_comparison():
    mine = ModelConfig(conv_layers=[ConvLayer(4, 5, 1, pool_size=2)], hidden_units=[])
    step = ModelConfig(conv_layers=[ConvLayer(4, 5, 1)], hidden_units=[])
    assert layer_difference(mine, step) == ("Layer 3 is MaxPooling2D(2x2) but this step uses Flatten(): remove this "
                                            "max pooling.")
    assert layer_difference(step, step) is None
    assert re.search(r"stops after layer|is not in this step|Layer \d", layer_difference(ModelConfig(), step))


def test_error_messages_name_preset_code_lines_exactly():
    # A mistake in the code the dashboard wrote points at the very line that holds it.
    code = preset_code("conv").replace("EPOCHS = 3", "EPOCHS = 500")
    line = code.splitlines().index("EPOCHS = 500  # passes over the training images") + 1
    with pytest.raises(CodeError) as error:
        read_code(code)
    assert error.value.line == line and "Epochs must be" in error.value.reason
    assert preset_options("conv")["name"] == "conv"
