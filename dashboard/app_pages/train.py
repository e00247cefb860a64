"""Train: shape a network, press Train, and watch accuracy and loss for train and test data grow live."""

from __future__ import annotations

import streamlit as st

from dashboard import presentation, state
from dashboard.code_box import code_box_ui
from dashboard.code_view import code_ui
from dashboard.controls_spec import PRESET_KEY, URL_LIMITS, is_control_key
from dashboard.identity import is_teacher, owner
from dashboard.lab_class import identical_choice_ui
from dashboard.live_view import live_ui
from dashboard.lr_find_view import lr_find_ui
from dashboard.presentation import presenting
from dashboard.sweep_ui import sweep_ui
from dashboard.sweep_view import train_sweep_ui
from dashboard.train_controls import network_ui, preset_ui, problems_ui, set_controls, summary_ui, training_ui
from dashboard.widgets import plain
from mnist_models import share
from mnist_models.budget import budget_problems
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.jobs.job import Job, JobSpec, NotYourJobError, QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.presets import PRESETS, Preset
from mnist_models.store.run_info import TRAIN_TASK
from mnist_models.store.runs import RunNotFoundError

URL_STATE_KEY = "_train_url"  # the address as this page last wrote it
CONTROLS_STATE_KEY = "_train_url_controls"  # the controls' values when this page last wrote the address
APP_PARAMS = (presentation.KEY,)  # parameters of the whole app, not Train settings
IDENTICAL_KEY = "train_identical"  # (spec, run id) of a finished identical training, while the learner chooses


def start_training(model: ModelConfig, train: TrainConfig, preset: Preset, name: str) -> None:
    # The preset's name is kept only while the network still is that preset; an edited one is "custom", and
    # its display name says so unless the learner gave it one.
    unchanged = preset.configs() == (model, train)
    if not unchanged and name.strip() == preset.title:
        name = f"{preset.title} (modified)"
    spec = JobSpec(model, train, preset.name if unchanged else "custom", name)
    # A classmate's identical training under way is joined by the queue; a finished one is offered instead.
    done = state.job_queue().identical_result(spec)
    if done is not None:
        st.session_state[IDENTICAL_KEY] = (spec, done.run_id)
        return
    submit_spec(spec)


def submit_spec(spec: JobSpec) -> None:
    """Queue the training (or join an identical one under way), or keep why it could not be for the page."""
    try:
        run_id = state.job_queue().submit(spec.model, spec.train, owner=owner(), preset=spec.preset, name=spec.name)
    except (QueueFullError, ValueError, RuntimeError, OSError) as error:
        st.session_state["train_error"] = str(error)
        return
    st.session_state["job_id"] = run_id
    # The Watching box may already be drawn in this run: it turns to the new job in the next one.
    st.session_state["watch_next"] = run_id
    st.session_state.pop("train_error", None)


def _job_label(job: Job, me: str) -> str:
    where = f"waiting, number {job.position} in the queue" if job.position else "training"
    return f"{job.name} · {where}" + (" · yours" if job.owned_by(me) else "")


def watch_ui(queue: JobQueue, me: str) -> str | None:
    """Which run the results column shows: this learner's latest, or any job on the server (everyone may
    watch every training). A box to choose appears once there is more than one."""
    store = state.run_store()
    # Trainings only: a learning-rate range test shows in its own panel, and has no curves against epochs.
    labels = {job.run_id: _job_label(job, me) for job in queue.jobs() if job.task == TRAIN_TASK}
    if "job_id" not in st.session_state:
        # A new session (a refresh, the next day): show this browser's newest run again.
        key = me
        st.session_state["job_id"] = next((info.run_id for info in store.list() if info.owned_by(key)), None)
    own = st.session_state.get("job_id")
    if own and own not in labels:
        try:
            labels = {own: f"{store.get(own).name} · your latest run", **labels}
        except RunNotFoundError:
            st.session_state.pop("job_id", None)  # cancelled, or deleted on Runs
    if not labels:
        return None
    options = list(labels)
    if st.session_state.get("watch_next") in options:
        st.session_state["watch"] = st.session_state.pop("watch_next")
    if st.session_state.get("watch") not in options:
        st.session_state["watch"] = own if own in options else options[0]
    if len(options) == 1:
        return options[0]
    return st.selectbox("Watching", options, format_func=labels.get, key="watch",
                        help="Every training on this server, running or waiting: anybody may watch any of them.")


