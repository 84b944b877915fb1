"""Server-rendered dashboard pages for search runs (HTML). Tables come from search_app.selectors, charts are
drawn in the browser from the REST API (/api/searches/..., /api/leaderboards/architectures/): the pages hold
no state of their own."""
from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from hanas_platform.api import InputError

from . import selectors
from .models import SearchRun


def home(request):
    """Links to every dashboard page and the latest runs the visitor may see."""
    runs = selectors.latest_runs_summary(request.user, limit=10)
    return render(request, "search_app/home.html", {"runs": runs, "page_config": {}})


def search_list(request):
    runs = list(selectors.visible_runs(request.user).order_by("-created_at")[:100])
    for run in runs:
        run.progress_info = selectors.progress(run)
    return render(request, "search_app/search_list.html", {
        "runs": runs,
        "page_config": {"api": reverse("search-list")},
    })


def search_detail(request, pk: int):
    try:
        run = selectors.run_get(request.user, pk)
    except InputError:
        raise Http404(f"search run {pk} not found") from None
    return render(request, "search_app/search_detail.html", {
        "run": run,
        "progress": selectors.progress(run),
        "drift": _drift_context(run, request.user),
        "page_config": {
            "run": run.pk,
            "active_statuses": list(SearchRun.ACTIVE),
            "poll_ms": 3000,
            "api": {
                "run": reverse("search-detail", args=[run.pk]),
                "candidates": reverse("search-candidates", args=[run.pk]),
                "pareto": reverse("search-pareto", args=[run.pk]),
            },
        },
    })


def architecture_leaderboard(request):
    q = request.GET
    filters = {k: q.get(k, "") for k in ("dataset", "backend", "budget_s", "accuracy_floor")}
    datasets = sorted(set(selectors.visible_runs(request.user).values_list("dataset", flat=True)))
    backends = sorted(set(selectors.visible_runs(request.user).values_list("backend_name", flat=True)))
    return render(request, "search_app/leaderboard_architectures.html", {
        "filters": filters, "datasets": datasets, "backends": backends,
        "page_config": {"api": reverse("leaderboard-architectures"), "filters": filters},
    })


def _label(genome: dict) -> str:
    g = genome or {}
    pre = "-".join(str(w) for w in g.get("pre_widths") or []) or "none"
    return (f"{g.get('n_qubits')}q x {g.get('n_layers')}L {g.get('encoding')} {'/'.join(g.get('rotations') or [])} "
            f"{g.get('entangler')}-{g.get('entangler_gate')} pre {pre} {g.get('head')}")


def _drift_context(run: SearchRun, user) -> dict:
    """The run's front on its own snapshot and on the latest re-ranked snapshot of its backend, and the movers
    (search_app.fronts)."""
    from . import fronts

    own = [{"label": _label(c.genome), "genome_key": c.genome_key, "accuracy": c.accuracy,
            "params_total": c.params_total, "c_total_s": c.c_total_s}
           for c in run.candidates.filter(on_front=True).order_by("c_total_s")]
    all_fronts = [fronts.summary(f) for f in fronts.fronts_of(run, user)]
    try:
        latest = fronts.detail(fronts.front_get(run, "latest", user), limit=20)
    except InputError:
        latest = None
    if latest is not None:
        for row in latest["front"] + latest["movers"]:
            row["label"] = _label(row["genome"])
    return {"own": own, "latest": latest, "fronts": all_fronts,
            "api": reverse("search-fronts", args=[run.pk])}
