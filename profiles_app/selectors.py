"""Read operations of execution profiles: visibility (the search runs' rules), resolving "name[@vN]", a team's
default for a backend, and wall-clock computed at read time from a stored estimate's terms."""
from __future__ import annotations

from django.db.models import Q, QuerySet

from cost_engine.errors import CostEngineError
from cost_engine.execution import DEFAULT_PROFILE, parse_profile_ref
from hanas_platform.api import InputError

from .models import ExecutionProfile, ObservedJob, Scope, TeamDefaultProfile, Visibility


def visible_profiles(user, everyone: bool = False) -> QuerySet[ExecutionProfile]:
    """Public profiles for everyone; team profiles for the team's members; private ones for their owner
    (exactly search_app.selectors.visible_runs). ``everyone``: the command line, which sees every profile."""
    qs = ExecutionProfile.objects.select_related("owner", "team")
    if everyone or (user is not None and user.is_authenticated and user.is_superuser):
        return qs
    if user is None or not user.is_authenticated:
        return qs.filter(visibility=Visibility.PUBLIC)
    return qs.filter(Q(visibility=Visibility.PUBLIC) | Q(owner=user)
                     | Q(visibility=Visibility.TEAM, team__in=user.groups.all())).distinct()


def profile_get(user, ref, *, everyone: bool = False, field: str = "profile", status_code: int = 400
                ) -> ExecutionProfile:
    """The profile "name" (newest visible version) or "name@vN"; unknown or invisible -> error naming it."""
    try:
        name, version = parse_profile_ref(ref)
    except CostEngineError as exc:
        raise InputError(str(exc), field=field, status_code=status_code) from exc
    qs = visible_profiles(user, everyone).filter(name=name)
    row = qs.filter(version=version).first() if version else qs.order_by("-version").first()
    if row is None:
        if version and qs.exists():
            have = sorted(qs.values_list("version", flat=True))
            raise InputError(f"execution profile {name!r} has no version {version} (versions: {have})",
                             field=field, status_code=status_code)
        known = list(visible_profiles(user, everyone).order_by("name").values_list("name", flat=True).distinct()[:8])
        raise InputError(f"unknown execution profile {ref!r}; known: {', '.join(known)}", field=field,
                         status_code=status_code)
    return row


def builtin_default() -> ExecutionProfile | None:
    return ExecutionProfile.objects.filter(name=DEFAULT_PROFILE.name, is_builtin=True).order_by("-version").first()


def team_default_for(user, backend=None) -> ExecutionProfile | None:
    """The default a team of ``user`` marked for ``backend`` (a Backend row): backend scope first, then its
    processor family, then the team's global default; teams in name order. None when no team marked one."""
    if user is None or not user.is_authenticated:
        return None
    rows = list(TeamDefaultProfile.objects.filter(team__user=user).select_related("profile", "team")
                .order_by("team__name"))  # one query: the defaults of every team the user is in
    if not rows:
        return None
    teams = list(dict.fromkeys(r.team_id for r in rows))
    wanted = []
    if backend is not None:
        wanted.append((Scope.BACKEND, backend.name))
        if backend.processor_family:
            wanted.append((Scope.FAMILY, backend.processor_family.lower()))
    wanted.append((Scope.GLOBAL, ""))
    for scope, value in wanted:
        for team in teams:
            for row in rows:
                if row.team_id == team and row.scope == scope and row.scope_value == value:
                    return row.profile
    return None


def resolve(user, ref=None, backend=None, *, everyone: bool = False, field: str = "profile"):
    """(profile row or None for the built-in when the table is empty, engine profile, notes) for an explicit
    ``ref``, else the caller's team default for the backend, else the built-in IBM-documented default."""
    notes = []
    if ref not in (None, ""):
        row = profile_get(user, ref, everyone=everyone, field=field)
        if backend is not None and row.scope == Scope.BACKEND and row.scope_value != backend.name:
            notes.append(f"profile {row} was fitted for {row.scope_value}, applied to {backend.name}")
        if (backend is not None and row.scope == Scope.FAMILY
                and row.scope_value != (backend.processor_family or "").lower()):
            notes.append(f"profile {row} is for the {row.scope_value} family, applied to {backend.name} "
                         f"({backend.processor_family or 'unknown family'})")
    else:  # the built-in default's row holds DEFAULT_PROFILE's constants (migration 0002): no query for it
        row = team_default_for(user, backend)
    return row, (row.engine() if row is not None else DEFAULT_PROFILE), notes