def buttons_ui(problems: list[str], run_id: str | None, settings: tuple) -> None:
    """Train, and Stop (or Cancel, for a job still waiting), each enabled only when it can act."""
    queue, me = state.job_queue(), owner()
    progress = state.progress_if_any(run_id) if run_id else None
    mine = queue.jobs_of(me)
    active = progress is not None and not progress.done
    allowed = run_id is not None and queue.can_control(run_id, me, is_teacher())
    buttons = st.columns([1, 1, 3])
    # Started inline rather than by on_click: a callback's arguments would be the settings of the previous
    # run, which can miss an edit made just before the click; here the controls above were just read.
    if buttons[0].button("Train", type="primary", disabled=bool(problems) or bool(mine), width="stretch",
                         icon=":material/play_arrow:",
                         help="Fix the settings marked in red first." if problems else None):
        start_training(*settings)
        st.rerun()
    waiting = progress is not None and progress.waiting
    if buttons[1].button("Cancel" if waiting else "Stop", disabled=not (active and allowed), width="stretch",
                         icon=":material/close:" if waiting else ":material/stop:", key="stop_button",
                         help="Only the learner who started a training, or a teacher, can stop it."
                         if active and not allowed else None):
        try:
            queue.stop(run_id, me, teacher=is_teacher())
        except NotYourJobError as error:
            st.session_state["train_error"] = str(error)
        st.rerun()
    if problems:
        buttons[2].caption("Fix the settings marked in red on the left to train.")
    elif mine:
        buttons[2].caption(f"Training {plain(mine[0].name)}: other pages keep working meanwhile, and it goes on "
                           "if you close the browser.")
    if "train_error" in st.session_state:
        st.warning(plain(st.session_state.pop("train_error")))  # a refusal can name a run
    identical_choice_ui(IDENTICAL_KEY, submit_spec, show_seed=lambda seed: st.session_state.update(seed=seed))


def _controls_now() -> dict:
    return {key: st.session_state[key] for key in list(st.session_state.keys()) if is_control_key(key)}


def url_ui() -> None:
    """Open the settings a link asks for: a shared link, a bookmark, or the browser's back button (the address
    then differs from what this page last wrote into it). Values that cannot be used are named in a note."""
    params = st.query_params.to_dict()
    if params == st.session_state.get(URL_STATE_KEY):
        return
    # An edit made before the previous run's address reached the browser comes with that older address: the
    # learner changed a control rather than the address, so the edit wins and write_url puts it in the address.
    if URL_STATE_KEY in st.session_state and _controls_now() != st.session_state.get(CONTROLS_STATE_KEY):
        return
    asked = {name: value for name, value in params.items() if name not in APP_PARAMS}
    if not asked:
        return
    shared = share.from_params(asked, limits=URL_LIMITS)
    st.session_state[PRESET_KEY] = shared.preset
    set_controls(shared.model, shared.train, run_name=PRESETS[shared.preset].title)
    if shared.notes:
        st.session_state["url_notes"] = shared.notes


def write_url(model: ModelConfig, train: TrainConfig, preset: Preset) -> None:
    """Keep every setting in the address, so that it can be shared, bookmarked and gone back to."""
    current = st.query_params.to_dict()
    wanted = {name: value for name, value in current.items() if name in APP_PARAMS}
    wanted.update(share.to_params(model, train, preset.name))
    if wanted != current:
        st.query_params.from_dict(wanted)
    st.session_state[URL_STATE_KEY] = wanted
    st.session_state[CONTROLS_STATE_KEY] = _controls_now()


def section(label: str):
    """A folding section of the settings; a plain box in presentation mode, where the settings as a whole are
    already folded away (Streamlit cannot nest one expander in another)."""
    if presenting():
        box = st.container(border=True)
        box.markdown(f"**{label}**")
        return box
    return st.expander(label, expanded=True)


def page() -> None:
    st.title("Train a network")
    url_ui()
    for note in st.session_state.pop("url_notes", []):
        st.warning(f"From the link: {plain(note)}", icon=":material/link_off:")
    if presenting():
        controls = st.expander("Network and training settings", expanded=False, icon=":material/tune:")
        results = st.container()
    else:
        controls, results = st.columns([2, 3], gap="large")
    with controls:
        preset = preset_ui()
        code_box_ui()
        with section("Network"):
            model = network_ui()
            model_problems = model.problems()
            problems_ui(model_problems)
        with section("Training"):
            train, name = training_ui()
            train_problems = train.problems()
            problems_ui(train_problems)
        valid = not (model_problems + train_problems)
        problems = model_problems + train_problems
        if valid:
            # What this server can afford: the shape and the settings together (multiply-adds, memory, work).
            try:
                problems = budget_problems(model, train)
            except ValueError as error:  # a mistyped MNIST_MAX_* setting on the server
                problems = [str(error)]
            problems_ui(problems)
        # Both start from the settings above: while those are marked in red, they say so once instead of
        # repeating the same problem for every value they would try.
        lr_find_ui(model, train, preset, name, problems)
        sweep_ui(model, train, preset, name, problems)
        with section("Model summary"):
            summary_ui(model, valid)
        if valid:
            code_ui(model, train, name=name or preset.title, about=preset.description, key="train_code")
    write_url(model, train, preset)
    with results:
        if train_sweep_ui():  # a sweep is watched: its view replaces the single run's
            return
        queue = state.job_queue()
        run_id = watch_ui(queue, owner())
        buttons_ui(problems, run_id, (model, train, preset, name))
        if run_id is None:
            st.info("Pick a preset (or build your own network), then press **Train**. Accuracy and loss for the "
                    "training images and the unseen test images will grow here, live, on the same axes.")
        else:
            st.toggle("Show inside the network", key="show_inside",
                      help="Each layer's weights over the epochs, the learning rate as applied, and 100 test digits "
                           "with the wrong answers in red, as the codelab's visualiser showed them.")
            live_ui(run_id, show_inside=bool(st.session_state.get("show_inside")))


page()
