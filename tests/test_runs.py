"""Tests for mnist_models.store.runs: round trips, atomic writes, interrupted runs, corrupted folders, safe ids."""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
import sys
import time

import pytest

from mnist_models.config import ConvLayer, ModelConfig, TrainConfig
from mnist_models.store.run_info import STALE_AFTER_SECONDS
from mnist_models.store.runs import (
    NotYourRunError,
    RunLimitError,
    RunNotFoundError,
    RunStore,
    write_atomic,
    write_json_atomic,
)

HISTORY = {
    "train": [{"epoch": 0.5, "step": 5, "loss": 1.25, "accuracy": 0.5}, {"epoch": 1.0, "step": 10, "loss": 0.5,
                                                                         "accuracy": 0.875}],
    "validation": [{"epoch": 1.0, "step": 10, "loss": 0.625, "accuracy": 0.75}],
    "test": [{"epoch": 1.0, "step": 10, "loss": 0.75, "accuracy": 0.8125}],
}


@pytest.fixture
def store(runs_dir) -> RunStore:
    store = RunStore()
    assert store.root == runs_dir
    return store


def _create(store: RunStore, **kwargs) -> str:
    kwargs.setdefault("preset", "softmax")
    return store.create(ModelConfig(hidden_units=[]), TrainConfig(epochs=3), **kwargs)


def _edit_meta(store: RunStore, run_id: str, **values) -> None:
    path = store.root / run_id / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(values)
    path.write_text(json.dumps(meta))


def _leftovers(folder: pathlib.Path) -> list[str]:
    return [path.name for path in folder.iterdir() if path.name.startswith(".") or "tmp" in path.name]



def test_default_root_follows_the_environment(runs_dir, monkeypatch):
    assert RunStore().root == runs_dir
    monkeypatch.delenv("MNIST_RUNS_DIR")
    assert RunStore().root == pathlib.Path("runs")


def test_create_get_list_update(store):
    before = time.time()
    run_id = store.create(ModelConfig(hidden_units=[]), TrainConfig(epochs=3), preset="softmax", name="My run",
                          device="CPU (2 threads)", params=7850)
    assert run_id.split("-")[2] == "softmax"
    info = store.get(run_id)
    assert info.run_id == run_id
    assert info.path == store.root / run_id
    assert (info.name, info.preset, info.status) == ("My run", "softmax", "starting")
    assert (info.device, info.params, info.epochs, info.epochs_completed) == ("CPU (2 threads)", 7850, 3, 0)
    assert before <= info.created <= time.time()
    assert info.finished is None and info.test_accuracy is None and info.test_loss is None and info.error is None
    assert not info.has_model
    assert store.list() == [info]

    finished = time.time()
    store.update(run_id, status="completed", epochs_completed=3, test_accuracy=0.9125, test_loss=0.3,
                 finished=finished, seconds=12.5)
    info = store.get(run_id)
    assert (info.status, info.epochs_completed, info.test_accuracy, info.test_loss) == ("completed", 3, 0.9125, 0.3)
    assert (info.finished, info.seconds) == (finished, 12.5)
    assert info.label == "My run · softmax · 91.25% · completed"


def test_list_is_newest_first(store):
    first = _create(store, name="first")
    second = _create(store, name="second")
    _edit_meta(store, first, created=1000.0)
    _edit_meta(store, second, created=2000.0)
    assert [info.run_id for info in store.list()] == [second, first]
    assert first != second


def test_empty_store(store):
    assert not store.root.exists()
    assert store.list() == []


def test_history_round_trip(store):
    run_id = _create(store)
    assert store.load_history(run_id) == {"train": [], "validation": [], "test": []}
    store.update(run_id, history=HISTORY)
    assert store.load_history(run_id) == HISTORY
    # An older file without some curves still loads.
    (store.root / run_id / "history.json").write_text(json.dumps({"train": HISTORY["train"]}))
    assert store.load_history(run_id) == {"train": HISTORY["train"], "validation": [], "test": []}


def test_configs_round_trip(store):
    model = ModelConfig(conv_layers=[ConvLayer(6, 6, 1), ConvLayer(12, 5, 2)], hidden_units=[200],
                        dropout_rate=0.35, batch_norm=True)
    train = TrainConfig(optimizer="rmsprop", learning_rate=0.002, lr_schedule="inverse_time", epochs=4, seed=5)
    run_id = store.create(model, train, preset="conv")
    assert store.load_configs(run_id) == (model, train)


