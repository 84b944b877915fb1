"""Issue 13, items 4: every cost option over REST (unknown fields 400), and dates meaning whole UTC days
(invalid calendar dates 400, never 500). Real bundled snapshots, the real API."""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math

import pytest
from django.core.management import CommandError, call_command

from cost_engine.calibration import load_fake_calibration

GHZ3 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "measure q -> c;\n")
# A non-default value for options whose type alone does not give one (bools are negated, ints moved by one)
NON_DEFAULT = {"shots": 2000, "optimization_level": 2, "seed": 11, "t2_variant": "mean", "rep_delay_s": 4e-4,
               "layout": "structure"}


@pytest.fixture
def sherbrooke(db):
    from benchmarks_app.services import ingest_calibration

    snap, _ = ingest_calibration(load_fake_calibration("sherbrooke"))
    return snap


def _non_default(f):
    if f.name in NON_DEFAULT:
        return NON_DEFAULT[f.name]
    if isinstance(f.default, bool):
        return not f.default
    if isinstance(f.default, int):
        return f.default + 1
    raise AssertionError(f"add a non-default test value for the new cost option {f.name!r} to NON_DEFAULT")


def test_every_cost_option_is_honoured_by_post_estimates(sherbrooke, auth_client):
    from cost_engine.quantum import CostOptions

    base = auth_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke"}, format="json")
    assert base.status_code == 201, base.json()
    base = base.json()
    assert base["options"] == CostOptions().to_dict()
    seen = {base["id"]}
    for f in dataclasses.fields(CostOptions):
        value = _non_default(f)
        r = auth_client.post("/api/estimates/", {"circuit": base["circuit"], "backend": "sherbrooke", f.name: value},
                             format="json")
        assert r.status_code == 201, (f.name, r.json())
        body = r.json()
        assert body["options"][f.name] == value, f.name
        assert body["report"]["options"][f.name] == value, f.name
        assert body["id"] not in seen, f.name  # a new question, not the default answer again
        seen.add(body["id"])
        rep, ref = body["report"], base["report"]
        if f.name == "shots":
            assert rep["shots"] == 2000
        elif f.name == "t2_variant":  # mean T2 over the used qubits >= their minimum
            assert rep["t2_eff_s"] > ref["t2_eff_s"]
        elif f.name == "rep_delay_s":
            assert rep["rep_delay_s"] == 4e-4 and math.isclose(rep["t_shot_s"] - ref["t_shot_s"],
                                                               4e-4 - ref["rep_delay_s"], rel_tol=1e-9)
        elif f.name == "include_reset":
            assert rep["t_reset_s"] == 0 and ref["t_reset_s"] > 0
    # the same non-default question again is answered from the store
    again = auth_client.post("/api/estimates/", {"circuit": base["circuit"], "backend": "sherbrooke",
                                                 "t2_variant": "mean"}, format="json")
    assert again.status_code == 200


def test_unknown_or_misspelt_estimate_fields_are_400_and_write_nothing(sherbrooke, auth_client):
    from benchmarks_app.models import Circuit, CostEstimate

    for extra in ({"bogus": 1}, {"shot": 100}, {"noise_aware": True}):
        r = auth_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke", **extra}, format="json")
        assert r.status_code == 400, r.json()
        name = next(iter(extra))
        assert name in r.json() and "unknown field" in r.json()[name][0]
    for bad, field in (({"t2_variant": "max"}, "t2_variant"), ({"rep_delay_s": 2.0}, "rep_delay_s"),
                       ({"shots": 0}, "shots"), ({"include_reset": "perhaps"}, "include_reset"),
                       ({"optimization_level": 1.5}, "optimization_level")):
        r = auth_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke", **bad}, format="json")
        assert r.status_code == 400 and field in r.json(), (bad, r.json())
    assert Circuit.objects.count() == 0 and CostEstimate.objects.count() == 0


