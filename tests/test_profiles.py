"""Execution profiles (issue 18): the fit (term selection, recovery, held-out errors), profiles stored as
versioned rows with search runs' visibility, and applied at read time in estimate_cost, REST estimates,
leaderboards and cost trends."""
from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from cost_engine.calibration import load_fake_calibration
from cost_engine.execution import DEFAULT_PROFILE, CircuitTerms, ExecutionProfile
from cost_engine.execution_fit import Observation, fit_profile

GHZ3 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "measure q -> c;\n")
GHZ5 = GHZ3.replace("q[3]", "q[5]").replace("c[3]", "c[5]").replace("cx q[1],q[2];",
                                                                    "cx q[1],q[2];\ncx q[2],q[3];\ncx q[3],q[4];")


def _synthetic_log(truth: ExecutionProfile, n: int, seed: int, noise: float, vary_circuits: bool = False):
    """Jobs with random compiled-structure terms, timed by ``truth`` plus relative Gaussian noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        n_instr = int(rng.integers(20, 6000))
        c = CircuitTerms(t_shot_s=float(rng.uniform(3e-4, 8e-4)), shots=int(rng.choice([256, 1024, 4096, 8192])),
                         n_instructions=n_instr, n_2q=int(n_instr * rng.uniform(0.1, 0.4)),
                         n_meas=int(rng.integers(1, 127)), depth=int(n_instr / rng.uniform(2, 30)),
                         n_qubits=int(rng.integers(2, 127)), depth_2q=int(n_instr / rng.uniform(5, 60)),
                         t_sched_s=float(n_instr * rng.uniform(5e-8, 3e-7)),
                         count=int(rng.integers(1, 40)) if vary_circuits else 1,
                         t_eff_s=float(rng.uniform(1e-5, 1e-3)))
        rows.append(Observation((c,), truth.predict_job([c]) * (1 + rng.normal(0, noise))))
    return rows


@pytest.mark.smoke
def test_fit_recovers_a_multi_term_profile_and_drops_unsupported_terms():
    truth = ExecutionProfile(name="truth", c_job_s=2.6, c_circuit_s=0.35, c_instruction_s=120e-6,
                             c_measurement_s=8e-3)
    report = fit_profile(_synthetic_log(truth, 160, seed=4, noise=0.02, vary_circuits=True), name="lab")
    p = report["profile"]
    assert set(report["terms"]) == {"job", "circuit", "instruction", "measurement"}
    for field in ("c_job_s", "c_circuit_s", "c_instruction_s", "c_measurement_s"):
        assert p[field] == pytest.approx(getattr(truth, field), rel=0.15), field
    # terms the data does not need stay out (coefficient exactly 0), and the selection trace says why
    for field in ("c_layer_s", "c_shot_instruction_s", "c_shot_measurement_s", "c_two_qubit_gate_s", "c_qubit_s",
                  "c_two_qubit_layer_s", "k_schedule", "c_shot_s"):
        assert p[field] == 0.0
    assert report["selection"][-1]["accepted"] is False
    test = report["test"]
    assert test["fitted"]["mae_s"] < 0.3 * test["default"]["mae_s"]
    assert test["fitted"]["r2"] > 0.95 and test["fitted"]["mae_s"] < test["paper_t_eff_x_shots"]["mae_s"]
    assert report["prediction_interval"]["lo_s"] < 0 < report["prediction_interval"]["hi_s"]
    assert report["prediction_interval"]["test_coverage"] >= 0.7


@pytest.mark.smoke
def test_term_selection_drops_a_term_the_data_does_not_support():
    """Timed by job + instruction only: the fit keeps those two; offered only the job term and shots x
    measurements, it rejects the latter; with one circuit per job the per-circuit term is not identifiable."""
    truth = ExecutionProfile(name="truth", c_job_s=3.0, c_instruction_s=300e-6)
    rows = _synthetic_log(truth, 120, seed=9, noise=0.02)
    report = fit_profile(rows)
    assert report["terms"] == ["job", "instruction"]
    assert "circuit" in report["not_identifiable"]
    narrow = fit_profile(rows, terms=["job", "shot_measurement"])
    assert narrow["terms"] == ["job"] and narrow["profile"]["c_shot_measurement_s"] == 0.0
    step = narrow["selection"][-1]
    assert step["best"] == "shot_measurement" and step["accepted"] is False
    with pytest.raises(Exception, match="unknown term"):
        fit_profile(rows, terms=["job", "per_banana"])


@pytest.mark.smoke
def test_outlying_jobs_switch_the_fit_to_least_absolute_deviations():
    """8% of jobs held 10-30 s longer (a calibration, a slow upload): least squares would drag c_job up and drop
    the instruction term; cross-validation picks least absolute deviations, which recovers both."""
    truth = ExecutionProfile(name="truth", c_job_s=3.1, c_instruction_s=400e-6)
    rows = _synthetic_log(truth, 200, seed=11, noise=0.03)
    rng = np.random.default_rng(12)
    rows = [Observation(r.circuits, r.observed_s + (rng.uniform(10, 30) if rng.random() < 0.08 else 0.0))
            for r in rows]
    report = fit_profile(rows)
    assert report["loss"] == "least_absolute" and report["terms"] == ["job", "instruction"]
    assert report["cv_mae_by_loss_s"]["least_absolute"] < report["cv_mae_by_loss_s"]["least_squares"]
    assert report["profile"]["c_job_s"] == pytest.approx(3.1, rel=0.05)
    assert report["profile"]["c_instruction_s"] == pytest.approx(400e-6, rel=0.10)
    assert report["test"]["fitted"]["median_rel_error"] < 0.05


@pytest.mark.smoke
def test_profile_refs_and_from_dict_of_a_fit_report():
    from cost_engine.errors import ConfigError
    from cost_engine.execution import parse_profile_ref

    assert parse_profile_ref("mylab") == ("mylab", None)
    assert parse_profile_ref("mylab@v3") == ("mylab", 3) == parse_profile_ref("mylab@3")
    with pytest.raises(ConfigError):
        parse_profile_ref("mylab@latest")
    report = fit_profile(_synthetic_log(ExecutionProfile(c_job_s=4.0), 40, seed=1, noise=0.02), name="r")
    assert ExecutionProfile.from_dict(report).c_job_s == pytest.approx(4.0, rel=0.05)  # nested form loads
    assert DEFAULT_PROFILE.predict(t_shot_s=1e-3, shots=1000) == pytest.approx(3.0)


# --- stored profiles ------------------------------------------------------------------------------------
@pytest.fixture
def backends(db):
    from benchmarks_app.services import ingest_calibration

    out = {}
    for name in ("sherbrooke", "torino"):
        out[name], _ = ingest_calibration(load_fake_calibration(name))
    return out


def _store(name, truth, owner=None, visibility="public", team=None, **kw):
    from profiles_app.services import profile_store

    report = fit_profile(_synthetic_log(truth, 60, seed=2, noise=0.01), name=name)
    return profile_store(report, name=name, owner=owner, visibility=visibility, team=team, **kw)


SLOW = ExecutionProfile(name="slow", c_job_s=9.0, c_instruction_s=2e-3)


@pytest.mark.smoke
def test_builtin_default_is_a_row_and_versions_increment(backends):
    from profiles_app.models import ExecutionProfile as Row
    from profiles_app.selectors import profile_get

    builtin = Row.objects.get(name="ibm-default")
    assert builtin.is_builtin and builtin.version == 1 and builtin.visibility == "public"
    assert builtin.engine() == DEFAULT_PROFILE
    a = _store("lab", SLOW)
    b = _store("lab", SLOW)
    assert (a.version, b.version) == (1, 2)
    assert profile_get(None, "lab") == b and profile_get(None, "lab@v1") == a
    assert a.fit_report["test"]["fitted"]["r2"] is not None and a.provenance == {}
    with pytest.raises(Exception, match="built-in"):
        _store("ibm-default", SLOW)


def test_fitted_profile_changes_wallclock_everywhere(backends, tmp_path, api_client, user):
    from benchmarks_app.services import circuit_create, cost_options, estimate_get_or_create

    slow = _store("slowlab", SLOW)
    engine = slow.engine()
    path = tmp_path / "ghz.qasm"
    path.write_text(GHZ3)

    # estimate_cost --profile
    out = io.StringIO()
    call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--json", stdout=out)
    default = json.loads(out.getvalue())
    out = io.StringIO()
    call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--profile", "slowlab@v1",
                 "--n-circuits", "3", "--json", stdout=out)
    fitted = json.loads(out.getvalue())
    assert default["execution_profile"]["ref"] == "ibm-default@v1"
    assert fitted["execution_profile"]["ref"] == "slowlab@v1" and fitted["n_circuits"] == 3
    expected = engine.predict_job([CircuitTerms.from_report(fitted, count=3)])
    assert fitted["wallclock_s"] == pytest.approx(expected)
    assert fitted["wallclock_s"] > default["wallclock_s"] + 6
    lo, hi = fitted["wallclock_interval_s"]
    assert lo < fitted["wallclock_s"] < hi
    with pytest.raises(CommandError, match="unknown execution profile 'nolab'"):
        call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--profile", "nolab")
    with pytest.raises(CommandError, match="no version 7"):
        call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--profile", "slowlab@v7")

    # REST estimates: one stored estimate serves every profile
    api_client.force_authenticate(user)
    r1 = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke"}, format="json")
    r2 = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke", "profile": "slowlab"},
                         format="json")
    assert r1.status_code == 201 and r2.status_code == 200, r2.json()
    b1, b2 = r1.json(), r2.json()
    assert b1["id"] == b2["id"]
    assert b1["execution_profile"]["ref"] == "ibm-default@v1" and b2["execution_profile"]["ref"] == "slowlab@v1"
    assert b2["wallclock_s"] == pytest.approx(engine.predict_report(b2["report"]))
    assert b2["report"]["wallclock_s"] == b2["wallclock_s"] and b2["wallclock_s"] > b1["wallclock_s"] + 6
    detail = api_client.get(f"/api/estimates/{b1['id']}/?profile=slowlab&n_circuits=2").json()
    assert detail["wallclock_s"] == pytest.approx(engine.predict_report(detail["report"], n_circuits=2))
    bad = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke", "profile": "nolab"},
                          format="json")
    assert bad.status_code == 400 and "nolab" in bad.json()["profile"][0]

    # leaderboards: rows re-ranked by the profile's wall-clock
    circuit, _ = circuit_create(qasm=GHZ3)
    c5, _ = circuit_create(qasm=GHZ5)
    for snap in backends.values():
        for c in (circuit, c5):
            estimate_get_or_create(c, snap, cost_options({}))
    base = api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}").json()
    board = api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}&profile=slowlab@v1").json()
    assert base["execution_profile"]["ref"] == "ibm-default@v1" and board["execution_profile"]["ref"] == "slowlab@v1"
    for row, brow in zip(sorted(base["rows"], key=lambda r: r["backend"]),
                         sorted(board["rows"], key=lambda r: r["backend"])):
        assert brow["wallclock_s"] > row["wallclock_s"] + 6 and brow["wallclock_interval_s"]
    values = [r["value"] for r in board["rows"]]
    assert values == sorted(values)
    circuits = api_client.get("/api/leaderboards/circuits/?backend=sherbrooke&profile=slowlab@v1").json()
    assert [r["value"] for r in circuits["rows"]] == sorted(r["value"] for r in circuits["rows"])
    assert all(r["wallclock_s"] > 8.5 for r in circuits["rows"])
    assert api_client.get("/api/leaderboards/circuits/?backend=sherbrooke&profile=nolab").status_code == 400
    assert api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}&profile=nolab").status_code == 400

    exported = api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}&profile=slowlab@v1&format=csv")
    assert exported.status_code == 200 and "execution_profile_ref" in exported.content.decode().splitlines()[0]
    assert "slowlab@v1" in exported.content.decode().splitlines()[1]
    listed = api_client.get(f"/api/estimates/?circuit={circuit.pk}&profile=slowlab@v1&format=csv")
    assert listed.status_code == 200 and "wallclock_s" in listed.content.decode().splitlines()[0]
    printed = io.StringIO()
    call_command("print_leaderboards", "--circuit", circuit.name, "--profile", "slowlab@v1", stdout=printed)
    assert "wall-clock with slowlab@v1" in printed.getvalue()
    with pytest.raises(CommandError, match="nolab"):
        call_command("print_leaderboards", "--profile", "nolab", stdout=io.StringIO())

    # cost trends
    t0 = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke").json()
    t1 = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&profile=slowlab@v1").json()
    assert t1["execution_profile"]["ref"] == "slowlab@v1"
    assert t1["points"][0]["value"] > t0["points"][0]["value"] + 6
    bad = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&profile=nolab@v2")
    assert bad.status_code == 400 and "nolab" in bad.json()["profile"][0]


def test_team_default_applies_and_profile_visibility_matches_search_runs(backends, api_client, user,
                                                                        django_user_model):
    """For every (owner, team, visibility) combination a profile and a search run are visible to the same users;
    a team's default for a backend (or its family) is what its members get without naming a profile."""
    from django.contrib.auth.models import Group

    from profiles_app.selectors import visible_profiles
    from profiles_app.services import team_default_set
    from search_app.models import SearchRun
    from search_app.selectors import visible_runs

    team = Group.objects.create(name="qml-lab")
    other_team = Group.objects.create(name="other-lab")
    bob = django_user_model.objects.create_user(username="bob", password="pw-bob-12345")
    carol = django_user_model.objects.create_user(username="carol", password="pw-carol-12345")
    admin = django_user_model.objects.create_superuser(username="root", password="pw-root-12345")
    user.groups.add(team)
    bob.groups.add(team)
    carol.groups.add(other_team)
    from django.contrib.auth.models import AnonymousUser

    combos = [(user, None, "private"), (user, team, "team"), (bob, team, "private"), (carol, other_team, "team"),
              (carol, None, "public"), (bob, None, "private")]
    profile_ids, run_ids = [], []
    for i, (owner, grp, vis) in enumerate(combos):
        profile_ids.append(_store(f"p{i}", SLOW, owner=owner, team=grp, visibility=vis).pk)
        run_ids.append(SearchRun.objects.create(owner=owner, team=grp, visibility=vis, config={}, dataset="iris",
                                                backend_name="ibm_sherbrooke").pk)
    for viewer in (user, bob, carol, admin, AnonymousUser(), None):
        seen_p = {profile_ids.index(p) for p in visible_profiles(viewer).filter(pk__in=profile_ids)
                  .values_list("pk", flat=True)}
        seen_r = {run_ids.index(r) for r in visible_runs(viewer).filter(pk__in=run_ids).values_list("pk", flat=True)}
        assert seen_p == seen_r, viewer
    # over REST: a private profile of someone else is unknown (404 on the detail, 400 as a parameter)
    api_client.force_authenticate(carol)
    assert api_client.get("/api/execution-profiles/p0/").status_code == 404
    assert api_client.get("/api/execution-profiles/p3/").status_code == 200
    listing = {p["name"] for p in api_client.get("/api/execution-profiles/").json()["results"]}
    assert {"p3", "p4", "ibm-default"} <= listing and not listing & {"p0", "p1", "p2", "p5"}

    # team default: per backend beats per family; members get it, others keep ibm-default
    fam = backends["sherbrooke"].backend.processor_family
    team_default_set(user=user, team=team, scope="family", scope_value=fam, profile_ref="p4")
    team_default_set(user=user, team=team, scope="backend", scope_value="sherbrooke", profile_ref="p1")
    with pytest.raises(Exception, match="not visible to team"):
        team_default_set(user=user, team=team, scope="global", scope_value="", profile_ref="p0")
    api_client.force_authenticate(bob)
    r = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke"}, format="json").json()
    assert r["execution_profile"]["ref"] == "p1@v1" and r["wallclock_s"] > 8.5
    api_client.force_authenticate(carol)
    r = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke"}, format="json").json()
    assert r["execution_profile"]["ref"] == "ibm-default@v1" and r["wallclock_s"] < 8.5
    api_client.force_authenticate(bob)
    d = api_client.post("/api/execution-profiles/team-defaults/", {"team": "qml-lab", "scope": "backend",
                                                                   "scope_value": "torino", "profile": "p4"},
                        format="json")
    assert d.status_code == 200, d.json()
    r = api_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "torino"}, format="json").json()
    assert r["execution_profile"]["ref"] == "p4@v1"
    api_client.force_authenticate(carol)
    denied = api_client.post("/api/execution-profiles/team-defaults/", {"team": "qml-lab", "scope": "global",
                                                                        "profile": "p4"}, format="json")
    assert denied.status_code == 403


