"""Write operations of benchmarks_app. Views, tasks and commands call these; they own transactions."""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import logging
import os
import socket
import traceback

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from cost_engine.errors import CalibrationDataError, CostEngineError
from cost_engine.plausibility import plausibility_flags
from hanas_platform.api import InputError

from .models import SUMMARY_FLOAT_FIELDS, SUMMARY_INT_FIELDS, Backend, CalibrationSnapshot, Job, WorkerHeartbeat

log = logging.getLogger(__name__)


# --- jobs -----------------------------------------------------------------------------------------
def job_create(*, kind: str, params: dict | None = None, owner=None, total: int = 0) -> Job:
    return Job.objects.create(kind=kind, params=params or {}, owner=owner if getattr(owner, "pk", None) else None,
                              progress_total=total)


def job_start(job: Job, *, total: int | None = None, message: str = "") -> Job:
    job.status = Job.Status.RUNNING
    job.started_at = job.started_at or timezone.now()
    fields = ["status", "started_at"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    if message:
        job.message = message[:500]
        fields.append("message")
    job.save(update_fields=fields)
    return job


def job_progress(job: Job, *, current: int, total: int | None = None, message: str = "") -> Job:
    job.progress_current = current
    fields = ["progress_current"]
    if total is not None:
        job.progress_total = total
        fields.append("progress_total")
    if message:
        job.message = message[:500]
        fields.append("message")
    job.save(update_fields=fields)
    return job


def job_succeed(job: Job, *, result) -> Job:
    job.status = Job.Status.SUCCEEDED
    job.result = result
    job.finished_at = timezone.now()
    job.progress_current = max(job.progress_current, job.progress_total)
    job.save(update_fields=["status", "result", "finished_at", "progress_current"])
    return job


def job_fail(job: Job, *, error: BaseException | str) -> Job:
    job.status = Job.Status.FAILED
    job.error = error if isinstance(error, str) else "".join(
        traceback.format_exception_only(type(error), error)).strip()
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job


# The task that runs each kind of Job (the stale-work sweep re-queues by kind).
# job kind -> the Celery task (dotted path) that runs it: what dispatch and the stale-work sweep queue
JOB_TASKS = {"estimate": "benchmarks_app.tasks.estimate_job", "cost-trend": "benchmarks_app.tasks.estimate_many_job",
             "fit-execution-profile": "profiles_app.tasks.fit_profile_job"}


def job_dispatch(job: Job, *, fail_on_error: bool = True) -> Job:
    """Queue the job's task. The broker unreachable: the job is marked failed with the reason (unless
    ``fail_on_error`` is False: the sweep leaves it queued for its next pass) and
    :class:`hanas_platform.dispatch.BrokerUnavailable` (HTTP 503) propagates."""
    from django.utils.module_loading import import_string

    from hanas_platform.dispatch import BrokerUnavailable, send

    task = import_string(JOB_TASKS[job.kind])
    Job.objects.filter(pk=job.pk).update(dispatched_at=timezone.now(), dispatch_count=F("dispatch_count") + 1)
    try:
        result = send(task, (str(job.pk),), what=f"{job.kind} job {job.pk}")
    except BrokerUnavailable as exc:
        if fail_on_error:
            job_fail(job, error=str(exc))
        raise
    if not settings.CELERY_TASK_ALWAYS_EAGER and getattr(result, "id", None):
        Job.objects.filter(pk=job.pk).update(celery_task_id=result.id)
    job.refresh_from_db()
    return job


def jobs_sweep(*, now=None) -> dict:
    """Queued jobs whose message was lost (broker restarted, local queue file lost, worker killed): re-queue
    those not started within HANAS_STALE_QUEUED_SECONDS of their last dispatch (doubling after each re-queue, so a
    long backlog does not pile up duplicate messages); fail those still queued after
    HANAS_QUEUED_MAX_SECONDS, or of a kind no task runs. A re-queued job that did start meanwhile is skipped by
    its task (estimate tasks check the status first)."""
    from hanas_platform.dispatch import BrokerUnavailable

    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.HANAS_STALE_QUEUED_SECONDS)
    oldest = now - dt.timedelta(seconds=settings.HANAS_QUEUED_MAX_SECONDS)
    out = {"requeued": [], "failed": []}
    for job in Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=stale).order_by("created_at")[:500]:
        if job.created_at < oldest or job.kind not in JOB_TASKS:
            job_fail(job, error=(f"never started: still queued {settings.HANAS_QUEUED_MAX_SECONDS:.0f} s after it "
                                 f"was created (is a Celery worker running?); re-queued {job.dispatch_count - 1} times")
                     if job.kind in JOB_TASKS else f"no task runs jobs of kind {job.kind!r}")
            out["failed"].append(str(job.pk))
            continue
        # backoff: a job behind a long backlog (not lost) is queued again after 1x, 2x, 4x ... the stale age
        wait = dt.timedelta(seconds=settings.HANAS_STALE_QUEUED_SECONDS * 2 ** max(job.dispatch_count - 1, 0))
        if (job.dispatched_at or job.created_at) > now - wait:
            continue
        try:
            job_dispatch(job, fail_on_error=False)
        except BrokerUnavailable:
            break  # the broker is down: this job and the others wait for the next sweep
        out["requeued"].append(str(job.pk))
    return out


