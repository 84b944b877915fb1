"""Hyb-HANAS search: the pymoo driver, objectives, checkpoint/resume, the REST API and visibility rules,
and the kill-a-real-worker integration test."""
from __future__ import annotations

import time

import numpy as np
import pytest

from cost_engine.errors import ConfigError
from cost_engine.search import Driver, SearchConfig, hypervolume, objectives, pareto_ranks

TINY = {"dataset": "iris", "backend": "ibm_sherbrooke", "space": {"min_qubits": 2, "max_qubits": 3,
                                                                   "max_layers": 2},
        "population": 4, "generations": 2, "epochs": 1, "seed": 3}


def _fake_objectives(genomes, rng):
    F = [[rng.random(), rng.random() * 5, float(g.n_qubits * g.n_layers)] for g in genomes]
    return F, [0.0] * len(genomes)


@pytest.mark.smoke
def test_config_validation_names_the_field():
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict({**TINY, "population": 1})
    assert err.value.field == "population"
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict({**TINY, "popsize": 10})
    assert err.value.field == "popsize"
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict({**TINY, "space": {"min_qubits": 5, "max_qubits": 3}})
    assert err.value.field.startswith("space.")
    with pytest.raises(ConfigError) as err:
        SearchConfig.from_dict({**TINY, "device_profile": "no-such-gpu"})
    assert err.value.field == "device_profile"


@pytest.mark.smoke
def test_driver_checkpoint_resumes_exactly():
    """A driver pickled after any tell continues exactly as the uninterrupted one does."""
    cfg = SearchConfig.from_dict({**TINY, "generations": 4, "population": 6})
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    straight = Driver(cfg)
    asked_straight = []
    while not straight.finished:
        genomes = straight.ask()
        asked_straight.append([g.key() for g in genomes])
        straight.tell(*_fake_objectives(genomes, rng_a))
    resumed = Driver(cfg)
    asked_resumed = []
    while not resumed.finished:
        genomes = resumed.ask()
        asked_resumed.append([g.key() for g in genomes])
        resumed.tell(*_fake_objectives(genomes, rng_b))
        resumed = Driver.loads(resumed.dumps())  # checkpoint after every generation
    assert asked_resumed == asked_straight
    assert len(asked_straight) == 4 and all(len(a) == 6 for a in asked_straight)


@pytest.mark.smoke
def test_objectives_ranks_and_hypervolume():
    F, G = objectives(0.9, 120.0, 50)
    assert F == [pytest.approx(0.1), pytest.approx(np.log10(120.0)), 50.0] and G == 0.0
    _, G = objectives(0.9, None, 50)
    assert G > 0  # unrunnable: infeasible, never a made-up cost
    pts = np.array([[0.1, 2.0, 10], [0.2, 1.0, 10], [0.3, 3.0, 20], [0.05, 5.0, 30]])
    ranks = pareto_ranks(pts, np.array([True, True, True, False]))
    assert list(ranks[:3]) == [0, 0, 1] and ranks[3] == 2
    # hypervolume of one point in the unit cube = product of its distances to the reference point
    hv = hypervolume(np.array([[0.5, 0.5, 0.5]]), [1.0, 1.0, 1.0])
    assert hv == pytest.approx(0.125)
    # a dominated point adds nothing; a non-dominated one adds
    assert hypervolume(np.array([[0.5, 0.5, 0.5], [0.6, 0.6, 0.6]]), [1, 1, 1]) == pytest.approx(0.125)
    assert hypervolume(np.array([[0.5, 0.5, 0.5], [0.2, 0.9, 0.5]]), [1, 1, 1]) > 0.125


# ------------------------------------------------------------------------------------ platform
@pytest.fixture
def sherbrooke(db):
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration

    snapshot, _ = ingest_calibration(load_fake_calibration("sherbrooke"))
    return snapshot


def _drive_inline(run_id):
    """Run the loop in this process exactly as the Celery tasks do (for tests that run on a real broker
    but want no worker): advance, evaluate every dispatched genome, repeat."""
    from search_app import services

    while True:
        state, todo = services.advance(run_id)
        if state == "again":
            continue
        if state not in ("dispatch", "redispatch"):
            return
        for t in todo:
            services.evaluate_and_record(run_id, t["generation"], t["genome"])


def _make_run(user, config=None, visibility="private", team=None):
    from search_app import services

    return services.search_create(owner=user, config=config or TINY, visibility=visibility, team=team, start=False)