def test_leaderboard_and_trend_queries_take_every_option_and_refuse_unknown(sherbrooke, auth_client):
    from benchmarks_app.services import circuit_create

    circuit, _ = circuit_create(qasm=GHZ3, name="ghz3")
    r = auth_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&include_reset=false"
                        f"&t2_variant=mean&rep_delay_s=0.0003&shots=100")
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["options"]["include_reset"] is False and body["options"]["t2_variant"] == "mean"
    assert body["options"]["rep_delay_s"] == 3e-4 and body["options"]["shots"] == 100
    assert body["points"][0]["value"] is not None
    board = auth_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}&include_reset=false"
                            f"&t2_variant=mean&rep_delay_s=0.0003&shots=100").json()
    assert board["options"] == body["options"]
    assert [row["estimate"] for row in board["rows"]] == [body["points"][0]["estimate"]]
    default = auth_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}").json()
    assert default["rows"] == [] and default["not_estimated"] == ["ibm_sherbrooke"]
    for url, name in ((f"/api/leaderboards/backends/?circuit={circuit.pk}&bogus=1", "bogus"),
                      ("/api/leaderboards/circuits/?backend=sherbrooke&shot=5", "shot"),
                      (f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&sinse=2025-01-01", "sinse"),
                      (f"/api/leaderboards/backends/?circuit={circuit.pk}&include_reset=maybe", "include_reset"),
                      (f"/api/leaderboards/backends/?circuit={circuit.pk}&seed=x", "seed"),
                      (f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&t2_variant=max", "t2_variant")):
        r = auth_client.get(url)
        assert r.status_code == 400 and name in r.json(), (url, r.json())


# --- dates ---------------------------------------------------------------------------------------------
def _at(cal, when: dt.datetime, t2_scale: float):
    return dataclasses.replace(cal, calibrated_at=when,
                               qubits=tuple(dataclasses.replace(q, t2_s=q.t2_s * t2_scale) for q in cal.qubits))


@pytest.fixture
def three_days(db):
    """Sherbrooke's bundled snapshot (2025-02-26 19:43 UTC), an earlier one that day (06:00) and one the day
    before (2025-02-25 23:30)."""
    from benchmarks_app.services import ingest_calibration

    cal = load_fake_calibration("sherbrooke")
    assert cal.calibrated_at == dt.datetime(2025, 2, 26, 19, 43, 10, tzinfo=dt.timezone.utc)
    snaps = {}
    snaps["day_before"], _ = ingest_calibration(_at(cal, dt.datetime(2025, 2, 25, 23, 30, tzinfo=dt.timezone.utc), 0.9))
    snaps["morning"], _ = ingest_calibration(_at(cal, dt.datetime(2025, 2, 26, 6, 0, tzinfo=dt.timezone.utc), 0.8))
    snaps["evening"], _ = ingest_calibration(cal)
    return snaps


def test_a_bare_date_means_that_whole_utc_day(three_days, auth_client, tmp_path):
    from benchmarks_app import selectors

    # --snapshot DATE / "snapshot": DATE: the latest snapshot calibrated during that day ...
    assert selectors.snapshot_for("sherbrooke", "2025-02-26").pk == three_days["evening"].pk
    r = auth_client.post("/api/estimates/", {"qasm": GHZ3, "backend": "sherbrooke", "snapshot": "2025-02-26"},
                         format="json")
    assert r.status_code == 201 and r.json()["snapshot"] == three_days["evening"].pk, r.json()
    # ... else the newest before the end of that day; a date-time still means that instant
    assert selectors.snapshot_for("sherbrooke", "2025-02-25").pk == three_days["day_before"].pk
    assert selectors.snapshot_for("sherbrooke", "2025-02-26T12:00:00Z").pk == three_days["morning"].pk
    with pytest.raises(Exception, match="no snapshot calibrated at or before 2025-02-24"):
        selectors.snapshot_for("sherbrooke", "2025-02-24")
    # the README's own example
    path = tmp_path / "ghz.qasm"
    path.write_text(GHZ3)
    out = io.StringIO()
    call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--snapshot", "2025-02-26", "--json",
                 stdout=out)
    assert json.loads(out.getvalue())["snapshot_calibrated_at"].startswith("2025-02-26T19:43:10")
    # since=DATE starts at 00:00, until=DATE includes the whole day
    def ids(url):
        body = auth_client.get(url).json()
        return [row["id"] if "id" in row else row["snapshot_id"] for row in body.get("results", body.get("points"))]
    assert ids("/api/backends/sherbrooke/snapshots/?since=2025-02-26&until=2025-02-26") == [
        three_days["evening"].pk, three_days["morning"].pk]
    assert ids("/api/backends/sherbrooke/snapshots/?until=2025-02-25") == [three_days["day_before"].pk]
    assert len(ids("/api/backends/sherbrooke/trends/?metric=t2_median&since=2025-02-26")) == 2
    circuit = r.json()["circuit"]
    trend = auth_client.get(f"/api/circuits/{circuit}/cost-trend/?backend=sherbrooke&until=2025-02-26"
                            f"&since=2025-02-26").json()
    assert [p["snapshot_id"] for p in trend["points"]] == [three_days["morning"].pk, three_days["evening"].pk]
    est = auth_client.get("/api/estimates/?since=2025-02-26&until=2025-02-26").json()["results"]
    assert len(est) == 2
    assert auth_client.get("/api/estimates/?until=2025-02-25").json()["results"] == []
    diff = auth_client.get("/api/backends/sherbrooke/diff/?from=2025-02-25&to=2025-02-26").json()
    assert diff["from"]["snapshot_id"] == three_days["day_before"].pk
    assert diff["to"]["snapshot_id"] == three_days["evening"].pk


@pytest.mark.smoke
def test_invalid_calendar_dates_are_400_naming_the_field(three_days, auth_client, tmp_path):
    circuit = auth_client.post("/api/circuits/", {"qasm": GHZ3}, format="json").json()["id"]
    for url, field in (("/api/backends/sherbrooke/snapshots/?since=2024-13-01", "since"),
                       ("/api/backends/sherbrooke/snapshots/?until=2024-02-30", "until"),
                       ("/api/backends/sherbrooke/trends/?since=2024-02-30T10:00:00", "since"),
                       ("/api/backends/sherbrooke/qubits/0/history/?until=2099-99-99", "until"),
                       ("/api/backends/sherbrooke/edges/0-1/history/?since=2024-13-01", "since"),
                       ("/api/backends/sherbrooke/diff/?from=2024-13-01&to=latest", "from"),
                       ("/api/estimates/?since=2024-13-01", "since"),
                       ("/api/estimates/?until=yesterday", "until"),
                       (f"/api/circuits/{circuit}/cost-trend/?backend=sherbrooke&since=2024-13-01", "since")):
        r = auth_client.get(url)
        assert r.status_code == 400 and field in r.json(), (url, r.status_code, r.content[:300])
    for snapshot in ("2099-99-99", "2024-02-30T10:00:00Z", "last week"):
        r = auth_client.post("/api/estimates/", {"circuit": circuit, "backend": "sherbrooke", "snapshot": snapshot},
                             format="json")
        assert r.status_code == 400 and "snapshot" in r.json(), (snapshot, r.content[:300])
    path = tmp_path / "ghz.qasm"
    path.write_text(GHZ3)
    with pytest.raises(CommandError, match="snapshot"):
        call_command("estimate_cost", str(path), "--backend", "sherbrooke", "--snapshot", "2025-02-30")