# --- worker heartbeat -----------------------------------------------------------------------------
@transaction.atomic
def heartbeat_record(*, task_id: str = "", note: str = "") -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(hostname=socket.gethostname(), pid=os.getpid(), task_id=task_id,
                                          note=note[:255])


# --- calibration store (issue 3) --------------------------------------------------------------------
# Callables taking a new snapshot's id, run after its transaction commits (issue 5 re-costs the reference
# suite there).
SNAPSHOT_CREATED_HOOKS: list = []


def _edges(cal) -> dict:
    basis = set(cal.basis_gates)
    return {f"{g.qubits[0]}-{g.qubits[1]}": [g.name, g.error, g.duration_s]
            for g in cal.gates if len(g.qubits) == 2 and g.name in basis}


def source_kind_of(source: str) -> str:
    """The provenance kind of an ingest from the calibration's source string (fake:..., ibm:history:..., ibm)."""
    source = (source or "").lower()
    if source.startswith("fake"):
        return CalibrationSnapshot.SourceKind.FAKE
    if "history" in source:
        return CalibrationSnapshot.SourceKind.HISTORY
    if source.startswith("upload"):
        return CalibrationSnapshot.SourceKind.UPLOAD
    return CalibrationSnapshot.SourceKind.IBM


def ingest_calibration(cal, *, source_kind: str | None = None, uploader=None, team=None,
                       visibility: str = CalibrationSnapshot.Visibility.PUBLIC):
    """Store one normalised calibration. One transaction; idempotent: the same (backend, calibrated_at,
    content) again returns the stored snapshot with created=False. Returns (snapshot, created).
    Ingests (IBM, fake provider, history) are public with no uploader; uploads carry their uploader and may be
    visible to a team or the uploader only. Only public snapshots update the backend's structural facts, so a
    restricted upload cannot change what everyone else sees."""
    public = visibility == CalibrationSnapshot.Visibility.PUBLIC
    key = {"calibrated_at": cal.calibrated_at, "content_hash": cal.content_hash}
    existing = CalibrationSnapshot.objects.filter(backend__name=cal.backend_name, **key).first()
    if existing:
        if public and existing.visibility != CalibrationSnapshot.Visibility.PUBLIC:
            # the same data from a public source: a restricted upload of it must not shadow the ingest
            existing.visibility = CalibrationSnapshot.Visibility.PUBLIC
            existing.save(update_fields=["visibility"])
        return existing, False
    summary = cal.summary()
    try:
        with transaction.atomic():
            backend, made = Backend.objects.get_or_create(name=cal.backend_name, defaults={
                "provider": cal.provider or "ibm", "processor_family": cal.processor_family,
                "num_qubits": cal.num_qubits, "basis_gates": list(cal.basis_gates),
                "coupling_map": [list(e) for e in cal.coupling_map]})
            newest = (backend.snapshots.filter(visibility=CalibrationSnapshot.Visibility.PUBLIC, hidden=False)
                      .order_by("-calibrated_at").values_list("calibrated_at", flat=True).first())
            if not made and public and (newest is None or cal.calibrated_at >= newest):
                backend.processor_family = cal.processor_family or backend.processor_family
                backend.num_qubits = cal.num_qubits
                backend.basis_gates = list(cal.basis_gates)
                backend.coupling_map = [list(e) for e in cal.coupling_map]
                backend.save()
            snapshot = CalibrationSnapshot.objects.create(
                backend=backend, source=cal.source[:100], data=cal.to_dict(), edges=_edges(cal), dt_s=cal.dt_s,
                rep_delay_s=cal.rep_delay_s, quality_flags=plausibility_flags(cal, summary), **key,
                **{f: summary.get(f) for f in SUMMARY_FLOAT_FIELDS}, **{f: summary.get(f, 0) for f in SUMMARY_INT_FIELDS},
                source_kind=source_kind or source_kind_of(cal.source),
                uploader=uploader if getattr(uploader, "pk", None) else None, team=team, visibility=visibility)
            for hook in list(SNAPSHOT_CREATED_HOOKS):
                transaction.on_commit(lambda hook=hook, sid=snapshot.pk: hook(sid))
    except IntegrityError:  # the same data ingested concurrently: the other transaction's row stands
        return CalibrationSnapshot.objects.get(backend__name=cal.backend_name, **key), False
    return snapshot, True