def describe(row, engine, notes=()) -> dict:
    """What every answer says about the profile it used."""
    out = {"name": engine.name, "version": engine.version, "ref": engine.label}
    if row is None and engine == DEFAULT_PROFILE:
        out.update(scope=Scope.GLOBAL, scope_value="", source=engine.source, terms=["job"], builtin=True)
    if row is not None:
        out.update(id=row.pk, scope=row.scope, scope_value=row.scope_value, source=row.source,
                   terms=list(row.terms or []))
        if row.fit_report:
            out["test_errors"] = row.fit_report.get("test", {}).get("fitted")
    out["constants"] = engine.describe()
    if notes:
        out["notes"] = list(notes)
    return out


def wallclock(engine, report: dict, shots=None, n_circuits: int = 1) -> tuple[float, list | None]:
    """(wall-clock seconds, prediction interval or None) of a stored estimate's report under ``engine``."""
    value = engine.predict_report(report, shots=shots, n_circuits=n_circuits)
    return value, engine.interval(value)


def observed_jobs(*, backend=None, since=None, until=None, owner=None) -> QuerySet[ObservedJob]:
    qs = ObservedJob.objects.all()
    if backend:
        qs = qs.filter(backend_name=backend)
    if since:
        qs = qs.filter(job_created_at__gte=since)
    if until:
        qs = qs.filter(job_created_at__lte=until)
    if owner is not None:
        qs = qs.filter(owner=owner)
    return qs.order_by("job_created_at", "id")


# --- applying a profile to stored estimates at read time -------------------------------------------------
TERM_KEYS = ("t_shot_s", "shots", "n_instructions", "n_2q", "n_meas", "depth", "depth_2q", "t_sched_s", "num_qubits")


def report_terms(estimate_ids) -> dict[int, dict]:
    """estimate id -> the report keys the wall-clock model reads (without loading whole reports)."""
    import json

    from django.db.models.fields.json import KT

    from benchmarks_app.models import CostEstimate

    ann = {f"w_{k}": KT(f"report__{k}") for k in TERM_KEYS + ("physical_qubits",)}
    out = {}
    for row in CostEstimate.objects.filter(pk__in=list(estimate_ids)).annotate(**ann).values("pk", *ann):
        terms = {k: row[f"w_{k}"] for k in TERM_KEYS}
        for k in TERM_KEYS:
            if terms[k] is not None:
                terms[k] = float(terms[k]) if k in ("t_shot_s", "t_sched_s") else int(float(terms[k]))
        raw = row["w_physical_qubits"]
        terms["physical_qubits"] = json.loads(raw) if isinstance(raw, str) else raw
        out[row["pk"]] = terms
    return out


def apply_to_estimates(estimates, engine, n_circuits: int = 1) -> None:
    """Set ``wallclock_s`` (and ``wallclock_interval_s``) of each CostEstimate instance in place from its stored
    terms under ``engine`` (no stored column changes)."""
    estimates = list(estimates)
    if engine == DEFAULT_PROFILE and n_circuits == 1:  # the stored column was computed with it
        for e in estimates:
            e.wallclock_interval_s = None
        return
    terms = report_terms(e.pk for e in estimates)
    for e in estimates:
        t = terms.get(e.pk)
        if t is None or t.get("t_shot_s") is None:
            continue
        e.wallclock_s, e.wallclock_interval_s = wallclock(engine, t, n_circuits=n_circuits)


def apply_to_body(body: dict, report: dict, row, engine, notes=(), n_circuits: int = 1) -> dict:
    """An estimate's JSON answer (list/detail serializer output) with wall-clock under ``engine``."""
    value, interval = wallclock(engine, report, n_circuits=n_circuits)
    body["wallclock_s"], body["wallclock_interval_s"], body["n_circuits"] = value, interval, n_circuits
    body["execution_profile"] = describe(row, engine, notes)
    if isinstance(body.get("report"), dict):
        body["report"] = {**body["report"], "wallclock_s": value, "wallclock_interval_s": interval,
                          "n_circuits": n_circuits, "execution_profile": engine.describe()}
    return body


def n_circuits_param(value, field: str = "n_circuits") -> int:
    if value in (None, ""):
        return 1
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InputError(f"{field} must be a positive integer, got {value!r}", field=field) from None
    if not 1 <= n <= 1_000_000:
        raise InputError(f"{field} must be in [1, 1000000], got {n}", field=field)
    return n
