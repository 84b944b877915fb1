"""Read operations of benchmarks_app."""
from __future__ import annotations

from .models import Job, WorkerHeartbeat


def job_get(job_id) -> Job:
    return Job.objects.get(pk=job_id)


def heartbeats_latest(limit: int = 10):
    return WorkerHeartbeat.objects.all()[:limit]
