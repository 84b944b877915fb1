"""Read operations of benchmarks_app: jobs, the calibration store, circuits, estimates, leaderboards, trends."""
from __future__ import annotations

import datetime as dt
import math

from django.db.models import FloatField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils.dateparse import parse_date, parse_datetime

from hanas_platform.api import InputError

from .models import (SUMMARY_FLOAT_FIELDS, SUMMARY_INT_FIELDS, Backend, CalibrationSnapshot, Job,
                     WorkerHeartbeat)

TREND_FIELDS = SUMMARY_FLOAT_FIELDS + SUMMARY_INT_FIELDS + ("dt_s", "rep_delay_s")
QUBIT_FIELDS = {"t1": "t1_s", "t2": "t2_s", "readout_error": "readout_error", "readout_length": "readout_length_s",
                "frequency": "frequency_hz"}


def job_get(job_id) -> Job:
    return Job.objects.get(pk=job_id)


def heartbeats_latest(limit: int = 10):
    return WorkerHeartbeat.objects.all()[:limit]


# --- snapshot visibility (issue 17) -----------------------------------------------------------------
ALL = object()  # the ``user`` of internal callers (tasks, commands): every snapshot


def visible_snapshots(user=ALL, qs=None):
    """Snapshots ``user`` may see: public ones (not hidden) for everyone; team uploads for the team's members;
    an upload, hidden or not, for its uploader; everything for staff and internal callers (``ALL``)."""
    qs = CalibrationSnapshot.objects.all() if qs is None else qs
    cond = snapshot_visibility_q(user)
    return qs if cond is None else qs.filter(cond)


def snapshot_visibility_q(user=ALL, prefix: str = ""):
    """The condition of :func:`visible_snapshots` (None: no restriction), on ``prefix`` (e.g. "snapshots__")."""
    from django.db.models import Q

    if user is ALL or (user is not None and user.is_authenticated and (user.is_staff or user.is_superuser)):
        return None
    V = CalibrationSnapshot.Visibility
    public = Q(**{f"{prefix}visibility": V.PUBLIC, f"{prefix}hidden": False})
    if user is None or not user.is_authenticated:
        return public
    return public | Q(**{f"{prefix}uploader": user}) | Q(**{f"{prefix}visibility": V.TEAM, f"{prefix}hidden": False,
                                                          f"{prefix}team__in": user.groups.all()})


def _visible_backends(qs, user):
    """Backends with at least one snapshot ``user`` may see (a backend made by a team's upload is that team's)."""
    from django.db.models import Exists, OuterRef

    if user is ALL:
        return qs
    return qs.filter(Exists(visible_snapshots(user).filter(backend=OuterRef("pk"))))


# --- calibration store ------------------------------------------------------------------------------
def name_candidates(name: str) -> list[str]:
    """``fez``, ``ibm_fez`` and ``fake_fez`` all name IBM's Fez."""
    short = name.strip().lower().removeprefix("fake_").removeprefix("ibmq_").removeprefix("ibm_")
    return [name.strip(), short, f"ibm_{short}", f"ibmq_{short}", f"fake_{short}", f"alt_{short}",
            *OLD_DEVICE_NAMES.get(short, ())]


# Devices IBM named by a code, not by their city (the calibration history, issue 15, has all four).
OLD_DEVICE_NAMES = {"yorktown": ("ibmqx2",), "tenerife": ("ibmqx4",), "melbourne": ("ibmq_16_melbourne",),
                    "tokyo": ("ibmq_20_tokyo",)}


def backend_get(name: str, user=ALL) -> Backend:
    candidates = name_candidates(str(name))
    found = {b.name: b for b in Backend.objects.filter(name__in=candidates)}
    if found and snapshot_visibility_q(user) is not None:  # a second query that reads no backend row
        seen = set(visible_snapshots(user).filter(backend__in=list(found.values()))
                   .values_list("backend_id", flat=True).distinct())
        found = {n: b for n, b in found.items() if b.pk in seen}
    for candidate in candidates:  # first candidate wins
        if candidate in found:
            found[candidate].viewer = user
            return found[candidate]
    known = list(_visible_backends(Backend.objects.all(), user).order_by("name").values_list("name", flat=True)[:8])
    raise InputError(f"unknown backend {name!r}" + (f"; known: {', '.join(known)} ..." if known else
                                                     "; no backends ingested yet (manage.py ingest_calibrations)"),
                     field="backend", status_code=404)