def calibration_from_payload(payload):
    """Our own JSON (has ``schema_version``), IBM properties plus configuration
    (``{"properties": ..., "configuration": ...}``) or bare IBM properties -> Calibration."""
    from cost_engine.calibration import Calibration, _conf_to_json_units, from_properties

    if not isinstance(payload, dict):
        raise CalibrationDataError("calibration must be a JSON object", field="calibration")
    if "schema_version" in payload:
        return Calibration.from_dict(payload)
    if "properties" in payload:
        conf = payload.get("configuration")
        if conf is not None and not isinstance(conf, dict):
            raise CalibrationDataError("configuration must be an object", field="configuration")
        return from_properties(payload["properties"], _conf_to_json_units(conf or {}), source="upload")
    if "last_update_date" in payload or "qubits" in payload or "gates" in payload:
        return from_properties(payload, None, source="upload")
    raise CalibrationDataError("unrecognised calibration JSON: expected our format (schema_version), IBM "
                               "properties, or {properties, configuration}", field="calibration")


def ingest_payload(payload, source: str = "upload"):
    cal = calibration_from_payload(payload)
    if source and cal.source in ("", "upload", "properties"):
        import dataclasses

        cal = dataclasses.replace(cal, source=source)
    return ingest_calibration(cal)


BACKEND_NAME_MAX = 64


def check_backend_name(name) -> str:
    """Backend names from uploads: letters, digits, ``_`` and ``-``, 1..BACKEND_NAME_MAX characters."""
    import re

    if not isinstance(name, str) or not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{BACKEND_NAME_MAX}}}", name):
        raise InputError(f"backend_name must be 1-{BACKEND_NAME_MAX} letters, digits, '_' or '-'",
                         field="backend_name")
    return name


def upload_team(user, team_name=None):
    """The team an upload is shared with: the named one (the uploader must belong to it), else the uploader's
    only team; None when the uploader belongs to none or several (the upload is then private)."""
    if team_name not in (None, ""):
        team = user.groups.filter(name=str(team_name)).first()
        if team is None:
            raise InputError("you are not a member of that team", field="team")
        return team
    teams = list(user.groups.all()[:2])
    return teams[0] if len(teams) == 1 else None


