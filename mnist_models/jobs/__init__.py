"""The server's side of training, in the server's process; it imports no TensorFlow.

`queue` (JobQueue: owners, places, stop and cancel; `job` its values, `takeover` one scheduler per runs folder,
`shared` one queue per process), `local` (worker processes on this machine), `ray_executor`
(Ray tasks on a cluster, imported only when asked for) and `settings` (the environment's settings and
`make_executor`, shared by the dashboard and the command line).
"""

from mnist_models.jobs.job import Job, JobSpec, NotYourJobError, QueueFullError
from mnist_models.jobs.queue import JobQueue
from mnist_models.jobs.settings import (
    MAX_JOBS_ENV,
    RAY_ENV,
    default_max_jobs,
    make_executor,
    max_jobs_setting,
    threads_per_job,
)
from mnist_models.jobs.shared import shared_queue, shutdown_all

__all__ = ["MAX_JOBS_ENV", "RAY_ENV", "Job", "JobQueue", "JobSpec", "NotYourJobError", "QueueFullError",
           "default_max_jobs", "make_executor", "max_jobs_setting", "shared_queue", "shutdown_all", "threads_per_job"]
