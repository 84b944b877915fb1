"""Explanations that point at hardware (issue 16, part 3): cost drivers of the metric asked for, naming the qubit
whose T2 dropped and the coupler whose error rose; the snapshot diff without unchanged rows and with Heron's
symmetric CZ pairs once. Real bundled calibrations, drifted by hand."""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from cost_engine.calibration import load_fake_calibration

GHZ4 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[4];\ncreg c[4];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "cx q[2],q[3];\nmeasure q -> c;\n")


def drifted(cal, *, days=1, t2=None, gate_error=None):
    """``cal`` a few days later with one qubit's T2 set (``t2=(qubit, seconds)``) and/or one gate's error
    set (``gate_error=(name, (q0, q1), error)``)."""
    qubits = list(cal.qubits)
    if t2 is not None:
        q, value = t2
        qubits[q] = dataclasses.replace(qubits[q], t2_s=value)
    gates = cal.gates
    if gate_error is not None:
        name, qs, err = gate_error
        gates = tuple(dataclasses.replace(g, error=err) if (g.name, g.qubits) == (name, tuple(qs)) else g
                      for g in cal.gates)
    return dataclasses.replace(cal, calibrated_at=cal.calibrated_at + dt.timedelta(days=days), qubits=tuple(qubits),
                               gates=gates)


