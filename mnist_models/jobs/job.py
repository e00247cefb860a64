"""What the job queue hands out and takes in: a queued or running Job, a JobSpec to queue, and its refusals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mnist_models import config as configs
from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.run_info import TRAIN_TASK, NotYourRunError


class NotYourJobError(NotYourRunError):
    """Only a job's owner, or a teacher, may stop or cancel it."""


LEFT = "left"  # what stop() says when a learner leaves a training that others still share


class QueueFullError(RuntimeError):
    """The learner already has a job waiting or running, or the whole queue is as long as it may be."""


@dataclass(frozen=True)
class Job:
    """A job the queue knows: waiting (with its place in the queue) or running."""

    run_id: str
    name: str
    status: str
    # The owner keys (dashboard.identity makes them) of the learners it trains for: who asked first, and who asked
    # for an identical training since and joined it.
    owners: tuple[str, ...]
    position: int | None  # 1 for the next to start; None once running
    created: float
    key: str | None = None  # JobSpec.key of what it trains (None for runs from before jobs were shared)
    task: str = TRAIN_TASK  # a training, or a learning-rate range test (run_info.TASKS)

    @property
    def owner(self) -> str | None:
        """The learner who asked first."""
        return self.owners[0] if self.owners else None

    def owned_by(self, owner: str | None) -> bool:
        return owner is not None and owner in self.owners


@dataclass(frozen=True)
class JobSpec:
    """One job to queue: what to train, and how to list it."""

    model: ModelConfig
    train: TrainConfig
    preset: str | None = None
    name: str | None = None
    files: dict[str, bytes] | None = None  # put into the run's folder before it can start (RunStore.create)
    task: str = TRAIN_TASK  # what the worker does: train, or run a learning-rate range test (run_info.TASKS)

    @property
    def key(self) -> str:
        """What determines the job's result: its task, both configs (the seed and the data subset included) and
        the files it starts from. Two specs with the same key make the same run, so they share one job; a range
        test never shares with a training."""
        digest = hashlib.sha256(configs.dumps(self.model, self.train).encode())
        if self.task != TRAIN_TASK:
            # Only other tasks add theirs: a training's key stays what it was before tasks, so that finished runs
            # from then are still found as identical trainings.
            digest.update(f"\0task\0{self.task}".encode())
        for name, content in sorted((self.files or {}).items()):
            digest.update(f"\0{name}\0".encode() + hashlib.sha256(content).digest())
        return digest.hexdigest()[:32]
