"""Issue 13, item 3: unrunnable is data. Real bundled snapshots the cost engine refuses (ibm_kyoto: all 144
couplers broken; ibmq_almaden: no readout durations) or scores at zero survival are listed with their reason
after the ranked backends, never ranked among them, and never turn a multi-backend view into an error."""
from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from cost_engine.calibration import load_fake_calibration

GHZ3 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "measure q -> c;\n")


@pytest.fixture
def snaps(db):
    from benchmarks_app.services import ingest_calibration

    return {name: ingest_calibration(load_fake_calibration(name))[0]
            for name in ("sherbrooke", "torino", "kyoto", "almaden", "lima")}


@pytest.fixture
def ghz3(db):
    from benchmarks_app.services import circuit_create

    return circuit_create(qasm=GHZ3, name="ghz3")[0]


def test_cost_trend_on_an_unrunnable_backend_is_200_with_the_reason(snaps, ghz3, api_client):
    from benchmarks_app.models import CostEstimate, EstimateRefusal

    for name, why in (("kyoto", "no working two-qubit gate"), ("almaden", "no calibrated duration")):
        r = api_client.get(f"/api/circuits/{ghz3.pk}/cost-trend/?backend={name}")
        assert r.status_code == 200, r.json()
        (point,) = r.json()["points"]
        assert point["value"] is None and point["estimate"] is None and point["runnable"] is False
        assert why in point["unrunnable_reason"], point
    assert EstimateRefusal.objects.filter(circuit=ghz3).count() == 2 and not CostEstimate.objects.exists()
    # asked again: answered from the stored refusal, nothing recomputed or duplicated
    again = api_client.get(f"/api/circuits/{ghz3.pk}/cost-trend/?backend=kyoto").json()["points"][0]
    assert "no working two-qubit gate" in again["unrunnable_reason"]
    assert EstimateRefusal.objects.count() == 2
    ok = api_client.get(f"/api/circuits/{ghz3.pk}/cost-trend/?backend=sherbrooke").json()["points"][0]
    assert ok["runnable"] is True and ok["value"] > 0 and ok["unrunnable_reason"] is None


@pytest.mark.smoke
def test_backend_leaderboard_lists_kyoto_unrunnable_after_the_ranked_backends(snaps, ghz3, api_client):
    from benchmarks_app.services import cost_options, estimates_for_snapshot

    # the reference re-costing path (every ingest runs it) records the refusals too
    for snap in snaps.values():
        result = estimates_for_snapshot(snap, [ghz3], cost_options({}))
        assert result["failed"] == (1 if snap.backend.name in ("ibm_kyoto", "ibmq_almaden") else 0), result
    for metric in ("wallclock_s", "log_esp", "t_eff_s"):
        board = api_client.get(f"/api/leaderboards/backends/?circuit={ghz3.pk}&metric={metric}").json()
        rows = board["rows"]
        assert [r["backend"] for r in rows] [-2:] == ["ibm_kyoto", "ibmq_almaden"]
        ranked = rows[:-2]
        assert [r["rank"] for r in ranked] == [1, 2, 3] and all(r["runnable"] for r in ranked)
        values = [r["value"] for r in ranked]
        assert values == sorted(values, reverse=metric == "log_esp")
        kyoto = rows[-2]
        assert kyoto["rank"] is None and kyoto["value"] is None and kyoto["runnable"] is False
        assert "no working two-qubit gate" in kyoto["unrunnable_reason"] and "144" in kyoto["unrunnable_reason"]
        assert board["unrunnable"][0]["backend"] == "ibm_kyoto"
        assert "ibm_kyoto" not in board["not_estimated"] and board["not_estimated"] == []
    # the circuit leaderboard of kyoto says why too
    circuits = api_client.get("/api/leaderboards/circuits/?backend=kyoto").json()
    assert [(r["circuit"], r["rank"], r["runnable"]) for r in circuits["rows"]] == [(ghz3.pk, None, False)]
    assert "no working two-qubit gate" in circuits["unrunnable"][0]["reason"]
    # a single estimate request on kyoto is still a 4xx naming the problem
    api_client.force_authenticate(ghz3.owner or _user())
    r = api_client.post("/api/estimates/", {"circuit": ghz3.pk, "backend": "kyoto"}, format="json")
    assert r.status_code == 400 and "no working two-qubit gate" in r.json()["detail"]
    out = io.StringIO()
    call_command("print_leaderboards", "--circuit", "ghz3", stdout=out)
    assert "ibm_kyoto" in out.getvalue() and "unrunnable: " in out.getvalue()


