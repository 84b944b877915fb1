"""Celery tasks of benchmarks_app."""
from __future__ import annotations

from celery import shared_task

from . import selectors, services


@shared_task(name="benchmarks_app.heartbeat")
def heartbeat(note: str = "") -> dict:
    """Write a WorkerHeartbeat row from the worker: proves broker -> worker -> database works."""
    from celery import current_task

    task_id = current_task.request.id if current_task and current_task.request else ""
    beat = services.heartbeat_record(task_id=task_id or "", note=note)
    return {"id": beat.pk, "hostname": beat.hostname, "pid": beat.pid}


# --- calibration ingest ------------------------------------------------------------------------------
NETWORK_ERRORS = (services.IBMUnavailable, ConnectionError, TimeoutError, OSError)


@shared_task(name="benchmarks_app.ingest_ibm_backend", bind=True, autoretry_for=NETWORK_ERRORS,
             retry_backoff=True, retry_backoff_max=600, retry_jitter=True, max_retries=5)
def ingest_ibm_backend(self, name: str) -> dict:
    """Ingest one IBM backend's current calibration; network errors retry with exponential backoff."""
    results = services.ingest_ibm(name)
    return {"backend": name, "snapshots": results}


@shared_task(name="benchmarks_app.ingest_ibm_all")
def ingest_ibm_all(names: list | None = None) -> dict:
    """Fan out one ingest task per configured backend (IBM_INGEST_BACKENDS): a failing backend retries or
    fails on its own without stopping the others."""
    from django.conf import settings

    names = list(names or settings.IBM_INGEST_BACKENDS)
    failed = {}
    for name in names:
        try:
            ingest_ibm_backend.delay(name)
        except Exception as exc:  # eager mode runs the task inline: record it, go on with the next
            failed[name] = f"{type(exc).__name__}: {exc}"
    return {"dispatched": names, "failed": failed}


@shared_task(name="benchmarks_app.estimate_job", acks_late=True)
def estimate_job(job_id: str) -> None:
    """A large estimate answered asynchronously: progress and result go to the Job row."""
    from .models import CalibrationSnapshot, Circuit

    job = selectors.job_get(job_id)
    if job.status in (job.Status.SUCCEEDED, job.Status.FAILED):
        return  # re-queued by the sweep after it ran (or failed) already
    services.job_start(job, total=1, message="compiling and scoring")
    try:
        p = job.params
        circuit = Circuit.objects.get(pk=p["circuit"])
        snapshot = CalibrationSnapshot.objects.select_related("backend").get(pk=p["snapshot"])
        estimate, created = services.estimate_get_or_create(circuit, snapshot, services.cost_options(p["options"]))
    except Exception as exc:
        services.job_fail(job, error=exc)
        return
    result = {"estimate": estimate.pk, "created": created, "report": estimate.report}
    if "profile" in p:  # wall-clock under the execution profile the request resolved (profiles_app)
        from profiles_app import selectors as profile_selectors
        from profiles_app.models import ExecutionProfile

        row = ExecutionProfile.objects.filter(pk=p["profile"]).first() if p["profile"] else None
        engine = row.engine() if row else profile_selectors.DEFAULT_PROFILE
        result = profile_selectors.apply_to_body(result, estimate.report, row, engine,
                                                 n_circuits=p.get("n_circuits") or 1)
    services.job_succeed(job, result=result)


@shared_task(name="benchmarks_app.estimate_many_job", acks_late=True)
def estimate_many_job(job_id: str) -> None:
    """Compute one circuit's missing estimates on many snapshots (cost-trend back-fill)."""
    from .models import CalibrationSnapshot, Circuit

    job = selectors.job_get(job_id)
    if job.status in (job.Status.SUCCEEDED, job.Status.FAILED):
        return  # re-queued by the sweep after it ran (or failed) already
    p = job.params
    services.job_start(job, total=len(p["snapshots"]), message="computing missing estimates")
    try:
        circuit = Circuit.objects.get(pk=p["circuit"])
        options = services.cost_options(p["options"])
        done, refused = [], []
        for i, snap in enumerate(CalibrationSnapshot.objects.filter(pk__in=p["snapshots"]).order_by("calibrated_at"), 1):
            try:
                est, _ = services.estimate_get_or_create(circuit, snap, options)
                done.append(est.pk)
            except services.EstimateRefused as exc:  # unrunnable on that snapshot: stored, go on with the next
                refused.append({"snapshot": snap.pk, "reason": exc.refusal.reason})
            services.job_progress(job, current=i)
    except Exception as exc:
        services.job_fail(job, error=exc)
        return
    services.job_succeed(job, result={"estimates": done, "refused": refused})


@shared_task(name="benchmarks_app.recost_reference_suite", acks_late=True)
def recost_reference_suite(snapshot_id) -> dict:
    """Re-cost the reference suite on a newly ingested snapshot (chained after every ingest)."""
    if isinstance(snapshot_id, dict):  # result of an ingest task in a chain
        snapshot_id = snapshot_id.get("snapshot_id")
    if not snapshot_id:
        return {}
    return services.recost_reference_suite(int(snapshot_id))


@shared_task(name="benchmarks_app.sweep_stale_work")
def sweep_stale_work() -> dict:
    """Periodic (beat, every HANAS_SWEEP_INTERVAL_SECONDS): re-queue or fail jobs and search runs whose task
    message was lost, so nothing stays queued forever after a broker outage or a lost worker."""
    from search_app import services as search_services

    return {"jobs": services.jobs_sweep(), "searches": search_services.runs_sweep()}