def upload_calibration(payload, *, user, team_name=None):
    """A user's calibration upload: the backend name checked against a strict pattern before anything is
    written; staff uploads are public, others visible to the uploader's team (or the uploader alone) until
    staff promote them."""
    cal = calibration_from_payload(payload)
    check_backend_name(cal.backend_name)
    if cal.source in ("", "upload", "properties"):
        cal = dataclasses.replace(cal, source="upload")
    V = CalibrationSnapshot.Visibility
    if user.is_staff or user.is_superuser:
        team, visibility = None, V.PUBLIC
    else:
        team = upload_team(user, team_name)
        visibility = V.TEAM if team else V.PRIVATE
    snapshot, created = ingest_calibration(cal, source_kind=CalibrationSnapshot.SourceKind.UPLOAD, uploader=user,
                                           team=team, visibility=visibility)
    if not created:
        from .selectors import visible_snapshots

        if not visible_snapshots(user).filter(pk=snapshot.pk).exists():  # say nothing about another team's upload
            raise InputError("an identical calibration of this backend is already stored and not visible to you",
                             field="calibration", status_code=409)
    return snapshot, created


def can_manage_snapshot(snapshot, user) -> bool:
    return bool(user and user.is_authenticated and (user.is_staff or user.is_superuser
                                                    or (snapshot.uploader_id and snapshot.uploader_id == user.pk)))


def snapshot_promote(snapshot, user):
    """Staff make an upload public (it may then become "latest" for everyone)."""
    if not (user.is_staff or user.is_superuser):
        raise InputError("only staff may promote a snapshot", field="snapshot", status_code=403)
    snapshot.visibility = CalibrationSnapshot.Visibility.PUBLIC
    snapshot.hidden = False
    snapshot.save(update_fields=["visibility", "hidden"])
    return snapshot


def snapshot_set_hidden(snapshot, user, hidden: bool = True):
    """Staff or the uploader hide (or show again) a snapshot: hidden, only they see it."""
    if not can_manage_snapshot(snapshot, user):
        raise InputError("only staff or the uploader may hide this snapshot", field="snapshot", status_code=403)
    snapshot.hidden = bool(hidden)
    snapshot.save(update_fields=["hidden"])
    return snapshot


def snapshot_delete(snapshot, user) -> None:
    """Staff or the uploader delete a snapshot (with its estimates); a backend left without snapshots goes too."""
    if not can_manage_snapshot(snapshot, user):
        raise InputError("only staff or the uploader may delete this snapshot", field="snapshot", status_code=403)
    with transaction.atomic():
        backend = snapshot.backend
        snapshot.delete()
        if not backend.snapshots.exists():
            backend.delete()


def ingest_fake(names=None) -> list[tuple[str, bool]]:
    """Every (or the named) real-device snapshot shipped in qiskit_ibm_runtime.fake_provider."""
    from cost_engine.calibration import fake_backend_names, load_fake_calibration

    out = []
    for name in names or fake_backend_names():
        snapshot, created = ingest_calibration(load_fake_calibration(name))
        out.append((snapshot.backend.name, created))
    return out


HISTORY_PACK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "calibration_history",
                            "history.json.xz")


def ingest_history(names=None, path: str | None = None) -> list[tuple[str, bool | None, str]]:
    """Every (or the named devices') real calibration of the shipped history pack (issue 15), in one
    transaction; idempotent, and a calibration already stored from another source (same backend and
    calibrated_at, e.g. --source fake) is not stored twice. Returns (label, created, reason) per pack entry: created is None for an entry
    that is skipped, and reason says why (also logged)."""
    from cost_engine.history import load_history

    out = []
    entries = list(load_history(path or HISTORY_PACK, names))
    with transaction.atomic():
        for entry in entries:
            if entry.calibration is None:
                log.info("history: skipped %s (%s): %s", entry.label, entry.origin, entry.skip_reason)
                out.append((entry.label, None, entry.skip_reason))
                continue
            cal = entry.calibration
            same = CalibrationSnapshot.objects.filter(backend__name=cal.backend_name,
                                                      calibrated_at=cal.calibrated_at).first()
            if same is not None:  # this calibration is stored already, e.g. from --source fake: not twice
                out.append((entry.label, False, ""))
                continue
            snapshot, created = ingest_calibration(cal)
            out.append((entry.label, created, ""))
    return out


