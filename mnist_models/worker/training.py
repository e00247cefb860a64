"""The worker's side of a training: build the run's network, fit it, report progress into its run folder.

`train_run` is the whole job of a worker, whichever process runs it: a local worker process started by the
job queue, a Ray task on another machine, or the command line's own process. `TrainingThread` runs it in a
thread of the calling process (the command line, tests and benchmarks use that).
"""

from __future__ import annotations

import contextlib
import os
import threading

from mnist_models.architecture import count_params
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.data import Mnist, load_mnist, make_split
from mnist_models.store.progress import Progress, TrainingDiverged
from mnist_models.store.runs import RunStore
from mnist_models.worker.reporter import RunReporter

_gpu_lock = threading.Lock()
_gpu_configured = False


def set_thread_count(threads: int) -> bool:
    """Give TensorFlow `threads` CPU threads for its operations (before its first operation in this process).

    Two jobs on two cores each wanting every core would fight over four threads; the job queue gives each
    worker its share. Returns False when TensorFlow had already started and the count could not change.
    """
    if threads < 1:
        raise ValueError(f"A worker needs at least one thread, not {threads}.")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        # A Sequential model's ops run one after the other: one inter-op thread is enough and fights nobody.
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        return False
    return True


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


GPU_STEPS_PER_EXECUTION = 8  # batches a GPU runs per call; a few ms each for these networks, so Stop stays prompt


def steps_per_execution(device_types: list[str], steps_per_epoch: int | None = None) -> int:
    """How many batches one call into TensorFlow runs: 1 on the CPU, GPU_STEPS_PER_EXECUTION with a GPU.

    After every call Keras hands the batch's logs to the callbacks, which copies the loss from the device to
    the host. A CPU pays nothing for that copy, and there a report after every batch keeps Stop within one
    batch; a GPU waits on it at every step, so there the progress is reported every few steps instead (never
    more than an epoch's worth, so short epochs still report each epoch). `device_types` are the types of the
    devices TensorFlow sees, e.g. ["CPU", "GPU"].
    """
    if "GPU" not in device_types:
        return 1
    if steps_per_epoch is not None:
        return max(1, min(GPU_STEPS_PER_EXECUTION, steps_per_epoch))
    return GPU_STEPS_PER_EXECUTION


def visible_device_types() -> list[str]:
    """The types of the physical devices TensorFlow sees ("CPU", "GPU", ...)."""
    import tensorflow as tf

    configure_devices()
    return [device.device_type for device in tf.config.list_physical_devices()]


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
    if isinstance(error, OSError):
        reason = error.strerror or text
        return (f"The run could not be saved ({reason}). Free some disk space (delete old runs on the Runs "
                "page) or check that the runs folder is writable, then train again.")
    return f"Training failed ({name}): {text[:300]}"


