"""Write operations of execution profiles: turning observed jobs into fit observations (compiling their
circuits on the snapshot valid when they ran), fitting, storing a new version, team defaults."""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Max

from cost_engine.errors import CostEngineError
from cost_engine.execution import CircuitTerms
from cost_engine.execution_fit import Observation, fit_profile
from hanas_platform.api import InputError

from . import selectors
from .models import ExecutionProfile, ObservedJob, Scope, TeamDefaultProfile, Visibility

MAX_FIT_ROWS = 20_000


# --- observations -------------------------------------------------------------------------------------
def circuit_terms(qasm: str, backend: str, snapshot="latest", shots: int = 1024, count: int = 1) -> CircuitTerms:
    """Compile ``qasm`` with the platform's default cost options on the backend's snapshot valid at
    ``snapshot`` (an ISO date picks the newest calibrated at or before it) and return its wall-clock terms."""
    from benchmarks_app import services as bench_services
    from cost_engine.quantum import estimate_quantum_cost

    calibration = _calibration(backend, snapshot or "latest")
    options = bench_services.cost_options({"shots": int(shots)})
    try:
        report = estimate_quantum_cost(qasm, calibration, options, cache=bench_services.compile_cache())
    except CostEngineError as exc:
        raise InputError(f"{calibration.backend_name}: {exc}", field=exc.field or "circuit") from exc
    return CircuitTerms.from_report(report.to_dict(), shots=int(shots), count=int(count))


_CALIBRATIONS: dict = {}


def _calibration(backend: str, snapshot):
    """The stored snapshot (parsed once per process), or before a backend is ingested the bundled one."""
    from benchmarks_app import selectors as bench_selectors

    snap, bundled = bench_selectors.snapshot_or_bundled(backend, snapshot)
    if snap is None:
        return bundled
    key = (snap.pk, snap.content_hash)
    if key not in _CALIBRATIONS:
        if len(_CALIBRATIONS) > 16:
            _CALIBRATIONS.clear()
        _CALIBRATIONS[key] = snap.calibration()
    return _CALIBRATIONS[key]


def _positive_int(value, field, default=None):
    if value in (None, ""):
        if default is None:
            raise InputError(f"{field} is required", field=field)
        return default
    try:
        v = int(str(value).strip())
    except ValueError:
        raise InputError(f"{field} must be a positive integer, got {value!r}", field=field) from None
    if v < 1:
        raise InputError(f"{field} must be a positive integer, got {value!r}", field=field)
    return v


def observation_from_row(row: dict, qasm_text: str, where: str) -> Observation:
    """One CSV row (backend, shots, observed_seconds, optional n_circuits, snapshot) with its circuit's text."""
    try:
        shots = _positive_int(row.get("shots"), "shots")
        n_circuits = _positive_int(row.get("n_circuits"), "n_circuits", default=1)
        try:
            observed = float(row.get("observed_seconds"))
        except (TypeError, ValueError):
            raise InputError(f"observed_seconds must be a number, got {row.get('observed_seconds')!r}",
                             field="observed_seconds") from None
        if not observed > 0:
            raise InputError("observed_seconds must be > 0", field="observed_seconds")
        if not row.get("backend"):
            raise InputError("backend is required", field="backend")
        terms = circuit_terms(qasm_text, row["backend"], row.get("snapshot") or "latest", shots, n_circuits)
    except InputError as exc:
        raise InputError(f"{where}: {exc}", field=exc.field, status_code=exc.status_code) from exc
    return Observation((terms,), observed, label=where)


def observations_from_jobs(jobs) -> list[Observation]:
    """ObservedJob rows -> observations, each circuit compiled on the snapshot valid when the job ran."""
    from benchmarks_app.models import Circuit

    jobs = list(jobs)
    ids = {c["circuit"] for j in jobs for c in j.circuits}
    qasm = dict(Circuit.objects.filter(pk__in=ids).values_list("pk", "qasm"))
    out = []
    for job in jobs:
        when = job.job_created_at.isoformat() if job.job_created_at else "latest"
        try:
            terms = tuple(circuit_terms(qasm[c["circuit"]], job.backend_name, when, c.get("shots") or job.shots,
                                        c.get("count", 1)) for c in job.circuits)
        except InputError as exc:
            raise InputError(f"observed job {job.job_id}: {exc}", field=exc.field) from exc
        out.append(Observation(terms, job.observed_seconds, label=job.job_id))
    return out


