"""Write operations of benchmarks_app. Views, tasks and commands call these; they own transactions."""
from __future__ import annotations

import os
import socket
import traceback

from django.db import transaction
from django.utils import timezone

from .models import Job, WorkerHeartbeat


# --- jobs -----------------------------------------------------------------------------------------
def job_create(*, kind: str, params: dict | None = None, owner=None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, params=params or {}, owner=owner if getattr(owner, "pk", None) else None,
                              progress_total=total)


def job_start(job: Job, *, total: int | None = None, message: str = "") -> Job:
    job.status = Job.Status.RUNNING
    job.started_at = job.started_at or timezone.now()
    fields = ["status", "started_at"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    if message:
        job.message = message[:500]
        fields.append("message")
    job.save(update_fields=fields)
    return job


def job_progress(job: Job, *, current: int, total: int | None = None, message: str = "") -> Job:
    job.progress_current = current
    fields = ["progress_current"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    if message:
        job.message = message[:500]
        fields.append("message")
    job.save(update_fields=fields)
    return job


def job_succeed(job: Job, *, result) -> Job:
    job.status = Job.Status.SUCCEEDED
    job.result = result
    job.finished_at = timezone.now()
    job.progress_current = max(job.progress_current, job.progress_total)
    job.save(update_fields=["status", "result", "finished_at", "progress_current"])
    return job


def job_fail(job: Job, *, error: BaseException | str) -> Job:
    job.status = Job.Status.FAILED
    job.error = error if isinstance(error, str) else "".join(
        traceback.format_exception_only(type(error), error)).strip()
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job


# --- worker heartbeat -----------------------------------------------------------------------------
@transaction.atomic
def heartbeat_record(*, task_id: str = "", note: str = "") -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(hostname=socket.gethostname(), pid=os.getpid(), task_id=task_id,
                                          note=note[:255])