# --- importing observed jobs from IBM (stand-in at the network edge) ----------------------------------------
class StandInRuntimeClient:
    """The RuntimeClient edge of qiskit-ibm-runtime: job_get / job_metadata return what the REST API returns
    (params decoded with qiskit-ibm-runtime's own RuntimeEncoder/RuntimeDecoder round trip, as on the wire)."""

    def __init__(self):
        self.jobs, self.calls = {}, 0

    def add(self, job_id, params, metrics, status="Completed", created="2026-01-05T10:00:00Z"):
        from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder

        wire = json.loads(json.dumps(params, cls=RuntimeEncoder), cls=RuntimeDecoder)
        self.jobs[job_id] = {"id": job_id, "state": {"status": status}, "created": created, "params": wire,
                             "metrics": metrics}

    def job_get(self, job_id, exclude_params=True):
        self.calls += 1
        data = {k: v for k, v in self.jobs[job_id].items() if k != "metrics"}
        if exclude_params:
            data.pop("params")
        return data

    def job_results(self, job_id):
        self.calls += 1
        return "Traceback (most recent call last):\n  RuntimeError: the job failed on the device"

    def job_metadata(self, job_id):
        self.calls += 1
        return self.jobs[job_id]["metrics"]


class StandInService:
    """QiskitRuntimeService.jobs(...) returning real RuntimeJobV2 objects bound to the stand-in client."""

    def __init__(self, client):
        self.client, self.asked = client, []

    def jobs(self, limit=10, skip=0, backend_name=None, pending=None, program_id=None, instance=None,
             job_tags=None, session_id=None, created_after=None, created_before=None, descending=True,
             include_mocks=False):
        from qiskit_ibm_runtime.runtime_job_v2 import RuntimeJobV2

        self.asked.append({"backend_name": backend_name, "pending": pending, "created_after": created_after,
                           "created_before": created_before})
        return [RuntimeJobV2(backend=None, api_client=self.client, job_id=jid, program_id=data["program"],
                             service=self, creation_date=data["created"])
                for jid, data in ((j, {**d, "program": d.get("program", "sampler")})
                                  for j, d in self.client.jobs.items())][:limit]