# --- fit and store ------------------------------------------------------------------------------------
def _check_name(name: str, owner) -> None:
    from cost_engine.execution import DEFAULT_PROFILE

    if not isinstance(name, str) or not name.strip() or "@" in name or len(name) > 100:
        raise InputError("name must be 1-100 characters without '@'", field="name")
    if name == DEFAULT_PROFILE.name:
        raise InputError(f"{name!r} is the built-in IBM-documented profile; choose another name", field="name")
    latest = ExecutionProfile.objects.filter(name=name).order_by("-version").first()
    if latest is None or owner is None or owner.is_superuser or latest.owner_id == owner.pk:
        return
    if latest.visibility == Visibility.TEAM and latest.team_id and owner.groups.filter(pk=latest.team_id).exists():
        return
    raise InputError(f"execution profile name {name!r} belongs to another user; choose another name", field="name")


def _scope(scope: str, scope_value: str) -> tuple[str, str]:
    from benchmarks_app import selectors as bench_selectors

    scope = scope or Scope.GLOBAL
    if scope not in Scope.values:
        raise InputError(f"scope must be one of {Scope.values}", field="scope")
    if scope == Scope.GLOBAL:
        return scope, ""
    if not scope_value:
        raise InputError(f"a {scope} scope needs a {scope} name", field="scope_value")
    if scope == Scope.BACKEND:
        return scope, bench_selectors.backend_get(scope_value).name
    return scope, scope_value.strip().lower()


def profile_store(report: dict, *, name: str, owner=None, team=None, visibility: str = Visibility.PRIVATE,
                  scope: str = Scope.GLOBAL, scope_value: str = "", provenance: dict | None = None
                  ) -> ExecutionProfile:
    """Store a fit report's profile as the next version of ``name`` (one transaction)."""
    from cost_engine.execution_fit import with_identity

    _check_name(name, owner)
    if visibility not in Visibility.values:
        raise InputError(f"visibility must be one of {Visibility.values}", field="visibility")
    if visibility == Visibility.TEAM and team is None:
        raise InputError("a team profile needs a team", field="team")
    if team is not None and owner is not None and not owner.is_superuser and not owner.groups.filter(pk=team.pk).exists():
        raise InputError(f"you are not a member of team {team.name!r}", field="team")
    scope, scope_value = _scope(scope, scope_value)
    for _ in range(3):
        try:
            with transaction.atomic():
                version = (ExecutionProfile.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0) + 1
                rep = with_identity(report, name, version)
                p = rep["profile"]
                return ExecutionProfile.objects.create(
                    name=name, version=version, owner=owner if getattr(owner, "pk", None) else None, team=team,
                    visibility=visibility, scope=scope, scope_value=scope_value, constants=p, c_job_s=p["c_job_s"],
                    c_instruction_s=p["c_instruction_s"], terms=rep.get("terms", []), source=p["source"],
                    provenance=provenance or {}, fit_report=rep)
        except IntegrityError:  # a concurrent fit took this version: take the next
            continue
    raise InputError(f"could not allocate a version of {name!r}; try again", field="name", status_code=409)


