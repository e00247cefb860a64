"""Each process's one job queue per runs folder, and shutting them all down (tests, scripts)."""

from __future__ import annotations

from mnist_models.jobs.queue import JobQueue
from mnist_models.store.runs import RunStore


def shared_queue(store: RunStore, **options) -> JobQueue:
    """This process's one queue for the store's folder, made on first use with `options`.

    Two schedulers over one runs folder would start each waiting job twice; the dashboard's cache of shared
    objects can be cleared (Streamlit's "Clear cache"), so it asks here rather than making a queue itself.
    """
    folder = store.root.resolve()
    with JobQueue.live_lock:
        for queue in JobQueue.live:
            if queue.store.root.resolve() == folder:
                return queue
    return JobQueue(store, **options)


def shutdown_all(**options) -> None:
    """Shut down every queue of this process (tests, and scripts that made queues)."""
    with JobQueue.live_lock:
        queues = list(JobQueue.live)
    for queue in queues:
        queue.shutdown(**options)