def _isa(n_qubits, layers, seed):
    from qiskit import QuantumCircuit, transpile
    from qiskit.circuit import Parameter
    from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

    qc = QuantumCircuit(n_qubits)
    theta = Parameter("theta")
    for layer in range(layers):
        for q in range(n_qubits):
            qc.ry(theta if q == 0 else 0.3 * (q + layer + 1), q)
        for q in range(n_qubits - 1):
            qc.cx(q, q + 1)
    qc.measure_all()
    return transpile(qc, FakeSherbrooke(), optimization_level=1, seed_transpiler=seed)


def test_import_ibm_jobs_is_idempotent_and_feeds_a_fit(backends, tmp_path):
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    from profiles_app.models import ObservedJob
    from profiles_app.ibm_jobs import import_ibm_jobs

    client = StandInRuntimeClient()
    rng = np.random.default_rng(3)
    truth = ExecutionProfile(c_job_s=2.5, c_instruction_s=1.5e-3)
    from profiles_app.services import circuit_terms
    for i in range(14):
        isa = _isa(int(rng.integers(2, 6)), int(rng.integers(1, 6)), seed=i)
        shots, n_param = int(rng.choice([1000, 4000])), int(rng.integers(1, 4))
        pub = SamplerPub.coerce((isa, rng.uniform(0, 3, size=(n_param, 1)), shots))
        from qiskit import qasm3

        terms = circuit_terms(qasm3.dumps(isa.assign_parameters([0.5])), "sherbrooke", "latest", shots, n_param)
        seconds = truth.predict_job([terms]) * (1 + rng.normal(0, 0.01))
        client.add(f"job-{i:02d}", {"pubs": [pub], "version": 2, "support_qiskit": True, "options": {}},
                   {"timestamps": {"created": "2026-01-05T09:59:00Z", "running": "2026-01-05T10:00:00Z",
                                   "finished": (dt.datetime(2026, 1, 5, 10, tzinfo=dt.timezone.utc)
                                                + dt.timedelta(seconds=seconds)).isoformat()},
                    "usage": {"quantum_seconds": round(seconds), "seconds": round(seconds)},
                    "executions": shots * n_param, "num_circuits": 1})
    client.add("job-failed", {"pubs": [SamplerPub.coerce((_isa(2, 1, 0), [[0.1]], 100))]}, {}, status="Failed")
    client.add("job-estimator", {"pubs": []}, {"usage": {"quantum_seconds": 3}})
    client.jobs["job-estimator"]["program"] = "estimator"
    service = StandInService(client)
    since = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    first = import_ibm_jobs("ibm_sherbrooke", since, None, service_factory=lambda: service)
    assert len(first["imported"]) == 14 and ObservedJob.objects.count() == 14
    reasons = {s["job"]: s["reason"] for s in first["skipped"]}
    assert reasons["job-failed"] == "status ERROR" and "Estimator" in reasons["job-estimator"]
    assert service.asked[0]["pending"] is False and service.asked[0]["created_after"] == since
    job = ObservedJob.objects.get(job_id="job-03")
    assert job.observed_from == "timestamps.running-finished" and job.circuits[0]["shots"] in (1000, 4000)
    assert job.n_circuits == job.circuits[0]["count"] >= 1
    again = import_ibm_jobs("ibm_sherbrooke", since, None, service_factory=lambda: service)
    assert again["imported"] == [] and ObservedJob.objects.count() == 14
    assert {s["reason"] for s in again["skipped"]} >= {"already imported"}

    # the command reads the same table: fit on the imported jobs recovers the per-job term
    out = io.StringIO()
    call_command("fit_execution_profile", "--observed", "--backend", "ibm_sherbrooke", "--name", "imported",
                 "--terms", "job,instruction,layer", "--json", stdout=out)
    fitted = json.loads(out.getvalue())
    assert fitted["n_train"] + fitted["n_test"] == 14
    assert fitted["profile"]["c_job_s"] == pytest.approx(2.5, rel=0.25)
    assert fitted["test"]["fitted"]["mae_s"] < fitted["test"]["default"]["mae_s"]