def backend_list(*, processor_family=None, num_qubits=None, min_qubits=None, max_qubits=None, user=ALL):
    qs = _visible_backends(Backend.objects.all(), user)
    if processor_family:
        qs = qs.filter(processor_family__iexact=processor_family)
    if num_qubits is not None:
        qs = qs.filter(num_qubits=num_qubits)
    if min_qubits is not None:
        qs = qs.filter(num_qubits__gte=min_qubits)
    if max_qubits is not None:
        qs = qs.filter(num_qubits__lte=max_qubits)
    return qs.order_by("name")


def _snapshots(backend: Backend, user=ALL):
    """The backend's snapshots ``user`` may see; ``user`` defaults to the one the backend was looked up for."""
    if user is ALL:
        user = getattr(backend, "viewer", ALL)
    return visible_snapshots(user, backend.snapshots.all())


def latest_snapshot(backend: Backend, user=ALL) -> CalibrationSnapshot | None:
    return _snapshots(backend, user).order_by("-calibrated_at", "-id").first()


def parse_when(value, field: str, *, bare_date: str | None = None):
    """An ISO date or date-time (UTC when naive), or None. A bare date means that whole day in UTC: it stands for
    the day's first instant (00:00) when ``bare_date`` is "start", its last (23:59:59.999999) when "end". By
    default "start" for ``since`` and "end" for everything else (``until``, ``snapshot``, ``from``/``to``: "the
    newest snapshot at or before that day" includes the day's own snapshots). Invalid calendar dates
    (2024-13-01) are an InputError naming ``field``, never a crash."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    else:
        text = str(value).strip()
        try:
            day = parse_date(text)  # first: parse_datetime also takes a bare date (as its midnight)
            if day is not None:
                end = (bare_date or ("start" if field == "since" else "end")) == "end"
                stamp = dt.datetime.combine(day, dt.time.max if end else dt.time.min)
            else:
                stamp = parse_datetime(text)
                if stamp is None:
                    raise InputError(f"{field} must be an ISO date (YYYY-MM-DD) or date-time, got {value!r}",
                                     field=field)
        except ValueError as exc:  # well formed but not a calendar date/time: 2024-13-01, 2024-02-30T25:00
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{field}: {value!r} is not a valid date: {exc}", field=field) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp


# What list and leaderboard rows leave out: the full report, the QASM text, and the backend's gate list and
# coupling map (hundreds of JSON pairs, decoded again for every row that carries its backend)
BACKEND_BULKY = ("backend__basis_gates", "backend__coupling_map")
ESTIMATE_ROW_DEFER = ("report", "options", "circuit__qasm", *BACKEND_BULKY)


def snapshots_for(backend: Backend, since=None, until=None, user=ALL):
    qs = _snapshots(backend, user)
    since, until = parse_when(since, "since"), parse_when(until, "until")
    if since:
        qs = qs.filter(calibrated_at__gte=since)
    if until:
        qs = qs.filter(calibrated_at__lte=until)
    return qs


def snapshot_summaries(backend: Backend, since=None, until=None):
    """Snapshots without their full data (tens of kB each): what lists and summaries need."""
    return snapshots_for(backend, since, until).select_related("backend").defer("data", "edges", *BACKEND_BULKY)


def latest_summary(backend: Backend, user=ALL) -> CalibrationSnapshot | None:
    return _snapshots(backend, user).defer("data", "edges").order_by("-calibrated_at", "-id").first()


def snapshot_get(backend: Backend, snapshot_id) -> CalibrationSnapshot:
    try:
        return _snapshots(backend).get(pk=int(snapshot_id))
    except (CalibrationSnapshot.DoesNotExist, ValueError, TypeError):
        raise InputError(f"{backend.name} has no snapshot {snapshot_id}", field="snapshot", status_code=404) from None


def snapshot_or_bundled(backend_name: str, when="latest"):
    """(the stored snapshot or None, its Calibration): before a backend is ingested, "latest" falls back to the
    device's real snapshot bundled with qiskit-ibm-runtime (what estimate_cost and profile fits cost on)."""
    from cost_engine.calibration import load_fake_calibration
    from cost_engine.errors import CostEngineError

    try:
        snap = snapshot_for(backend_name, when)
    except InputError as stored_error:
        if when not in (None, "", "latest"):
            raise
        try:
            return None, load_fake_calibration(backend_name)
        except CostEngineError:
            raise stored_error from None
    return snap, None


