"""Issue 16, part 1: a finished search's front re-ranked when its backend drifts (and on request on another
backend). The drifted snapshot is built from the real bundled sherbrooke calibration by degrading every qubit
outside the two that the 2-qubit architecture sits on, so the 3-qubit architecture cannot move to good qubits."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time

import pytest

# A: 3 qubits, one ry layer, a classical pre-layer (more parameters, fewer circuit evaluations per sample).
# D: 2 qubits, two rx/ry layers, no pre-layer (fewer parameters, more evaluations: costlier on the run's snapshot).
GENOME_A = {"n_qubits": 3, "n_layers": 1, "encoding": "angle_y", "rotations": ["ry"], "entangler": "linear",
            "entangler_gate": "cx", "pre_widths": [8], "head": "linear"}
GENOME_D = {"n_qubits": 2, "n_layers": 2, "encoding": "angle_y", "rotations": ["rx", "ry"], "entangler": "linear",
            "entangler_gate": "cx", "pre_widths": [], "head": "linear"}
CONFIG = {"dataset": "iris", "backend": "ibm_sherbrooke", "space": {"min_qubits": 2, "max_qubits": 3,
                                                                     "max_layers": 2},
          "population": 4, "generations": 1, "epochs": 1, "seed": 3}


def _finished_run(user, config=None):
    """A finished run of two architectures, trained and costed for real by the search's own evaluation
    (services.evaluate_and_record). Their validation accuracy is then set equal (0.9): accuracy never changes
    under re-ranking, and equal accuracy makes the front between the two a matter of cost and parameters."""
    from cost_engine.hqnn import Genome
    from search_app import services
    from search_app.models import Candidate, SearchRun

    run = services.search_create(owner=user, config=config or CONFIG, start=False)
    keys = {}
    for name, g in (("A", GENOME_A), ("D", GENOME_D)):
        genome = Genome.from_dict(g)
        services.evaluate_and_record(run.pk, 0, genome.to_dict())
        keys[name] = genome.key()
    for c in Candidate.objects.filter(run=run):
        c.accuracy = 0.9
        c.objectives = [0.1, *c.objectives[1:]]
        c.save(update_fields=["accuracy", "objectives"])
    SearchRun.objects.filter(pk=run.pk).update(status=SearchRun.Status.SUCCEEDED, generation=1)
    run.refresh_from_db()
    services._update_ranks(run)
    cands = {c.genome_key: c for c in Candidate.objects.filter(run=run)}
    a, d = cands[keys["A"]], cands[keys["D"]]
    # preconditions of the scenario, from the real costs: both on the front (A cheaper, D fewer parameters)
    assert a.runnable and d.runnable
    assert a.c_total_s < d.c_total_s and d.params_total < a.params_total, (a.c_total_s, d.c_total_s)
    assert a.on_front and d.on_front
    return run, a, d


def _drifted(cal, keep: set, days: int = 1):
    """The calibration a day later with every qubit outside ``keep`` degraded: readout error 0.5, T2 five times
    shorter."""
    def worse(i, q):
        if i in keep:
            return q
        return dataclasses.replace(q, readout_error=0.5, t2_s=None if q.t2_s is None else q.t2_s / 5)

    return dataclasses.replace(cal, calibrated_at=cal.calibrated_at + dt.timedelta(days=days),
                               qubits=tuple(worse(i, q) for i, q in enumerate(cal.qubits)), source="drift-test")


def _assert_left(front, a, d):
    assert front.status == "succeeded", front.error
    assert front.left == [a.genome_key] and front.entered == []
    ra, rd = front.results[a.genome_key], front.results[d.genome_key]
    assert rd["on_front"] and rd["rank"] == 0
    assert not ra["on_front"] and ra["rank"] == 1 and ra["runnable"]
    assert rd["c_total_s"] == pytest.approx(d.c_total_s, rel=1e-9)  # D's qubits untouched: same cost
    assert ra["c_total_s"] > d.c_total_s > a.c_total_s  # A's got dearer than D's
    assert set(ra["physical_qubits"]) - set(d.quantum_report["physical_qubits"])  # A had to use a degraded one


@pytest.fixture
def eager(settings):
    """These tests rely on ingest running the re-ranking inline (the embedded default); with a real broker the
    worker test below covers the same path."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("eager mode only: with a broker, test_front_reranked_on_drift_with_real_workers covers it")


