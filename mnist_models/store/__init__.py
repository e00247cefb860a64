"""The run store: the one home of a run folder's layout, its statuses and value types, and every reader of it.

`files` (file names, atomic writes, locks), `progress` (statuses, curve points, progress snapshots, scoring),
`run_info` (what meta.json says, checked), `runs` (RunStore: create, update, read, stop, delete; owners checked),
`worker_files` (what a worker writes, and moving a run to a worker on another machine), and beside the
runs `my_digits` (a learner's own drawings and fine-tuning on them), `learners` (each learner's chosen
name, Lab step and guesses, for the teacher's Class page) and `export` (curves as CSV).
"""

from mnist_models.store.files import HOST, pid_alive, write_atomic, write_json_atomic
from mnist_models.store.progress import ACTIVE_STATUSES, FINAL_STATUSES, CurvePoint, Progress
from mnist_models.store.run_info import RunInfo, clean_name
from mnist_models.store.runs import NotYourRunError, RunLimitError, RunNotFoundError, RunStore, default_root

__all__ = [
           "ACTIVE_STATUSES",
           "FINAL_STATUSES",
           "HOST",
           "CurvePoint",
           "NotYourRunError",
           "Progress",
           "RunInfo",
           "RunLimitError",
           "RunNotFoundError",
           "RunStore",
           "clean_name",
           "default_root",
           "pid_alive",
           "write_atomic",
           "write_json_atomic",
]