class IBMUnavailable(Exception):
    """IBM Quantum cannot be reached right now (network errors, timeouts, HTTP 5xx/429): worth retrying."""


class IBMRejected(Exception):
    """IBM Quantum refused the request for a reason retrying cannot fix (no or bad token, unknown backend,
    other 4xx): fails at once."""


def _ibm_error(exc, name: str = ""):
    """IBMUnavailable (transient) or IBMRejected (permanent) for an error of the IBM client."""
    from cost_engine.ibm_live import IBMFetchError, classify

    err = exc if isinstance(exc, IBMFetchError) else classify(exc, name)
    what = f"cannot fetch {name} from IBM Quantum" if name else "cannot reach IBM Quantum"
    return (IBMUnavailable if err.transient else IBMRejected)(f"{what}: {err}")


def ibm_service():
    """The live QiskitRuntimeService from settings (IBM_QUANTUM_TOKEN / _CHANNEL / _INSTANCE)."""
    if not settings.IBM_QUANTUM_TOKEN:
        raise IBMRejected("IBM_QUANTUM_TOKEN is not set: cannot ingest from IBM Quantum")
    from qiskit_ibm_runtime import QiskitRuntimeService

    try:
        return QiskitRuntimeService(channel=settings.IBM_QUANTUM_CHANNEL, token=settings.IBM_QUANTUM_TOKEN,
                                    instance=settings.IBM_QUANTUM_INSTANCE or None)
    except Exception as exc:  # bad token (permanent) or network errors / outages (transient)
        raise _ibm_error(exc) from exc


def ingest_ibm(name: str, since=None, until=None, service_factory=None) -> list[tuple[str, bool]]:
    """The backend's current calibration, or every distinct calibration made from ``since`` to ``until``
    (both inclusive, day by day: ``properties(datetime=end of each day)``, since IBM answers with the newest
    calibration older than the time given). Historical properties are checked against today's configuration
    (mismatches recorded in the snapshot's notes, see cost_engine.ibm_live). Everything is fetched before
    anything is written, so a failure writes nothing. Raises IBMUnavailable (transient: retry) or IBMRejected
    (permanent)."""
    from cost_engine.ibm_live import day_ends, fetch_calibration

    service = (service_factory or ibm_service)()
    try:
        if since is None:
            cal = fetch_calibration(service, name)
            if cal is None:
                raise IBMRejected(f"IBM Quantum has no calibration for {name}")
            cals = [cal]
        else:
            until = until or timezone.now()
            seen, cals = set(), []
            for end in day_ends(since, until):
                cal = fetch_calibration(service, name, at=end)
                if cal is None or not since <= cal.calibrated_at <= until:
                    continue  # nothing calibrated yet, or the calibration in force came before `since`
                key = (cal.calibrated_at, cal.content_hash)
                if key not in seen:
                    seen.add(key)
                    cals.append(cal)
    except (CostEngineError, IBMRejected):
        raise
    except Exception as exc:
        raise _ibm_error(exc, name) from exc
    out = []
    with transaction.atomic():
        for cal in cals:
            snapshot, created = ingest_calibration(cal)
            out.append((snapshot.calibrated_at.isoformat(), created))
    return out


# --- circuits and cost estimates (issue 5) ----------------------------------------------------------
_COMPILE_CACHE = None
METRIC_COLUMNS = ("wallclock_s", "t_eff_s", "log_esp", "log_t_eff", "log_p_keep", "t_sched_s", "t_gate_serial_s",
                  "t_shot_s", "shots_total", "n_swaps", "n_2q", "depth", "depth_2q")
REPORT_COLUMNS = ("n_1q", "n_2q", "n_meas", "n_swaps", "depth", "depth_2q", "t_gate_serial_s", "t_sched_s",
                  "log_p_keep", "log_esp", "log_t_eff", "t_eff_s", "zero_survival", "t_shot_s", "shots",
                  "shots_total", "wallclock_s")


