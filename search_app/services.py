"""Write operations of search runs: create, cancel, and the checkpointed NSGA-II loop that Celery drives.

The loop (:func:`advance`) is a short, idempotent step run under a row lock on the SearchRun:
1. if every genome asked for the current generation has a Candidate row, tell NSGA-II their objectives,
   update Pareto ranks and hypervolume, and checkpoint (the pickled driver) — a generation is told once;
2. if generations remain, ask the next population, checkpoint the asked state, and dispatch one
   ``evaluate_candidate`` task per genome not evaluated yet in this run, as a Celery group.
Evaluations write their Candidate idempotently (unique per run and genome) and, when the last pending one
lands, trigger ``advance`` again; a slow watchdog re-runs ``advance`` in case a trigger was lost. A worker
killed mid-generation loses only evaluations in flight: with late acknowledgement the broker redelivers
them, and every finished evaluation is already a row.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cost_engine.errors import CostEngineError
from cost_engine.hqnn import Genome
from cost_engine.search import (Driver, SearchConfig, dataset_reference_point, hypervolume, objective_space,
                                 pareto_ranks, run_reference_point)
from hanas_platform.api import InputError

from .models import Candidate, SearchRun

log = logging.getLogger(__name__)

# Callables (run, event: str) told about progress in this process (the run_search command's progress bar).
PROGRESS_LISTENERS: list = []


def _notify(run: SearchRun, event: str) -> None:
    for listener in list(PROGRESS_LISTENERS):
        try:
            listener(run, event)
        except Exception:  # a broken listener must not break the search
            log.exception("progress listener failed")


# ------------------------------------------------------------------------------------------ create
def config_hash(cfg: SearchConfig, snapshot_id: int) -> str:
    """Identity of a run's inputs: the validated config, the pinned snapshot and the cost-model versions."""
    import hashlib
    import json

    from cost_engine.quantum import MODEL_VERSION
    from cost_engine.training import TRAINING_COST_VERSION

    blob = json.dumps({"config": cfg.to_dict(), "snapshot_id": snapshot_id, "quantum_model": MODEL_VERSION,
                       "training_cost": TRAINING_COST_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def search_create(*, owner, config: dict, name: str = "", visibility: str = SearchRun.Visibility.PRIVATE,
                  team=None, start: bool = True, reuse: bool = False) -> SearchRun:
    """Validate the config (errors name the field), pin the calibration snapshot, store the run, start it.
    With ``reuse``, an identical finished run (same config hash) of the same owner and visibility is returned
    instead of starting a new one (``run.reused`` is then True)."""
    from benchmarks_app import selectors as bench_selectors

    from . import datasets

    config = dict(config or {})
    if "dataset" in config:
        config["dataset"] = datasets.normalise_ref(config["dataset"])
        datasets.check_ref(config["dataset"], owner)  # before anything else looks at it: no server paths
    try:
        cfg = SearchConfig.from_dict(config)
    except CostEngineError as exc:
        raise InputError(str(exc), field=f"config.{exc.field}" if exc.field else "config") from exc
    except TypeError as exc:
        raise InputError(f"invalid search config: {exc}", field="config") from exc
    if visibility not in SearchRun.Visibility.values:
        raise InputError(f"visibility must be one of {SearchRun.Visibility.values}", field="visibility")
    if visibility == SearchRun.Visibility.TEAM and team is None:
        raise InputError("a team run needs a team", field="team")
    if team is not None and not owner.groups.filter(pk=team.pk).exists():
        raise InputError(f"you are not a member of team {team.name!r}", field="team")
    _check_dataset(cfg)
    cfg = _pin_execution_profile(cfg, owner)
    try:
        snapshot = bench_selectors.snapshot_for(cfg.backend, cfg.snapshot, user=owner)
    except CostEngineError as exc:
        raise InputError(str(exc), field="config.backend" if exc.field in (None, "backend") else
                         f"config.{exc.field}") from exc
    calibration = snapshot.calibration()
    widest = cfg.search_space.max_qubits
    usable = calibration.num_qubits - len(calibration.non_operational_qubits)
    if widest > usable:
        raise InputError(f"search space allows {widest} qubits but {snapshot.backend.name} has {usable} usable",
                         field="config.space.max_qubits")
    digest = config_hash(cfg, snapshot.pk)
    if reuse:
        same = SearchRun.objects.filter(config_hash=digest, owner=owner, visibility=visibility, team=team,
                                        status=SearchRun.Status.SUCCEEDED).order_by("created_at").first()
        if same is not None:
            same.reused = True
            return same
    with transaction.atomic():
        run = SearchRun.objects.create(
            name=name or f"{cfg.dataset} on {snapshot.backend.name}", owner=owner, team=team,
            visibility=visibility, config=cfg.to_dict(), dataset=cfg.dataset, backend_name=snapshot.backend.name,
            snapshot_id=snapshot.pk, snapshot_calibrated_at=snapshot.calibrated_at,
            generations_total=cfg.generations, config_hash=digest, objective_space=objective_space(cfg.dataset),
            reference_point=dataset_reference_point(cfg.dataset, data=_dataset(cfg)))
        run.reused = False
        if start:
            transaction.on_commit(lambda: search_dispatch(run.pk))
    if start and settings.CELERY_TASK_ALWAYS_EAGER:
        run.refresh_from_db()
    return run


def _pin_execution_profile(cfg: SearchConfig, owner) -> SearchConfig:
    """The config with its execution profile pinned to "name@vN" (one the owner may see; unknown -> 400)."""
    import dataclasses

    from profiles_app import selectors as profile_selectors

    if not cfg.execution_profile:
        return cfg
    row = profile_selectors.profile_get(owner, cfg.execution_profile, field="config.execution_profile")
    return dataclasses.replace(cfg, execution_profile=str(row))


def _execution_profile(ref: str):
    """The engine profile of a pinned "name@vN" (None: the built-in default), cached per process."""
    if not ref:
        return None
    from profiles_app import selectors as profile_selectors

    return _process_cache("execution_profiles", ref,
                          lambda: profile_selectors.profile_get(None, ref, everyone=True).engine())


def _check_dataset(cfg: SearchConfig) -> None:
    from . import datasets

    try:
        datasets.load(cfg.dataset, seed=cfg.seed)
    except CostEngineError as exc:
        raise InputError(str(exc), field="config.dataset") from exc


def search_dispatch(run_id: int, *, fail_on_error: bool = True) -> None:
    """Queue the run's first step. The broker unreachable: the run is marked failed with the reason (unless
    ``fail_on_error`` is False, as in the sweep) and BrokerUnavailable (HTTP 503) propagates."""
    from hanas_platform.dispatch import BrokerUnavailable, send

    from . import tasks

    try:
        send(tasks.advance_search, (run_id,), what=f"search run {run_id}")
    except BrokerUnavailable as exc:
        if fail_on_error:
            SearchRun.objects.filter(pk=run_id, status__in=SearchRun.ACTIVE).update(
                status=SearchRun.Status.FAILED, error=str(exc)[:5000], finished_at=timezone.now())
        raise


def runs_sweep(*, now=None) -> dict:
    """Active runs nothing has touched for HANAS_STALE_QUEUED_SECONDS (their message was lost: broker outage,
    lost local queue, killed worker) get their step re-queued (``advance`` is idempotent under the run's row
    lock and re-dispatches missing evaluations); runs still queued after HANAS_QUEUED_MAX_SECONDS fail."""
    from hanas_platform.dispatch import BrokerUnavailable

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.HANAS_STALE_QUEUED_SECONDS)
    oldest = now - timedelta(seconds=settings.HANAS_QUEUED_MAX_SECONDS)
    out = {"requeued": [], "failed": []}
    for run in SearchRun.objects.filter(status__in=SearchRun.ACTIVE, updated_at__lt=stale).order_by("created_at")[:200]:
        if run.status == SearchRun.Status.QUEUED and run.created_at < oldest:
            search_fail(run.pk, RuntimeError(f"never started: still queued {settings.HANAS_QUEUED_MAX_SECONDS:.0f} s "
                                             "after it was created (is a Celery worker running?)"))
            out["failed"].append(run.pk)
            continue
        try:
            search_dispatch(run.pk, fail_on_error=False)
        except BrokerUnavailable:
            break
        SearchRun.objects.filter(pk=run.pk).update(updated_at=now)  # the next sweep waits again
        out["requeued"].append(run.pk)
    return out


def search_cancel(run: SearchRun, user) -> SearchRun:
    from . import selectors

    if not selectors.can_cancel(run, user):
        raise InputError("only the owner or a team admin may cancel this run", field="run", status_code=403)
    with transaction.atomic():
        run = SearchRun.objects.select_for_update().get(pk=run.pk)
        if run.status in SearchRun.ACTIVE:
            run.status = SearchRun.Status.CANCELLED
            run.finished_at = timezone.now()
            run.pending_keys = []
            run.save(update_fields=["status", "finished_at", "pending_keys", "updated_at"])
        else:
            raise InputError(f"search run {run.pk} has already finished ({run.status}); only a queued or running "
                             f"run can be cancelled", field="status", status_code=409)
    return run


# ---------------------------------------------------------------------------------- the loop
_local = threading.local()


def _process_cache(name: str, key, build):
    cache = getattr(_local, name, None)
    if cache is None:
        cache = {}
        setattr(_local, name, cache)
    if key not in cache:
        if len(cache) > 8:
            cache.clear()
        cache[key] = build()
    return cache[key]


def _calibration(snapshot_id: int):
    from benchmarks_app.models import CalibrationSnapshot

    return _process_cache("calibrations", snapshot_id,
                          lambda: CalibrationSnapshot.objects.get(pk=snapshot_id).calibration())


def _dataset(cfg: SearchConfig):
    from . import datasets

    return _process_cache("datasets", (cfg.dataset, cfg.seed, cfg.max_train_samples),
                          lambda: datasets.load(cfg.dataset, seed=cfg.seed, max_train_samples=cfg.max_train_samples))


def _compile_cache():
    from cost_engine.quantum import CompileCache

    return _process_cache("compile", "cache", CompileCache)


def evaluate_and_record(run_id: int, generation: int, genome_data: dict) -> bool:
    """Evaluate one genome for a run and store it. Returns True when the generation's last pending genome
    has landed (the caller then advances the run). Safe to run twice: the second run writes nothing."""
    from cost_engine.hqnn import Genome
    from cost_engine.search import evaluate_genome

    run = SearchRun.objects.filter(pk=run_id).first()
    if run is None or run.status not in SearchRun.ACTIVE:
        return False
    genome = Genome.from_dict(genome_data)
    key = genome.key()
    if not Candidate.objects.filter(run_id=run_id, genome_key=key).exists():
        cfg = SearchConfig.from_dict(run.config)
        ev = evaluate_genome(genome, cfg, _calibration(run.snapshot_id), _dataset(cfg), _compile_cache(),
                             execution_profile=_execution_profile(cfg.execution_profile))
        cost = ev.cost
        try:
            with transaction.atomic():
                Candidate.objects.create(
                    run_id=run_id, genome_key=key, genome=ev.genome, generation=generation, accuracy=ev.accuracy,
                    test_accuracy=ev.test_accuracy,
                    train_loss=ev.train_loss, params_classical=ev.params_classical,
                    params_quantum=ev.params_quantum, params_total=ev.params_total,
                    c_q_wallclock_s=cost.get("c_q_wallclock_s"), c_q_paper_s=cost.get("c_q_paper_s"),
                    c_c_s=cost.get("c_c_s"), c_total_s=cost.get("c_total_s"), flops_only=cost.get("flops_only_total"),
                    runnable=ev.G <= 0, objectives=ev.F, cost=cost, quantum_report=ev.quantum,
                    train_seconds=ev.train_seconds, cost_seconds=ev.cost_seconds)
                SearchRun.objects.filter(pk=run_id).update(
                    candidates_evaluated=F("candidates_evaluated") + 1,
                    eval_seconds_total=F("eval_seconds_total") + ev.train_seconds + ev.cost_seconds)
        except IntegrityError:
            pass  # evaluated concurrently by a redelivered task: the stored row stands
    run.refresh_from_db()
    _notify(run, "candidate")
    pending = list(run.pending_keys or [])
    if not pending:
        return False
    stored = set(Candidate.objects.filter(run_id=run_id, genome_key__in=pending).values_list("genome_key", flat=True))
    return stored >= set(pending)


def advance(run_id: int) -> tuple[str, list[dict]]:
    """One idempotent step of the loop (see module doc). Returns (state, genomes to dispatch) with state
    "dispatch" (evaluate these), "again" (the new generation needs no evaluation: step again at once),
    "waiting" (evaluations still running), "redispatch" (the generation has waited longer than
    HANAS_SEARCH_REDISPATCH_SECONDS: these unevaluated genomes should be sent again, in case their messages were
    lost; evaluation is idempotent) or "stopped" (finished, cancelled, failed)."""
    with transaction.atomic():
        run = SearchRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status not in SearchRun.ACTIVE:
            return "stopped", []
        cfg = SearchConfig.from_dict(run.config)
        if run.status == SearchRun.Status.QUEUED:
            run.status = SearchRun.Status.RUNNING
            run.started_at = timezone.now()
        driver = Driver.loads(bytes(run.checkpoint)) if run.checkpoint else Driver(cfg)
        pending = list(run.pending_keys or [])
        if pending:
            rows = {c.genome_key: c for c in run.candidates.filter(genome_key__in=pending)}
            if set(rows) < set(pending):
                waited = (timezone.now() - run.generation_started_at).total_seconds() if run.generation_started_at \
                    else math.inf
                if waited < float(getattr(settings, "HANAS_SEARCH_REDISPATCH_SECONDS", 900)):
                    return "waiting", []
                missing = [{"generation": driver.generation, "genome": g} for g in run.pending_genomes
                           if Genome.from_dict(g).key() not in rows]
                run.generation_started_at = timezone.now()
                run.save(update_fields=["generation_started_at", "updated_at"])
                return "redispatch", missing
            cands = [rows[k] for k in pending]
            driver.tell([c.objectives for c in cands], [0.0 if c.runnable else 1.0 for c in cands])
            if run.reference_point is None:
                run.reference_point = run_reference_point(cfg, [c.objectives for c in cands if c.runnable],
                                                          dataset=_dataset(cfg))
            _update_ranks(run)
            front = [c.objectives for c in run.candidates.filter(on_front=True)]
            run.hypervolume = list(run.hypervolume or []) + [hypervolume(np.asarray(front), run.reference_point)]
            run.generation = driver.generation
            run.pending_keys = []
            run.pending_genomes = []
        if driver.finished:
            run.status = SearchRun.Status.SUCCEEDED
            run.finished_at = timezone.now()
            run.checkpoint = driver.dumps()
            run.save()
            transaction.on_commit(lambda: _notify(run, "finished"))
            return "stopped", []
        genomes = driver.ask()
        run.pending_keys = [g.key() for g in genomes]
        run.pending_genomes = list({g.key(): g.to_dict() for g in genomes}.values())
        run.generation_started_at = timezone.now()
        run.checkpoint = driver.dumps()
        run.save()
        done = set(run.candidates.filter(genome_key__in=run.pending_keys).values_list("genome_key", flat=True))
        generation = driver.generation
        todo, seen = [], set()
        for g in genomes:
            if g.key() not in done and g.key() not in seen:
                seen.add(g.key())
                todo.append({"generation": generation, "genome": g.to_dict()})
    _notify(run, "generation")
    return ("dispatch" if todo else "again"), todo


def _update_ranks(run: SearchRun) -> None:
    cands = list(run.candidates.order_by("id"))
    if not cands:
        return
    ranks = pareto_ranks(np.asarray([c.objectives for c in cands]), np.asarray([c.runnable for c in cands]))
    for c, r in zip(cands, ranks):
        c.pareto_rank = int(r)
        c.on_front = bool(r == 0 and c.runnable)
    Candidate.objects.bulk_update(cands, ["pareto_rank", "on_front"])


def search_fail(run_id: int, error: BaseException) -> None:
    SearchRun.objects.filter(pk=run_id, status__in=SearchRun.ACTIVE).update(
        status=SearchRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:5000], finished_at=timezone.now())


def wait_for(run_id: int, timeout: float = 3600, poll: float = 1.0) -> SearchRun:
    """Block until the run leaves queued/running (used by the command when real workers run it)."""
    deadline = time.monotonic() + timeout
    while True:
        run = SearchRun.objects.get(pk=run_id)
        if run.status not in SearchRun.ACTIVE or time.monotonic() > deadline:
            return run
        _notify(run, "poll")
        time.sleep(poll)