def snapshot_for(backend_name: str, when="latest", user=ALL) -> CalibrationSnapshot:
    """The snapshot of ``backend_name`` valid at ``when``: "latest", a snapshot id, or the newest calibrated at
    or before an ISO date/date-time (among the snapshots ``user`` may see)."""
    backend = backend_get(backend_name, user)
    qs = _snapshots(backend).select_related("backend").order_by("-calibrated_at", "-id")
    if when in (None, "", "latest"):
        snap = qs.first()
    elif isinstance(when, int) or (isinstance(when, str) and when.isdigit()):
        return snapshot_get(backend, when)
    else:
        snap = qs.filter(calibrated_at__lte=parse_when(when, "snapshot")).first()
    if snap is None:
        raise InputError(f"{backend.name} has no snapshot calibrated at or before {when}", field="snapshot",
                         status_code=404)
    return snap


def trend(backend: Backend, metric: str, since=None, until=None) -> list[dict]:
    if metric not in TREND_FIELDS:
        raise InputError(f"unknown metric {metric!r}; allowed: {', '.join(TREND_FIELDS)}", field="metric")
    rows = snapshots_for(backend, since, until).order_by("calibrated_at", "id").values_list("pk", "calibrated_at", metric)
    return [{"snapshot_id": pk, "calibrated_at": at, "value": value} for pk, at, value in rows]


def qubit_history(backend: Backend, qubit: int, field: str, since=None, until=None) -> list[dict]:
    if field not in QUBIT_FIELDS:
        raise InputError(f"unknown field {field!r}; allowed: {', '.join(QUBIT_FIELDS)}", field="field")
    if not 0 <= qubit < backend.num_qubits:
        raise InputError(f"{backend.name} has qubits 0..{backend.num_qubits - 1}", field="qubit", status_code=404)
    key = f"data__qubits__{qubit}__{QUBIT_FIELDS[field]}"
    rows = (snapshots_for(backend, since, until).order_by("calibrated_at", "id")
            .annotate(v=Cast(KT(key), FloatField())).values_list("pk", "calibrated_at", "v"))
    return [{"snapshot_id": pk, "calibrated_at": at, "value": v} for pk, at, v in rows]


def edge_history(backend: Backend, q0: int, q1: int, since=None, until=None) -> list[dict]:
    key = f"{q0}-{q1}"
    rows = (snapshots_for(backend, since, until).order_by("calibrated_at", "id")
            .annotate(gate=KT(f"edges__{key}__0"), err=Cast(KT(f"edges__{key}__1"), FloatField()),
                      dur=Cast(KT(f"edges__{key}__2"), FloatField()))
            .values_list("pk", "calibrated_at", "gate", "err", "dur"))
    out = [{"snapshot_id": pk, "calibrated_at": at, "gate": g, "error": e, "duration_s": d}
           for pk, at, g, e, d in rows]
    if out and all(r["gate"] is None for r in out):
        raise InputError(f"{backend.name} has no two-qubit gate on {q0}->{q1}", field="edge", status_code=404)
    return out


def _rel(a, b):
    if a is None or b is None:
        return None
    if a == 0:
        return math.inf if b else 0.0
    return (b - a) / abs(a)