def compile_cache():
    """One compile cache per process: re-costing a circuit on a new snapshot of a device re-uses its routing."""
    global _COMPILE_CACHE
    if _COMPILE_CACHE is None:
        from cost_engine.quantum import CompileCache

        _COMPILE_CACHE = CompileCache()
    return _COMPILE_CACHE


def circuit_create(*, qasm: str, name: str = "", tags=None, owner=None, is_reference: bool = False):
    """Parse, check the configured limits, and store a circuit; the same circuit twice returns the stored
    row. Returns (circuit, created)."""
    from cost_engine.errors import CostEngineError
    from cost_engine.qasm import circuit_hash, load_qasm

    from .models import Circuit

    if not isinstance(qasm, str) or not qasm.strip():
        raise InputError("qasm must be a non-empty OpenQASM 2 or 3 program", field="qasm")
    size = len(qasm.encode())
    if size > settings.HANAS_MAX_CIRCUIT_BYTES:
        raise InputError(f"circuit is {size} bytes; the limit is HANAS_MAX_CIRCUIT_BYTES="
                         f"{settings.HANAS_MAX_CIRCUIT_BYTES}", field="qasm", status_code=413)
    try:  # limits checked on the text before the parser allocates anything (cost_engine.qasm.check_limits)
        qc = load_qasm(qasm, max_qubits=settings.HANAS_MAX_CIRCUIT_QUBITS, max_gates=settings.HANAS_MAX_CIRCUIT_GATES,
                       max_bytes=settings.HANAS_MAX_CIRCUIT_BYTES)
    except CostEngineError as exc:
        limit = getattr(exc, "limit", None)
        raise InputError(str(exc), field="qasm",
                         status_code=413 if limit == "HANAS_MAX_CIRCUIT_BYTES" else None) from exc
    if qc.num_qubits > settings.HANAS_MAX_CIRCUIT_QUBITS:
        raise InputError(f"circuit has {qc.num_qubits} qubits; the limit is HANAS_MAX_CIRCUIT_QUBITS="
                         f"{settings.HANAS_MAX_CIRCUIT_QUBITS}", field="qasm")
    if qc.size() > settings.HANAS_MAX_CIRCUIT_GATES:
        raise InputError(f"circuit has {qc.size()} operations; the limit is HANAS_MAX_CIRCUIT_GATES="
                         f"{settings.HANAS_MAX_CIRCUIT_GATES}", field="qasm")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise InputError("tags must be a list of strings", field="tags")
    fmt = "qasm3" if qasm.lstrip().upper().startswith("OPENQASM 3") else "qasm2"
    digest = circuit_hash(qc)
    defaults = {"name": (name or qc.name or "")[:200], "qasm": qasm, "format": fmt, "num_qubits": qc.num_qubits,
                "num_gates": qc.size(), "tags": list(tags or []), "owner": owner if getattr(owner, "pk", None)
                else None, "is_reference": is_reference}
    try:
        with transaction.atomic():
            circuit, created = Circuit.objects.get_or_create(content_hash=digest, defaults=defaults)
    except IntegrityError:
        circuit, created = Circuit.objects.get(content_hash=digest), False
    registry = _new_circuits.get()
    if created and registry is not None:
        registry.append(circuit.pk)
    circuit_alias_set(circuit, owner, name=(name or qc.name or "")[:200] if (name or created) else None,
                      tags=tags)
    return circuit, created


_new_circuits: contextvars.ContextVar = contextvars.ContextVar("hanas_new_circuits", default=None)


@contextlib.contextmanager
def circuits_discarded_on_error():
    """Circuits created inside the block are deleted again if the block fails (a request that stores a circuit
    and then fails on the estimate leaves nothing half-written), unless an estimate already uses them."""
    from .models import Circuit

    created: list[int] = []
    token = _new_circuits.set(created)
    try:
        yield
    except BaseException:
        if created:
            Circuit.objects.filter(pk__in=created, estimates__isnull=True).delete()
        raise
    finally:
        _new_circuits.reset(token)


