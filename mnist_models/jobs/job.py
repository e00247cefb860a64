"""What the job queue hands out and takes in: a queued or running Job, a JobSpec to queue, and its refusals."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_models.config import ModelConfig, TrainConfig
from mnist_models.store.run_info import NotYourRunError


class NotYourJobError(NotYourRunError):
    """Only a job's owner, or a teacher, may stop or cancel it."""


class QueueFullError(RuntimeError):
    """The learner already has a job waiting or running, or the whole queue is as long as it may be."""


@dataclass(frozen=True)
class Job:
    """A job the queue knows: waiting (with its place in the queue) or running."""

    run_id: str
    name: str
    status: str
    owner: str | None  # the owner key of the learner who submitted it (dashboard.identity makes it)
    position: int | None  # 1 for the next to start; None once running
    created: float

    def owned_by(self, owner: str | None) -> bool:
        return owner is not None and self.owner == owner


@dataclass(frozen=True)
class JobSpec:
    """One job to queue: what to train, and how to list it."""

    model: ModelConfig
    train: TrainConfig
    preset: str | None = None
    name: str | None = None
    files: dict[str, bytes] | None = None  # put into the run's folder before it can start (RunStore.create)