def snapshot_diff(backend: Backend, old: CalibrationSnapshot, new: CalibrationSnapshot, top: int = 10) -> dict:
    """The qubits (T1, T2, readout error) and couplers (two-qubit error) that changed most, by relative change.
    Rows that did not change are left out; a coupler calibrated identically in both directions (Heron's CZ) is
    listed once, as "a-b" with a < b and ``symmetric: true``."""
    from .diffs import diff_couplers

    qa, qb = old.data["qubits"], new.data["qubits"]
    qubits = []
    for i, (a, b) in enumerate(zip(qa, qb)):
        changes = {f: _rel(a.get(k), b.get(k)) for f, k in (("t1", "t1_s"), ("t2", "t2_s"),
                                                               ("readout_error", "readout_error"))}
        known = {f: c for f, c in changes.items() if c}
        if known:
            worst = max(known, key=lambda f: abs(known[f]))
            qubits.append({"qubit": i, "field": worst, "relative_change": known[worst],
                           "from": a.get(QUBIT_FIELDS[worst]), "to": b.get(QUBIT_FIELDS[worst]),
                           "changes": known})
    qubits.sort(key=lambda r: -abs(r["relative_change"]))
    edges = diff_couplers(old.edges, new.edges, _rel)
    summary = {f: {"from": getattr(old, f), "to": getattr(new, f)} for f in SUMMARY_FLOAT_FIELDS + SUMMARY_INT_FIELDS}
    return {"backend": backend.name, "from": {"snapshot_id": old.pk, "calibrated_at": old.calibrated_at},
            "to": {"snapshot_id": new.pk, "calibrated_at": new.calibrated_at},
            "qubits": qubits[:top], "edges": edges[:top], "qubits_changed": len(qubits), "edges_changed": len(edges),
            "summary": summary}


def resolve_snapshot_ref(backend: Backend, ref, field: str) -> CalibrationSnapshot:
    """A snapshot id, or the newest snapshot at or before an ISO date."""
    if ref in (None, ""):
        raise InputError(f"give ?{field}=<snapshot id or ISO date>", field=field)
    if str(ref).isdigit():
        return snapshot_get(backend, ref)
    snap = _snapshots(backend).filter(calibrated_at__lte=parse_when(ref, field)).order_by("-calibrated_at").first()
    if snap is None:
        raise InputError(f"{backend.name} has no snapshot at or before {ref}", field=field, status_code=404)
    return snap


# --- circuits, estimates, leaderboards, cost drift (issue 5) ------------------------------------------
# metric -> True when larger is better
LEADERBOARD_METRICS = {"wallclock_s": False, "t_eff_s": False, "log_esp": True, "log_t_eff": False,
                       "t_sched_s": False, "n_swaps": False, "shots_total": False}
TREND_METRICS = ("wallclock_s", "t_eff_s", "log_t_eff", "log_esp", "log_p_keep", "t_sched_s", "t_gate_serial_s",
                 "t_shot_s", "shots_total", "n_swaps", "n_2q", "depth")


def visible_estimates(user=ALL):
    """Estimates on the snapshots ``user`` may see."""
    from .models import CostEstimate

    cond = snapshot_visibility_q(user, "snapshot__")
    return CostEstimate.objects.all() if cond is None else CostEstimate.objects.filter(cond)


def circuit_aliases(user, circuit_ids=None) -> dict:
    """circuit id -> (name, tags) the user gave that circuit (their alias); empty for anonymous callers."""
    from .models import CircuitAlias

    if user is None or user is ALL or not user.is_authenticated:
        return {}
    qs = CircuitAlias.objects.filter(owner=user)
    if circuit_ids is not None:
        qs = qs.filter(circuit_id__in=list(circuit_ids))
    return {cid: (name, tags) for cid, name, tags in qs.values_list("circuit_id", "name", "tags")}