@pytest.mark.smoke
def test_drivers_name_the_qubit_whose_t2_dropped_and_the_coupler_whose_error_rose(db, api_client):
    from benchmarks_app.models import CostEstimate
    from benchmarks_app.services import circuit_create, cost_options, estimate_get_or_create, ingest_calibration

    base = load_fake_calibration("sherbrooke")
    snap0, _ = ingest_calibration(base)
    circuit, _ = circuit_create(qasm=GHZ4, name="ghz4")
    est0, _ = estimate_get_or_create(circuit, snap0, cost_options({}))
    usage = est0.report["usage"]
    used = est0.report["physical_qubits"]
    assert sorted(q for q, _ in usage["t2_s"]) == used
    # the stored usage reproduces the report's own log ESP and T_gate exactly
    esp = math.fsum(c * math.log1p(-e) for name, qs, c, e, d in usage["gates"] if name != "reset")
    assert esp == pytest.approx(est0.report["log_esp"], rel=1e-12)
    assert math.fsum(c * d for *_, c, e, d in usage["gates"]) == pytest.approx(est0.report["t_gate_serial_s"])

    # day 1: the used qubit with the longest T2 falls to a third of the shortest: it becomes T2_eff
    t2 = dict((q, t) for q, t in usage["t2_s"])
    victim = max(t2, key=t2.get)
    snap1, _ = ingest_calibration(drifted(base, days=1, t2=(victim, min(t2.values()) / 3)))
    # day 2: a coupler the default (calibration-aware) placement uses, and one the structure-only placement
    # uses, get five times worse
    placed = next((name, qs, c, e) for name, qs, c, e, d in usage["gates"] if len(qs) == 2)
    est0_s, _ = estimate_get_or_create(circuit, snap0, cost_options({"layout": "structure"}))
    coupler = next((name, qs, c, e) for name, qs, c, e, d in est0_s.report["usage"]["gates"] if len(qs) == 2
                   and sorted(qs) != sorted(placed[1]))
    cal1 = snap1.calibration()
    cal2 = drifted(cal1, days=1, gate_error=(placed[0], placed[1], placed[3] * 5))
    snap2, _ = ingest_calibration(drifted(cal2, days=0, gate_error=(coupler[0], coupler[1], coupler[3] * 5)))

    trend = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&metric=log_t_eff").json()
    p1 = trend["points"][1]
    top = p1["drivers"][0]
    assert top["term"].startswith("decoherence") and top["delta"] > 0
    qubit_el = next(e for e in top["elements"] if e["kind"] == "qubit")
    assert qubit_el["qubit"] == victim and qubit_el["field"] == "t2_s"
    assert qubit_el["from"] == pytest.approx(t2[victim]) and qubit_el["to"] == pytest.approx(min(t2.values()) / 3)
    assert f"qubit {victim}" in top["text"]
    # the terms add up to the metric's change exactly
    assert math.fsum(d["delta"] for d in p1["drivers"]) == pytest.approx(p1["value"] - trend["points"][0]["value"])
    # day 2 under the default calibration-aware placement: the circuit moves off the degraded coupler, and the
    # drivers say so (a placement element naming the coupler it left)
    moved = next(d for d in trend["points"][2]["drivers"] if d["term"].startswith("2q gate error"))
    routing = next(e for e in moved["elements"] if e["kind"] == "routing")
    assert f"coupler {placed[1][0]}-{placed[1][1]}" in routing["left"], routing
    # with the placement fixed to the device's structure, the coupler itself is the driver, with its values
    trend = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&metric=log_t_eff"
                           "&layout=structure").json()
    p2 = trend["points"][2]
    two_q = next(d for d in p2["drivers"] if d["term"].startswith("2q gate error"))
    cel = two_q["elements"][0]
    assert cel["kind"] == "coupler" and cel["coupler"] == f"{coupler[1][0]}-{coupler[1][1]}"
    assert cel["to"] == pytest.approx(coupler[3] * 5) and cel["count"] == coupler[2]
    assert math.fsum(e["contribution"] for e in two_q["elements"]) == pytest.approx(two_q["delta"])

    # metric=log_esp explains log ESP: nothing moved it on day 1 (T2 is not in ESP); the coupler on day 2
    esp_trend = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&metric=log_esp"
                               "&layout=structure").json()
    assert esp_trend["points"][1]["drivers"] == []
    d2 = esp_trend["points"][2]["drivers"]
    assert d2 and all(d["explains"] == "log_esp" and d["quantity"] == "log ESP" for d in d2)
    assert math.fsum(d["delta"] for d in d2) == pytest.approx(esp_trend["points"][2]["value"]
                                                              - esp_trend["points"][1]["value"], rel=1e-9)
    assert d2[0]["elements"][0]["coupler"] == cel["coupler"] and d2[0]["delta"] < 0
    # wall-clock: T2 does not enter it; nothing moved it on day 1
    wall = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&metric=wallclock_s").json()
    assert wall["points"][1]["drivers"] == [] and wall["points"][1]["value"] == wall["points"][0]["value"]

    # estimates stored before reports carried their usage: the T2_eff qubit is still named (from the snapshots),
    # per-gate attribution says it is not available
    for est in CostEstimate.objects.filter(circuit=circuit):
        est.report.pop("usage")
        est.save(update_fields=["report"])
    old = api_client.get(f"/api/circuits/{circuit.pk}/cost-trend/?backend=sherbrooke&metric=log_t_eff").json()
    top = old["points"][1]["drivers"][0]
    assert top["term"].startswith("decoherence") and top["elements"][-1]["qubit"] == victim
    two_q = next(d for d in old["points"][2]["drivers"] if d["term"].startswith("2q gate error"))
    assert two_q["elements"] == [] and "not stored" in two_q["note"]


@pytest.mark.smoke
def test_snapshot_diff_drops_unchanged_rows_and_lists_symmetric_cz_once(db, api_client):
    from benchmarks_app.services import ingest_calibration

    base = load_fake_calibration("torino")  # Heron: CZ calibrated in both directions
    cz = next(g for g in base.gates if g.name == "cz" and g.error and g.error < 0.5)
    a, b = cz.qubits
    later = drifted(base, days=1, t2=(3, base.qubits[3].t2_s / 2))
    later = dataclasses.replace(later, gates=tuple(
        dataclasses.replace(g, error=g.error * 2) if g.name == "cz" and set(g.qubits) == {a, b} else g
        for g in later.gates))
    s0, _ = ingest_calibration(base)
    s1, _ = ingest_calibration(later)
    diff = api_client.get(f"/api/backends/torino/diff/?from={s0.pk}&to={s1.pk}&top=200").json()
    assert [r["qubit"] for r in diff["qubits"]] == [3] and diff["qubits_changed"] == 1
    assert diff["qubits"][0]["changes"] == {"t2": pytest.approx(-0.5)}
    assert len(diff["edges"]) == 1 and diff["edges_changed"] == 1
    row = diff["edges"][0]
    assert row["edge"] == f"{min(a, b)}-{max(a, b)}" and row["symmetric"] and row["relative_change"] == pytest.approx(1)


