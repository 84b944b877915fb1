"""The live IBM path through qiskit-ibm-runtime itself (issue 15, part 2): the real QiskitRuntimeService ->
IBMBackend.properties(datetime=...) -> our ingest, unmodified, against IBM's HTTP services answered at the
HTTP layer by ``responses`` (tests/ibm_http_double.py) with bodies built from real props/conf JSON of the
shipped history. Covers current properties of an Eagle (directed ECR) and a Heron (CZ both ways) device,
back-fill by date with inclusive day boundaries, operational = 0 flags, permanent versus transient errors,
and historical properties combined with today's configuration (mismatches recorded)."""
from __future__ import annotations

import copy
import datetime as dt
from io import StringIO

import pytest
import requests

from cost_engine.history import read_pack
from tests.ibm_http_double import IBMCloudDouble

pytestmark = pytest.mark.filterwarnings("ignore")


def _utc(value: str) -> str:
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def rest_properties(props: dict) -> dict:
    """A props file in the shape the REST API serves: every date in UTC ('Z'), as IBM's service returns them
    (the client reads them as UTC)."""
    out = copy.deepcopy(props)
    out["last_update_date"] = _utc(out["last_update_date"])
    for qubit in out["qubits"]:
        for nduv in qubit:
            nduv["date"] = _utc(nduv["date"])
    for gate in out["gates"]:
        for p in gate.get("parameters", []):
            p["date"] = _utc(p["date"])
    for nduv in out.get("general", []):
        nduv["date"] = _utc(nduv["date"])
    return out


def device(name: str):
    """(today's configuration, [REST properties of every shipped calibration]) of one real device."""
    from benchmarks_app.services import HISTORY_PACK

    pack = read_pack(HISTORY_PACK)
    snaps = [s for s in pack["snapshots"] if s["backend_name"] == name]
    conf = copy.deepcopy(pack["configurations"][snaps[-1]["conf_sha256"]])
    conf["backend_name"] = name  # the service answers under the device's name (files may hold a stand-in)
    return conf, [rest_properties(s["props"]) for s in snaps]


@pytest.fixture
def ibm(settings):
    settings.IBM_QUANTUM_TOKEN = "good-token"
    settings.IBM_QUANTUM_CHANNEL = "ibm_quantum_platform"
    settings.IBM_QUANTUM_INSTANCE = ""
    settings.IBM_FETCH_BACKOFF_S = 0.01
    return settings