def with_alias(qs, user):
    """Estimate/refusal rows annotated with ``alias_name``: the caller's own name for the row's circuit."""
    from django.db.models import OuterRef, Subquery

    from .models import CircuitAlias

    if user is None or user is ALL or not user.is_authenticated:
        return qs
    return qs.annotate(alias_name=Subquery(CircuitAlias.objects.filter(circuit=OuterRef("circuit_id"), owner=user)
                                           .values("name")[:1]))


def apply_aliases(rows: list[dict], user, key: str = "circuit", name_key: str = "circuit_name",
                  aliases: dict | None = None) -> list[dict]:
    """Rows naming circuits show the caller's own name for them (``aliases``: already loaded ones)."""
    if aliases is None:
        aliases = circuit_aliases(user, {r[key] for r in rows if r.get(key) is not None})
    for row in rows:
        if row.get(key) in aliases:
            row[name_key] = aliases[row[key]][0] or row[name_key]
    return rows


def circuit_get(circuit_id):
    from .models import Circuit

    try:
        return Circuit.objects.get(pk=int(circuit_id))
    except (Circuit.DoesNotExist, ValueError, TypeError):
        raise InputError(f"circuit {circuit_id} not found", field="circuit", status_code=404) from None


def _metric(metric: str | None, allowed, default: str) -> str:
    metric = metric or default
    if metric not in allowed:
        raise InputError(f"unknown metric {metric!r}; allowed: {sorted(allowed)}", field="metric")
    return metric


def latest_snapshot_ids(user=ALL) -> dict[int, int]:
    """backend id -> id of its newest snapshot (by calibrated_at) among those ``user`` may see."""
    from django.db.models import OuterRef, Subquery

    from .models import Backend

    newest = (visible_snapshots(user).filter(backend=OuterRef("pk")).order_by("-calibrated_at", "-id")
              .values("pk")[:1])
    return {b: s for b, s in Backend.objects.annotate(latest=Subquery(newest)).values_list("pk", "latest") if s}


ZERO_SURVIVAL_REASON = "zero survival: the compiled circuit uses a gate with error >= 1 (P_success = 0)"


def board_row(est, metric: str) -> dict:
    """A leaderboard row of a stored estimate. Zero-survival estimates are unrunnable (their finite wall-clock
    time must not rank them); a row without a value of ``metric`` (e.g. T_eff beyond float range) is runnable
    but unranked."""
    value = getattr(est, metric)
    reason = ZERO_SURVIVAL_REASON if est.zero_survival else None
    return {"rank": None, "backend": est.backend.name, "processor_family": est.backend.processor_family,
            "circuit": est.circuit_id, "circuit_name": getattr(est, "alias_name", None) or est.circuit.name,
            "snapshot_id": est.snapshot_id,
            "snapshot_calibrated_at": est.snapshot_calibrated_at, "value": None if reason else value,
            "estimate": est.pk, "zero_survival": est.zero_survival, "wallclock_s": est.wallclock_s,
            "wallclock_interval_s": getattr(est, "wallclock_interval_s", None), "t_eff_s": est.t_eff_s, "log_esp": est.log_esp, "n_swaps": est.n_swaps, "runnable": reason is None,
            "unrunnable_reason": reason,
            "note": None if reason or value is not None else f"no finite {metric} (see the estimate's report)"}


def refusal_row(ref) -> dict:
    """A leaderboard row of a stored refusal: unrunnable, with the cost engine's reason."""
    return {"rank": None, "backend": ref.backend.name, "processor_family": ref.backend.processor_family,
            "circuit": ref.circuit_id, "circuit_name": getattr(ref, "alias_name", None) or ref.circuit.name,
            "snapshot_id": ref.snapshot_id,
            "snapshot_calibrated_at": ref.snapshot_calibrated_at, "value": None, "estimate": None,
            "zero_survival": False, "wallclock_s": None, "t_eff_s": None, "log_esp": None, "n_swaps": None,
            "runnable": False, "unrunnable_reason": ref.reason, "note": None}