def test_search_run_end_to_end_inline(sherbrooke, user):
    from search_app.models import Candidate, SearchRun

    run = _make_run(user)
    _drive_inline(run.pk)
    run.refresh_from_db()
    assert run.status == SearchRun.Status.SUCCEEDED, run.error
    assert run.generation == 2 and len(run.hypervolume) == 2
    assert run.hypervolume[1] >= run.hypervolume[0] - 1e-12  # the front never gets worse (elitist NSGA-II)
    cands = list(Candidate.objects.filter(run=run))
    assert 4 <= len(cands) <= 8 and run.candidates_evaluated == len(cands)
    assert len({c.genome_key for c in cands}) == len(cands)
    front = [c for c in cands if c.on_front]
    assert front and all(c.pareto_rank == 0 for c in front)
    for c in cands:
        assert 0.0 <= c.accuracy <= 1.0
        assert c.params_total == c.params_classical + c.params_quantum
        if c.runnable:
            assert c.c_total_s == pytest.approx(c.c_q_wallclock_s + c.c_c_s)
            assert c.objectives[1] == pytest.approx(np.log10(c.c_total_s))
        assert c.quantum_report["backend"] == "ibm_sherbrooke"
    # no candidate on the front is dominated by any runnable candidate
    for f in front:
        for c in cands:
            if c.runnable and c is not f:
                assert not (all(a <= b for a, b in zip(c.objectives, f.objectives))
                            and any(a < b for a, b in zip(c.objectives, f.objectives)))


def test_eta_follows_the_wall_clock_pace_of_all_workers(sherbrooke, user):
    """Two workers finishing 10 evaluations of 4 s each in 20 s of wall time: 0.5 evaluations/s, so the 3
    generations of 4 left take 24 s, not the 48 s one worker would need."""
    import datetime as dt

    from search_app.models import SearchRun
    from search_app.selectors import progress

    run = _make_run(user)
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    run.status, run.started_at = SearchRun.Status.RUNNING, now - dt.timedelta(seconds=20)
    run.generation, run.candidates_evaluated, run.eval_seconds_total = 2, 10, 40.0
    run.generations_total, run.config = 5, {**run.config, "population": 4}
    got = progress(run, now=now)
    assert got["seconds_per_evaluation"] == pytest.approx(4.0)
    assert got["evaluations_per_second"] == pytest.approx(0.5)
    assert got["eta_seconds"] == pytest.approx(3 * 4 / 0.5)
    run.status = SearchRun.Status.SUCCEEDED
    assert progress(run, now=now)["eta_seconds"] == 0.0


def test_search_api_validation_visibility_cancel(sherbrooke, user, api_client, django_user_model):
    from django.contrib.auth.models import Group

    from search_app.models import SearchRun, TeamAdmin

    api_client.force_authenticate(user)
    bad = api_client.post("/api/searches/", {"config": {**TINY, "population": 0}}, format="json")
    assert bad.status_code == 400 and "config.population" in bad.json()
    bad = api_client.post("/api/searches/", {"config": {**TINY, "backend": "ibm_nowhere"}}, format="json")
    assert bad.status_code in (400, 404) and "nowhere" in str(bad.json())
    bad = api_client.post("/api/searches/", {"config": {**TINY, "dataset": "mnist"}}, format="json")
    assert bad.status_code == 400 and "config.dataset" in bad.json()
    assert SearchRun.objects.count() == 0  # nothing half-written

    team = Group.objects.create(name="qml-lab")
    bob = django_user_model.objects.create_user("bob", password="x")
    carol = django_user_model.objects.create_user("carol", password="x")
    user.groups.add(team)
    bob.groups.add(team)
    private = _make_run(user)
    shared = _make_run(user, visibility="team", team=team)
    public = _make_run(user, visibility="public")

    def visible(client):
        return {r["id"] for r in client.get("/api/searches/").json()["results"]}

    from rest_framework.test import APIClient

    as_bob, as_carol, anon = APIClient(), APIClient(), APIClient()
    as_bob.force_authenticate(bob)
    as_carol.force_authenticate(carol)
    assert visible(api_client) == {private.pk, shared.pk, public.pk}
    assert visible(as_bob) == {shared.pk, public.pk}
    assert visible(as_carol) == {public.pk} == visible(anon)
    assert as_carol.get(f"/api/searches/{private.pk}/").status_code == 404
    assert as_bob.get(f"/api/searches/{shared.pk}/").status_code == 200
    assert as_bob.get(f"/api/searches/{shared.pk}/candidates/").status_code == 200
    # only the owner or a team admin may cancel
    assert as_bob.post(f"/api/searches/{shared.pk}/cancel/").status_code == 403
    TeamAdmin.objects.create(team=team, user=bob)
    assert as_bob.post(f"/api/searches/{shared.pk}/cancel/").json()["status"] == "cancelled"
    assert as_carol.post(f"/api/searches/{private.pk}/cancel/").status_code == 404
    assert anon.post(f"/api/searches/{public.pk}/cancel/").status_code in (401, 403)
    assert api_client.post(f"/api/searches/{private.pk}/cancel/").json()["status"] == "cancelled"