def circuit_alias_set(circuit, owner, *, name=None, tags=None):
    """The owner's own name and tags for a circuit (deduplicated circuits are shared; names and tags are not).
    ``None`` keeps what the owner gave before (a first alias starts from the circuit's name and tags)."""
    from .models import CircuitAlias

    if not getattr(owner, "pk", None):
        return None
    alias, made = CircuitAlias.objects.get_or_create(circuit=circuit, owner=owner, defaults={
        "name": circuit.name if name is None else name, "tags": list(circuit.tags if tags is None else tags)})
    if not made and (name is not None or tags is not None):
        alias.name = alias.name if name is None else name
        alias.tags = alias.tags if tags is None else list(tags)
        alias.save(update_fields=["name", "tags", "updated_at"])
    return alias


def cost_option_names() -> tuple[str, ...]:
    """The fields of cost_engine.quantum.CostOptions: every one is accepted by the API and the commands."""
    import dataclasses

    from cost_engine.quantum import CostOptions

    return tuple(f.name for f in dataclasses.fields(CostOptions))


def cost_options(data: dict | None):
    """Validated cost options from request/command values (errors name the field)."""
    from cost_engine.errors import CostEngineError
    from cost_engine.quantum import CostOptions

    data = dict(data or {})
    allowed = set(cost_option_names())
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(f"unknown option(s) {unknown}; allowed: {sorted(allowed)}", field=unknown[0])
    try:
        return CostOptions(**data).validate()
    except CostEngineError as exc:
        raise InputError(str(exc), field=exc.field or "options") from exc
    except TypeError as exc:
        raise InputError(str(exc), field="options") from exc


def _estimate_lock(cursor_key: str) -> None:
    """Serialise identical questions on PostgreSQL (transaction-scoped advisory lock) so concurrent
    identical requests compute once; SQLite serialises writers anyway."""
    from django.db import connection

    if connection.vendor == "postgresql":
        key = int(cursor_key[:15], 16)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def report_usage(qasm: str, calibration, options) -> dict | None:
    """Per-(gate, qubits) usage of the compiled circuit with its errors and durations, and the used qubits' T2
    (issue 16: drivers that name qubits and couplers). Stored in the report as ``usage``. The compile comes from
    the process's compile cache (the estimate just compiled it)."""
    from cost_engine.quantum import compile_circuit

    from .drivers import usage_of

    try:
        compiled, _ = compile_circuit(qasm, calibration, options.validate(), compile_cache())
        return usage_of(compiled, calibration)
    except Exception:  # the estimate stands without it; the drivers then say the usage is not stored
        log.warning("could not record per-gate usage for %s", calibration.backend_name, exc_info=True)
        return None


class EstimateRefused(InputError):
    """The cost engine refused this (circuit, snapshot, options): the backend cannot run the circuit. A 4xx for
    a single request; multi-backend views list it as "unrunnable: <reason>". ``refusal`` is the stored row."""

    def __init__(self, refusal):
        super().__init__(f"{refusal.backend.name}: {refusal.reason}", field=refusal.field or "circuit")
        self.refusal = refusal


