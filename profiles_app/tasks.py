"""Celery tasks of profiles_app: large profile fits run on a worker, progress and result on a Job row."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="profiles_app.fit_profile_job", acks_late=True)
def fit_profile_job(job_id: str) -> None:
    from benchmarks_app import selectors as bench_selectors
    from benchmarks_app import services as jobs

    from . import services

    job = bench_selectors.job_get(job_id)
    if job.status in (job.Status.SUCCEEDED, job.Status.FAILED):  # redelivered or re-queued after it ran
        return
    jobs.job_start(job, total=len(job.params["rows"]), message="compiling the observed jobs' circuits")
    try:
        row = services.fit_from_params(job.params, owner=job.owner, job=job)
    except Exception as exc:
        jobs.job_fail(job, error=exc)
        return
    jobs.job_succeed(job, result={"profile": str(row), "id": row.pk, "test": row.fit_report.get("test"),
                                  "terms": row.terms})
