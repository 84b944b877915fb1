"""Write operations of drift watches: create/update watches, evaluate them on a new snapshot (alerts), and
deliver signed webhooks with a log of every attempt. Views, tasks and the ingest hook call these."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import math
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from benchmarks_app import drivers as drift_drivers
from hanas_platform.api import InputError

from .models import Alert, DeliveryAttempt, Watch, WatchBaseline, WebhookDelivery

log = logging.getLogger(__name__)

# metrics a watch may follow (every one the cost drivers explain); True when larger is better
WATCH_METRICS = {m: m in ("log_esp", "log_p_keep", "p_success") for m in drift_drivers.EXPLAINED}
SIGNATURE_HEADER = "X-Hanas-Signature"


# --- watches --------------------------------------------------------------------------------------------------
def profile_resolve(name: str, user=None, everyone: bool = True):
    """The execution profile ``name`` or ``name@vN`` stored in profiles_app (newest version when unversioned;
    one ``user`` may see unless ``everyone``); blank or "ibm-default": IBM's documented default."""
    from cost_engine.execution import DEFAULT_PROFILE
    from profiles_app import selectors as profile_selectors

    if not name or name == DEFAULT_PROFILE.name:
        return DEFAULT_PROFILE
    return profile_selectors.profile_get(user, name, everyone=everyone).engine()


def watch_create(*, owner, metric: str, threshold_rel: float, circuit=None, target: str = Watch.Target.CIRCUIT,
                 backend: str = "", processor_family: str = "", direction: str = Watch.Direction.WORSE,
                 profile: str = "", url: str = "", team=None, name: str = "", options: dict | None = None):
    """A new watch. Returns (watch, secret): the webhook secret is only ever returned here."""
    from benchmarks_app import selectors as bench_selectors
    from benchmarks_app.models import Backend
    from benchmarks_app.services import cost_options

    if metric not in WATCH_METRICS:
        raise InputError(f"unknown metric {metric!r}; allowed: {sorted(WATCH_METRICS)}", field="metric")
    if not isinstance(threshold_rel, (int, float)) or not math.isfinite(threshold_rel) or threshold_rel <= 0:
        raise InputError("threshold_rel must be a positive number (0.1 = a 10 % change)", field="threshold_rel")
    if target == Watch.Target.CIRCUIT and circuit is None:
        raise InputError("a circuit watch needs a circuit (or target=reference_suite)", field="circuit")
    if target == Watch.Target.REFERENCE_SUITE and circuit is not None:
        raise InputError("target=reference_suite watches the whole suite: leave circuit out", field="circuit")
    if bool(backend) == bool(processor_family):
        raise InputError("give exactly one of backend or processor_family", field="backend")
    backend_name = ""
    if backend:
        backend_name = bench_selectors.backend_get(backend).name
    elif not Backend.objects.filter(processor_family__iexact=processor_family).exists():
        known = sorted(set(Backend.objects.exclude(processor_family="").values_list("processor_family", flat=True)))
        raise InputError(f"no stored backend of processor family {processor_family!r}; known: {known}",
                         field="processor_family")
    if metric == "wallclock_s" or profile:
        profile_resolve(profile, owner, everyone=False)  # unknown (to the owner) is a 400 now, not at the next ingest
    if url:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError("url must be an http(s) URL", field="url")
    if team is not None and not owner.groups.filter(pk=team.pk).exists() and not owner.is_superuser:
        raise InputError(f"you are not a member of team {team.name!r}", field="team")
    opts = cost_options(options or {})
    secret = secrets.token_hex(32)
    watch = Watch.objects.create(
        owner=owner, team=team, name=name[:200], target=target, circuit=circuit, backend_name=backend_name,
        processor_family=processor_family if not backend_name else "", metric=metric, threshold_rel=float(threshold_rel),
        direction=direction, profile=profile, url=url, secret=secret, options=opts.to_dict())
    return watch, secret


def can_manage(watch: Watch, user) -> bool:
    from search_app.models import TeamAdmin

    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser or watch.owner_id == user.pk:
        return True
    return bool(watch.team_id and TeamAdmin.objects.filter(team_id=watch.team_id, user=user).exists())


