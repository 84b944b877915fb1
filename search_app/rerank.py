"""Writes of the drift re-ranking (issue 16, part 1): a finished run's candidates re-costed on another calibration
snapshot, stored as a FrontSnapshot per (run, snapshot).

- A new public snapshot of a backend (ingest, upload, history) -> ``enqueue_for_snapshot`` (from the ingest hook, via a
  Celery task: the hook itself only enqueues) creates one queued FrontSnapshot + Job per finished run on that
  backend and dispatches ``tasks.rerank_front`` for each.
- A run finishing after newer snapshots arrived -> ``enqueue_for_finished_run`` (the newest one).
- On request, any snapshot of a backend with enough usable qubits -> ``request_front``.
- ``compute_front`` re-costs the candidates in batches (job progress after each), ranks them and stores the
  result (cost_engine.rerank does the numbers).
"""
from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hanas_platform.api import InputError

from .models import Candidate, FrontSnapshot, SearchRun

JOB_KIND = "search_front"
_local = threading.local()


def _batch_size() -> int:
    return max(1, int(getattr(settings, "HANAS_RERANK_BATCH", 100)))


def compile_cache():
    """One compile cache per worker thread, large enough to hold every candidate's structure-level routing of a
    big run (the per-snapshot placements go in it too): re-costing on the next snapshot only places and scores."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        from cost_engine.quantum import CompileCache

        cache = _local.cache = CompileCache(maxsize=int(getattr(settings, "HANAS_RERANK_CACHE_SIZE", 20000)))
    return cache


def widest_candidate(run: SearchRun) -> int:
    widths = [int((g or {}).get("n_qubits", 0)) for g in run.candidates.values_list("genome", flat=True)]
    return max(widths, default=0)


def _public(snapshot) -> bool:
    return snapshot.visibility == snapshot.Visibility.PUBLIC and not snapshot.hidden


def _usable(snapshot) -> int:
    return int(snapshot.backend.num_qubits) - int(snapshot.non_operational_qubits or 0)


def _create(run: SearchRun, snapshot, trigger: str, owner=None) -> tuple[FrontSnapshot, bool]:
    from benchmarks_app import services as bench

    existing = FrontSnapshot.objects.filter(run=run, snapshot=snapshot).first()
    if existing is not None and existing.status != FrontSnapshot.Status.FAILED:
        return existing, False
    total = run.candidates.count()
    try:
        with transaction.atomic():
            job = bench.job_create(kind=JOB_KIND, owner=owner, total=total,
                                   params={"run": run.pk, "snapshot": snapshot.pk})
            if existing is not None:  # a failed attempt is tried again
                existing.status, existing.job, existing.error = FrontSnapshot.Status.QUEUED, job, ""
                existing.save(update_fields=["status", "job", "error"])
                front = existing
            else:
                front = FrontSnapshot.objects.create(
                    run=run, snapshot=snapshot, backend_name=snapshot.backend.name,
                    snapshot_calibrated_at=snapshot.calibrated_at, trigger=trigger, job=job, n_candidates=total)
            job.params = {**job.params, "front": front.pk}
            job.save(update_fields=["params"])
            transaction.on_commit(lambda fid=front.pk: _dispatch(fid))
    except IntegrityError:  # created concurrently (two ingests of one snapshot): the other row stands
        return FrontSnapshot.objects.get(run=run, snapshot=snapshot), False
    return front, True


def _dispatch(front_id: int) -> None:
    """Queue the front's job (benchmarks_app.services.job_dispatch: the stale-work sweep re-queues it if its
    message is lost). The broker unreachable: the job and the front are marked failed and BrokerUnavailable (503)
    propagates; asking again (or the next snapshot) retries a failed front."""
    from benchmarks_app import services as bench
    from hanas_platform.dispatch import BrokerUnavailable

    front = FrontSnapshot.objects.select_related("job").get(pk=front_id)
    try:
        bench.job_dispatch(front.job)
    except BrokerUnavailable as exc:
        fail_front(front_id, exc)
        raise


def enqueue_for_snapshot(snapshot_id: int) -> list[int]:
    """A queued front for every finished run on this snapshot's backend (not for the snapshot a run was costed on;
    runs whose candidates cannot fit the snapshot's usable qubits are skipped). Returns the front ids created."""
    from benchmarks_app.models import CalibrationSnapshot

    snapshot = CalibrationSnapshot.objects.select_related("backend").filter(pk=snapshot_id).first()
    if snapshot is None or not _public(snapshot):
        return []  # a private or team upload, or a hidden snapshot, re-ranks only on its viewers' request
    runs = (SearchRun.objects.filter(status=SearchRun.Status.SUCCEEDED, backend_name=snapshot.backend.name)
            .exclude(snapshot_id=snapshot.pk).defer("checkpoint").order_by("pk"))
    made = []
    for run in runs:
        if widest_candidate(run) > _usable(snapshot):
            continue
        front, created = _create(run, snapshot, FrontSnapshot.Trigger.INGEST)
        if created:
            made.append(front.pk)
    return made


