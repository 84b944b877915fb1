"""Issue 13, item 5: stored estimates of older cost-model versions stay readable and labelled, leaderboards and
trends use the current version only, and `manage.py recost_estimates` re-costs what is stored (batches,
progress, dry run, idempotent)."""
from __future__ import annotations

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command

from cost_engine.calibration import load_fake_calibration

GHZ3 = ("OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n"
        "measure q -> c;\n")
OLD = "hanas-quantum-0"


def _hash(options: dict) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()


@pytest.fixture
def old_store(db, monkeypatch):
    """Estimates and a refusal as an older model version stored them: computed by today's code, then labelled
    with version OLD; the default ones carry OLD's default options (which had seed 5 where today's default is
    7), registered like the real hanas-quantum-1 defaults are."""
    from benchmarks_app import recost
    from benchmarks_app.models import CostEstimate, EstimateRefusal
    from benchmarks_app.services import (EstimateRefused, circuit_create, cost_options, estimate_get_or_create,
                                         ingest_calibration)
    from cost_engine.quantum import MODEL_VERSION

    assert MODEL_VERSION != OLD
    old_defaults = dict(cost_options({}).to_dict(), seed=5)
    monkeypatch.setitem(recost.LEGACY_DEFAULT_OPTIONS, OLD, old_defaults)
    snaps = {n: ingest_calibration(load_fake_calibration(n))[0] for n in ("sherbrooke", "lima", "kyoto")}
    circuit, _ = circuit_create(qasm=GHZ3, name="ghz3")
    for name in ("sherbrooke", "lima"):
        estimate_get_or_create(circuit, snaps[name], cost_options({"seed": 5}))
    estimate_get_or_create(circuit, snaps["sherbrooke"], cost_options({"shots": 2000}))
    with pytest.raises(EstimateRefused):
        estimate_get_or_create(circuit, snaps["kyoto"], cost_options({"seed": 5}))
    CostEstimate.objects.filter(options__seed=5).update(model_version=OLD, options=old_defaults,
                                                        options_hash=_hash(old_defaults))
    CostEstimate.objects.exclude(options__seed=5).update(model_version=OLD)
    EstimateRefusal.objects.update(model_version=OLD, options=old_defaults, options_hash=_hash(old_defaults))
    return circuit, snaps


def test_old_versions_are_readable_labelled_and_left_out_of_leaderboards(old_store, api_client):
    circuit, _ = old_store
    listing = api_client.get(f"/api/estimates/?circuit={circuit.pk}").json()["results"]
    assert len(listing) == 3 and {(e["model_version"], e["current"]) for e in listing} == {(OLD, False)}
    detail = api_client.get(f"/api/estimates/{listing[0]['id']}/").json()
    assert detail["model_version"] == OLD and detail["current"] is False and detail["report"]["t_sched_s"] > 0
    assert api_client.get(f"/api/estimates/?current=true").json()["results"] == []
    assert len(api_client.get(f"/api/estimates/?current=false").json()["results"]) == 3
    assert len(api_client.get(f"/api/estimates/?model_version={OLD}").json()["results"]) == 3
    assert api_client.get("/api/estimates/?model_version=hanas-quantum-99").json()["results"] == []
    board = api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}").json()
    assert board["rows"] == [] and board["not_estimated"] == ["ibm_kyoto", "ibm_sherbrooke", "ibmq_lima"]
    circuits = api_client.get("/api/leaderboards/circuits/?backend=sherbrooke").json()
    assert circuits["rows"] == []


def test_recost_estimates_command(old_store, api_client):
    from benchmarks_app.models import CostEstimate, EstimateRefusal
    from cost_engine.quantum import MODEL_VERSION, CostOptions

    circuit, _ = old_store
    with pytest.raises(CommandError, match="--all or --backend"):
        call_command("recost_estimates")
    with pytest.raises(CommandError, match="unknown backend"):
        call_command("recost_estimates", "--backend", "nowhere")

    out = io.StringIO()
    call_command("recost_estimates", "--all", "--dry-run", stdout=out)
    assert "would re-cost 4 of 4 distinct question(s)" in out.getvalue(), out.getvalue()
    assert not CostEstimate.objects.filter(model_version=MODEL_VERSION).exists()

    out = io.StringIO()
    call_command("recost_estimates", "--backend", "sherbrooke", "--batch-size", "1", stdout=out)
    text = out.getvalue()
    assert "ibm_sherbrooke: 1/2 old rows read" in text and "ibm_sherbrooke: 2/2 old rows read" in text, text
    assert "re-costed 2, refused 0" in text
    new = {e.options["shots"]: e for e in CostEstimate.objects.filter(model_version=MODEL_VERSION)}
    assert set(new) == {1024, 2000}
    assert new[1024].options == CostOptions().to_dict()  # asked with the old defaults -> today's defaults
    assert new[2000].options == dict(CostOptions().to_dict(), shots=2000)  # explicit options kept

    out = io.StringIO()
    call_command("recost_estimates", "--all", stdout=out)
    assert "re-costed 1, refused 1 (stored as unrunnable), 2 already current" in out.getvalue(), out.getvalue()
    assert "no working two-qubit gate" in out.getvalue()
    out = io.StringIO()
    call_command("recost_estimates", "--all", stdout=out)  # idempotent
    assert "re-costed 0, refused 0 (stored as unrunnable), 4 already current" in out.getvalue(), out.getvalue()

    # old rows are kept and labelled; the current ones feed the leaderboard, kyoto listed as unrunnable
    assert CostEstimate.objects.filter(model_version=OLD).count() == 3
    assert CostEstimate.objects.filter(model_version=MODEL_VERSION).count() == 3
    assert EstimateRefusal.objects.filter(model_version=MODEL_VERSION).count() == 1
    assert len(api_client.get("/api/estimates/?current=true").json()["results"]) == 3
    board = api_client.get(f"/api/leaderboards/backends/?circuit={circuit.pk}").json()
    assert [(r["backend"], r["rank"]) for r in board["rows"]] == [
        (board["rows"][0]["backend"], 1), (board["rows"][1]["backend"], 2), ("ibm_kyoto", None)]
    assert board["not_estimated"] == []


def test_hanas_quantum_1_options_map_to_the_current_model(db):
    """v1's defaults are re-asked as today's defaults; its explicit noise_aware_layout becomes today's layout
    (true compiled with qiskit on the calibrated target = "qiskit", false on the structure only = "structure")."""
    from benchmarks_app.recost import LEGACY_DEFAULT_OPTIONS, current_options_for
    from cost_engine.quantum import CostOptions

    v1 = LEGACY_DEFAULT_OPTIONS["hanas-quantum-1"]
    assert current_options_for(dict(v1), "hanas-quantum-1") == CostOptions()
    aware = current_options_for(dict(v1, noise_aware_layout=True, shots=2000), "hanas-quantum-1")
    assert aware == CostOptions(layout="qiskit", shots=2000)
    plain = current_options_for(dict(v1, seed=3), "hanas-quantum-1")
    assert plain == CostOptions(layout="structure", seed=3)
