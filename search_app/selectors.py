"""Read operations of search runs: visibility rules, progress and ETA, fronts, comparisons, leaderboards."""
from __future__ import annotations

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from hanas_platform.api import InputError

from .models import Candidate, SearchRun, TeamAdmin


def visible_runs(user) -> QuerySet[SearchRun]:
    """Public runs for everyone; team runs for the team's members; private runs for their owner. Without the
    NSGA-II checkpoint (a pickled driver, ~18 kB), which only the search loop reads."""
    qs = SearchRun.objects.select_related("owner", "team").defer("checkpoint")
    if user is None or not user.is_authenticated:
        return qs.filter(visibility=SearchRun.Visibility.PUBLIC)
    if user.is_superuser:
        return qs
    return qs.filter(Q(visibility=SearchRun.Visibility.PUBLIC) | Q(owner=user)
                     | Q(visibility=SearchRun.Visibility.TEAM, team__in=user.groups.all())).distinct()


def run_get(user, run_id) -> SearchRun:
    """The run if ``user`` may see it; otherwise 404 (a private run's existence is not revealed)."""
    try:
        return visible_runs(user).get(pk=int(run_id))
    except (SearchRun.DoesNotExist, ValueError, TypeError):
        raise InputError(f"search run {run_id} not found", field="id", status_code=404) from None


def can_cancel(run: SearchRun, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser or run.owner_id == user.pk:
        return True
    return bool(run.team_id and TeamAdmin.objects.filter(team_id=run.team_id, user=user).exists())


def progress(run: SearchRun, now=None) -> dict:
    """Generation k of N, candidates evaluated, and an ETA from the run's own wall-clock pace: evaluations per
    second since it started, all workers together (so adding workers shortens it), over the evaluations left."""
    population = int(run.config.get("population", 0))
    per_eval = run.eval_seconds_total / run.candidates_evaluated if run.candidates_evaluated else None
    remaining_generations = max(run.generations_total - run.generation, 0)
    pending_left = 0
    if run.pending_keys:
        stored = Candidate.objects.filter(run=run, genome_key__in=run.pending_keys).count()
        pending_left = len(set(run.pending_keys)) - stored
        remaining_generations = max(remaining_generations - 1, 0)
    remaining = pending_left + remaining_generations * population
    rate = None
    if run.started_at and run.candidates_evaluated:
        elapsed = ((now or timezone.now()) - run.started_at).total_seconds()
        rate = run.candidates_evaluated / elapsed if elapsed > 0 else None
    eta = None
    if run.status in SearchRun.ACTIVE and rate:
        eta = remaining / rate
    elif run.status not in SearchRun.ACTIVE:
        eta = 0.0
    return {
        "generation": run.generation, "generations_total": run.generations_total,
        "candidates_evaluated": run.candidates_evaluated, "pending_in_generation": pending_left,
        "fraction": (run.generation / run.generations_total) if run.generations_total else 0.0,
        "seconds_per_evaluation": per_eval, "evaluations_per_second": rate,
        "eta_seconds": eta,
        "eta_note": "evaluations left / evaluations per wall-clock second since the run started (all workers "
                    "together); an upper bound, as genomes already evaluated in the run are not trained again",
    }


def candidates(run: SearchRun, *, generation=None, on_front=None) -> QuerySet[Candidate]:
    qs = run.candidates.all()
    if generation is not None:
        qs = qs.filter(generation=generation)
    if on_front is not None:
        qs = qs.filter(on_front=on_front)
    return qs.order_by("generation", "id")


def front(run: SearchRun) -> QuerySet[Candidate]:
    return run.candidates.filter(on_front=True).order_by("c_total_s", "-accuracy")


def architecture_leaderboard(user, *, dataset=None, backend=None, budget_s=None, accuracy_floor=None,
                             limit: int = 20) -> dict:
    """Over every finished-or-running run the caller may see: the most accurate architecture within a cost
    budget, the cheapest above an accuracy floor, and each run's latest front hypervolume."""
    runs = visible_runs(user)
    if dataset:
        runs = runs.filter(dataset=dataset)
    if backend:
        runs = runs.filter(backend_name__in=_backend_aliases(backend))
    cands = Candidate.objects.filter(run__in=runs, runnable=True).select_related("run").defer("run__checkpoint")
    most_accurate = cands
    if budget_s is not None:
        most_accurate = most_accurate.filter(c_total_s__lte=budget_s)
    cheapest = cands
    if accuracy_floor is not None:
        cheapest = cheapest.filter(accuracy__gte=accuracy_floor)
    hv_rows = []
    for run in runs.order_by("-created_at")[:200]:
        if run.hypervolume:
            hv_rows.append({"run": run.pk, "name": run.name, "dataset": run.dataset, "backend": run.backend_name,
                            "generations": run.generation, "hypervolume": run.hypervolume[-1],
                            "status": run.status})
    hv_rows.sort(key=lambda r: -r["hypervolume"])
    return {
        "most_accurate_within_budget": list(most_accurate.order_by("-accuracy", "c_total_s")[:limit]),
        "cheapest_above_accuracy_floor": list(cheapest.order_by("c_total_s", "-accuracy")[:limit]),
        "hypervolume_by_run": hv_rows[:limit],
    }


def _backend_aliases(name: str) -> list[str]:
    short = name.lower().removeprefix("fake_").removeprefix("ibm_").removeprefix("ibmq_")
    return [name, short, f"ibm_{short}", f"ibmq_{short}", f"fake_{short}"]


def latest_runs_summary(user, limit: int = 10) -> list[dict]:
    return list(visible_runs(user).annotate(best=Max("candidates__accuracy")).values(
        "id", "name", "dataset", "backend_name", "status", "generation", "generations_total", "best")[:limit])