def enqueue_for_finished_run(run_id: int) -> list[int]:
    """A run that finishes after newer snapshots of its backend arrived (a search pins its snapshot at start):
    queue its front on the newest one. Returns the front ids created."""
    from benchmarks_app.models import CalibrationSnapshot

    run = SearchRun.objects.defer("checkpoint").filter(pk=run_id, status=SearchRun.Status.SUCCEEDED).first()
    if run is None or run.snapshot_calibrated_at is None:
        return []
    newest = (CalibrationSnapshot.objects.select_related("backend")
              .filter(backend__name=run.backend_name, visibility=CalibrationSnapshot.Visibility.PUBLIC, hidden=False)
              .order_by("-calibrated_at", "-id").first())
    if newest is None or newest.pk == run.snapshot_id or newest.calibrated_at <= run.snapshot_calibrated_at:
        return []
    if widest_candidate(run) > _usable(newest):
        return []
    front, created = _create(run, newest, FrontSnapshot.Trigger.INGEST)
    return [front.pk] if created else []


REQUEST_FIELDS = {"backend", "snapshot"}


def request_front(run: SearchRun, data, user) -> tuple[FrontSnapshot, bool]:
    """"How would this front look on <backend>?": validate (unknown fields, unfinished run, unknown backend or
    snapshot, too few usable qubits: 4xx naming the field) and queue the re-costing. Returns (front, created)."""
    from benchmarks_app import selectors as bench_selectors

    if not isinstance(data, dict):
        raise InputError("body must be a JSON object {backend, snapshot}", field="body")
    unknown = sorted(set(data) - REQUEST_FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {unknown}; allowed: {sorted(REQUEST_FIELDS)}", field=unknown[0])
    if user is None or not user.is_authenticated:
        raise InputError("log in to ask for a re-ranked front", field="user", status_code=403)
    if run.status != SearchRun.Status.SUCCEEDED:
        raise InputError(f"run {run.pk} is {run.status}: only finished runs are re-ranked", field="run",
                         status_code=409)
    backend = data.get("backend") or run.backend_name
    if not isinstance(backend, str):
        raise InputError("backend must be a backend name", field="backend")
    which = data.get("snapshot", "latest")
    if not isinstance(which, (str, int)) or isinstance(which, bool):
        raise InputError("snapshot must be 'latest', an ISO date or a snapshot id", field="snapshot")
    snapshot = bench_selectors.snapshot_for(backend, str(which), user=user)  # among those the user may see
    widest = widest_candidate(run)
    if widest > _usable(snapshot):
        raise InputError(f"run {run.pk} has candidates of {widest} qubits but {snapshot.backend.name} has "
                         f"{_usable(snapshot)} usable", field="backend")
    return _create(run, snapshot, FrontSnapshot.Trigger.REQUEST, owner=user)


def _baseline(run: SearchRun) -> dict:
    return {k: {"rank": r, "on_front": f, "c_total_s": c} for k, r, f, c in
            run.candidates.values_list("genome_key", "pareto_rank", "on_front", "c_total_s")}


def compute_front(front_id: int, progress=None) -> FrontSnapshot:
    """Re-cost every candidate of the front's run on its snapshot in batches (``progress(done, total)`` after each),
    rank them and store the result. Idempotent: a finished front is returned as it is."""
    from cost_engine import rerank
    from cost_engine.quantum import MODEL_VERSION
    from cost_engine.search import SearchConfig, hypervolume

    import numpy as np

    from .services import _execution_profile

    front = FrontSnapshot.objects.select_related("snapshot__backend", "run").get(pk=front_id)
    if front.status == FrontSnapshot.Status.SUCCEEDED:
        return front
    started = time.perf_counter()
    FrontSnapshot.objects.filter(pk=front_id).update(status=FrontSnapshot.Status.RUNNING)
    run = front.run
    cfg = SearchConfig.from_dict(run.config)
    calibration = front.snapshot.calibration()
    cache = compile_cache()
    execution_profile = _execution_profile(getattr(cfg, "execution_profile", ""))  # the one the run pinned
    qs = Candidate.objects.filter(run=run).order_by("pk")
    total = qs.count()
    results, last, done, size = [], 0, 0, _batch_size()
    while True:
        batch = list(qs.filter(pk__gt=last).values("pk", "genome_key", "genome", "accuracy", "params_total",
                                                   "cost")[:size])
        if not batch:
            break
        last = batch[-1]["pk"]
        results.extend(rerank.recost_many(({"key": b["genome_key"], **b} for b in batch), cfg, calibration, cache,
                                          execution_profile))
        done += len(batch)
        if progress is not None:
            progress(done, total)
    ranks = rerank.rank(results)
    out = {}
    for r, k in zip(results, ranks):
        out[r.key] = {**r.to_dict(), "rank": k, "on_front": bool(k == 0 and r.runnable)}
    mv = rerank.moves(_baseline(run), out)
    F = [r.F for r in results if out[r.key]["on_front"]]
    hv = hypervolume(np.asarray(F), run.reference_point) if F and run.reference_point else None
    with transaction.atomic():
        FrontSnapshot.objects.filter(pk=front_id).update(
            status=FrontSnapshot.Status.SUCCEEDED, model_version=MODEL_VERSION, n_candidates=len(results),
            n_runnable=sum(r.runnable for r in results), front_size=sum(v["on_front"] for v in out.values()),
            results=out, entered=mv["entered"], left=mv["left"], hypervolume=hv, error="",
            compute_seconds=time.perf_counter() - started, finished_at=timezone.now())
    front.refresh_from_db()
    return front


def fail_front(front_id: int, error: BaseException) -> None:
    FrontSnapshot.objects.filter(pk=front_id).update(status=FrontSnapshot.Status.FAILED,
                                                     error=f"{type(error).__name__}: {error}"[:5000],
                                                     finished_at=timezone.now())
