"""Errors of the job engine that a user or a plugin author can meet."""

from __future__ import annotations

from pcm_ops.errors import PcmOpsError


class JobsError(PcmOpsError):
    """The job engine cannot do what was asked; the message says why and what to do."""


class JobNotFound(JobsError):
    """No job has this id (it never existed, or retention deleted it)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id!r} not found")


class JobAlreadyFinished(JobsError):
    """A finished job cannot be cancelled."""

    def __init__(self, job_id: str, state: str) -> None:
        self.job_id = job_id
        self.state = state
        super().__init__(f"job {job_id!r} has already finished ({state}); nothing to cancel")


__all__ = ["JobAlreadyFinished", "JobNotFound", "JobsError"]
