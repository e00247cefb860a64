"""TrainingJob: train a config in a background thread, publish progress snapshots, stop on request, save the run."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from mnist_models.architecture import count_params
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.data import Mnist, load_mnist, make_split
from mnist_models.runs import RunStore

REPORT_INTERVAL_SECONDS = 0.5  # how often a smoothed training point is published
VALIDATION_CHECKS_PER_EPOCH = 5
EVAL_BATCH = 1000
DONE_STATUSES = ("completed", "stopped", "failed")


@dataclass(frozen=True)
class CurvePoint:
    """One point of a curve; `epoch` is fractional (1.5 = half-way through the second epoch)."""

    epoch: float
    step: int
    loss: float
    accuracy: float

    def as_dict(self) -> dict[str, float]:
        return {"epoch": self.epoch, "step": self.step, "loss": self.loss, "accuracy": self.accuracy}


@dataclass(frozen=True)
class Progress:
    """An immutable snapshot of a job, safe to read from any thread (the dashboard polls these)."""

    run_id: str
    status: str  # starting, running, stopping, completed, stopped, failed
    epoch: int  # epochs fully completed
    epochs: int
    batch: int  # batches done in the current epoch
    batches_per_epoch: int
    step: int  # batches done in all
    elapsed_seconds: float
    eta_seconds: float | None
    learning_rate: float | None
    device: str
    train: tuple[CurvePoint, ...] = ()
    validation: tuple[CurvePoint, ...] = ()
    test: tuple[CurvePoint, ...] = ()
    test_accuracy: float | None = None
    test_loss: float | None = None
    error: str | None = None

    @property
    def fraction(self) -> float:
        total = self.epochs * self.batches_per_epoch
        return min(1.0, self.step / total) if total else 0.0

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


_gpu_lock = threading.Lock()
_gpu_configured = False


def configure_devices() -> None:
    """Turn on memory growth for every GPU (once per process), so training takes only the memory it needs."""
    global _gpu_configured
    import tensorflow as tf

    with _gpu_lock:
        if _gpu_configured:
            return
        for gpu in tf.config.list_physical_devices("GPU"):
            # A GPU already initialised by earlier TensorFlow work raises RuntimeError: growth cannot change then.
            with contextlib.suppress(RuntimeError):
                tf.config.experimental.set_memory_growth(gpu, True)
        _gpu_configured = True


def device_report() -> str:
    """"GPU: <name>" when TensorFlow sees a GPU (training then runs there), else "CPU (<n> threads)"."""
    import tensorflow as tf

    configure_devices()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", gpus[0].name)
        more = f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else ""
        return f"GPU: {name}{more}"
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count() or 1
    return f"CPU ({threads} threads)"


def readable_error(error: BaseException) -> str:
    """One or two sentences a learner can act on, instead of a TensorFlow stack trace."""
    name = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else name
    if isinstance(error, TrainingDiverged):
        return text
    if name == "ResourceExhaustedError" or isinstance(error, MemoryError):
        return "Out of memory: use a smaller batch size, fewer neurons or filters, or a larger stride."
    return f"Training failed ({name}): {text[:300]}"


def scores(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of (n, 10) probabilities against (n,) labels, as Keras computes them."""
    picked = probabilities[np.arange(len(labels)), labels]
    # Keras clips probabilities to [1e-7, 1 - 1e-7] before the log; do the same so the numbers agree.
    loss = float(-np.log(np.clip(picked, 1e-7, 1 - 1e-7)).mean())
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    return loss, accuracy


def predict_probabilities(model, images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) -> (n, 10) in chunks through the model's compiled predict step (no metric side effects)."""
    chunks = [np.asarray(model.predict_on_batch(images[start:start + EVAL_BATCH]))
              for start in range(0, len(images), EVAL_BATCH)]
    return np.concatenate(chunks)