def test_import_ibm_jobs_command_reports_unreachable_ibm(db, settings):
    settings.IBM_QUANTUM_TOKEN = ""
    with pytest.raises(CommandError, match="IBM_QUANTUM_TOKEN"):
        call_command("import_ibm_jobs", "--backend", "ibm_sherbrooke", "--since", "2026-01-01")


# --- fitting over REST --------------------------------------------------------------------------------------
def _ghz(n, reps=1):
    body = "".join(f"cx q[{i}],q[{i + 1}];\n" for i in range(n - 1)) * reps
    return (f"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n{body}"
            f"measure q -> c;\n")


def _rest_log(truth, n_rows=16, seed=0):
    """(rows with inline qasm / qasm_path, zip bytes with the qasm_path files) timed by ``truth`` plus 1%."""
    import csv
    import zipfile

    from profiles_app.services import circuit_terms

    rng = np.random.default_rng(seed)
    rows, files = [], {}
    for i in range(n_rows):
        qasm = _ghz(int(rng.integers(2, 6)), int(rng.integers(1, 8)))
        shots, k = int(rng.choice([500, 2000])), int(rng.integers(1, 4))
        seconds = truth.predict_job([circuit_terms(qasm, "sherbrooke", "latest", shots, k)]) * (1 + rng.normal(0, .01))
        row = {"backend": "ibm_sherbrooke", "shots": shots, "n_circuits": k, "observed_seconds": f"{seconds:.4f}",
               "qasm": "", "qasm_path": ""}
        if i % 2:
            row["qasm"] = qasm
        else:
            row["qasm_path"] = f"circuits/c{i}.qasm"
            files[row["qasm_path"]] = qasm
        rows.append(row)
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in files.items():
            z.writestr(name, body)
    return text.getvalue(), buf.getvalue()