def watch_update(watch: Watch, user, **changes) -> Watch:
    if not can_manage(watch, user):
        raise InputError("only the owner or a team admin may change this watch", field="watch", status_code=403)
    if "threshold_rel" in changes:
        t = changes["threshold_rel"]
        if not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise InputError("threshold_rel must be a positive number", field="threshold_rel")
    for key, value in changes.items():
        setattr(watch, key, value)
    watch.save(update_fields=list(changes) or None)
    return watch


def watch_delete(watch: Watch, user) -> None:
    if not can_manage(watch, user):
        raise InputError("only the owner or a team admin may delete this watch", field="watch", status_code=403)
    watch.delete()


# --- evaluation -----------------------------------------------------------------------------------------------
def metric_value(watch: Watch, report: dict):
    """The watched metric from a stored report; wall-clock re-predicted with the watch's execution profile."""
    if watch.metric == "wallclock_s" and watch.profile:
        if report.get("t_shot_s") is None:
            return None
        return profile_resolve(watch.profile).predict_report(report)
    value = report.get(watch.metric)
    return None if value is None else float(value)


def _crossing(watch: Watch, before, after):
    """(direction, relative change) when ``before -> after`` crosses the watch's threshold, else None."""
    if before is None and after is None:
        return None
    higher_better = WATCH_METRICS[watch.metric]
    if before is None or after is None:  # zero survival on one side: unrunnable or runnable again
        worse = after is None
        rel = None
    else:
        if before == after:
            return None
        rel = (after - before) / abs(before) if before else None  # from exactly 0: any change crosses
        if rel is not None and abs(rel) < watch.threshold_rel:
            return None
        worse = (after < before) if higher_better else (after > before)
    direction = "worse" if worse else "better"
    if watch.direction != Watch.Direction.EITHER and watch.direction != direction:
        return None
    return direction, rel


def watches_for(backend):
    from django.db.models import Q

    return Watch.objects.filter(active=True).filter(
        Q(backend_name=backend.name) | Q(backend_name="", processor_family__iexact=backend.processor_family)
        if backend.processor_family else Q(backend_name=backend.name)).select_related("circuit", "owner", "team")


def _circuits(watch: Watch, backend):
    from benchmarks_app.models import Circuit

    if watch.target == Watch.Target.CIRCUIT:
        return [watch.circuit] if watch.circuit.num_qubits <= backend.num_qubits else []
    return list(Circuit.objects.filter(is_reference=True, num_qubits__lte=backend.num_qubits).order_by("num_qubits", "id"))


def evaluate_snapshot(snapshot_id: int) -> dict:
    """Evaluate every active watch of the snapshot's backend on it. Only a backend's newest snapshot is
    evaluated (back-filled history does not raise alerts about the present). Idempotent: evaluating the same
    snapshot again creates nothing."""
    from benchmarks_app.models import CalibrationSnapshot

    snapshot = CalibrationSnapshot.objects.select_related("backend").defer("data").get(pk=snapshot_id)
    backend = snapshot.backend
    newest = backend.snapshots.order_by("-calibrated_at", "-id").values_list("pk", flat=True).first()
    if newest != snapshot.pk:
        return {"snapshot": snapshot_id, "skipped": "not the backend's newest snapshot", "alerts": []}
    alerts, skipped = [], []
    for watch in watches_for(backend):
        for circuit in _circuits(watch, backend):
            try:
                alert = evaluate_one(watch, circuit, snapshot)
            except InputError as exc:  # this circuit cannot be costed on this snapshot: say so, go on
                skipped.append({"watch": watch.pk, "circuit": circuit.pk, "reason": str(exc)})
                continue
            if alert is not None:
                alerts.append(alert.pk)
    return {"snapshot": snapshot_id, "alerts": alerts, "skipped": skipped}


def _previous_snapshot(snapshot):
    return (snapshot.backend.snapshots.filter(calibrated_at__lt=snapshot.calibrated_at)
            .order_by("-calibrated_at", "-id").first())