def ingest(*args):
    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command("ingest_calibrations", "--source", "ibm", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_current_properties_of_an_eagle_and_a_heron_device(db, ibm):
    from benchmarks_app.models import CalibrationSnapshot
    from cost_engine.calibration import from_properties

    devices = {"ibm_sherbrooke": device("ibm_sherbrooke"), "ibm_torino": device("ibm_torino")}
    with IBMCloudDouble(devices) as double:
        out, _ = ingest("--backend", "ibm_sherbrooke", "--backend", "ibm_torino")
    assert "2 created" in out
    assert any(r.endswith("/backends/ibm_sherbrooke/properties") for r in double.requests)
    assert double.asked_before == [None, None]
    for name, family, gate in (("ibm_sherbrooke", "Eagle", "ecr"), ("ibm_torino", "Heron", "cz")):
        snap = CalibrationSnapshot.objects.get(backend__name=name)
        conf, history = devices[name]
        cal = snap.calibration()
        expected = from_properties(history[-1], conf)
        assert snap.calibrated_at == expected.calibrated_at  # the newest calibration, in UTC
        assert cal.qubits == expected.qubits and cal.gates == expected.gates and cal.dt_s == expected.dt_s
        assert snap.backend.processor_family == family and gate in cal.basis_gates
        pairs = {g.qubits for g in cal.gates if g.name == gate}
        both_ways = {p for p in pairs if p[::-1] in pairs}
        if gate == "ecr":  # Eagle: directed ECR, one direction per coupler
            assert pairs and not both_ways
        else:  # Heron: CZ calibrated both ways
            assert pairs and both_ways == pairs
    assert CalibrationSnapshot.objects.get(backend__name="ibm_sherbrooke").calibrated_at == dt.datetime(
        2025, 2, 26, 19, 43, 10, tzinfo=dt.timezone.utc)


def test_backfill_by_date_includes_the_until_day_and_stores_each_calibration_once(db, ibm):
    from benchmarks_app.models import CalibrationSnapshot

    # hanoi was calibrated on 2025-02-12 17:26 UTC and 2025-02-26 20:13 UTC (real dates)
    with IBMCloudDouble({"ibm_hanoi": device("ibm_hanoi")}) as double:
        out, _ = ingest("--backend", "ibm_hanoi", "--since", "2025-02-12", "--until", "2025-02-25")
        assert "1 created" in out
        assert double.asked_before[0] == "2025-02-13T00:00:00+00:00"
        assert double.asked_before[-1] == "2025-02-26T00:00:00+00:00"
        assert len(double.asked_before) == 14  # one question per day, both ends included
        out, _ = ingest("--backend", "ibm_hanoi", "--since", "2025-02-12", "--until", "2025-02-26")
    assert "1 created, 1 already stored" in out  # the until day's own calibration is fetched
    dates = list(CalibrationSnapshot.objects.filter(backend__name="ibm_hanoi").order_by("calibrated_at")
                 .values_list("calibrated_at", flat=True))
    assert dates == [dt.datetime(2025, 2, 12, 17, 26, 36, tzinfo=dt.timezone.utc),
                     dt.datetime(2025, 2, 26, 20, 13, 14, tzinfo=dt.timezone.utc)]
    # a window with no calibration of its own stores nothing (the one in force came before `since`)
    with IBMCloudDouble({"ibm_hanoi": device("ibm_hanoi")}):
        out, _ = ingest("--backend", "ibm_hanoi", "--since", "2025-02-14", "--until", "2025-02-16")
    assert "ingested 0 snapshot(s)" in out


def test_faulty_qubits_and_gates_flagged_operational_0(db, ibm):
    from benchmarks_app.models import CalibrationSnapshot

    conf, history = device("ibm_torino")
    props = history[-1]
    stamp = props["last_update_date"]
    props["qubits"][5].append({"date": stamp, "name": "operational", "unit": "", "value": 0})
    bad = next(g for g in props["gates"] if g["gate"] == "cz" and 5 not in g["qubits"])
    bad["parameters"].append({"date": stamp, "name": "operational", "unit": "", "value": 0})
    with IBMCloudDouble({"ibm_torino": (conf, [props])}):
        ingest("--backend", "ibm_torino")
    cal = CalibrationSnapshot.objects.get(backend__name="ibm_torino").calibration()
    assert 5 in cal.non_operational_qubits
    assert tuple(bad["qubits"]) in cal.broken_edges
    assert any("operational = 0" in n for n in cal.notes)
    # the router never uses them
    usable = cal.usable_coupling_map()
    assert tuple(bad["qubits"]) not in usable and not any(5 in e for e in usable)


def test_historical_properties_with_todays_configuration_record_the_mismatch(db, ibm):
    from benchmarks_app.models import CalibrationSnapshot

    # cairo 2021-12-09 calibrated cx both ways; today's configuration lists cx+ecr on 28 directed couplers
    # melbourne 2019-08-30 had 14 qubits; today's configuration 15
    devices = {"ibm_cairo": device("ibm_cairo"), "ibmq_16_melbourne": device("ibmq_16_melbourne")}
    with IBMCloudDouble(devices):
        ingest("--backend", "ibm_cairo", "--since", "2021-12-09", "--until", "2021-12-09")
        ingest("--backend", "ibmq_16_melbourne", "--since", "2019-08-30", "--until", "2019-08-30")
    cairo = CalibrationSnapshot.objects.get(backend__name="ibm_cairo").calibration()
    notes = " | ".join(cairo.notes)
    assert "today's basis gates" in notes and "['ecr']" in notes and "ecr" not in cairo.basis_gates
    assert "missing from today's coupling map" in notes
    assert set(cairo.coupling_map) == {g.qubits for g in cairo.gates if g.name == "cx"}
    mel = CalibrationSnapshot.objects.get(backend__name="ibmq_16_melbourne").calibration()
    assert mel.num_qubits == 14 and any("15 qubits" in n and "14" in n for n in mel.notes)


def test_permanent_errors_fail_at_once_with_a_clear_message(db, ibm):
    from django.core.management.base import CommandError

    from benchmarks_app.models import CalibrationSnapshot

    with IBMCloudDouble({"ibm_torino": device("ibm_torino")}) as double:
        with pytest.raises(CommandError, match=r"unknown backend 'ibm_nosuch'.*permanent: not retried"):
            ingest("--backend", "ibm_nosuch")
        assert sum("/identity/token" in r for r in double.requests) <= 2  # one service, no retry rounds
        ibm.IBM_QUANTUM_TOKEN = "revoked-token"
        double.requests.clear()
        with pytest.raises(CommandError, match=r"rejected the credentials.*permanent: not retried"):
            ingest("--backend", "ibm_torino")
        assert sum("/identity/token" in r for r in double.requests) == 1
    assert not CalibrationSnapshot.objects.exists()


def test_transient_errors_are_retried_with_backoff(db, ibm):
    from django.core.management.base import CommandError

    from benchmarks_app.models import CalibrationSnapshot

    failures = [(r"/properties", 503), (r"/properties", requests.exceptions.ReadTimeout("read timed out"))]
    with IBMCloudDouble({"ibm_torino": device("ibm_torino")}, failures=failures) as double:
        out, err = ingest("--backend", "ibm_torino")
    assert "1 created" in out
    # the 503 is retried by the client's own RetrySession (urllib3 Retry on 5xx, which responses honours);
    # the timeout reaches us and is retried here
    assert "ReadTimeout" in err and "retrying" in err
    assert sum(r.endswith("/properties") for r in double.requests) == 3
    CalibrationSnapshot.objects.all().delete()
    failures = [(r"/properties", requests.exceptions.ConnectTimeout("connect timed out"))] * 4
    with IBMCloudDouble({"ibm_torino": device("ibm_torino")}, failures=failures):
        with pytest.raises(CommandError, match=r"ConnectTimeout.*still failing after retries; nothing was written"):
            ingest("--backend", "ibm_torino")
    assert not CalibrationSnapshot.objects.exists()


def test_celery_ingest_retries_only_transient_errors(db, ibm):
    from benchmarks_app import services, tasks

    with IBMCloudDouble({"ibm_torino": device("ibm_torino")},
                        failures=[(r"/properties", requests.exceptions.ReadTimeout("read timed out"))]) as double:
        result = tasks.ingest_ibm_backend.apply(args=["ibm_torino"], throw=False)
        # eager mode runs Celery's autoretry (exponential backoff) inline: the second attempt succeeds
        assert result.state == "SUCCESS", (result.state, result.result)
        assert sum(r.endswith("/properties") for r in double.requests) == 2
    with IBMCloudDouble({"ibm_torino": device("ibm_torino")}):
        result = tasks.ingest_ibm_backend.apply(args=["ibm_nosuch"], throw=False)
        assert result.state == "FAILURE" and isinstance(result.result, services.IBMRejected), result.result
        assert "unknown backend" in str(result.result)