def test_pareto_compare_and_architecture_leaderboard(sherbrooke, user, api_client):
    run = _make_run(user, visibility="public")
    _drive_inline(run.pk)
    other = _make_run(user, {**TINY, "seed": 4}, visibility="public")
    _drive_inline(other.pk)
    body = api_client.get(f"/api/searches/{run.pk}/pareto/").json()
    assert body["front"] and len(body["hypervolume"]) == 2
    cmp = api_client.get(f"/api/searches/{run.pk}/compare/?other={other.pk}").json()
    assert [s["run"] for s in cmp["runs"]] == [run.pk, other.pk]
    assert api_client.get(f"/api/searches/{run.pk}/compare/").status_code == 400
    front_only = api_client.get(f"/api/searches/{run.pk}/candidates/?on_front=true").json()["results"]
    assert front_only and all(c["on_front"] for c in front_only)
    board = api_client.get("/api/leaderboards/architectures/?dataset=iris&backend=sherbrooke&budget_s=1e12"
                           "&accuracy_floor=0").json()
    accs = [r["accuracy"] for r in board["most_accurate_within_budget"]]
    assert accs == sorted(accs, reverse=True) and accs
    costs = [r["c_total_s"] for r in board["cheapest_above_accuracy_floor"]]
    assert costs == sorted(costs)
    assert {r["run"] for r in board["hypervolume_by_run"]} == {run.pk, other.pk}
    tight = api_client.get("/api/leaderboards/architectures/?budget_s=0").json()
    assert tight["most_accurate_within_budget"] == []


def test_shared_reference_point_dedup_and_failed_runs(sherbrooke, user, api_client):
    """Two runs on one dataset share the reference point fixed for it, stored at creation, so compare reports
    comparable hypervolumes; leaderboards group by dataset, count identical runs once and leave failed and
    cancelled runs out unless asked."""
    from cost_engine.search import dataset_reference_point, hypervolume
    from search_app import services
    from search_app.models import SearchRun

    run = _make_run(user, visibility="public")
    other = _make_run(user, {**TINY, "seed": 4, "space": {**TINY["space"], "max_qubits": 2}}, visibility="public")
    assert run.reference_point == other.reference_point == dataset_reference_point("iris")
    assert run.objective_space == other.objective_space and run.config_hash != other.config_hash
    _drive_inline(run.pk)
    _drive_inline(other.pk)
    cmp = api_client.get(f"/api/searches/{run.pk}/compare/?other={other.pk}").json()
    assert cmp["comparable"] is True and cmp["reference_point"] == run.reference_point
    for side, r in zip(cmp["runs"], (run, other)):
        r.refresh_from_db()
        front = [c.objectives for c in r.candidates.filter(on_front=True)]
        assert side["hypervolume"] == pytest.approx(hypervolume(np.asarray(front), cmp["reference_point"]))
        assert side["hypervolume"] == pytest.approx(r.hypervolume[-1])  # the run's own record agrees
    wine = _make_run(user, {**TINY, "dataset": "wine"}, visibility="public")
    assert wine.reference_point != run.reference_point
    cmp = api_client.get(f"/api/searches/{run.pk}/compare/?other={wine.pk}").json()
    assert cmp["comparable"] is False and "dataset" in cmp["reason"]

    # an identical config (same snapshot, same cost model) is one run on the leaderboard; failed ones are out
    dup = _make_run(user, visibility="public")
    assert dup.config_hash == run.config_hash
    failed = _make_run(user, {**TINY, "seed": 9}, visibility="public")
    SearchRun.objects.filter(pk=failed.pk).update(status=SearchRun.Status.FAILED, generation=1)
    services.search_cancel(wine, user)
    board = api_client.get("/api/leaderboards/architectures/").json()
    ids = [r["run"] for r in board["hypervolume_by_run"]]
    assert sorted(ids) == sorted([run.pk, other.pk])
    assert [g["dataset"] for g in board["groups"]] == ["iris"]
    assert board["groups"][0]["reference_point"] == run.reference_point
    hv = {r["run"]: r["hypervolume"] for r in board["hypervolume_by_run"]}
    assert hv[run.pk] == pytest.approx(cmp["runs"][0]["hypervolume"])
    with_failed = api_client.get("/api/leaderboards/architectures/?include_failed=true").json()
    assert failed.pk in [r["run"] for r in with_failed["hypervolume_by_run"]]
    assert dup.pk not in [r["run"] for r in with_failed["hypervolume_by_run"]]
    assert {g["dataset"] for g in with_failed["groups"]} == {"iris", "wine"}
    assert api_client.get("/api/leaderboards/architectures/?include_failed=maybe").status_code == 400