def evaluate_one(watch: Watch, circuit, snapshot) -> Alert | None:
    """Compare the watch's metric on ``snapshot`` with its baseline; a crossing creates one alert (and its
    webhook delivery, sent after commit) and moves the baseline to ``snapshot``."""
    from benchmarks_app import selectors as bench_selectors
    from benchmarks_app.models import CostEstimate
    from benchmarks_app.services import cost_options, estimate_get_or_create

    options = cost_options(watch.options)
    estimate, _ = estimate_get_or_create(circuit, snapshot, options)
    key = {"watch": watch, "circuit": circuit, "backend_id": snapshot.backend_id}
    if not WatchBaseline.objects.filter(**key).exists():
        prev = _previous_snapshot(snapshot)
        base_snap, base_est = (prev, estimate_get_or_create(circuit, prev, options)[0]) if prev else (snapshot, estimate)
        try:
            with transaction.atomic():
                WatchBaseline.objects.create(**key, snapshot=base_snap, estimate=base_est,
                                             value=metric_value(watch, base_est.report))
        except IntegrityError:  # a concurrent evaluation set it first
            pass
    with transaction.atomic():
        baseline = WatchBaseline.objects.select_for_update().select_related("snapshot").get(**key)
        if Alert.objects.filter(watch=watch, circuit=circuit, snapshot=snapshot).exists():
            return None
        if baseline.snapshot_id == snapshot.pk or baseline.snapshot.calibrated_at > snapshot.calibrated_at:
            return None
        if baseline.last_evaluated_snapshot_id == snapshot.pk:
            return None
        after = metric_value(watch, estimate.report)
        crossing = _crossing(watch, baseline.value, after)
        baseline.last_evaluated_snapshot = snapshot
        if crossing is None:
            baseline.save(update_fields=["last_evaluated_snapshot", "updated_at"])
            return None
        direction, rel = crossing
        base_est = baseline.estimate or CostEstimate.objects.filter(
            circuit=circuit, snapshot=baseline.snapshot, options_hash=options.options_hash()).first()
        drivers = []
        if base_est is not None:
            reports = {baseline.snapshot_id: base_est.report, snapshot.pk: estimate.report}
            if bench_selectors.reports_lacking_usage(reports.values()):  # older estimates: T2s from snapshots
                reports = bench_selectors.reports_with_snapshot_t2(reports)
            drivers = drift_drivers.explain(reports[baseline.snapshot_id], reports[snapshot.pk], watch.metric)[:8]
        alert = Alert.objects.create(
            watch=watch, circuit=circuit, backend_id=snapshot.backend_id, snapshot=snapshot,
            baseline_snapshot=baseline.snapshot, estimate=estimate, baseline_estimate=base_est, metric=watch.metric,
            before=baseline.value, after=after, relative_change=rel, direction=direction, drivers=_jsonable(drivers))
        baseline.snapshot, baseline.estimate, baseline.value = snapshot, estimate, after
        baseline.save()
        if watch.url:
            delivery = _delivery_create(alert)
            transaction.on_commit(lambda pk=str(delivery.pk): _dispatch(pk))
    return alert