class TrainingJob:
    """One training run in a background thread.

    Create it with validated configs, `start()` it, poll `progress()` from any thread, `stop()` it at
    any time. Progress is published as immutable snapshots; nothing here touches a UI. The run (configs,
    curves, model after every epoch, final metrics) is saved to the RunStore as it goes.
    """

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, *, store: RunStore | None = None,
                 preset: str | None = None, name: str | None = None, data: Mnist | None = None):
        self.model_config = model_config.validate()
        self.train_config = train_config.validate()
        self.store = store if store is not None else RunStore()
        self.preset = preset
        self.name = name
        self._data = data
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._model = None
        self.run_id = ""
        self._state = _State()

    # Public API ------------------------------------------------------------------------------------------

    def start(self) -> TrainingJob:
        """Create the run folder and start training in a daemon thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("This job was already started; create a new TrainingJob to train again.")
        self.run_id = self.store.create(self.model_config, self.train_config, preset=self.preset, name=self.name,
                                        params=count_params(self.model_config))
        self._state.started = time.time()
        self._thread = threading.Thread(target=self._run, name=f"train-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to stop; it ends after the current batch and the run is saved as "stopped"."""
        self._stop_requested.set()
        model = self._model
        if model is not None:
            # Keras checks this flag after every batch, so the loop ends within one batch.
            model.stop_training = True
        with self._lock:
            if self._state.status in ("starting", "running"):
                self._state.status = "stopping"

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until the job ends (or `timeout` seconds pass) and return the latest progress."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress()

    def progress(self) -> Progress:
        with self._lock:
            return self._state.snapshot(self.run_id, self.train_config.epochs)

    @property
    def done(self) -> bool:
        with self._lock:
            return self._state.status in DONE_STATUSES

    # Training thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            import keras

            from mnist_models.models import build_model, compile_model
            from mnist_models.progress_callback import ProgressCallback

            device = device_report()
            with self._lock:
                self._state.device = device
            self.store.update(self.run_id, device=device)
            data = self._data if self._data is not None else load_mnist()
            split = make_split(data, self.train_config.train_size, self.train_config.validation_size)
            # One seed fixes the weights, the batch order and dropout's masks: on the CPU, a rerun with the
            # same seed reproduces the same curves.
            keras.utils.set_random_seed(self.train_config.seed)
            model = compile_model(build_model(self.model_config), self.train_config)
            self._model = model
            reporter = ProgressCallback(self, split)
            model.fit(split.x_train, split.y_train, batch_size=self.train_config.batch_size,
                      epochs=self.train_config.epochs, shuffle=True, verbose=0, callbacks=[reporter])
            reporter.finish()
        except Exception as error:
            self._fail(readable_error(error))
        finally:
            self._model = None

    def _fail(self, reason: str) -> None:
        with self._lock:
            self._state.status = "failed"
            self._state.error = reason
            self._state.finished = time.time()
            state = self._state
        with contextlib.suppress(Exception):
            self.store.update(self.run_id, history=state.history(), status="failed", error=reason,
                              finished=time.time(), seconds=time.time() - state.started,
                              epochs_completed=state.epoch)


@dataclass
class _State:
    """Mutable progress, guarded by TrainingJob._lock."""

    status: str = "starting"
    epoch: int = 0
    batch: int = 0
    batches_per_epoch: int = 0
    step: int = 0
    started: float = 0.0
    first_batch_at: float | None = None
    learning_rate: float | None = None
    device: str = ""
    train: list[CurvePoint] = field(default_factory=list)
    validation: list[CurvePoint] = field(default_factory=list)
    test: list[CurvePoint] = field(default_factory=list)
    test_accuracy: float | None = None
    test_loss: float | None = None
    error: str | None = None
    finished: float | None = None

    def snapshot(self, run_id: str, epochs: int) -> Progress:
        now = self.finished or time.time()
        total = epochs * self.batches_per_epoch
        eta = None
        if self.first_batch_at is not None and self.step and total and self.status in ("running", "stopping"):
            eta = (now - self.first_batch_at) / self.step * max(0, total - self.step)
        return Progress(
            run_id=run_id, status=self.status, epoch=self.epoch, epochs=epochs, batch=self.batch,
            batches_per_epoch=self.batches_per_epoch, step=self.step,
            elapsed_seconds=(now - self.started) if self.started else 0.0, eta_seconds=eta,
            learning_rate=self.learning_rate, device=self.device, train=tuple(self.train),
            validation=tuple(self.validation), test=tuple(self.test), test_accuracy=self.test_accuracy,
            test_loss=self.test_loss, error=self.error,
        )

    def history(self) -> dict[str, list[dict[str, float]]]:
        return {name: [point.as_dict() for point in getattr(self, name)] for name in ("train", "validation", "test")}


class JobBusyError(RuntimeError):
    """Another training is already running and the machine has no room for a second one."""


class JobManager:
    """The jobs of one process (the dashboard keeps one manager for all its browser sessions).

    A 2-core machine trains one network at a time well, so by default a second start is refused with a
    message; the latest job stays reachable after a browser refresh, which is how a page finds it again.
    """

    def __init__(self, store: RunStore | None = None, max_running: int = 1):
        self.store = store if store is not None else RunStore()
        self.max_running = max_running
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def start(self, model_config: ModelConfig, train_config: TrainConfig, *, preset: str | None = None,
              name: str | None = None) -> TrainingJob:
        with self._lock:
            running = [job for job in self._jobs.values() if not job.done]
            if len(running) >= self.max_running:
                names = ", ".join(job.name or job.run_id for job in running)
                raise JobBusyError(f"Another training is running ({names}). Stop it or wait for it to finish.")
            job = TrainingJob(model_config, train_config, store=self.store, preset=preset, name=name).start()
            self._jobs[job.run_id] = job
            return job

    def get(self, run_id: str) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(run_id)

    def latest(self) -> TrainingJob | None:
        """The most recently started job, running or finished."""
        with self._lock:
            return next(reversed(self._jobs.values()), None)

    def running(self) -> list[TrainingJob]:
        with self._lock:
            return [job for job in self._jobs.values() if not job.done]
