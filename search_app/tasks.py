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