def _jsonable(value):
    """Drivers with infinities (a broken gate) as strings: JSON has no Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


# --- webhooks -------------------------------------------------------------------------------------------------
def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the body under the watch's secret>`` (the X-Hanas-Signature header)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def alert_payload(alert: Alert, delivery_id: str) -> dict:
    return {
        "event": "drift.alert", "delivery": delivery_id, "alert": alert.pk,
        "watch": {"id": alert.watch_id, "name": alert.watch.name, "metric": alert.metric,
                  "threshold_rel": alert.watch.threshold_rel, "direction": alert.watch.direction,
                  "profile": alert.watch.profile or None},
        "circuit": {"id": alert.circuit_id, "name": alert.circuit.name},
        "backend": alert.backend.name,
        "snapshot": {"id": alert.snapshot_id, "calibrated_at": alert.snapshot.calibrated_at.isoformat()},
        "baseline_snapshot": {"id": alert.baseline_snapshot_id,
                              "calibrated_at": alert.baseline_snapshot.calibrated_at.isoformat()},
        "before": alert.before, "after": alert.after, "relative_change": alert.relative_change,
        "direction": alert.direction, "drivers": alert.drivers,
        "created_at": alert.created_at.isoformat(),
    }


def _delivery_create(alert: Alert) -> WebhookDelivery:
    delivery = WebhookDelivery(alert=alert, watch=alert.watch, url=alert.watch.url)
    body = json.dumps(alert_payload(alert, str(delivery.pk)), separators=(",", ":"), sort_keys=True, default=str)
    delivery.body = body
    delivery.signature = sign(alert.watch.secret, body.encode())
    delivery.next_attempt_at = timezone.now()
    delivery.save(force_insert=True)
    return delivery


def _dispatch(delivery_id: str) -> None:
    from .tasks import deliver_webhook

    deliver_webhook.delay(delivery_id)


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff after ``attempts`` failed attempts: base * 2^(attempts-1), capped."""
    return min(settings.HANAS_WEBHOOK_BACKOFF_S * 2 ** max(attempts - 1, 0), settings.HANAS_WEBHOOK_BACKOFF_MAX_S)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=settings.HANAS_WEBHOOK_TIMEOUT_S) as resp:
            resp.read(1024)
            return resp.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"[:500]


def deliver(delivery_id: str) -> dict:
    """One delivery attempt, holding the delivery's row lock while it POSTs (a second copy of the task, e.g. a
    message redelivered after a worker restart, skips a delivery in flight and never re-sends a delivered one).
    Returns {"status", "retry_in"}: retry_in seconds when another attempt is due."""
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(**lock).filter(pk=delivery_id)
                    .select_related("watch").first())
        if delivery is None:
            exists = WebhookDelivery.objects.filter(pk=delivery_id).exists()
            return {"status": "in flight elsewhere" if exists else "gone", "retry_in": None}
        if delivery.status != WebhookDelivery.Status.PENDING:
            return {"status": delivery.status, "retry_in": None}
        number = delivery.attempts + 1
        started = timezone.now()
        t0 = time.perf_counter()
        code, error = _post(delivery.url, delivery.body.encode(), {
            "Content-Type": "application/json", "User-Agent": "hanas-platform-webhook/1",
            SIGNATURE_HEADER: delivery.signature, "X-Hanas-Event": "drift.alert",
            "X-Hanas-Delivery": str(delivery.pk), "X-Hanas-Attempt": str(number)})
        ok = code is not None and 200 <= code < 300
        DeliveryAttempt.objects.create(delivery=delivery, number=number, started_at=started,
                                       duration_s=time.perf_counter() - t0, status_code=code, ok=ok,
                                       error=error, worker=f"{socket.gethostname()}:{__import__('os').getpid()}")
        delivery.attempts = number
        retry_in = None
        if ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED, timezone.now(), None)
            delivery.last_error = ""
        else:
            delivery.last_error = error or f"HTTP {code}"
            if number >= settings.HANAS_WEBHOOK_MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
            else:
                retry_in = backoff_seconds(number)
                delivery.next_attempt_at = timezone.now() + dt.timedelta(seconds=retry_in)
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at", "last_error"])
    return {"status": delivery.status, "retry_in": retry_in, "attempt": number, "status_code": code}


def redispatch_due(now=None) -> list[str]:
    """Pending deliveries whose next attempt is overdue by more than HANAS_WEBHOOK_REDISPATCH_AFTER_S (a retry
    message lost with a killed worker): queued again. Runs every minute from the beat schedule and after each
    evaluation. Safe any time: a delivery in flight or delivered is skipped by :func:`deliver`."""
    now = now or timezone.now()
    late = dt.timedelta(seconds=settings.HANAS_WEBHOOK_REDISPATCH_AFTER_S)
    due = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                              next_attempt_at__lt=now - late)
               .values_list("pk", flat=True)[:500])
    for pk in due:
        _dispatch(str(pk))
    return [str(pk) for pk in due]