def train_run(store: RunStore, run_id: str, *, data: Mnist | None = None, reporter: RunReporter | None = None,
              stop_event: threading.Event | None = None, record_insight: bool = True) -> Progress:
    """Train the run whose folder `store` holds, from its config.json, and return how it ended.

    Every outcome is written into the run folder: curves and counters as they come, the model after epochs
    and at the end, and the final status (completed, stopped or failed with a reason). Nothing raises.
    """
    if reporter is None:
        try:
            epochs = store.load_configs(run_id)[1].epochs
        except Exception as error:  # a damaged config.json: say so in the run instead of dying silently
            reporter = RunReporter(store, run_id, epochs=0)
            return reporter.fail(f"The run's config.json cannot be read: {readable_error(error)}")
        reporter = RunReporter(store, run_id, epochs=epochs, stop_event=stop_event)
    insight = None
    try:
        import keras

        from mnist_models.worker import models
        from mnist_models.worker.callback import ProgressCallback
        from mnist_models.worker.hparams import write_hparams
        from mnist_models.worker.insight_recorder import InsightRecorder

        model_config, train_config = store.load_configs(run_id)
        model_config.validate()
        train_config.validate()
        data = data if data is not None else load_mnist()
        reporter.set_device(device_report())
        split = make_split(data, train_config.train_size, train_config.validation_size)
        # One seed fixes the weights, the batch order and dropout's masks: on the CPU, a rerun with the
        # same seed reproduces the same curves.
        keras.utils.set_random_seed(train_config.seed)
        batches = -(-len(split.y_train) // train_config.batch_size)
        model = models.compile_model(models.build_model(model_config), train_config,
                                     steps_per_execution(visible_device_types(), batches))
        fine_tuning = None
        if train_config.fine_tune_from:
            from mnist_models.store.my_digits import FineTuning

            # The base run's weights and the learner's digits, copied into this run's folder at submit time.
            fine_tuning = FineTuning(store.folder(run_id), train_config.fine_tune_from)
            split = fine_tuning.prepare(model, split, train_config.seed)
        # Weight statistics, the digit wall and TensorBoard's event files (off only to measure what they cost).
        insight = InsightRecorder(reporter, split.y_test, store.tensorboard_dir(run_id)) \
            if record_insight else None
        callback = ProgressCallback(reporter, split, insight)
        model.fit(split.x_train, split.y_train, batch_size=train_config.batch_size, epochs=train_config.epochs,
                  shuffle=True, verbose=0, callbacks=[callback])
        if fine_tuning is not None:
            fine_tuning.finish(model, split)
        callback.finish()
        if insight is not None:
            write_hparams(store, run_id, model_config, train_config, reporter.snapshot())
    except Exception as error:
        if insight is not None:
            with contextlib.suppress(Exception):
                insight.close()
        reporter.fail(readable_error(error))
    return reporter.snapshot()


class TrainingThread:
    """One training run in a thread of this process.

    Create it with validated configs, `start()` it, poll `progress()` from any thread, `stop()` it at any time.
    The worker's code is the same as in a worker process, so the run folder fills exactly as it does there.
    """

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, *, store: RunStore | None = None,
                 preset: str | None = None, name: str | None = None, data: Mnist | None = None,
                 owner: str | None = None, executor: str = "local", stop_event: threading.Event | None = None,
                 record_insight: bool = True):
        self.model_config = model_config.validate()
        self.train_config = train_config.validate()
        self.store = store if store is not None else RunStore()
        self.preset = preset
        self.name = name
        self.owner = owner
        self.executor = executor
        self._data = data
        self._stop_event = stop_event
        self._record_insight = record_insight
        self._thread: threading.Thread | None = None
        self._reporter: RunReporter | None = None
        self.run_id = ""

    def start(self) -> TrainingThread:
        """Create the run folder and start training in a daemon thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("This job was already started; create a new TrainingThread to train again.")
        self.run_id = self.store.create(self.model_config, self.train_config, preset=self.preset, name=self.name,
                                        params=count_params(self.model_config), owner=self.owner,
                                        executor=self.executor)
        self._reporter = RunReporter(self.store, self.run_id, epochs=self.train_config.epochs,
                                     stop_event=self._stop_event)
        self._thread = threading.Thread(target=train_run, args=(self.store, self.run_id),
                                        kwargs={"data": self._data, "reporter": self._reporter,
                                                "record_insight": self._record_insight},
                                        name=f"train-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask training to stop; it ends after the current batch and the run is saved as "stopped"."""
        if self._reporter is not None:
            self._reporter.request_stop()

    def wait(self, timeout: float | None = None) -> Progress:
        """Block until the job ends (or `timeout` seconds pass) and return the latest progress."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress()

    def progress(self) -> Progress:
        if self._reporter is None:
            raise RuntimeError("The job has not been started.")
        return self._reporter.snapshot()

    @property
    def done(self) -> bool:
        return self._reporter is not None and self._reporter.done