def estimate_get_or_create(circuit, snapshot, options):
    """The stored estimate for (circuit, snapshot, options, model version), computed and stored if missing.
    Returns (estimate, created). A cost-engine refusal (too wide, no working coupler, missing calibration) is
    stored as an EstimateRefusal with the same key and raised as EstimateRefused (a 4xx); asked again, the
    stored refusal is raised without recomputing."""
    import hashlib
    import time

    from cost_engine.errors import CostEngineError
    from cost_engine.quantum import MODEL_VERSION, estimate_quantum_cost

    from .models import CostEstimate, EstimateRefusal

    opts_hash = options.options_hash()
    lookup = {"circuit": circuit, "snapshot": snapshot, "options_hash": opts_hash, "model_version": MODEL_VERSION}
    found = CostEstimate.objects.filter(**lookup).first()
    if found:
        return found, False
    refused = EstimateRefusal.objects.filter(**lookup).select_related("backend").first()
    if refused:
        raise EstimateRefused(refused)
    lock_key = hashlib.sha256(f"{circuit.pk}:{snapshot.pk}:{opts_hash}:{MODEL_VERSION}".encode()).hexdigest()
    # PostgreSQL: identical concurrent questions wait on an advisory lock and compute once. SQLite (BEGIN
    # IMMEDIATE, one writer at a time): no transaction around the compilation, which would hold the database's
    # only write lock for its whole duration and stall every other writer; a rare duplicate computation ends
    # in the IntegrityError branch below.
    with transaction.atomic() if connection.vendor == "postgresql" else contextlib.nullcontext():
        _estimate_lock(lock_key)
        found = CostEstimate.objects.filter(**lookup).first()
        if found:
            return found, False
        refused = EstimateRefusal.objects.filter(**lookup).select_related("backend").first()
        if refused is None:
            started = time.perf_counter()
            calibration = snapshot.calibration()
            try:
                report = estimate_quantum_cost(circuit.qasm, calibration, options, cache=compile_cache())
            except CostEngineError as exc:
                refused = _refusal_store(lookup, snapshot, options, exc)
            else:
                data = report.to_dict()
                usage = report_usage(circuit.qasm, calibration, options)
                if usage is not None:
                    data["usage"] = usage
                row = CostEstimate(
                    circuit=circuit, snapshot=snapshot, backend_id=snapshot.backend_id,
                    snapshot_calibrated_at=snapshot.calibrated_at, options=options.to_dict(), options_hash=opts_hash,
                    model_version=MODEL_VERSION, report=data, compute_seconds=time.perf_counter() - started,
                    **{k: data.get(k) for k in REPORT_COLUMNS})
                try:
                    with transaction.atomic():
                        row.save()
                except IntegrityError:
                    return CostEstimate.objects.get(**lookup), False
                return row, True
    raise EstimateRefused(refused)  # outside the block: the refusal row is committed


def _refusal_store(lookup: dict, snapshot, options, exc):
    from .models import EstimateRefusal

    row = EstimateRefusal(**lookup, backend=snapshot.backend, snapshot_calibrated_at=snapshot.calibrated_at,
                          options=options.to_dict(), error_type=type(exc).__name__[:60],
                          field=(exc.field or "")[:60], reason=str(exc))
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return EstimateRefusal.objects.select_related("backend").get(**lookup)
    return row


def estimates_for_snapshot(snapshot, circuits, options=None, job=None) -> dict:
    """Cost many circuits on one snapshot (skipping those wider than its usable qubits). Progress goes to
    ``job`` when given. Returns counts."""
    options = options or cost_options({})
    usable = snapshot.backend.num_qubits
    created = existing = skipped = failed = 0
    reasons: list[str] = []
    circuits = list(circuits)
    for i, circuit in enumerate(circuits, 1):
        if circuit.num_qubits > usable:
            skipped += 1
        else:
            try:
                _, new = estimate_get_or_create(circuit, snapshot, options)
                created += new
                existing += not new
            except InputError as exc:
                failed += 1
                if str(exc) not in reasons:
                    reasons.append(str(exc))
        if job is not None and (i % 5 == 0 or i == len(circuits)):
            job_progress(job, current=i, total=len(circuits), message=f"{snapshot.backend.name}: {i}/{len(circuits)}")
    return {"created": created, "existing": existing, "skipped_too_wide": skipped, "failed": failed,
            "reasons": reasons}


def recost_reference_suite(snapshot_id: int) -> dict:
    """Re-cost every reference circuit on one (newly ingested) snapshot."""
    from .models import CalibrationSnapshot, Circuit

    snapshot = CalibrationSnapshot.objects.select_related("backend").get(pk=snapshot_id)
    return estimates_for_snapshot(snapshot, Circuit.objects.filter(is_reference=True).order_by("num_qubits", "id"))
