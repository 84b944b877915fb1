"""Calibration store: every bundled real-device snapshot ingests, idempotently; lossless JSON; the qiskit
Target built from a snapshot equals the fake backend's own; uploads and bad input; IBM history back-fill
against a local stand-in service; trends, qubit/edge history and diffs over REST; the beat schedule."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import threading

import pytest

from cost_engine.calibration import (Calibration, fake_backend_dir, fake_backend_names, from_backend,
                                     load_fake_calibration, load_fake_calibrations)
from cost_engine.errors import CalibrationDataError


def _raw(short):
    base = f"{fake_backend_dir()}/{short}"
    with open(f"{base}/props_{short}.json") as fh:
        props = json.load(fh)
    with open(f"{base}/conf_{short}.json") as fh:
        conf = json.load(fh)
    return props, conf


@pytest.mark.smoke
def test_json_round_trip_is_lossless_for_every_bundled_backend():
    cals = list(load_fake_calibrations())
    assert len(cals) == len(fake_backend_names()) >= 60
    for cal in cals:
        again = Calibration.from_json(cal.to_json())
        assert again == cal and again.content_hash == cal.content_hash
        assert again.summary() == cal.summary()


def test_from_backend_matches_the_fake_backend_target():
    from qiskit_ibm_runtime.fake_provider import FakeSherbrooke, FakeTorino

    for backend_cls, two_q in ((FakeSherbrooke, "ecr"), (FakeTorino, "cz")):
        backend = backend_cls()
        cal = from_backend(backend)
        assert cal.to_dict() == dict(load_fake_calibration(backend.name).to_dict(), source=cal.source)
        mine, ref = cal.to_target(exclude_broken=False), backend.target
        assert mine.dt == ref.dt
        for name in (two_q, "sx", "x", "measure", "rz"):
            for qargs, props in ref[name].items():
                got = mine[name][qargs]
                assert got.duration == pytest.approx(props.duration, rel=1e-12, abs=1e-18)
                assert got.error == pytest.approx(props.error, rel=1e-12, abs=1e-18)
        # broken couplers (error 1) are recorded and left out of the routing target
        assert cal.broken_edges
        assert all(e not in cal.to_target()[two_q] for e in cal.broken_edges)


@pytest.mark.smoke
def test_quirks_are_recorded_not_clipped():
    cal = load_fake_calibration("algiers")
    over = [i for i, q in enumerate(cal.qubits) if q.t2_s > 2 * q.t1_s]
    assert over and any("T2 > 2*T1" in n for n in cal.notes)
    assert all(cal.qubits[i].t2_s > 2 * cal.qubits[i].t1_s for i in over)  # kept as reported
    almaden = load_fake_calibration("almaden")
    assert almaden.qubits[0].readout_length_s is None and any("readout_length missing" in n for n in almaden.notes)
    props, conf = _raw("lima")
    props["gates"][0]["parameters"][0]["value"] = 1.0  # a broken single-qubit gate
    from cost_engine.calibration import from_properties

    cal = from_properties(props, conf)
    assert props["gates"][0]["qubits"][0] in cal.non_operational_qubits


@pytest.mark.smoke
def test_malformed_calibration_names_the_field():
    props, conf = _raw("lima")
    from cost_engine.calibration import from_properties

    bad = copy.deepcopy(props)
    del bad["last_update_date"]
    with pytest.raises(CalibrationDataError) as err:
        from_properties(bad, conf)
    assert err.value.field == "last_update_date"
    bad = copy.deepcopy(props)
    bad["gates"][3]["qubits"] = [99]
    with pytest.raises(CalibrationDataError) as err:
        from_properties(bad, conf)
    assert err.value.field == "gates[3].qubits"
    data = load_fake_calibration("lima").to_dict()
    data["qubits"][2]["t1_s"] = "long"
    with pytest.raises(CalibrationDataError) as err:
        Calibration.from_dict(data)
    assert err.value.field == "qubits[2].t1_s"


def test_every_bundled_backend_ingests_once(db):
    from django.core.management import call_command
    from io import StringIO

    from benchmarks_app.models import Backend, CalibrationSnapshot

    out = StringIO()
    call_command("ingest_calibrations", "--source", "fake", "--all", stdout=out)
    n = len(fake_backend_names())
    assert CalibrationSnapshot.objects.count() == n and Backend.objects.count() == n
    assert f"{n} created, 0 already stored" in out.getvalue()
    out = StringIO()
    call_command("ingest_calibrations", "--source", "fake", "--all", stdout=out)
    assert CalibrationSnapshot.objects.count() == n
    assert f"0 created, {n} already stored" in out.getvalue()
    sherbrooke = CalibrationSnapshot.objects.get(backend__name="ibm_sherbrooke")
    assert sherbrooke.calibration() == load_fake_calibration("sherbrooke")
    assert sherbrooke.backend.processor_family == "Eagle" and sherbrooke.broken_edges == 9
    assert sherbrooke.t1_median == pytest.approx(load_fake_calibration("sherbrooke").summary()["t1_median"])


def _dated(cal, days, scale_t1=1.0):
    """A later snapshot derived from a real one: same device, shifted date, T1 scaled (test history only)."""
    return dataclasses.replace(cal, calibrated_at=cal.calibrated_at + dt.timedelta(days=days),
                               qubits=tuple(dataclasses.replace(q, t1_s=q.t1_s * scale_t1) for q in cal.qubits))


def test_rest_backends_snapshots_trends_history_diff(db, api_client):
    from benchmarks_app.services import ingest_calibration

    base = load_fake_calibration("sherbrooke")
    for days, scale in ((2, 0.9), (0, 1.0), (1, 1.1)):  # ingested out of order
        ingest_calibration(_dated(base, days, scale))
    ingest_calibration(load_fake_calibration("torino"))
    rows = api_client.get("/api/backends/?processor_family=Eagle").json()["results"]
    assert [r["name"] for r in rows] == ["ibm_sherbrooke"] and rows[0]["snapshot_count"] == 3
    assert {r["name"] for r in api_client.get("/api/backends/?min_qubits=130").json()["results"]} == {"ibm_torino"}
    assert api_client.get("/api/backends/sherbrooke/").json()["num_qubits"] == 127
    assert api_client.get("/api/backends/ibm_nowhere/").status_code == 404

    snaps = api_client.get("/api/backends/sherbrooke/snapshots/").json()
    assert snaps["count"] == 3
    dates = [s["calibrated_at"] for s in snaps["results"]]
    assert dates == sorted(dates, reverse=True)
    detail = api_client.get(f"/api/backends/sherbrooke/snapshots/{snaps['results'][0]['id']}/").json()
    assert len(detail["data"]["qubits"]) == 127 and detail["broken_edges"] == 9

    trend = api_client.get("/api/backends/sherbrooke/trends/?metric=t1_median").json()["points"]
    stamps = [p["calibrated_at"] for p in trend]
    assert stamps == sorted(stamps)
    values = [p["value"] for p in trend]
    assert values[1] == pytest.approx(values[0] * 1.1) and values[2] == pytest.approx(values[0] * 0.9)
    since = (base.calibrated_at + dt.timedelta(hours=12)).isoformat()
    assert len(api_client.get("/api/backends/sherbrooke/trends/", {"metric": "t1_median", "since": since})
               .json()["points"]) == 2
    bad = api_client.get("/api/backends/sherbrooke/trends/?metric=colour")
    assert bad.status_code == 400 and "metric" in bad.json()

    hist = api_client.get("/api/backends/sherbrooke/qubits/5/history/?field=t1").json()["points"]
    assert [p["value"] for p in hist] == pytest.approx([base.qubits[5].t1_s * s for s in (1.0, 1.1, 0.9)])
    edge = base.coupling_map[0]
    ehist = api_client.get(f"/api/backends/sherbrooke/edges/{edge[0]}-{edge[1]}/history/").json()["points"]
    assert len(ehist) == 3 and ehist[0]["error"] == pytest.approx(base.gate("ecr", edge).error)
    assert api_client.get("/api/backends/sherbrooke/edges/0-100/history/").status_code == 404

    ids = [p["snapshot_id"] for p in trend]
    diff = api_client.get(f"/api/backends/sherbrooke/diff/?from={ids[0]}&to={ids[2]}").json()
    assert diff["qubits"] and all(abs(q["changes"]["t1"] + 0.1) < 1e-9 for q in diff["qubits"])
    assert api_client.get(f"/api/backends/sherbrooke/diff/?from={ids[0]}").status_code == 400


def test_upload_creates_once_and_rejects_partial_json(db, api_client, user):
    from benchmarks_app.models import Backend, CalibrationSnapshot

    props, conf = _raw("lima")
    assert api_client.post("/api/calibrations/upload/", {"properties": props}, format="json").status_code in (401, 403)
    api_client.force_authenticate(user)
    r = api_client.post("/api/calibrations/upload/", {"properties": props, "configuration": conf}, format="json")
    assert r.status_code == 201 and r.json()["backend"] == "ibmq_lima" and r.json()["created"]
    r = api_client.post("/api/calibrations/upload/", {"properties": props, "configuration": conf}, format="json")
    assert r.status_code == 200 and r.json()["created"] is False
    ours = load_fake_calibration("quito").to_dict()
    from django.core.files.uploadedfile import SimpleUploadedFile

    up = SimpleUploadedFile("quito.json", json.dumps(ours).encode(), content_type="application/json")
    assert api_client.post("/api/calibrations/upload/", {"file": up}, format="multipart").status_code == 201
    before = (Backend.objects.count(), CalibrationSnapshot.objects.count())
    partial = copy.deepcopy(props)
    partial["backend_name"] = "ibm_partial"
    partial["gates"][7]["parameters"][0]["value"] = "n/a"
    r = api_client.post("/api/calibrations/upload/", {"properties": partial, "configuration": conf}, format="json")
    assert r.status_code == 400 and "gates[7].gate_error" in r.json()
    r = api_client.post("/api/calibrations/upload/", {"hello": "world"}, format="json")
    assert r.status_code == 400 and "calibration" in r.json()
    junk = SimpleUploadedFile("x.json", b"{not json", content_type="application/json")
    r = api_client.post("/api/calibrations/upload/", {"file": junk}, format="multipart")
    assert r.status_code == 400 and "file" in r.json()
    assert (Backend.objects.count(), CalibrationSnapshot.objects.count()) == before  # nothing half-written


class StandInIBM:
    """A local stand-in for QiskitRuntimeService: serves a real snapshot's JSON with the date asked for."""

    def __init__(self, short="manila", fail_on=None):
        self.props, self.conf = _raw(short)
        self.fail_on = fail_on
        self.asked = []

    def backend(self, name):
        service = self

        class _Props(dict):
            def to_dict(self):
                return dict(self)

        class _Conf:
            def to_dict(self):
                return copy.deepcopy(service.conf)

        class _Backend:
            def properties(self, datetime=None):
                service.asked.append(datetime)
                if service.fail_on is not None and len(service.asked) == service.fail_on:
                    raise ConnectionError("connection reset by peer")
                props = copy.deepcopy(service.props)
                props["backend_name"] = name
                if datetime is not None:  # IBM: the newest calibration older than `datetime` (07:00 daily)
                    props["last_update_date"] = (datetime - dt.timedelta(hours=17)).replace(
                        hour=7, minute=0, second=0, microsecond=0).isoformat()
                return _Props(props)

            def configuration(self):
                return _Conf()

        return _Backend()