@pytest.mark.smoke  # eager-only: runs in the SQLite smoke pass of `make test`
def test_main_job_reuses_an_identical_finished_search(sherbrooke, tmp_path, settings):
    """`make run` twice: the main job's search step re-uses the identical finished run (no second run)."""
    import json
    from io import StringIO

    from django.core.management import call_command

    from benchmarks_app.management.commands.run_main_job import STEPS
    from search_app.models import SearchRun

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("the command waits on real workers here; the smoke run covers it")
    assert [args for _, name, args in STEPS if name == "run_search"] == [["--default", "--reuse"]]
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(TINY))
    first = StringIO()
    call_command("run_search", str(path), "--reuse", stdout=first)
    assert SearchRun.objects.count() == 1 and "re-using" not in first.getvalue()
    second = StringIO()
    call_command("run_search", str(path), "--reuse", stdout=second)
    run = SearchRun.objects.get()
    assert SearchRun.objects.count() == 1 and f"re-using search {run.pk}" in second.getvalue()
    assert "Pareto front" in second.getvalue()
    call_command("run_search", str(path), stdout=StringIO())  # without --reuse: a new run, as asked
    assert SearchRun.objects.count() == 2


def test_run_search_command_prints_front(sherbrooke, tmp_path, settings):
    import json

    from django.core.management import call_command
    from io import StringIO

    if not settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.skip("the command waits on real workers here; covered by the worker test and the smoke run")
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(TINY))
    out = StringIO()
    call_command("run_search", str(path), stdout=out)
    text = out.getvalue()
    assert "Pareto front" in text and "hypervolume per generation" in text


@pytest.mark.smoke
def test_run_search_command_rejects_bad_config(db, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "cfg.json"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("run_search", str(path))
    with pytest.raises(CommandError, match="CONFIG.json path or --default"):
        call_command("run_search")


@pytest.mark.worker
def test_worker_killed_mid_search_resumes_without_losing_evaluations(sherbrooke, user, worker_env,
                                                                     celery_worker_factory):
    """SIGKILL the only worker in the middle of a generation, start a new one: the run finishes, and every
    evaluation finished before the kill is kept (same rows, not re-trained)."""
    from search_app import services
    from search_app.models import Candidate, SearchRun

    worker_env["CELERY_VISIBILITY_TIMEOUT"] = "6"  # unacked messages of the dead worker come back after 6 s
    worker_env["HANAS_SEARCH_WATCHDOG_SECONDS"] = "3"
    config = {**TINY, "population": 6, "generations": 3}
    first = celery_worker_factory(concurrency=1)
    run = services.search_create(owner=user, config=config, visibility="public")
    deadline = time.monotonic() + 240
    while Candidate.objects.filter(run=run).count() < 3:
        assert time.monotonic() < deadline, "no progress before the kill"
        run.refresh_from_db()
        assert run.status in SearchRun.ACTIVE, run.error
        time.sleep(0.2)
    first.kill()
    before = {c.genome_key: (c.pk, c.created_at) for c in Candidate.objects.filter(run=run)}
    run.refresh_from_db()
    assert run.status == SearchRun.Status.RUNNING and run.generation < 3
    celery_worker_factory(concurrency=1)
    while True:
        run.refresh_from_db()
        if run.status not in SearchRun.ACTIVE:
            break
        assert time.monotonic() < deadline + 240, f"run did not finish after the restart: {run.status}"
        time.sleep(0.5)
    assert run.status == SearchRun.Status.SUCCEEDED, run.error
    assert run.generation == 3 and len(run.hypervolume) == 3
    after = {c.genome_key: (c.pk, c.created_at) for c in Candidate.objects.filter(run=run)}
    for key, row in before.items():
        assert after[key] == row  # kept, not re-trained or rewritten
    assert run.candidates_evaluated == len(after)


def test_lost_dispatch_is_redispatched_after_the_timeout(sherbrooke, user, settings):
    """If the evaluations of a generation were never delivered (a crash between the commit and the dispatch),
    the loop sends the unevaluated genomes again once the generation has waited too long."""
    from search_app import services
    from search_app.models import Candidate, SearchRun

    run = _make_run(user)
    state, todo = services.advance(run.pk)
    assert state == "dispatch" and len({str(t["genome"]) for t in todo}) == len(todo)
    services.evaluate_and_record(run.pk, todo[0]["generation"], todo[0]["genome"])  # only one arrives
    assert services.advance(run.pk) == ("waiting", [])
    settings.HANAS_SEARCH_REDISPATCH_SECONDS = 0
    state, again = services.advance(run.pk)
    assert state == "redispatch" and len(again) == len(todo) - 1
    assert todo[0]["genome"] not in [t["genome"] for t in again]
    for t in again:
        services.evaluate_and_record(run.pk, t["generation"], t["genome"])
    _drive_inline(run.pk)
    run.refresh_from_db()
    assert run.status == SearchRun.Status.SUCCEEDED and run.generation == 2
    assert Candidate.objects.filter(run=run).count() == run.candidates_evaluated
