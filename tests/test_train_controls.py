"""The Train page's control table: every entry edits a real config field, starts from the configs' defaults, is
kept across page visits, and gives links the same limits its widget has."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from dashboard import controls_spec, widgets
from dashboard.controls_spec import (
    CONTROL_KEYS,
    CONTROLS,
    CONV_LAYER_CONTROLS,
    DEFAULTS,
    LAYER_KEY_PREFIXES,
    MODEL_CONTROLS,
    NUMERIC_KINDS,
    TRAIN_CONTROLS,
    UNITS_CONTROL,
    URL_LIMITS,
    Control,
    control_values,
)
from mnist_models import share
from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.presets import DEFAULT_PRESET, PRESETS

TRAIN_PAGE = Path(__file__).resolve().parents[1] / "dashboard" / "app_pages" / "train.py"
FIELD_CONTROLS = ((ModelConfig, MODEL_CONTROLS), (TrainConfig, TRAIN_CONTROLS))
# Edited one layer at a time by the per-layer controls, not by one widget.
LIST_FIELDS = {"conv_layers", "hidden_units"}


def _field_names(cls: type) -> set[str]:
    return {item.name for item in dataclasses.fields(cls)}


def test_every_control_edits_a_real_config_field():
    for cls, controls in FIELD_CONTROLS:
        assert {control.key for control in controls} <= _field_names(cls), cls.__name__
    assert set(CONV_LAYER_CONTROLS) <= _field_names(ConvLayer)


def test_every_shared_field_has_exactly_one_control():
    for cls, controls in FIELD_CONTROLS:
        keys = [control.key for control in controls]
        assert len(keys) == len(set(keys))
        assert set(keys) == _field_names(cls) - LIST_FIELDS - share.NOT_SHARED, cls.__name__
    assert len(CONTROLS) == len(set(CONTROL_KEYS)) - 1, "one key per control, and the Preset box's"


def test_every_default_is_the_dataclass_default():
    for config, controls in ((ModelConfig(), MODEL_CONTROLS), (TrainConfig(), TRAIN_CONTROLS)):
        for control in controls:
            assert DEFAULTS[control.key] == getattr(config, control.key), control.key
            assert type(DEFAULTS[control.key]) is type(getattr(config, control.key)), control.key
    model = ModelConfig()
    assert DEFAULTS["hidden_count"] == len(model.hidden_units)
    assert DEFAULTS["net_type"] == ("Convolutional" if model.conv_layers else "Dense")
    assert set(DEFAULTS) == set(CONTROLS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_inside_its_controls(name):
    for key, value in control_values(*PRESETS[name].configs(), run_name=PRESETS[name].title).items():
        control = CONTROLS.get(key) or next(control for control in (UNITS_CONTROL, *CONV_LAYER_CONTROLS.values())
                                            if key.startswith(control.key))
        if control.kind in NUMERIC_KINDS:
            assert control.low <= value <= control.high, (key, value)
        elif control.options:
            assert value in control.options, (key, value)


class _RecordingState(dict):
    """A stand-in for st.session_state that remembers which keys were assigned."""

    def __init__(self, values):
        super().__init__(values)
        self.assigned = set()

    def __setitem__(self, key, value):
        self.assigned.add(key)
        super().__setitem__(key, value)


def test_every_control_key_is_kept_across_page_visits(monkeypatch):
    assert set(CONTROL_KEYS) == {"preset", *(control.key for control in CONTROLS.values())}
    assert {UNITS_CONTROL.key, *(control.key for control in CONV_LAYER_CONTROLS.values())} == set(LAYER_KEY_PREFIXES)
    # Every key a preset with both kinds of layers writes is assigned back by keep_controls.
    model, train = PRESETS["conv"].configs()
    values = {"preset": "conv", **control_values(model, train, run_name="conv"), "watch": "not a control"}
    state = _RecordingState(values)
    monkeypatch.setattr(widgets, "st", SimpleNamespace(session_state=state))
    widgets.keep_controls()
    assert state.assigned == set(values) - {"watch"}


def test_link_limits_come_from_the_table():
    numeric = [control for _, controls in FIELD_CONTROLS for control in controls if control.kind in NUMERIC_KINDS]
    for control in numeric:
        if control.checked_by_config:
            assert control.key not in URL_LIMITS
        else:
            assert URL_LIMITS[control.key] == (control.low, control.high)
    assert set(URL_LIMITS) <= {control.key for control in numeric}
    # The ranges links had before the table described them.
    assert dict(URL_LIMITS) == {"dropout_rate": (0.0, 0.9), "lr_decay": (0.0, 1.0), "min_learning_rate": (0.0, 1.0),
                                "lr_decay_steps": (1, 1_000_000), "learning_rate": (0.0, 100.0),
                                "warmup_fraction": (0.0, 0.9), "batch_norm_momentum": (0.0, 0.999)}


def test_the_train_page_uses_the_tables_link_limits():
    tree = ast.parse(TRAIN_PAGE.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "dashboard.controls_spec" for alias in node.names}
    assigned = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                for target in node.targets if isinstance(target, ast.Name)}
    assert "URL_LIMITS" in imported and "URL_LIMITS" not in assigned


@pytest.mark.parametrize("control", [control for _, controls in FIELD_CONTROLS for control in controls
                                     if control.kind in NUMERIC_KINDS], ids=lambda control: control.key)
def test_a_link_past_a_controls_range_is_refused(control):
    kept = getattr(PRESETS[DEFAULT_PRESET].configs()[control in TRAIN_CONTROLS], control.key)
    past = 1 if control.kind == "int" else 0.001
    for value in (control.low - past, control.high + past):
        shared = share.from_params({control.key: repr(value)}, limits=URL_LIMITS)
        assert len(shared.notes) == 1 and control.key in shared.notes[0], (value, shared.notes)
        config = shared.train if control in TRAIN_CONTROLS else shared.model
        assert getattr(config, control.key) == kept


def test_a_control_described_wrongly_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        Control("epochs", "Epochs", "dial")
    with pytest.raises(ValueError, match="lowest and a highest"):
        Control("epochs", "Epochs", "int", 5, 1)
    with pytest.raises(ValueError, match="needs its options"):
        Control("optimizer", "Optimizer", "select")


def test_the_table_imports_no_streamlit():
    tree = ast.parse(Path(controls_spec.__file__).read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(module.split(".")[0] == "streamlit" for module in modules)