def test_ibm_history_backfill_against_stand_in_service(db):
    from benchmarks_app import services
    from benchmarks_app.models import CalibrationSnapshot

    since = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    service = StandInIBM()
    until = since + dt.timedelta(days=4, hours=23)  # both days inclusive: 03-01 ... 03-05
    out = services.ingest_ibm("ibm_manila", since, until, service_factory=lambda: service)
    assert len(out) == 5 and all(created for _, created in out)
    snaps = CalibrationSnapshot.objects.filter(backend__name="ibm_manila").order_by("calibrated_at")
    assert [s.calibrated_at.day for s in snaps] == [1, 2, 3, 4, 5]
    again = services.ingest_ibm("ibm_manila", since, until, service_factory=lambda: service)
    assert not any(created for _, created in again) and snaps.count() == 5
    # a network failure on the third day writes nothing at all
    flaky = StandInIBM(fail_on=3)
    with pytest.raises(services.IBMUnavailable, match="connection reset"):
        services.ingest_ibm("ibm_flaky", since, since + dt.timedelta(days=4), service_factory=lambda: flaky)
    assert not CalibrationSnapshot.objects.filter(backend__name="ibm_flaky").exists()


def test_ibm_command_without_token_fails_clearly(db, settings):
    from django.core.management import CommandError, call_command

    settings.IBM_QUANTUM_TOKEN = ""
    with pytest.raises(CommandError, match="IBM_QUANTUM_TOKEN is not set.*nothing was written"):
        call_command("ingest_calibrations", "--source", "ibm", "--backend", "ibm_fez")