@pytest.mark.smoke
def test_retotal_reproduces_training_cost(db):
    """Re-costing a candidate on the very snapshot it was searched on gives back its stored C_total exactly (the
    same formulas, the classical terms kept); on another snapshot only the quantum terms move."""
    from cost_engine.calibration import load_fake_calibration
    from cost_engine.hqnn import Genome
    from cost_engine.quantum import CompileCache
    from cost_engine.rerank import recost_candidate
    from cost_engine.search import SearchConfig, evaluate_genome

    cal = load_fake_calibration("sherbrooke")
    cfg = SearchConfig.from_dict(CONFIG)
    cache = CompileCache()
    ev = evaluate_genome(Genome.from_dict(GENOME_A), cfg, cal, compile_cache=cache)
    same = recost_candidate(ev.genome_key, ev.genome, ev.accuracy, ev.params_total, ev.cost, cfg, cal, cache)
    assert same.c_total_s == pytest.approx(ev.cost["c_total_s"], rel=1e-12) and same.F == pytest.approx(ev.F)
    hits = cache.hits
    worse = recost_candidate(ev.genome_key, ev.genome, ev.accuracy, ev.params_total, ev.cost, cfg,
                             _drifted(cal, set()), cache)
    assert cache.hits > hits  # the routing came from the cache: only placement and scoring ran
    assert worse.c_total_s > same.c_total_s and worse.F[0] == same.F[0] and worse.F[2] == same.F[2]
    assert worse.c_total_s - worse.c_q_wallclock_s == pytest.approx(ev.cost["c_c_s"])
    # the genome-keyed compile cache gives exactly estimate_quantum_cost's report, amplitude encoding included
    from cost_engine.quantum import estimate_quantum_cost
    from cost_engine.rerank import candidate_report
    from cost_engine.search import candidate_circuit, candidate_options

    drifted = _drifted(cal, set())
    for g in (GENOME_A, {**GENOME_D, "encoding": "amplitude"}):
        genome = Genome.from_dict(g)
        ref = estimate_quantum_cost(candidate_circuit(genome, cfg.seed), drifted, candidate_options(cfg)).to_dict()
        for _ in range(2):  # cold, then from the cache
            got = candidate_report(genome.key(), genome.to_dict(), cfg, drifted, cache)
            assert {k: v for k, v in got.items() if k not in ("compile_cached", "notes")} == \
                {k: v for k, v in ref.items() if k not in ("compile_cached", "notes")}

    # with a run's own (here: fitted-looking) execution profile, the same holds
    from cost_engine.execution import DEFAULT_PROFILE

    fitted = dataclasses.replace(DEFAULT_PROFILE, name="fitted-test", c_instruction_s=2e-6, c_two_qubit_gate_s=5e-6,
                                 c_job_s=DEFAULT_PROFILE.c_job_s * 2)
    ev2 = evaluate_genome(Genome.from_dict(GENOME_A), cfg, cal, compile_cache=cache, execution_profile=fitted)
    again = recost_candidate(ev2.genome_key, ev2.genome, ev2.accuracy, ev2.params_total, ev2.cost, cfg, cal, cache,
                             execution_profile=fitted)
    assert ev2.cost["c_total_s"] != pytest.approx(ev.cost["c_total_s"], rel=1e-6)
    assert again.c_total_s == pytest.approx(ev2.cost["c_total_s"], rel=1e-12)


def test_front_reranked_on_drift_eager(transactional_db, eager, user):
    """Eager mode (the embedded default): ingesting the drifted snapshot re-ranks the run inline; A leaves."""
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration
    from search_app.models import FrontSnapshot

    cal = load_fake_calibration("sherbrooke")
    ingest_calibration(cal)
    run, a, d = _finished_run(user)
    snap, created = ingest_calibration(_drifted(cal, set(d.quantum_report["physical_qubits"])))
    assert created
    front = FrontSnapshot.objects.get(run=run, snapshot=snap)
    _assert_left(front, a, d)
    assert front.job.status == "succeeded" and front.job.progress_current == 2


