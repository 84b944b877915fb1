"""Celery tasks of the search: the loop step and one evaluation per candidate (see search_app.services)."""
from __future__ import annotations

import logging

from celery import group, shared_task
from django.conf import settings

from . import services

log = logging.getLogger(__name__)


def _watchdog_seconds() -> float:
    return float(getattr(settings, "HANAS_SEARCH_WATCHDOG_SECONDS", 30))


@shared_task(name="search_app.advance_search", acks_late=True)
def advance_search(run_id: int, watchdog_generation: int | None = None) -> str:
    """Step the run; dispatch a generation's evaluations as a group. In eager mode (the embedded default)
    the group runs inline, so this loops until the run ends."""
    from .models import SearchRun

    eager = bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))
    while True:
        try:
            state, todo = services.advance(run_id)
        except Exception as exc:  # a bug or bad data: the run fails visibly instead of hanging
            log.exception("search %s failed while advancing", run_id)
            services.search_fail(run_id, exc)
            return "failed"
        if state == "again":
            continue
        if state in ("dispatch", "redispatch"):
            group(evaluate_candidate.s(run_id, t["generation"], t["genome"]) for t in todo).apply_async()
            if eager:
                continue
            # one watchdog chain per generation: started by the dispatch, kept alive by itself
            if state == "dispatch" or watchdog_generation is not None:
                advance_search.apply_async((run_id, todo[0]["generation"]), countdown=_watchdog_seconds())
            return state
        if state == "waiting" and watchdog_generation is not None and not eager:
            run = SearchRun.objects.filter(pk=run_id).only("generation", "status").first()
            if run is not None and run.status in SearchRun.ACTIVE and run.generation <= watchdog_generation:
                advance_search.apply_async((run_id, watchdog_generation), countdown=_watchdog_seconds())
        return state


@shared_task(name="search_app.evaluate_candidate", acks_late=True)
def evaluate_candidate(run_id: int, generation: int, genome: dict) -> bool:
    try:
        last = services.evaluate_and_record(run_id, generation, genome)
    except Exception as exc:
        log.exception("search %s: evaluating %s failed", run_id, genome)
        services.search_fail(run_id, exc)
        return False
    if last and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False):
        advance_search.delay(run_id)
    return last


# --- fronts re-ranked on new snapshots (issue 16) ------------------------------------------------------------
@shared_task(name="search_app.rerank_new_snapshot", acks_late=True)
def rerank_new_snapshot(snapshot_id: int) -> list:
    """Queue a re-ranked front for every finished run on the new snapshot's backend (enqueued by the ingest hook)."""
    from . import rerank

    return rerank.enqueue_for_snapshot(int(snapshot_id))


@shared_task(name="search_app.rerank_finished_run", acks_late=True)
def rerank_finished_run(run_id: int) -> list:
    """A run just finished: re-rank it on its backend's newest snapshot if one arrived while it ran."""
    from . import rerank

    return rerank.enqueue_for_finished_run(int(run_id))


@shared_task(name="search_app.rerank_front_job", acks_late=True)
def rerank_front_job(job_id: str) -> dict:
    """The Job of one front (kind "search_front", benchmarks_app.services.JOB_TASKS): re-cost the run's candidates
    on the snapshot in batches; progress and result go to the Job."""
    from benchmarks_app import selectors as bench_selectors

    from .models import FrontSnapshot

    job = bench_selectors.job_get(job_id)
    if job.status in (job.Status.SUCCEEDED, job.Status.FAILED):
        return {}  # re-queued by the sweep after it ran (or failed) already
    front = FrontSnapshot.objects.filter(pk=(job.params or {}).get("front")).first()
    if front is None:
        from benchmarks_app import services as bench

        bench.job_fail(job, error=f"front {(job.params or {}).get('front')} no longer exists")
        return {}
    return rerank_front(front.pk)


def rerank_front(front_id: int) -> dict:
    """Re-cost one run's candidates on one snapshot in batches; progress and result go to the front's Job."""
    from benchmarks_app import services as bench

    from . import rerank
    from .models import FrontSnapshot

    front = FrontSnapshot.objects.select_related("job").filter(pk=front_id).first()
    if front is None:
        return {}
    job = front.job
    if job is not None:
        bench.job_start(job, total=front.n_candidates, message=f"re-costing on {front.backend_name}")

    def progress(done, total):
        if job is not None:
            bench.job_progress(job, current=done, total=total, message=f"{done}/{total} candidates re-costed")

    try:
        front = rerank.compute_front(front_id, progress)
    except Exception as exc:  # bad data or a bug: the front and its job fail visibly
        log.exception("re-ranking front %s failed", front_id)
        rerank.fail_front(front_id, exc)
        if job is not None:
            bench.job_fail(job, error=exc)
        return {"front": front_id, "status": "failed"}
    result = {"front": front.pk, "run": front.run_id, "snapshot": front.snapshot_id, "front_size": front.front_size,
              "entered": front.entered, "left": front.left, "seconds": front.compute_seconds}
    if job is not None:
        bench.job_succeed(job, result=result)
    return result
