"""Tests for code_out and code_notebook: the Keras code of a network builds exactly the planned network, runs
standalone, splits MNIST as the project does, and every config field is in it; the notebook runs in Jupyter."""

from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from code_support import shrink, small_mnist, valid_pairs
from hypothesis import example, given, settings

from mnist_models import code_templates
from mnist_models.architecture import count_params, plan_layers
from mnist_models.code_notebook import notebook, write_notebook
from mnist_models.code_out import keras_code, preset_code, preset_options, sections
from mnist_models.config import ConfigError, ConvLayer, ModelConfig, TrainConfig
from mnist_models.data import BUNDLED_PATH, load_mnist, make_split
from mnist_models.presets import PRESETS, get_preset

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = settings().max_examples
BUILT = 3 * EXAMPLES  # generated configs whose model part runs (build only): 300 in the ci profile
TRAINED = EXAMPLES // 4  # generated configs whose whole script runs a few batches: 25 in the ci profile


def _expected(model: ModelConfig) -> list[list]:
    return [[spec.name, spec.kind, list(spec.output_shape), spec.params] for spec in plan_layers(model)]


def _collect(count: int, seed_examples: list | None = None) -> list[tuple[ModelConfig, TrainConfig]]:
    pairs = []

    @settings(max_examples=count)
    @given(pair=valid_pairs())
    def draw(pair):
        pairs.append(pair)

    for pair in seed_examples or []:
        draw = example(pair=pair)(draw)
    draw()
    unique = {}
    for model, train in pairs:
        unique.setdefault(repr((model, train)), (model, train))
    return list(unique.values())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every preset's script and TRAINED generated scripts, shrunk to a few batches, and BUILT generated scripts'
    settings and model parts, all run in one subprocess; their results by job name."""
    folder = tmp_path_factory.mktemp("code")
    mnist = small_mnist(folder)
    jobs, expected = [], {}

    def add(name, model, train, code):
        jobs.append({"name": name, "code": code})
        expected[name] = (model, train)

    for name in PRESETS:
        model, train = get_preset(name).configs()
        add(f"preset-{name}", model, train,
            shrink(preset_code(name, mnist_npz=str(mnist), log_dir=str(folder / "logs" / name))))
    edge = [(ModelConfig(conv_layers=[ConvLayer(3, 28, 1, "tanh", 1)], padding="valid", hidden_units=[],
                         activation="elu", dropout_rate=0.5, batch_norm=True), TrainConfig(optimizer="rmsprop"))]
    for index, (model, train) in enumerate(_collect(TRAINED, edge)):
        add(f"trained-{index}", model, train, shrink(keras_code(
            model, train, mnist_npz=str(mnist), log_dir=str(folder / "logs" / f"t{index}"))))
    for index, (model, train) in enumerate(_collect(BUILT)):
        parts = sections(model, train, mnist_npz=str(mnist))
        add(f"built-{index}", model, train, parts[0].code + parts[2].code)
    (folder / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([sys.executable, str(ROOT / "tests" / "code_runner.py"), str(folder / "jobs.json"),
                    str(folder / "results.json")], check=True, timeout=1500, cwd=folder)
    results = json.loads((folder / "results.json").read_text())
    return {job["name"]: (result, *expected[job["name"]]) for job, result in zip(jobs, results, strict=True)}


def _check_runs(runs, prefix: str, *, trained: bool) -> int:
    checked = 0
    for name, (result, model, train) in runs.items():
        if not name.startswith(prefix):
            continue
        assert "error" not in result, f"{name} ({model}, {train}) failed:\n{result['error']}"
        assert result["layers"] == _expected(model), name
        assert result["params"] == count_params(model), name
        if trained:
            assert result["epochs"] == 1 and result["validated"], name
            assert result["printed"][0].startswith("Test accuracy: "), result["printed"]
        checked += 1
    return checked


@pytest.mark.slow
def test_every_preset_s_script_builds_the_planned_network_and_trains(runs):
    assert _check_runs(runs, "preset-", trained=True) == len(PRESETS)


@pytest.mark.slow
def test_generated_configs_scripts_build_the_planned_network_and_train(runs):
    assert _check_runs(runs, "trained-", trained=True) >= TRAINED // 2


@pytest.mark.slow
def test_hundreds_of_generated_models_have_the_planned_shapes_and_parameters(runs):
    assert _check_runs(runs, "built-", trained=False) >= BUILT // 2


def test_the_data_part_splits_mnist_as_the_project_does():
    model, train = get_preset("conv-bigger-dropout").configs()
    parts = sections(model, train, mnist_npz=str(BUNDLED_PATH))
    namespace = {}
    exec(parts[0].code + parts[1].code, namespace)  # our own generated code: the settings and the data
    split = make_split(load_mnist(), train.train_size, train.validation_size)
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        assert np.array_equal(namespace[name], getattr(split, name)), name
        assert namespace[name].dtype == getattr(split, name).dtype, name


def test_the_schedules_give_the_project_s_rates():
    import keras

    from mnist_models.worker import models

    namespace = {"keras": keras, "np": np}
    exec(code_templates.source("FlooredExponentialDecay") + code_templates.source("OneCycle"), namespace)
    train = TrainConfig(learning_rate=0.02, lr_schedule="one_cycle", min_learning_rate=0.0001, warmup_fraction=0.2,
                        epochs=2, train_size=5000)
    pairs = [(namespace["FlooredExponentialDecay"](0.02, 700, 0.0001),
              models.FlooredExponentialDecay(0.02, 700, 0.0001)),
             (namespace["OneCycle"](0.02, 0.0001, train.total_steps, 0.2),
              models.OneCycle(0.02, 0.0001, train.total_steps, 0.2))]
    for ours, project in pairs:
        for step in (0, 1, 17, 20, 50, 99, 100):
            assert float(ours(step)) == pytest.approx(float(project(step)), rel=1e-6)
    for step in (0, 20, 60, train.total_steps):
        assert float(pairs[1][0](step)) == pytest.approx(train.learning_rate_at(step), rel=1e-5)


@pytest.mark.parametrize("name", ["five-layer-dropout", "conv-batchnorm"])
def test_the_script_s_network_starts_from_the_dashboard_s_very_weights(name):
    import keras

    from mnist_models.worker.models import build_model

    model, train = get_preset(name).configs()
    keras.utils.set_random_seed(train.seed)
    dashboard = build_model(model)
    parts = sections(model, train)
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):  # model.summary()
        exec(parts[0].code + parts[2].code, namespace)  # our own generated code: settings and model
    weights = namespace["model"].get_weights()
    assert len(weights) == len(dashboard.get_weights())
    assert all(np.array_equal(ours, theirs) for ours, theirs in zip(weights, dashboard.get_weights(), strict=True))


def test_the_code_is_in_the_codelab_s_style():
    model, train = get_preset("five-layer-dropout").configs()
    code = keras_code(model, train, name="five-layer-dropout")
    for piece in ("import keras\n", "import numpy as np\n", "from keras import layers\n", "MNIST_NPZ = None\n",
                  "keras.Sequential(", 'layers.Dense(200, activation="relu", name="dense1")',
                  'layers.Dropout(0.25, name="dropout1")', 'layers.Dense(10, activation="softmax", name="output")',
                  "keras.utils.set_random_seed(SEED)", "keras.optimizers.Adam(learning_rate=learning_rate)",
                  "FlooredExponentialDecay(0.005, decay_steps=2000, floor=0.0001)", "validation_data=(x_val, y_val)",
                  "batch_size=BATCH_SIZE", "epochs=EPOCHS", "keras.callbacks.TensorBoard(LOG_DIR, histogram_freq=1)",
                  'LOG_DIR = "logs/five-layer-dropout"', "model.evaluate(x_test, y_test"):
        assert piece in code, piece
    compile(code, "five-layer-dropout.py", "exec")  # valid Python
    inverse = keras_code(model, TrainConfig(optimizer="momentum", lr_schedule="inverse_time", lr_decay=0.002))
    assert "keras.optimizers.schedules.InverseTimeDecay(0.003, decay_steps=1, decay_rate=0.002)" in inverse
    assert "keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9)" in inverse


def test_batch_norm_layers_mirror_the_project_s():
    code = preset_code("fast-99")
    assert 'layers.Conv2D(filters=12, kernel_size=5, strides=2, padding="same", use_bias=False, name="conv1")' in code
    assert 'layers.BatchNormalization(momentum=0.9, name="conv1_bn")' in code
    assert 'layers.Activation("relu", name="conv1_act")' in code
    assert "OneCycle(peak=0.01, floor=0.0001, total_steps=steps_per_epoch * EPOCHS, warmup_fraction=0.2)" in code
    pooled = keras_code(ModelConfig(conv_layers=[ConvLayer(4, 3, 1, "tanh", 2)], padding="valid"), TrainConfig())
    assert 'layers.MaxPooling2D(pool_size=2, name="conv1_pool")' in pooled
    assert 'padding="valid", activation="tanh"' in pooled


def test_what_keras_cannot_say_is_said_in_comments_and_constants():
    model = ModelConfig(hidden_units=[], activation="tanh", dropout_rate=0.3, padding="valid")
    train = TrainConfig(lr_decay=0.01, lr_decay_steps=300, min_learning_rate=0.001, warmup_fraction=0.5,
                        fine_tune_from="20261129-071713-softmax-f08e61")
    code = keras_code(model, train)
    for line in ('ACTIVATION = "tanh"', "DROPOUT_RATE = 0.3", 'PADDING = "valid"', "LR_DECAY = 0.01",
                 "LR_DECAY_STEPS = 300", "MIN_LEARNING_RATE = 0.001", "WARMUP_FRACTION = 0.5",
                 'FINE_TUNE_FROM = "20261129-071713-softmax-f08e61"'):
        assert f"\n{line}  #" in code or f"\n{line}\n" in code, line
    assert "starts from new weights" in code and "scores the first 1,000 validation images 5 times" in code
    # Fields at their defaults need no constant: they come back as defaults.
    assert "ACTIVATION" not in preset_code("softmax") and "LR_DECAY" not in preset_code("softmax")


def test_invalid_configs_are_refused_with_the_config_s_own_message():
    with pytest.raises(ConfigError, match="Dropout rate"):
        keras_code(ModelConfig(dropout_rate=1.5), TrainConfig())
    with pytest.raises(ValueError, match="Unknown preset"):
        preset_code("no-such-preset")


def test_odd_names_and_paths_stay_valid_python():
    code = keras_code(ModelConfig(), TrainConfig(), name='a "quoted"\\name\nwith lines',
                      about='say """hi"""', mnist_npz="C:\\data\\mnist 'x'.npz", log_dir="logs/é\u2028")
    namespace = {}
    compile(code, "odd.py", "exec")
    exec(code.split("\n# Data\n")[0], namespace)  # our own generated settings: the imports and constants
    assert namespace["MNIST_NPZ"] == "C:\\data\\mnist 'x'.npz"
    assert namespace["LOG_DIR"] == "logs/é\u2028"


def test_the_notebook_explains_each_part_and_holds_the_code():
    model, train = get_preset("conv").configs()
    book = notebook(model, train, **preset_options("conv"))
    nbformat.validate(book)
    kinds = [cell.cell_type for cell in book.cells]
    assert kinds == ["markdown", "code"] * 6
    assert book.cells[0].source.startswith("# conv: the Keras code")
    assert "| conv1 | Conv2D | (batch, 28, 28, 4) | 104 |" in book.cells[4].source
    code = "\n".join(cell.source for cell in book.cells if cell.cell_type == "code")
    assert "model.fit(" in code and "FlooredExponentialDecay" in code
    assert book.metadata.kernelspec.name == "python3"


def test_write_notebook_is_atomic_and_wants_ipynb(tmp_path):
    model, train = get_preset("softmax").configs()
    path = tmp_path / "softmax.ipynb"
    assert write_notebook(path, model, train) == 12
    assert nbformat.read(path, as_version=4).cells[1].source.startswith("import keras")
    assert [item.name for item in tmp_path.iterdir()] == ["softmax.ipynb"]
    with pytest.raises(ValueError, match=r"\.ipynb"):
        write_notebook(tmp_path / "softmax.py", model, train)


@pytest.mark.slow
def test_a_preset_s_notebook_runs_end_to_end_in_jupyter(tmp_path):
    from nbclient import NotebookClient

    model, train = get_preset("five-layer-relu-adam").configs()
    train.epochs, train.train_size, train.validation_size = 1, 1000, 200
    book = notebook(model, train, mnist_npz=str(BUNDLED_PATH), log_dir=str(tmp_path / "logs"))
    NotebookClient(book, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [output for cell in book.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs)
    accuracy = float(text.split("Test accuracy: ")[1].split("%")[0])
    assert 50 < accuracy <= 100 and math.isfinite(accuracy)  # 1,000 images, one epoch: well above chance
    assert any((tmp_path / "logs").rglob("*.tfevents.*")), "TensorBoard wrote nothing"
