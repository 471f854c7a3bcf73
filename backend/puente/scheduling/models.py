"""One row per run of a scheduled job: who holds it, until when, and how it ended."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

__all__ = ["JobRun", "JobRunStatus"]


class JobRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRun(Model):
    """A job's run for one key (the daily job's key is its date), leased to one process."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(max_length=64)
    run_key = fields.CharField(max_length=64)
    status = fields.CharEnumField(JobRunStatus, max_length=12, default=JobRunStatus.RUNNING)
    holder = fields.CharField(max_length=128)
    lease_until = fields.DatetimeField()
    attempts = fields.IntField(default=1)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    detail = fields.TextField(null=True)

    class Meta:
        table = "job_runs"
        unique_together = (("job", "run_key"),)