def fit_and_store(observations, *, name: str, owner=None, team=None, visibility=Visibility.PRIVATE,
                  scope=Scope.GLOBAL, scope_value="", test_fraction=0.3, seed=0, terms=None, provenance=None
                  ) -> ExecutionProfile:
    observations = list(observations)
    if len(observations) > MAX_FIT_ROWS:
        raise InputError(f"{len(observations)} observed jobs; the limit is {MAX_FIT_ROWS}", field="observations")
    _check_name(name, owner)
    try:
        report = fit_profile(observations, name=name, test_fraction=test_fraction, seed=seed, terms=terms,
                             fitted_on=(provenance or {}).get("data"))
    except CostEngineError as exc:
        raise InputError(str(exc), field=exc.field or "observations") from exc
    prov = {"n_jobs": len(observations), "fitted_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            **(provenance or {})}
    return profile_store(report, name=name, owner=owner, team=team, visibility=visibility, scope=scope,
                         scope_value=scope_value, provenance=prov)


def team_default_set(*, user, team, scope: str, scope_value: str, profile_ref: str) -> TeamDefaultProfile:
    """Mark ``profile_ref`` as ``team``'s default for a backend, a family or globally. The caller must be a
    member; the profile must be visible to the whole team (public, or this team's)."""
    if user is not None and not user.is_superuser and not user.groups.filter(pk=team.pk).exists():
        raise InputError(f"you are not a member of team {team.name!r}", field="team", status_code=403)
    profile = selectors.profile_get(user, profile_ref)
    if not (profile.visibility == Visibility.PUBLIC or (profile.visibility == Visibility.TEAM
                                                         and profile.team_id == team.pk)):
        raise InputError(f"profile {profile} is not visible to team {team.name!r} (make it public or a "
                         f"{team.name} team profile)", field="profile")
    scope, scope_value = _scope(scope, scope_value)
    with transaction.atomic():
        row, _ = TeamDefaultProfile.objects.update_or_create(
            team=team, scope=scope, scope_value=scope_value, defaults={"profile": profile, "set_by": user})
    return row


def observed_job_store(*, job_id: str, backend_name: str, circuits: list, shots: int, observed_seconds: float,
                       observed_from: str, job_created_at=None, metrics=None, owner=None, source: str = "ibm"):
    """Store one observed job; the same job id again returns the stored row. Returns (row, created)."""
    existing = ObservedJob.objects.filter(job_id=job_id).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            return ObservedJob.objects.create(
                job_id=job_id, source=source, backend_name=backend_name, circuits=circuits,
                n_circuits=sum(int(c.get("count", 1)) for c in circuits), shots=shots,
                observed_seconds=observed_seconds, observed_from=observed_from, job_created_at=job_created_at,
                metrics=metrics or {}, owner=owner if getattr(owner, "pk", None) else None), True
    except IntegrityError:
        return ObservedJob.objects.get(job_id=job_id), False


# --- CSV job logs ---------------------------------------------------------------------------------------
CSV_REQUIRED = ("backend", "shots", "observed_seconds")
CSV_CIRCUIT_COLUMNS = ("qasm_path", "qasm", "circuit")
CSV_OPTIONAL = ("n_circuits", "snapshot", "job_id")


def parse_csv_log(text: str, where: str = "log", strict: bool = True, ignored: list | None = None) -> list[dict]:
    """Rows of an observed-jobs CSV: backend, shots, observed_seconds, one of qasm_path / qasm (inline) /
    circuit (stored id), and optionally n_circuits, snapshot (id or ISO date the job ran), job_id. Other
    columns are an error (``strict``, the API) or left out and listed in ``ignored`` (the command line, whose
    users' logs often carry notes)."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing or not any(c in header for c in CSV_CIRCUIT_COLUMNS):
        raise InputError(f"{where} needs a header with columns {list(CSV_REQUIRED)} and one of "
                         f"{list(CSV_CIRCUIT_COLUMNS)}" + (f"; missing {missing}" if missing else ""), field="csv")
    unknown = sorted(set(header) - set(CSV_REQUIRED) - set(CSV_CIRCUIT_COLUMNS) - set(CSV_OPTIONAL))
    if unknown and strict:
        raise InputError(f"{where}: unknown column(s) {unknown}; known: "
                         f"{list(CSV_REQUIRED + CSV_CIRCUIT_COLUMNS + CSV_OPTIONAL)}", field="csv")
    if ignored is not None:
        ignored.extend(unknown)
    rows = [{k.strip(): (v or "").strip() if isinstance(v, str) else v for k, v in r.items()
             if k and k.strip() not in unknown} for r in reader]
    if not rows:
        raise InputError(f"{where} has no rows", field="csv")
    if len(rows) > MAX_FIT_ROWS:
        raise InputError(f"{where} has {len(rows)} rows; the limit is {MAX_FIT_ROWS}", field="csv")
    return rows


def observations_from_rows(rows: list[dict], qasm_for, where: str = "log") -> list[Observation]:
    """``qasm_for(row, line)`` returns the row's OpenQASM text (raising InputError naming what is wrong)."""
    out = []
    for line, row in enumerate(rows, 2):
        here = f"{where} line {line}"
        try:
            text = qasm_for(row, line)
        except InputError as exc:
            raise InputError(f"{here}: {exc}", field=exc.field, status_code=exc.status_code) from exc
        out.append(observation_from_row(row, text, here))
    return out


def fit_from_params(params: dict, owner=None, job=None) -> ExecutionProfile:
    """Fit from prepared rows (each with a stored circuit id), as the REST fit and its job store them."""
    from django.contrib.auth.models import Group

    from benchmarks_app import services as jobs
    from benchmarks_app.models import Circuit

    rows = params["rows"]
    qasm = dict(Circuit.objects.filter(pk__in={r["circuit"] for r in rows}).values_list("pk", "qasm"))
    obs = []
    for i, row in enumerate(rows, 2):
        obs.append(observation_from_row(row, qasm[row["circuit"]], f"csv line {i}"))
        if job is not None and (i % 10 == 0 or i - 1 == len(rows)):
            jobs.job_progress(job, current=i - 1)
    team = Group.objects.filter(pk=params["team"]).first() if params.get("team") else None
    return fit_and_store(obs, name=params["name"], owner=owner, team=team, visibility=params["visibility"],
                         scope=params["scope"], scope_value=params["scope_value"],
                         test_fraction=params["test_fraction"], seed=params["seed"], terms=params.get("terms"),
                         provenance={"data": f"uploaded CSV, {len(rows)} rows",
                                     "circuits": sorted(qasm)[:2000]})