def test_rest_fit_sync_and_large_fit_as_a_job(backends, api_client, user, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    truth = ExecutionProfile(c_job_s=4.0, c_circuit_s=0.5)
    csv_text, zip_bytes = _rest_log(truth)
    assert api_client.post("/api/execution-profiles/fit/", {"name": "x"}).status_code in (401, 403)
    api_client.force_authenticate(user)

    def upload(**extra):
        return api_client.post("/api/execution-profiles/fit/", {
            "name": "restlab", "file": SimpleUploadedFile("log.csv", csv_text.encode()),
            "circuits": SimpleUploadedFile("circuits.zip", zip_bytes), **extra}, format="multipart")

    r = upload(visibility="public")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["ref"] == "restlab@v1" and body["owner"] == "alice" and body["visibility"] == "public"
    assert {"job", "circuit"} <= set(body["terms"])
    assert body["constants"]["c_job_s"] == pytest.approx(4.0, rel=0.15)
    assert set(body["test_errors"]) >= {"fitted", "default", "paper_t_eff_x_shots"}
    assert api_client.get("/api/execution-profiles/restlab@v1/").json()["fit_report"]["prediction_interval"]

    # bad input: nothing stored, the problem named
    from profiles_app.models import ExecutionProfile as Row

    before = Row.objects.count()
    missing = api_client.post("/api/execution-profiles/fit/", {
        "name": "restlab", "file": SimpleUploadedFile("log.csv", csv_text.encode())}, format="multipart")
    assert missing.status_code == 400 and "not in the uploaded circuits zip" in missing.json()["qasm_path"][0]
    typo = api_client.post("/api/execution-profiles/fit/", {"name": "restlab", "csv": csv_text, "seeed": 1},
                           format="json")
    assert typo.status_code == 400 and "seeed" in typo.json()
    badcol = api_client.post("/api/execution-profiles/fit/", {"name": "restlab", "csv": "backend,shots\n"},
                             format="json")
    assert badcol.status_code == 400 and "observed_seconds" in badcol.json()["csv"][0]
    assert Row.objects.count() == before

    # a log above HANAS_SYNC_FIT_MAX_ROWS answers 202 and a job (run by the worker, or eagerly here)
    settings.HANAS_SYNC_FIT_MAX_ROWS = 5
    r = upload()
    assert r.status_code == 202, r.json()
    if settings.CELERY_TASK_ALWAYS_EAGER:  # with a broker, the worker test below runs it
        job = api_client.get(r.json()["status_url"]).json()
        assert job["status"] == "succeeded", job
        assert job["result"]["profile"] == "restlab@v2"
        assert Row.objects.get(name="restlab", version=2).visibility == "private"


def _wait_job(client, url, timeout=120):
    import time

    deadline = time.monotonic() + timeout
    while True:
        job = client.get(url).json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


@pytest.mark.worker
def test_large_rest_fit_and_profiled_async_estimate_run_on_a_real_worker(backends, api_client, user, settings,
                                                                        celery_worker_factory):
    from django.core.files.uploadedfile import SimpleUploadedFile

    celery_worker_factory()
    csv_text, zip_bytes = _rest_log(ExecutionProfile(c_job_s=6.0, c_circuit_s=0.5), seed=5)
    settings.HANAS_SYNC_FIT_MAX_ROWS = 5
    api_client.force_authenticate(user)
    r = api_client.post("/api/execution-profiles/fit/", {
        "name": "workerlab", "visibility": "public", "file": SimpleUploadedFile("log.csv", csv_text.encode()),
        "circuits": SimpleUploadedFile("circuits.zip", zip_bytes)}, format="multipart")
    assert r.status_code == 202, r.json()
    job = _wait_job(api_client, r.json()["status_url"])
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["profile"] == "workerlab@v1" and job["progress"] == 1.0
    settings.HANAS_SYNC_ESTIMATE_MAX_WORK = 1
    q = api_client.post("/api/estimates/", {"qasm": GHZ5, "backend": "sherbrooke", "profile": "workerlab",
                                            "n_circuits": 2}, format="json")
    assert q.status_code == 202 and q.json()["execution_profile"]["ref"] == "workerlab@v1"
    est = _wait_job(api_client, q.json()["status_url"])
    assert est["status"] == "succeeded", est["error"]
    assert est["result"]["execution_profile"]["ref"] == "workerlab@v1" and est["result"]["n_circuits"] == 2
    assert est["result"]["wallclock_s"] > 6.5  # c_job 6 + 2 circuits x 0.5 s, against 2 s + shots by default


def test_search_config_takes_an_execution_profile(backends, api_client, user):
    """The profile is pinned to name@vN when the run is created (unknown -> 400 naming it) and the candidates'
    quantum reports are costed with it."""
    from cost_engine.hqnn import Genome
    from cost_engine.search import SearchConfig, evaluate_genome
    from profiles_app.selectors import profile_get
    from search_app.models import SearchRun

    tiny = {"dataset": "iris", "backend": "ibm_sherbrooke", "population": 4, "generations": 1, "epochs": 1,
            "space": {"min_qubits": 2, "max_qubits": 2, "max_layers": 1}, "seed": 3, "max_train_samples": 30}
    _store("searchlab", SLOW)
    api_client.force_authenticate(user)
    bad = api_client.post("/api/searches/", {"config": {**tiny, "execution_profile": "nolab"}}, format="json")
    assert bad.status_code == 400 and "nolab" in bad.json()["config.execution_profile"][0]
    assert SearchRun.objects.count() == 0
    from search_app.services import search_create

    run = search_create(owner=user, config={**tiny, "execution_profile": "searchlab"}, start=False)
    assert run.config["execution_profile"] == "searchlab@v1"
    cfg = SearchConfig.from_dict(run.config)
    genome = Genome.from_dict({**cfg.search_space.largest_genome().to_dict()})
    cal = backends["sherbrooke"].calibration()
    plain = evaluate_genome(genome, cfg, cal)
    profiled = evaluate_genome(genome, cfg, cal, execution_profile=profile_get(None, "searchlab@v1").engine())
    assert plain.quantum["execution_profile"]["name"] == "ibm-default"
    assert profiled.quantum["execution_profile"]["name"] == "searchlab"
    assert profiled.quantum["wallclock_s"] > plain.quantum["wallclock_s"] + 6
    # and the search's C_Q: 9 s per job instead of 2, 2 ms per instruction per circuit execution
    assert profiled.cost["execution_profile"]["name"] == "searchlab"
    jobs, executions = plain.cost["jobs"], plain.cost["circuit_executions"]
    extra = jobs * (9.0 - 2.0) + executions * plain.quantum["n_instructions"] * 2e-3
    assert profiled.cost["c_q_wallclock_s"] == pytest.approx(plain.cost["c_q_wallclock_s"] + extra, rel=0.05)


def test_estimate_list_names_and_applies_the_profile(backends, api_client, user):
    from benchmarks_app.services import circuit_create, cost_options, estimate_get_or_create

    _store("listlab", SLOW)
    circuit, _ = circuit_create(qasm=GHZ3)
    estimate_get_or_create(circuit, backends["sherbrooke"], cost_options({}))
    base = api_client.get(f"/api/estimates/?circuit={circuit.pk}").json()
    prof = api_client.get(f"/api/estimates/?circuit={circuit.pk}&profile=listlab&n_circuits=4").json()
    assert base["execution_profile"]["ref"] == "ibm-default@v1" and prof["execution_profile"]["ref"] == "listlab@v1"
    assert prof["results"][0]["wallclock_s"] > base["results"][0]["wallclock_s"] + 6
    assert api_client.get("/api/estimates/?profile=nolab").status_code == 400
