"""Reads of the re-ranked fronts (issue 16, part 1): a run's fronts per snapshot, the architectures that entered
or left the front and how far each moved, and the robustness leaderboard (worst-case rank over a window)."""
from __future__ import annotations

import math

from hanas_platform.api import InputError

from .models import Candidate, FrontSnapshot, SearchRun

ROBUST_CHOICES = ("worst_rank",)


def fronts_of(run: SearchRun, user=None):
    """The run's re-ranked fronts on the snapshots ``user`` may see (a front on a private or team upload is shown
    to that snapshot's viewers only; ``user=None``: every front, for internal callers)."""
    qs = run.front_snapshots.select_related("job", "run").order_by("snapshot_calibrated_at", "id")
    return _visible(qs, user)


def _visible(qs, user):
    from benchmarks_app.selectors import ALL, snapshot_visibility_q

    cond = snapshot_visibility_q(ALL if user is None else user, prefix="snapshot__")
    return qs if cond is None else qs.filter(cond)


def summary(front: FrontSnapshot) -> dict:
    job = front.job
    return {"id": front.pk, "run": front.run_id, "snapshot": front.snapshot_id, "backend": front.backend_name,
            "snapshot_calibrated_at": front.snapshot_calibrated_at, "trigger": front.trigger, "status": front.status,
            "own_backend": front.backend_name == front.run.backend_name,
            "model_version": front.model_version, "n_candidates": front.n_candidates, "n_runnable": front.n_runnable,
            "front_size": front.front_size, "entered": front.entered, "left": front.left,
            "hypervolume": front.hypervolume, "error": front.error, "compute_seconds": front.compute_seconds,
            "job": None if job is None else {"id": str(job.pk), "status": job.status,
                                             "progress_current": job.progress_current,
                                             "progress_total": job.progress_total, "message": job.message}}


def own_summary(run: SearchRun) -> dict:
    """The run's own front (the snapshot it was searched on) in the same shape as a re-ranked one."""
    cands = run.candidates.all()
    return {"id": None, "run": run.pk, "snapshot": run.snapshot_id, "backend": run.backend_name,
            "snapshot_calibrated_at": run.snapshot_calibrated_at, "trigger": "search", "status": run.status,
            "own_backend": True, "n_candidates": cands.count(), "n_runnable": cands.filter(runnable=True).count(),
            "front_size": cands.filter(on_front=True).count(), "entered": [], "left": [],
            "hypervolume": (run.hypervolume or [None])[-1]}


def front_get(run: SearchRun, ref, user=None) -> FrontSnapshot:
    """A front of ``run`` by snapshot id, or "latest" (the newest finished one of the run's own backend)."""
    qs = fronts_of(run, user)
    if ref == "latest":
        front = (qs.filter(backend_name=run.backend_name, status=FrontSnapshot.Status.SUCCEEDED)
                 .order_by("-snapshot_calibrated_at", "-id").first())
    else:
        try:
            front = qs.filter(snapshot_id=int(ref)).first()
        except (TypeError, ValueError):
            raise InputError("give a snapshot id or 'latest'", field="snapshot") from None
    if front is None:
        raise InputError(f"run {run.pk} has no re-ranked front for snapshot {ref}", field="snapshot", status_code=404)
    return front


def _brief(c: Candidate) -> dict:
    return {"id": c.pk, "genome_key": c.genome_key, "genome": c.genome, "accuracy": c.accuracy,
            "params_total": c.params_total}