def test_non_finite_numbers_are_stored_as_null(store, tmp_path):
    path = tmp_path / "values.json"
    write_json_atomic(path, {"loss": float("nan"), "points": [{"loss": float("inf")}, {"loss": 0.5}], "n": 3})
    assert json.loads(path.read_text()) == {"loss": None, "points": [{"loss": None}, {"loss": 0.5}], "n": 3}
    run_id = _create(store)
    store.update(run_id, test_loss=float("nan"))
    assert store.get(run_id).test_loss is None


def test_save_model_writes_model_keras(store):
    import keras

    from mnist_models.worker.models import build_model

    run_id = _create(store)
    with pytest.raises(RunNotFoundError, match="no saved model"):
        store.model_path(run_id)
    model = build_model(ModelConfig(hidden_units=[]))
    store.save_model(run_id, model)
    assert store.get(run_id).has_model
    assert store.model_path(run_id) == store.root / run_id / "model.keras"
    assert _leftovers(store.root / run_id) == []
    loaded = keras.saving.load_model(store.model_path(run_id), safe_mode=True)
    assert loaded.count_params() == 7850



class _HalfWriter:
    """A file handle that writes the first half of the data, then fails as a full disk would."""

    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()

    def write(self, data):
        self.handle.write(data[: len(data) // 2])
        self.handle.flush()
        raise OSError(28, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)


@pytest.fixture
def half_writes(monkeypatch):
    """Make every write to a temp file stop half-way with an error; the written halves are recorded."""
    real_open = pathlib.Path.open
    attempted: list[pathlib.Path] = []

    def open_half(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        if "w" in mode and self.name.endswith(".tmp"):
            attempted.append(self)
            return _HalfWriter(handle)
        return handle

    monkeypatch.setattr(pathlib.Path, "open", open_half)
    return attempted


def test_write_interrupted_half_way_keeps_the_previous_file(tmp_path, half_writes):
    path = tmp_path / "history.json"
    path.write_bytes(b"previous state")
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"a much longer new state that will not fit")
    assert half_writes, "the write did not go through a temp file"
    assert path.read_bytes() == b"previous state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]


def test_store_update_interrupted_half_way_keeps_the_run_readable(store, monkeypatch):
    run_id = _create(store, name="safe")
    store.update(run_id, history=HISTORY, epochs_completed=1)
    folder = store.root / run_id
    files_before = {path.name: path.read_bytes() for path in folder.iterdir()}

    real_open = pathlib.Path.open

    def open_half(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return _HalfWriter(handle) if "w" in mode and self.name.endswith(".tmp") else handle

    monkeypatch.setattr(pathlib.Path, "open", open_half)
    with pytest.raises(OSError):
        store.update(run_id, history={"train": HISTORY["train"] * 100, "validation": [], "test": []},
                     epochs_completed=2)
    monkeypatch.undo()
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == files_before
    assert store.get(run_id).epochs_completed == 1
    assert store.load_history(run_id) == HISTORY



def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_live_run_is_starting_until_its_worker_reports(store):
    run_id = _create(store)
    assert store.get(run_id).status == "starting"
    store.update(run_id, status="running")
    assert store.get(run_id).status == "running"


@pytest.mark.parametrize("status", ["running", "stopping"])
def test_run_of_a_dead_process_is_interrupted_with_its_curves(store, status):
    run_id = _create(store)
    store.update(run_id, history=HISTORY, status=status, pid=_dead_pid(), epochs_completed=1, test_accuracy=0.8)
    info = store.get(run_id)
    assert info.status == "interrupted"
    assert [item.status for item in store.list()] == ["interrupted"]
    assert info.epochs_completed == 1 and info.test_accuracy == 0.8
    assert store.load_history(run_id) == HISTORY
    # An interrupted run is no longer training, so it may be deleted.
    store.delete(run_id, teacher=True)
    assert store.list() == []


def test_finished_run_of_a_dead_process_keeps_its_status(store):
    run_id = _create(store)
    store.update(run_id, status="completed", pid=_dead_pid())
    assert store.get(run_id).status == "completed"


def test_stale_heartbeat_is_interrupted(store):
    run_id = _create(store)
    store.update(run_id, history=HISTORY)
    # The pid is alive (it is this process), but the run has been silent far longer than a live run can be.
    _edit_meta(store, run_id, pid=os.getpid(), heartbeat=time.time() - 10 * STALE_AFTER_SECONDS)
    assert store.get(run_id).status == "interrupted"
    assert store.load_history(run_id) == HISTORY
    # A fresh heartbeat from another machine (whose pids mean nothing here) counts as alive.
    _edit_meta(store, run_id, host="another-machine", pid=_dead_pid(), heartbeat=time.time())
    assert store.get(run_id).status == "starting"


def test_meta_without_status_is_interrupted(store):
    run_id = _create(store)
    path = store.root / run_id / "meta.json"
    meta = json.loads(path.read_text())
    del meta["status"]
    path.write_text(json.dumps(meta))
    assert store.get(run_id).status == "interrupted"



@pytest.mark.parametrize(
    "meta_text",
    ["{not json", "", "[1, 2, 3]", None],
    ids=["garbage", "empty", "list", "no-meta"],
)
def test_corrupted_folder_is_skipped_with_a_warning(store, caplog, meta_text):
    good = _create(store, name="good")
    broken = store.root / "20240101-120000-broken-abcdef"
    broken.mkdir()
    if meta_text is not None:
        (broken / "meta.json").write_text(meta_text)
    (store.root / "notes").mkdir()  # not a run folder: ignored silently
    (store.root / "README.txt").write_text("hello")
    with caplog.at_level(logging.WARNING, logger="mnist_models.store.runs"):
        listed = store.list()
    assert [info.run_id for info in listed] == [good]
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert broken.name in warnings[0].getMessage()


@pytest.mark.parametrize("field", ["created", "params", "test_accuracy", "epochs", "finished", "name", "preset"])
def test_wrongly_typed_fields_read_as_missing(store, field):
    run_id = _create(store, name="typed")
    store.update(run_id, status="completed", test_accuracy=0.9)
    _edit_meta(store, run_id, **{field: {"a": "abc"}})
    [info] = store.list()
    assert info.run_id == run_id and info.status == "completed"
    assert isinstance(info.label, str)
    assert isinstance(info.created, float) and isinstance(info.params, int)
    defaults = {"created": 0.0, "params": 0, "test_accuracy": None, "epochs": 0, "finished": None,
                "name": run_id, "preset": None}
    assert getattr(info, field) == defaults[field], f"a damaged {field} reads as its default"
    if field != "test_accuracy":
        assert info.test_accuracy == 0.9, "the other fields are still read"
    progress = store.progress(run_id)
    assert progress.status == "completed"


def test_corrupted_run_raises_a_clear_error_when_asked_for_directly(store):
    run_id = _create(store)
    (store.root / run_id / "meta.json").write_text("{not json")
    with pytest.raises(ValueError):
        store.get(run_id)



@pytest.mark.parametrize(
    "run_id",
    ["../x", "..", ".", "", "/etc", "a/b", "../20240101-120000-softmax-abcdef", "20240101-120000-Soft-abcdef",
     "20240101-120000-softmax-abcdef/../../x", "20240101-120000-softmax-abcdef\n", None, 42],
)
def test_invalid_run_ids_are_refused(store, run_id):
    # Something that looks like a run sits just outside the store: an id must never reach it.
    outside = store.root.parent / "x"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "meta.json").write_text(json.dumps({"status": "completed", "created": 1.0}))
    _create(store)
    for method in (store.get, store.folder, store.load_history, store.load_configs, store.model_path,
                   store.delete):
        with pytest.raises(RunNotFoundError):
            method(run_id)
    with pytest.raises(RunNotFoundError):
        store.update(run_id, status="completed")
    assert outside.exists()


def test_unknown_but_well_formed_id(store):
    _create(store)
    with pytest.raises(RunNotFoundError, match="There is no run"):
        store.get("20240101-120000-softmax-abcdef")


def test_preset_names_become_safe_slugs(store):
    run_id = _create(store, preset="My Preset / ../..!")
    assert run_id.split("-", 2)[2].rsplit("-", 1)[0] == "my-preset"
    assert store.get(run_id).preset == "My Preset / ../..!"
    custom = store.create(ModelConfig(), TrainConfig())
    assert "-custom-" in custom
    assert store.get(custom).name == "Custom network"



def test_delete_refuses_a_running_run(store):
    run_id = _create(store, name="busy")
    with pytest.raises(ValueError, match="still training"):
        store.delete(run_id, teacher=True)
    assert store.get(run_id).status == "starting"
    store.update(run_id, status="stopped")
    store.delete(run_id, teacher=True)
    assert not (store.root / run_id).exists()
    with pytest.raises(RunNotFoundError):
        store.get(run_id)


def test_names_are_cleaned_on_create_and_rename(store):
    run_id = _create(store, name="\n  two \t words \x1b[31m")
    assert store.get(run_id).name == "two words [31m"
    store.rename(run_id, "  renamed\r\nrun " + "y" * 100, teacher=True)
    name = store.get(run_id).name
    assert name.startswith("renamed run yyy") and len(name) == 80
    store.rename(run_id, "   ", teacher=True)
    assert store.get(run_id).name == name
    # Without a name, the preset names the run.
    assert store.get(_create(store, name=None, preset="conv")).name == "conv"


def test_only_the_owner_or_a_teacher_may_rename_or_delete(store):
    mine = _create(store, owner="ann", status="completed", name="ann's run")
    theirs = _create(store, owner="bob", status="completed", name="bob's run")
    command_line = _create(store, owner=None, status="completed", name="from the command line")
    for run_id in (theirs, command_line):
        with pytest.raises(NotYourRunError, match="only its owner, or a teacher"):
            store.rename(run_id, "hijacked", owner="ann")
        with pytest.raises(NotYourRunError):
            store.delete(run_id, owner="ann")
    with pytest.raises(NotYourRunError):
        store.delete(mine, owner=None)
    assert {info.name for info in store.list()} == {"ann's run", "bob's run", "from the command line"}
    store.rename(mine, "renamed by ann", owner="ann")
    store.rename(theirs, "renamed by the teacher", owner="ann", teacher=True)
    assert {store.get(mine).name, store.get(theirs).name} == {"renamed by ann", "renamed by the teacher"}
    store.delete(mine, owner="ann")
    store.delete(command_line, owner=None, teacher=True)
    assert [info.run_id for info in store.list()] == [theirs]


def test_each_learner_keeps_at_most_the_configured_number_of_runs(store, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_LEARNER", "2")
    kept = [_create(store, owner="ann") for _ in range(2)]
    with pytest.raises(RunLimitError, match="You keep 2 runs"):
        _create(store, owner="ann")
    _create(store, owner="bob")  # another learner is not affected, nor are command-line runs
    _create(store, owner=None)
    store.update(kept[0], status="completed")
    store.delete(kept[0], owner="ann")
    _create(store, owner="ann")  # deleting one makes room
    for bad in ("0", "-3", "many"):
        monkeypatch.setenv("MNIST_MAX_RUNS_PER_LEARNER", bad)
        with pytest.raises(ValueError, match="MNIST_MAX_RUNS_PER_LEARNER"):
            _create(store, owner="ann")


def test_claim_and_discard_agree_on_who_has_a_queued_run(store):
    first, second = _create(store, status="queued"), _create(store, status="queued")
    assert store.claim(first) and store.get(first).status == "starting"
    assert not store.claim(first), "a run is started once"
    assert not store.discard_if_queued(first), "a started run is not cancelled away"
    assert store.discard_if_queued(second)
    with pytest.raises(RunNotFoundError):
        store.claim(second)


def test_a_remote_worker_s_meta_never_takes_back_the_learners_who_joined_or_left(store, tmp_path):
    # A Ray task trains from the meta it was given (Ann's alone); Bob joins and Ann leaves meanwhile on the server.
    run_id = _create(store, owner="ann", status="running", name="shared")
    remote = RunStore(tmp_path / "remote")
    remote.receive(run_id, store.job_inputs(run_id))
    store.add_owner(run_id, "bob")
    store.remove_owner(run_id, "ann")
    remote.update(run_id, status="completed", finished=123.0)
    store.apply_published(run_id, {name: path.read_bytes() for name, path in remote.published_files(run_id)})
    info = store.get(run_id)
    assert info.status == "completed", "the worker's report is taken"
    assert info.owners == ("bob",) and info.owner == "bob", "the owners stay the server's"


def test_a_shared_run_keeps_its_name_and_a_delete_only_leaves_it(store):
    run_id = _create(store, owner="ann", status="completed", name="shared")
    store.add_owner(run_id, "bob")
    store.add_owner(run_id, "bob")  # twice changes nothing
    assert store.get(run_id).owners == ("ann", "bob") and store.get(run_id).owned_by("bob")
    with pytest.raises(NotYourRunError, match="shared with other learners"):
        store.rename(run_id, "mine now", owner="bob")
    store.delete(run_id, owner="ann")  # Ann leaves it; it stays Bob's
    info = store.get(run_id)
    assert info.owners == ("bob",) and info.owner == "bob" and not info.owned_by("ann")
    store.rename(run_id, "Bob's", owner="bob")
    store.delete(run_id, owner="bob")
    with pytest.raises(RunNotFoundError):
        store.get(run_id)