def _user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="bob", password="pw-bob-12345")


def test_zero_survival_never_ranks_among_runnable_backends(snaps, ghz3, api_client):
    """With exclude_broken=false kyoto's broken couplers are routed through: the estimate exists, its
    wall-clock time is finite (by value it would be ranked), but the circuit cannot succeed."""
    from benchmarks_app.models import CostEstimate

    q = "&exclude_broken=false"
    for name in ("sherbrooke", "torino", "kyoto"):
        assert api_client.get(f"/api/circuits/{ghz3.pk}/cost-trend/?backend={name}{q}").status_code == 200
    kyoto = CostEstimate.objects.get(backend__name="ibm_kyoto")
    assert kyoto.zero_survival and kyoto.wallclock_s is not None
    for metric in ("wallclock_s", "t_sched_s", "n_swaps"):
        board = api_client.get(f"/api/leaderboards/backends/?circuit={ghz3.pk}&metric={metric}{q}").json()
        assert [(r["backend"], r["rank"]) for r in board["rows"]][-1] == ("ibm_kyoto", None), metric
        assert [r["rank"] for r in board["rows"][:-1]] == [1, 2]
        last = board["rows"][-1]
        assert last["value"] is None and last["zero_survival"] and "zero survival" in last["unrunnable_reason"]
        assert last["wallclock_s"] == kyoto.wallclock_s  # the stored number is still shown, just not ranked
    point = api_client.get(f"/api/circuits/{ghz3.pk}/cost-trend/?backend=kyoto{q}").json()["points"][0]
    assert point["value"] is None and point["runnable"] is False and point["estimate"] == kyoto.pk


@pytest.mark.worker
def test_cost_trend_back_fill_job_on_a_real_worker_goes_on_past_refused_snapshots(transactional_db, api_client,
                                                                                  settings, celery_worker_factory):
    """More missing estimates than HANAS_SYNC_TREND_MAX_MISSING: a worker back-fills them; kyoto's two snapshots
    are refused, recorded, and the job still succeeds (it used to fail on the first refusal)."""
    import dataclasses
    import datetime as dt
    import time

    from benchmarks_app.models import EstimateRefusal
    from benchmarks_app.services import circuit_create, ingest_calibration

    kyoto = load_fake_calibration("kyoto")
    ingest_calibration(kyoto)
    ingest_calibration(dataclasses.replace(kyoto, calibrated_at=kyoto.calibrated_at - dt.timedelta(days=1)))
    circuit, _ = circuit_create(qasm=GHZ3, name="ghz3")
    settings.HANAS_SYNC_TREND_MAX_MISSING = 0
    celery_worker_factory()
    first = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=kyoto")
    assert first.status_code == 202 and first.json()["pending"] == 2
    deadline = time.monotonic() + 120
    while (job := api_client.get(first.json()["job_url"]).json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.3)
    assert job["status"] == "succeeded", job["error"]
    assert job["result"]["estimates"] == [] and len(job["result"]["refused"]) == 2
    assert EstimateRefusal.objects.filter(circuit=circuit).count() == 2
    points = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=kyoto")
    assert points.status_code == 200 and points.json()["pending"] == 0
    assert [p["runnable"] for p in points.json()["points"]] == [False, False]