def detail(front: FrontSnapshot, limit: int = 50) -> dict:
    """The front on its snapshot (candidates with their costs there and on the run's own snapshot), the
    architectures that entered and left it, and the ``limit`` largest movers (rank change, then cost ratio)."""
    from cost_engine.rerank import movement_size

    cands = {c.genome_key: c for c in front.run.candidates.defer("cost")}
    res = front.results or {}

    def row(key):
        c, r = cands.get(key), res.get(key, {})
        if c is None:
            return None
        ratio = (r["c_total_s"] / c.c_total_s) if r.get("c_total_s") and c.c_total_s else None
        return {**_brief(c), "rank_before": c.pareto_rank, "rank_after": r.get("rank"),
                "rank_change": (None if r.get("rank") is None or c.pareto_rank is None
                                else r["rank"] - c.pareto_rank),
                "on_front_before": c.on_front, "on_front_after": bool(r.get("on_front")),
                "c_total_s_before": c.c_total_s, "c_total_s_after": r.get("c_total_s"), "cost_ratio": ratio,
                "runnable_after": r.get("runnable"), "physical_qubits_before": (c.quantum_report or {}).get(
                    "physical_qubits"), "physical_qubits_after": r.get("physical_qubits"),
                "log_esp_before": (c.quantum_report or {}).get("log_esp"), "log_esp_after": r.get("log_esp"),
                "reason": r.get("reason", "")}

    rows = [x for x in (row(k) for k in res) if x is not None]
    on_front = sorted((x for x in rows if x["on_front_after"]), key=lambda x: (x["c_total_s_after"] or math.inf))
    movers = sorted((x for x in rows if x["rank_change"] or x["on_front_before"] != x["on_front_after"]
                     or (x["cost_ratio"] is not None and abs(math.log(x["cost_ratio"])) > 1e-9)
                     or (x["cost_ratio"] is None and x["c_total_s_before"] is not None)),
                    key=movement_size)[:max(limit, 0)]
    by_key = {x["genome_key"]: x for x in rows}
    return {**summary(front), "front": on_front, "entered_detail": [by_key[k] for k in front.entered if k in by_key],
            "left_detail": [by_key[k] for k in front.left if k in by_key], "movers": movers}


def robust_leaderboard(runs, *, since=None, until=None, limit: int = 20, user=None) -> list[dict]:
    """Architectures ranked by their worst Pareto rank over the snapshots of their run's backend calibrated in
    [since, until] (the run's own snapshot included when in the window): an architecture that stays on the front
    whatever the drift ranks first. Ranks are within each run's candidates. Ties: higher accuracy, then lower
    worst C_total."""
    runs = {r.pk: r for r in runs.filter(status=SearchRun.Status.SUCCEEDED)}
    if not runs:
        return []
    fronts = _visible(FrontSnapshot.objects.filter(run_id__in=list(runs), status=FrontSnapshot.Status.SUCCEEDED),
                      user)
    if since is not None:
        fronts = fronts.filter(snapshot_calibrated_at__gte=since)
    if until is not None:
        fronts = fronts.filter(snapshot_calibrated_at__lte=until)
    per_run: dict[int, list] = {}
    for f in fronts.only("run_id", "backend_name", "snapshot_id", "snapshot_calibrated_at", "results"):
        if f.backend_name == runs[f.run_id].backend_name:
            per_run.setdefault(f.run_id, []).append(f)
    out = []
    for run_id, run in runs.items():
        own_in = ((since is None or (run.snapshot_calibrated_at and run.snapshot_calibrated_at >= since))
                  and (until is None or (run.snapshot_calibrated_at and run.snapshot_calibrated_at <= until)))
        fs = per_run.get(run_id, [])
        if not fs and not own_in:
            continue
        for c in run.candidates.defer("cost", "quantum_report"):
            seen = []  # (rank, c_total, snapshot id, calibrated_at)
            if own_in and c.pareto_rank is not None:
                seen.append((c.pareto_rank, c.c_total_s, run.snapshot_id, run.snapshot_calibrated_at))
            for f in fs:
                r = (f.results or {}).get(c.genome_key)
                if r is not None:
                    seen.append((r["rank"], r.get("c_total_s"), f.snapshot_id, f.snapshot_calibrated_at))
            if not seen:
                continue
            worst = max(seen, key=lambda s: s[0])
            costs = [s[1] for s in seen]
            out.append({**_brief(c), "run": run_id, "backend": run.backend_name, "dataset": run.dataset,
                        "worst_rank": worst[0], "best_rank": min(s[0] for s in seen), "snapshots": len(seen),
                        "worst_rank_snapshot": worst[2], "worst_rank_calibrated_at": worst[3],
                        "always_on_front": all(s[0] == 0 for s in seen) and all(x is not None for x in costs),
                        "worst_c_total_s": None if any(x is None for x in costs) else max(costs)})
    out.sort(key=lambda e: (e["worst_rank"], -e["accuracy"],
                            math.inf if e["worst_c_total_s"] is None else e["worst_c_total_s"]))
    return out[:limit]