def _ranked_rows(estimates, refusals, metric: str, key) -> list[dict]:
    """Runnable rows with a value ranked 1..n by ``metric``; then runnable rows without a value; then the
    unrunnable rows (zero survival, refused), all with rank null, ordered by ``key``."""
    rows = [board_row(e, metric) for e in estimates]
    ranked = sorted((r for r in rows if r["value"] is not None), key=lambda r: r["value"],
                    reverse=LEADERBOARD_METRICS[metric])
    for i, row in enumerate(ranked, 1):
        row["rank"] = i
    unvalued = sorted((r for r in rows if r["runnable"] and r["value"] is None), key=key)
    unrunnable = sorted([r for r in rows if not r["runnable"]] + [refusal_row(f) for f in refusals], key=key)
    return ranked + unvalued + unrunnable


def _with_profile(rows, engine, n_circuits) -> None:
    """wallclock_s of each estimate under an execution profile, computed from its stored terms (profiles_app)."""
    if engine is not None and rows:
        from profiles_app.selectors import apply_to_estimates

        apply_to_estimates(rows, engine, n_circuits)


def backend_leaderboard(circuit, metric: str | None, options_hash: str, model_version: str, user=ALL, engine=None,
                        n_circuits: int = 1) -> dict:
    """Every backend's latest snapshot, ranked by the circuit's ``metric`` there (stored estimates only).
    Unrunnable backends (stored refusal or zero survival) follow the ranked ones with their reason; backends
    with neither are listed as not estimated (or too small)."""
    from .models import Backend, CostEstimate, EstimateRefusal

    metric = _metric(metric, LEADERBOARD_METRICS, "wallclock_s")
    latest = latest_snapshot_ids(user)
    key = {"snapshot_id__in": latest.values(), "options_hash": options_hash, "model_version": model_version}
    ests = list(with_alias(CostEstimate.objects.filter(circuit=circuit, **key).select_related("backend", "circuit")
                           .defer(*ESTIMATE_ROW_DEFER), user))
    _with_profile(ests, engine, n_circuits)
    refusals = list(with_alias(EstimateRefusal.objects.filter(circuit=circuit, **key)
                               .select_related("backend", "circuit")
                               .defer("options", "circuit__qasm", *BACKEND_BULKY), user))
    rows = _ranked_rows(ests, refusals, metric, key=lambda r: r["backend"])
    have = {r.backend_id for r in ests} | {r.backend_id for r in refusals}
    missing = Backend.objects.filter(pk__in=[b for b in latest if b not in have])
    too_small = list(missing.filter(num_qubits__lt=circuit.num_qubits).values_list("name", flat=True))
    return {"metric": metric, "higher_is_better": LEADERBOARD_METRICS[metric], "rows": rows,
            "unrunnable": [{"backend": r["backend"], "reason": r["unrunnable_reason"]} for r in rows
                           if not r["runnable"]],
            "not_estimated": sorted(set(missing.values_list("name", flat=True)) - set(too_small)),
            "too_small": sorted(too_small)}


def circuit_leaderboard(backend, metric: str | None, options_hash: str, model_version: str, user=ALL, engine=None,
                        n_circuits: int = 1) -> dict:
    """The circuits costed on ``backend``'s latest snapshot, ranked; unrunnable ones follow with their reason."""
    from .models import CostEstimate, EstimateRefusal

    metric = _metric(metric, LEADERBOARD_METRICS, "wallclock_s")
    snapshot_id = _snapshots(backend, user).order_by("-calibrated_at", "-id").values_list("pk", flat=True).first()
    key = {"snapshot_id": snapshot_id, "options_hash": options_hash, "model_version": model_version}
    ests = list(with_alias(CostEstimate.objects.filter(**key).select_related("circuit", "backend")
                           .defer(*ESTIMATE_ROW_DEFER), user))
    _with_profile(ests, engine, n_circuits)
    refusals = list(with_alias(EstimateRefusal.objects.filter(**key).select_related("circuit", "backend")
                               .defer("options", "circuit__qasm", *BACKEND_BULKY), user))
    rows = _ranked_rows(ests, refusals, metric, key=lambda r: (r["circuit_name"], r["circuit"]))
    return {"metric": metric, "higher_is_better": LEADERBOARD_METRICS[metric], "snapshot_id": snapshot_id,
            "rows": rows, "unrunnable": [{"circuit": r["circuit"], "circuit_name": r["circuit_name"],
                                          "reason": r["unrunnable_reason"]} for r in rows if not r["runnable"]]}


