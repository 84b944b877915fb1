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
        end = run.finished_at if run.status not in SearchRun.ACTIVE and run.finished_at else (now or timezone.now())
        elapsed = (end - run.started_at).total_seconds()
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


EXCLUDED_BY_DEFAULT = (SearchRun.Status.FAILED, SearchRun.Status.CANCELLED)


def comparable_runs(user, *, dataset=None, backend=None, include_failed: bool = False) -> list[SearchRun]:
    """Runs the caller may see, failed and cancelled ones left out unless ``include_failed``, and one run per
    set of identical inputs (config hash): the earliest that succeeded, else the most advanced, else the
    latest. Runs stored before config hashes existed count as distinct."""
    runs = visible_runs(user)
    if not include_failed:
        runs = runs.exclude(status__in=EXCLUDED_BY_DEFAULT)
    if dataset:
        runs = runs.filter(dataset=dataset)
    if backend:
        runs = runs.filter(backend_name__in=_backend_aliases(backend))
    best: dict[str, SearchRun] = {}
    order: list[str] = []
    for run in runs.order_by("created_at")[:1000]:
        key = run.config_hash or f"run-{run.pk}"
        if key not in best:
            best[key] = run
            order.append(key)
            continue
        kept = best[key]
        rank = (run.status == SearchRun.Status.SUCCEEDED, run.generation)
        if rank > (kept.status == SearchRun.Status.SUCCEEDED, kept.generation):
            best[key] = run
    return [best[k] for k in order]


def space_key(run: SearchRun) -> str:
    """The objective space a run's hypervolume lives in (runs from before it was stored: a legacy space per
    dataset, as their costs came from an older cost model)."""
    return run.objective_space or f"{run.dataset}|legacy"


def space_reference(runs: list[SearchRun]) -> list[float] | None:
    """The reference point shared by runs of one objective space: the one stored with them, else the
    dataset's fixed point (legacy runs), else None when the dataset can no longer be read."""
    for run in runs:
        if run.objective_space and run.reference_point:
            return list(run.reference_point)
    from cost_engine.errors import CostEngineError
    from cost_engine.search import dataset_reference_point

    try:
        return dataset_reference_point(runs[0].dataset)
    except (CostEngineError, OSError):
        return None


def front_hypervolume(run: SearchRun, ref: list[float] | None) -> float | None:
    """Hypervolume of the run's current front against ``ref`` (recomputed, so runs compare on one point)."""
    import numpy as np

    from cost_engine.search import hypervolume

    if ref is None:
        return None
    F = [c.objectives for c in run.candidates.filter(on_front=True, runnable=True)]
    return hypervolume(np.asarray(F, dtype=float), ref) if F else 0.0


def compare_runs(runs: list[SearchRun]) -> dict:
    """Two or more runs side by side. Runs in one objective space (same dataset, objectives, cost-model
    versions) are measured against their shared reference point; otherwise ``comparable`` is False, says why,
    and each hypervolume is against the run's own space's point."""
    spaces = {space_key(r) for r in runs}
    comparable = len(spaces) == 1 and not next(iter(spaces)).endswith("|legacy")
    refs = {k: space_reference([r for r in runs if space_key(r) == k]) for k in spaces}
    sides = [{"run": r, "objective_space": space_key(r), "reference_point": refs[space_key(r)],
              "hypervolume": front_hypervolume(r, refs[space_key(r)]), "front": front(r)} for r in runs]
    reason = None
    if not comparable:
        reason = ("different datasets or cost-model versions: hypervolumes are against different reference points"
                  if len(spaces) > 1 else "runs from before reference points were fixed per dataset")
    return {"comparable": comparable, "reason": reason,
            "reference_point": refs[next(iter(spaces))] if comparable else None, "sides": sides}


def architecture_leaderboard(user, *, dataset=None, backend=None, budget_s=None, accuracy_floor=None,
                             limit: int = 20, include_failed: bool = False) -> dict:
    """Per objective space (one dataset, one cost model), over the comparable runs the caller may see (see
    :func:`comparable_runs`): the most accurate architecture within a cost budget, the cheapest above an
    accuracy floor (validation accuracy, the objective), and each run's front hypervolume against the space's
    shared reference point. Groups are ordered by dataset name; the flat lists concatenate the groups."""
    runs = comparable_runs(user, dataset=dataset, backend=backend, include_failed=include_failed)
    by_space: dict[str, list[SearchRun]] = {}
    for run in runs:
        by_space.setdefault(space_key(run), []).append(run)
    groups = []
    for key in sorted(by_space, key=lambda k: (by_space[k][0].dataset, k.endswith("|legacy"), k)):
        members = by_space[key]
        ref = space_reference(members)
        cands = (Candidate.objects.filter(run__in=[r.pk for r in members], runnable=True)
                 .select_related("run").defer("run__checkpoint"))
        most_accurate = cands if budget_s is None else cands.filter(c_total_s__lte=budget_s)
        cheapest = cands if accuracy_floor is None else cands.filter(accuracy__gte=accuracy_floor)
        hv_rows = []
        for run in members:
            hv = front_hypervolume(run, ref)
            if hv is not None and run.generation:
                hv_rows.append({"run": run.pk, "name": run.name, "dataset": run.dataset,
                                "backend": run.backend_name, "generations": run.generation, "hypervolume": hv,
                                "status": run.status, "objective_space": key})
        hv_rows.sort(key=lambda r: -r["hypervolume"])
        groups.append({"dataset": members[0].dataset, "objective_space": key, "reference_point": ref,
                       "runs": len(members),
                       "most_accurate_within_budget": list(most_accurate.order_by("-accuracy", "c_total_s")[:limit]),
                       "cheapest_above_accuracy_floor": list(cheapest.order_by("c_total_s", "-accuracy")[:limit]),
                       "hypervolume_by_run": hv_rows[:limit]})
    return {
        "groups": groups,
        "most_accurate_within_budget": [c for g in groups for c in g["most_accurate_within_budget"]],
        "cheapest_above_accuracy_floor": [c for g in groups for c in g["cheapest_above_accuracy_floor"]],
        "hypervolume_by_run": [r for g in groups for r in g["hypervolume_by_run"]],
    }


def _backend_aliases(name: str) -> list[str]:
    short = name.lower().removeprefix("fake_").removeprefix("ibm_").removeprefix("ibmq_")
    return [name, short, f"ibm_{short}", f"ibmq_{short}", f"fake_{short}"]


def latest_runs_summary(user, limit: int = 10) -> list[dict]:
    return list(visible_runs(user).annotate(best=Max("candidates__accuracy")).values(
        "id", "name", "dataset", "backend_name", "status", "generation", "generations_total", "best")[:limit])
