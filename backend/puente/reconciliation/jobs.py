"""Statement imports started from the staff page, run in the background of this process.

The page uploads a file and returns at once; the import (``service.import_and_reconcile``)
runs as a task whose progress (lines read, then matching) the page polls. The registry
lives in the process's runtime: a job is visible to the process that runs it, which is the
one that accepted the upload (after a restart the result is still in the statement list,
as every import is). The uploaded copy is removed when the job ends.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from puente.reconciliation.importers import MalformedStatement, UnknownFormat
from puente.reconciliation.service import ImportSummary, import_and_reconcile
from puente.runtime import Runtime

__all__ = ["ImportJob", "ImportJobs"]

logger = logging.getLogger(__name__)

_KEEP = 50  # finished jobs remembered per process (the statement list keeps the rest)


@dataclass
class ImportJob:
    """One import the page is watching."""

    id: str
    institution_id: int
    file_name: str
    fmt: str
    lines_read: int = 0
    phase: str = "leyendo"  # leyendo → conciliando → terminado | error
    summary: ImportSummary | None = None
    error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.phase in ("terminado", "error")


class ImportJobs:
    """The imports running (or recently run) in this process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.jobs: dict[str, ImportJob] = {}

    @classmethod
    def of(cls, runtime: Runtime) -> ImportJobs:
        """The process's registry (kept in ``runtime.extras``)."""
        found = runtime.extras.get("reconciliation.imports")
        if not isinstance(found, ImportJobs):
            found = runtime.extras["reconciliation.imports"] = cls(runtime)
        return found

    def start(
        self,
        institution_id: int,
        path: Path,
        fmt: str,
        *,
        actor_id: int | None,
        stp_cuenta: str,
    ) -> ImportJob:
        """Begin importing ``path`` (a copy the job owns: its folder is removed at the end)."""
        job = ImportJob(secrets.token_urlsafe(12), institution_id, path.name, fmt)
        self.jobs[job.id] = job
        for old in [j for j in self.jobs.values() if j.done][:-_KEEP]:
            self.jobs.pop(old.id, None)
        job.task = asyncio.get_running_loop().create_task(
            self._run(job, path, actor_id=actor_id, stp_cuenta=stp_cuenta)
        )
        return job

    def get(self, institution_id: int, job_id: str) -> ImportJob | None:
        """A job of this institution (another's does not exist for the asker)."""
        job = self.jobs.get(job_id)
        return job if job is not None and job.institution_id == institution_id else None

    async def _run(
        self, job: ImportJob, path: Path, *, actor_id: int | None, stp_cuenta: str
    ) -> None:
        def progress(lines: int) -> None:
            job.lines_read = lines

        try:
            job.summary = await import_and_reconcile(
                self.runtime,
                job.institution_id,
                path,
                job.fmt,
                at=self.runtime.now(),
                actor_id=actor_id,
                stp_cuenta=stp_cuenta,
                progress=progress,
                matching=lambda: setattr(job, "phase", "conciliando"),
            )
            job.phase = "terminado"
        except MalformedStatement as exc:
            job.error, job.phase = f"Archivo mal formado, nada importado: {exc}", "error"
        except UnknownFormat as exc:
            job.error, job.phase = str(exc), "error"
        except Exception:  # the page must learn the job ended; the log keeps the cause
            logger.exception("statement import %s failed", job.id)
            job.error = (
                "La importación se interrumpió; revise los estados de cuenta y avise a soporte."
            )
            job.phase = "error"
        finally:
            shutil.rmtree(path.parent, ignore_errors=True)