def cost_trend_points(circuit, backend, options_hash: str, model_version: str, since=None, until=None):
    """(snapshots in range ascending, {snapshot id: estimate}, {snapshot id: refusal})."""
    from .models import CostEstimate, EstimateRefusal

    snaps = _snapshots(backend).order_by("calibrated_at", "id")
    if since:
        snaps = snaps.filter(calibrated_at__gte=since)
    if until:
        snaps = snaps.filter(calibrated_at__lte=until)
    snaps = list(snaps.only("id", "calibrated_at", "backend_id"))
    key = {"circuit": circuit, "snapshot_id__in": [s.pk for s in snaps], "options_hash": options_hash,
           "model_version": model_version}
    ests = {e.snapshot_id: e for e in CostEstimate.objects.filter(**key)}
    refusals = {r.snapshot_id: r for r in EstimateRefusal.objects.filter(**key).defer("options")}
    return snaps, ests, refusals


def cost_trend_rows(snaps, ests: dict, refusals: dict, metric: str) -> list[dict]:
    """One point per snapshot: the metric's value, or null with the reason the backend cannot run the circuit
    there (stored refusal, zero survival) or none while it is still being computed; drivers are the
    calibration terms that moved ``metric`` most since the previous runnable point, naming qubits and couplers."""
    reports = {sid: est.report for sid, est in ests.items()}
    if reports_lacking_usage(reports.values()):  # older estimates: the used qubits' T2s from their snapshots
        reports = reports_with_snapshot_t2(reports)
    points, prev = [], None
    for snap in snaps:
        est, ref = ests.get(snap.pk), refusals.get(snap.pk)
        reason = ref.reason if ref else (ZERO_SURVIVAL_REASON if est is not None and est.zero_survival else None)
        usable = est is not None and reason is None
        point = {"snapshot_id": snap.pk, "calibrated_at": snap.calibrated_at,
                 "value": getattr(est, metric) if usable else None, "estimate": est.pk if est else None,
                 "zero_survival": est.zero_survival if est else None,
                 "runnable": None if est is None and ref is None else reason is None,
                 "unrunnable_reason": reason, "drivers": []}
        if usable and prev is not None:
            point["drivers"] = cost_drivers(reports[prev.snapshot_id], reports[est.snapshot_id], metric)[:5]
        if usable:
            prev = est
        points.append(point)
    return points


def cost_drivers(prev: dict, cur: dict, metric: str = "log_t_eff") -> list[dict]:
    """The calibration terms that moved ``metric`` between two reports, as exact additive contributions to its
    change (log T_eff, log ESP, wall-clock, ... see benchmarks_app.drivers), each naming the qubits and couplers
    responsible with their before/after values. Sorted by absolute contribution."""
    from .drivers import explain

    return explain(prev, cur, metric)


def reports_lacking_usage(reports) -> bool:
    from .drivers import reports_lacking_usage as lacking

    return lacking(reports)


def reports_with_snapshot_t2(reports: dict) -> dict:
    """{snapshot id: report}: reports stored without per-gate usage get their used qubits' T2 from their
    snapshot (one query for those snapshots only), so the drivers still name the T2_eff qubit."""
    from .drivers import with_snapshot_t2
    from .models import CalibrationSnapshot

    need = [sid for sid, r in reports.items() if isinstance(r, dict) and not r.get("usage")]
    data = dict(CalibrationSnapshot.objects.filter(pk__in=need).values_list("pk", "data"))
    return {sid: with_snapshot_t2(r, data.get(sid)) if sid in data else r for sid, r in reports.items()}