@pytest.fixture
def workers(request, settings):
    """Nothing in eager mode (ingest re-ranks inline); with PostgreSQL + Redis, a real worker."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        request.getfixturevalue("real_worker")


def _wait_front(run, snapshot_id, timeout=120.0):
    from search_app.models import FrontSnapshot

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        front = FrontSnapshot.objects.filter(run=run, snapshot_id=snapshot_id).first()
        if front is not None and front.status in ("succeeded", "failed"):
            return front
        time.sleep(0.3)
    raise AssertionError(f"front of run {run.pk} on snapshot {snapshot_id} not finished in {timeout} s")


def test_rest_fronts_movers_request_and_robust_board(transactional_db, workers, user, auth_client):
    """Eager mode, or PostgreSQL + Redis with a real worker doing the re-ranking."""
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration

    cal = load_fake_calibration("sherbrooke")
    ingest_calibration(cal)
    run, a, d = _finished_run(user)
    snap, _ = ingest_calibration(_drifted(cal, set(d.quantum_report["physical_qubits"])))
    _wait_front(run, snap.pk)
    body = auth_client.get(f"/api/searches/{run.pk}/fronts/").json()
    assert body["own"]["front_size"] == 2 and [f["snapshot"] for f in body["fronts"]] == [snap.pk]
    assert body["fronts"][0]["left"] == [a.genome_key]
    det = auth_client.get(f"/api/searches/{run.pk}/fronts/latest/").json()
    assert [x["genome_key"] for x in det["front"]] == [d.genome_key]
    assert det["left_detail"][0]["genome_key"] == a.genome_key
    top = det["movers"][0]
    assert top["genome_key"] == a.genome_key and top["rank_change"] == 1 and top["cost_ratio"] > 1
    assert auth_client.get(f"/api/searches/{run.pk}/fronts/999999/").status_code == 404

    # the run page: the front at its own snapshot and on the latest one, and the movers
    from django.test import Client

    page = Client()
    page.force_login(user)
    html = " ".join(page.get(f"/searches/{run.pk}/").content.decode().split())
    assert 'id="drift-movers"' in html and "1 left the front" in html and "left</td>" in html
    assert html.count("(left)") == 1

    # on request, another backend: Heron (torino) has enough qubits
    bad = auth_client.post(f"/api/searches/{run.pk}/fronts/", {"backend": "ibm_torino", "snapshots": "latest"},
                           format="json")
    assert bad.status_code == 400 and "snapshots" in bad.json()
    assert auth_client.post(f"/api/searches/{run.pk}/fronts/", {"backend": "ibm_nowhere"},
                            format="json").status_code == 404
    torino, _ = ingest_calibration(load_fake_calibration("torino"))
    resp = auth_client.post(f"/api/searches/{run.pk}/fronts/", {"backend": "ibm_torino"}, format="json")
    assert resp.status_code == 202, resp.content
    _wait_front(run, torino.pk)
    job = auth_client.get(f"/api/jobs/{resp.json()['job']}/").json()
    assert job["status"] == "succeeded"
    heron = auth_client.get(f"/api/searches/{run.pk}/fronts/{resp.json()['front']['snapshot']}/").json()
    assert heron["backend"] == "ibm_torino" and heron["status"] == "succeeded" and heron["front"]
    again = auth_client.post(f"/api/searches/{run.pk}/fronts/", {"backend": "ibm_torino"}, format="json")
    assert again.status_code == 200

    # robustness leaderboard: D stays on the front on both sherbrooke snapshots, A falls to rank 1
    board = auth_client.get("/api/leaderboards/architectures/", {"robust": "worst_rank",
                                                                 "since": "2000-01-01"}).json()
    arch = {x["genome_key"]: x for x in board["architectures"]}
    assert arch[d.genome_key]["worst_rank"] == 0 and arch[d.genome_key]["always_on_front"]
    assert arch[a.genome_key]["worst_rank"] == 1 and arch[a.genome_key]["snapshots"] == 2
    assert board["architectures"][0]["genome_key"] == d.genome_key
    # a window holding only the run's own snapshot: nobody has moved
    own_day = run.snapshot_calibrated_at.date().isoformat()
    board = auth_client.get("/api/leaderboards/architectures/robust/", {"since": own_day, "until": own_day}).json()
    assert {x["worst_rank"] for x in board["architectures"]} == {0}
    # a private upload: not re-ranked on ingest; re-ranked on its uploader's request, and that front is shown to
    # the uploader only (the run itself is public)
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from search_app.models import FrontSnapshot, SearchRun

    SearchRun.objects.filter(pk=run.pk).update(visibility="public")
    private, _ = ingest_calibration(_drifted(cal, set(), days=3), source_kind="upload", uploader=user,
                                    visibility="private")
    assert not FrontSnapshot.objects.filter(run=run, snapshot=private).exists()
    resp = auth_client.post(f"/api/searches/{run.pk}/fronts/", {"snapshot": private.pk}, format="json")
    assert resp.status_code == 202, resp.content
    _wait_front(run, private.pk)
    mine = [f["snapshot"] for f in auth_client.get(f"/api/searches/{run.pk}/fronts/").json()["fronts"]]
    assert private.pk in mine
    bob = APIClient()
    bob.force_authenticate(get_user_model().objects.create_user(username="bob", password="pw-bob-12345"))
    theirs = [f["snapshot"] for f in bob.get(f"/api/searches/{run.pk}/fronts/").json()["fronts"]]
    assert private.pk not in theirs and snap.pk in theirs
    assert bob.get(f"/api/searches/{run.pk}/fronts/{private.pk}/").status_code == 404
    assert bob.post(f"/api/searches/{run.pk}/fronts/", {"snapshot": private.pk}, format="json").status_code == 404

    assert auth_client.get("/api/leaderboards/architectures/", {"robust": "best"}).status_code == 400
    assert auth_client.get("/api/leaderboards/architectures/robust/", {"sinse": "2020-01-01"}).status_code == 400


def test_run_finishing_after_a_newer_snapshot_is_reranked_on_it(transactional_db, workers, user):
    """A search pins its snapshot at start; when it finishes after a newer snapshot arrived, the search's own
    "finished" notification queues its front on the newest snapshot."""
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration
    from search_app import services
    from search_app.models import FrontSnapshot, SearchRun

    cal = load_fake_calibration("sherbrooke")
    old, _ = ingest_calibration(cal)
    # the drifted snapshot keeps D's qubits; which ones those are is known once D is costed on ``old``, so the run
    # is built first and the newer snapshot ingested before the run is declared finished
    run, a, d = _finished_run(user, {**CONFIG, "snapshot": str(old.pk)})
    SearchRun.objects.filter(pk=run.pk).update(status=SearchRun.Status.RUNNING)
    new, _ = ingest_calibration(_drifted(cal, set(d.quantum_report["physical_qubits"])))
    assert not FrontSnapshot.objects.filter(run=run).exists()  # still running: not re-ranked on ingest
    SearchRun.objects.filter(pk=run.pk).update(status=SearchRun.Status.SUCCEEDED)
    run.refresh_from_db()
    services._notify(run, "finished")  # what the search loop sends once the run's last generation committed
    front = _wait_front(run, new.pk)
    _assert_left(front, a, d)


@pytest.mark.worker
def test_front_reranked_on_drift_with_real_workers(user, real_worker):
    """PostgreSQL + Redis + a real worker: the ingest hook only enqueues; the worker re-costs the finished run on
    the drifted snapshot and A leaves the front."""
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration
    from search_app.models import FrontSnapshot

    cal = load_fake_calibration("sherbrooke")
    ingest_calibration(cal)
    run, a, d = _finished_run(user)
    started = time.monotonic()
    snap, created = ingest_calibration(_drifted(cal, set(d.quantum_report["physical_qubits"])))
    assert created and time.monotonic() - started < 5  # ingest does not wait for the re-ranking
    deadline = time.monotonic() + 120
    front = None
    while time.monotonic() < deadline:
        front = FrontSnapshot.objects.select_related("job").filter(run=run, snapshot=snap).first()
        if front is not None and front.status in ("succeeded", "failed"):
            break
        time.sleep(0.5)
    assert front is not None, "no front was queued for the drifted snapshot"
    _assert_left(front, a, d)
    assert front.job.status == "succeeded" and front.job.progress_current == front.job.progress_total == 2
    assert math.isfinite(front.compute_seconds)


def test_lost_front_job_is_requeued_by_the_stale_work_sweep(transactional_db, eager, user):
    """A front whose job message was lost (queued, never started) is re-queued by the stale-work sweep like every
    other job kind (JOB_TASKS["search_front"]), not failed as a kind no task runs."""
    import datetime as _dt

    from django.utils import timezone

    from benchmarks_app import services as bench
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration
    from search_app.models import FrontSnapshot
    from search_app.rerank import JOB_KIND

    cal = load_fake_calibration("sherbrooke")
    ingest_calibration(cal)
    run, a, d = _finished_run(user)
    hooks = list(bench.SNAPSHOT_CREATED_HOOKS)
    bench.SNAPSHOT_CREATED_HOOKS[:] = []  # ingest without the hook: the front's message "never arrives"
    try:
        snap, _ = ingest_calibration(_drifted(cal, set(d.quantum_report["physical_qubits"])))
    finally:
        bench.SNAPSHOT_CREATED_HOOKS[:] = hooks
    job = bench.job_create(kind=JOB_KIND, total=2, params={"run": run.pk, "snapshot": snap.pk})
    front = FrontSnapshot.objects.create(run=run, snapshot=snap, backend_name=snap.backend.name,
                                         snapshot_calibrated_at=snap.calibrated_at, job=job, n_candidates=2)
    job.params = {**job.params, "front": front.pk}
    job.save(update_fields=["params"])
    out = bench.jobs_sweep(now=timezone.now() + _dt.timedelta(hours=1))
    assert str(job.pk) in out["requeued"] and str(job.pk) not in out["failed"]
    front.refresh_from_db()
    _assert_left(front, a, d)