@pytest.mark.smoke
@pytest.mark.parametrize("t2_variant, layout", [("min", "structure"), ("mean", "structure"), ("min", "calibrated")])
def test_every_metric_is_explained_exactly_by_its_terms_and_elements(t2_variant, layout):
    """Pure cost engine: for every metric the drivers explain, the terms add up to the metric's change, and each
    term's hardware elements add up to the term (nothing left unattributed), on a snapshot where a T2, a
    coupler's error, a readout error and a gate duration all moved."""
    from benchmarks_app.drivers import EXPLAINED, explain, usage_of
    from cost_engine.quantum import CompileCache, CostOptions, compile_circuit, score

    cache = CompileCache()
    opts = CostOptions(t2_variant=t2_variant, layout=layout).validate()
    base = load_fake_calibration("sherbrooke")

    def report(cal):
        compiled, _ = compile_circuit(GHZ4, cal, opts, cache)
        r = score(compiled, cal, opts).to_dict()
        r["usage"] = usage_of(compiled, cal)
        return r

    r0 = report(base)
    used = r0["physical_qubits"]
    name, qs, count, err, dur = next(g for g in r0["usage"]["gates"] if len(g[1]) == 2)
    one_q = next(g for g in r0["usage"]["gates"] if g[0] == "sx")
    cal = drifted(base, t2=(used[-1], base.qubits[used[-1]].t2_s / 4), gate_error=(name, qs, err * 3))
    qubits = list(cal.qubits)
    qubits[used[0]] = dataclasses.replace(qubits[used[0]], readout_error=qubits[used[0]].readout_error * 2)
    cal = dataclasses.replace(cal, qubits=tuple(qubits), gates=tuple(
        dataclasses.replace(g, duration_s=g.duration_s * 1.5) if (g.name, list(g.qubits)) == (one_q[0], one_q[1])
        else g for g in cal.gates))
    r1 = report(cal)
    logs = {"t_eff_s", "p_success", "shots_total"}
    for metric in EXPLAINED:
        if metric in ("n_swaps", "n_2q", "depth"):
            continue
        a, b = r0[metric], r1[metric]
        expected = math.log(b) - math.log(a) if metric in logs else b - a
        terms = explain(r0, r1, metric)
        assert math.fsum(t["delta"] for t in terms) == pytest.approx(expected, rel=1e-9, abs=1e-15), metric
        for t in terms:
            els = [e for e in t.get("elements", []) if e.get("contribution") is not None]
            assert all(e["kind"] != "unattributed" for e in els), (metric, t)
            if els and t.get("elements_total", 0) <= 5:
                assert math.fsum(e["contribution"] for e in els) == pytest.approx(t["delta"], rel=1e-9), (metric, t)
    if layout != "structure":  # the placement moved off the degraded hardware: the sums above still hold
        return
    # the hardware named: the qubit whose T2 fell (min variant: the new T2_eff), the coupler, the readout qubit
    t_eff = {t["term"].split(" (")[0]: t for t in explain(r0, r1, "log_t_eff")}
    decoh = [e for e in t_eff["decoherence"]["elements"] if e["kind"] == "qubit"]
    assert decoh and decoh[0]["qubit"] == used[-1] and decoh[0]["to"] == pytest.approx(cal.qubits[used[-1]].t2_s)
    assert t_eff["2q gate error"]["elements"][0]["coupler"] == f"{qs[0]}-{qs[1]}"
    assert t_eff["readout error"]["elements"][0]["qubit"] == used[0]
    assert t_eff["gate time"]["elements"][0]["qubit"] == one_q[1][0]