def test_periodic_ingest_is_scheduled_and_one_failure_does_not_stop_others(db, settings, monkeypatch):
    from django_celery_beat.models import PeriodicTask

    from benchmarks_app import services, tasks
    from benchmarks_app.models import CalibrationSnapshot

    task = PeriodicTask.objects.get(task="benchmarks_app.ingest_ibm_all")
    assert task.enabled and task.interval.every == 6 and task.interval.period == "hours"
    from hanas_platform.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True  # run the fan-out inline for this test
    request_restore = lambda: (setattr(app.conf, "task_always_eager", saved[0]),  # noqa: E731
                               setattr(app.conf, "task_eager_propagates", saved[1]))
    good, bad = StandInIBM("lima"), StandInIBM("quito", fail_on=1)

    def factory():
        return factory.current

    calls = []

    def ingest(name, since=None, until=None, service_factory=None):
        calls.append(name)
        factory.current = bad if name == "ibm_bad" else good
        return real_ingest(name, since, until, service_factory=factory)

    real_ingest = services.ingest_ibm
    monkeypatch.setattr(services, "ingest_ibm", ingest)
    try:
        result = tasks.ingest_ibm_all.apply(args=(["ibm_bad", "ibm_good"],)).get()
    finally:
        request_restore()
    assert "ibm_bad" in result["failed"] and "cannot fetch" in result["failed"]["ibm_bad"]
    assert CalibrationSnapshot.objects.filter(backend__name="ibm_good").count() == 1
    assert result["failed"]["ibm_bad"].startswith("Retry")  # a network error asks Celery for a retry (backoff)
    assert calls == ["ibm_bad", "ibm_good"]


@pytest.mark.postgres
def test_concurrent_ingest_of_the_same_data_writes_one_row(transactional_db):
    from django.db import connection

    from benchmarks_app.models import CalibrationSnapshot
    from benchmarks_app.services import ingest_calibration

    cal = load_fake_calibration("kyiv")
    results, errors = [], []

    def work():
        try:
            results.append(ingest_calibration(cal)[1])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results.count(True) == 1
    assert CalibrationSnapshot.objects.filter(backend__name="ibm_kyiv").count() == 1
