"""Hardening (issue 17): QASM includes and limits before allocation, bad input answered 4xx (never 500), nothing
half-written, the dashboard behind login when public reads are off, and an honest API schema."""
from __future__ import annotations

import time

import pytest

from cost_engine.errors import QasmParseError
from cost_engine.qasm import QasmLimitError, load_qasm

LIMITS = dict(max_qubits=156, max_gates=20000, max_bytes=512 * 1024)
GHZ2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'

# the exact attack strings of the issue, and neighbours
INCLUDE_ATTACKS = [
    'OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "hanas_platform/settings.py";\nqreg q[1];\n',
    'OPENQASM 2.0;\ninclude "qelib1.inc";\ninclude "../../../etc/hostname";\nqreg q[1];\n',
    'OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit[1] q;\n',
    "OPENQASM 3.0;\ninclude 'hanas_platform/settings.py';\nqubit[1] q;\n",
]


@pytest.mark.smoke
@pytest.mark.parametrize("text", INCLUDE_ATTACKS)
def test_include_outside_the_standard_library_is_refused(text):
    with pytest.raises(QasmParseError) as err:
        load_qasm(text)
    msg = str(err.value)
    assert "is not allowed" in msg and "include" in msg
    assert "root" not in msg and "SECRET" not in msg  # nothing of the file leaks
    # the standard library includes still work
    assert load_qasm(GHZ2).num_qubits == 2
    assert load_qasm('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\ncx q[0], q[1];\n').size() == 1


@pytest.mark.smoke
def test_qasm2_parser_never_searches_the_file_system(tmp_path, monkeypatch):
    """Even past the pre-check, the OpenQASM 2 parser gets an empty include path: a file in the working
    directory with an allowed-looking name is not read."""
    from cost_engine import qasm as qasm_mod

    (tmp_path / "evil.inc").write_text("gate evil a { x a; }\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(qasm_mod, "ALLOWED_INCLUDES", {"qelib1.inc", "stdgates.inc", "evil.inc"})
    with pytest.raises(QasmParseError, match="unable to find 'evil.inc'"):
        load_qasm('OPENQASM 2.0;\ninclude "evil.inc";\nqreg q[1];\nevil q[0];\n')


LIMIT_ATTACKS = {
    "qreg": ("qreg q[10000000];", "HANAS_MAX_CIRCUIT_QUBITS"),
    "qubit3": ("OPENQASM 3.0;\nqubit[10000000] q;\n", "HANAS_MAX_CIRCUIT_QUBITS"),
    "qubit3_expr": ("OPENQASM 3.0;\nqubit[2**30] q;\n", "register width"),
    "hardware": ('OPENQASM 3.0;\ninclude "stdgates.inc";\nh $10000000;\n', "HANAS_MAX_CIRCUIT_QUBITS"),
    "creg": ('OPENQASM 2.0;\nqreg q[1];\ncreg c[100000000];\n', "HANAS_MAX_CIRCUIT_GATES"),
    "broadcast": ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[156];\n' + "h q;\n" * 20000,
                  "HANAS_MAX_CIRCUIT_GATES"),
    "expanding_gates": ('OPENQASM 2.0;\ninclude "qelib1.inc";\ngate g0 a { x a; }\n'
                        + "".join(f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}\n" for i in range(1, 60))
                        + "qreg q[1];\ng59 q[0];\n", "HANAS_MAX_CIRCUIT_GATES"),
    "expanding_parametrised_empty_gates": (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate g0(t) a { }\n'
        + "".join(f"gate g{i}(t) a {{ g{i - 1}(2 * t) a; g{i - 1}(2 * t + 1) a; }}\n" for i in range(1, 60))
        + "qreg q[1];\ng59(0) q[0];\n", "HANAS_MAX_CIRCUIT_GATES"),
    "parentheses": ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nrx(' + "(" * 5000 + "1" + ")" * 5000
                    + ") q[0];\n", "nesting depth"),
    "bytes": (GHZ2 + "// pad\n" * 100000, "HANAS_MAX_CIRCUIT_BYTES"),
    "long_expression": ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nrx(' + "+".join(["1"] * 100000)
                        + ") q[0];\n", "statement length"),
}


@pytest.mark.smoke
@pytest.mark.parametrize("case", sorted(LIMIT_ATTACKS))
def test_limits_are_enforced_before_parsing(case):
    text, limit = LIMIT_ATTACKS[case]
    started = time.perf_counter()
    with pytest.raises(QasmLimitError) as err:
        load_qasm(text, **LIMITS)
    assert err.value.limit == limit and limit in str(err.value)
    assert time.perf_counter() - started < 5  # generous: the point is no 9 s / 2.4 GB parse (measured < 1 s)


@pytest.mark.smoke
@pytest.mark.parametrize("expr", ["1e308*10", "-1e308*10", "1e308*10 - 1e308*10"])
def test_non_finite_gate_parameters_are_refused(expr):
    with pytest.raises(QasmParseError, match="non-finite parameter"):
        load_qasm(f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrx({expr}) q[0];\n')
    with pytest.raises(QasmParseError, match="non-finite parameter"):  # hidden in a gate definition
        load_qasm('OPENQASM 2.0;\ninclude "qelib1.inc";\ngate g(t) a { rx(t*1e308) a; }\nqreg q[1];\ng(10) q[0];\n')


@pytest.mark.smoke
def test_reference_suite_passes_the_limits():
    from qiskit import qasm2

    from cost_engine.reference_circuits import reference_suite

    for name, qc in reference_suite(sizes=(4, 16)):
        assert load_qasm(qasm2.dumps(qc), **LIMITS).num_qubits == qc.num_qubits, name


@pytest.mark.smoke
@pytest.mark.parametrize("case", ["include", "qreg", "hardware", "parentheses", "inf", "bytes"])
def test_circuit_post_rejects_quickly_and_stores_nothing(case, auth_client):
    from benchmarks_app.models import Circuit

    text = {"include": INCLUDE_ATTACKS[0], "qreg": "qreg q[10000000];", "hardware": LIMIT_ATTACKS["hardware"][0],
            "parentheses": LIMIT_ATTACKS["parentheses"][0], "bytes": LIMIT_ATTACKS["bytes"][0],
            "inf": 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrx(1e308*10) q[0];\n'}[case]
    started = time.perf_counter()
    r = auth_client.post("/api/circuits/", {"qasm": text}, format="json")
    assert time.perf_counter() - started < 5
    assert r.status_code == (413 if case == "bytes" else 400), r.content
    assert "qasm" in r.json()
    if case == "include":
        assert "/etc/passwd" in r.json()["qasm"][0] and "root" not in r.json()["qasm"][0]
    assert not Circuit.objects.exists()


# --- item 6: the dashboard behind login when public reads are off ---------------------------------------------
from tests.test_dashboard_pages import PAGES, stored  # noqa: E402,F401  (fixture reused)


@pytest.mark.smoke
@pytest.mark.django_db
def test_dashboard_requires_login_when_reads_are_not_public(client, stored, user, settings):  # noqa: F811
    settings.PUBLIC_READS = False
    for template in PAGES:
        path = template.format(**stored)
        r = client.get(path)
        assert r.status_code == 302, path
        assert r["Location"].startswith("/api/auth/login/?next="), (path, r["Location"])
        assert b"ghz-3" not in r.content and b"OPENQASM" not in r.content
    login = client.get("/api/auth/login/?next=/circuits/%d/" % stored["circuit"])
    assert login.status_code == 200
    r = client.post("/api/auth/login/", {"username": "alice", "password": "pw-alice-123",
                                         "next": "/circuits/%d/" % stored["circuit"]})
    assert r.status_code == 302 and r["Location"] == "/circuits/%d/" % stored["circuit"]
    page = client.get(r["Location"])
    assert page.status_code == 200 and b"ghz-3" in page.content
    # public reads on (the default): anonymous visitors see the pages as before
    client.logout()
    settings.PUBLIC_READS = True
    assert client.get("/circuits/%d/" % stored["circuit"]).status_code == 200


# --- item 7: bad input is a 4xx, never a 500, and nothing is half-written ------------------------------------
BIG = "99999999999999999999"


@pytest.fixture
def lima(db):
    from benchmarks_app.services import ingest_calibration
    from cost_engine.calibration import load_fake_calibration

    snapshot, _ = ingest_calibration(load_fake_calibration("lima"))  # a real 5-qubit snapshot
    return snapshot


@pytest.mark.smoke
def test_out_of_range_integer_filters_are_400(lima, auth_client):
    for url in (f"/api/estimates/?circuit={BIG}", f"/api/estimates/?snapshot={BIG}", f"/api/backends/?num_qubits={BIG}",
                f"/api/backends/lima/diff/?from={lima.pk}&to={lima.pk}&top={BIG}"):
        r = auth_client.get(url)
        assert r.status_code == 400, (url, r.status_code)
        assert set(r.json()) & {"circuit", "snapshot", "num_qubits", "top"}, r.json()
    r = auth_client.get("/api/leaderboards/architectures/?budget_s=1e999")
    assert r.status_code == 400 and "budget_s" in r.json()


@pytest.mark.smoke
def test_oversized_json_body_is_a_json_413_naming_the_limit(lima, auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"backend": "lima", "qasm": "' + "x" * 20_000 + '"}'
    r = auth_client.post("/api/estimates/", data=body, content_type="application/json")
    assert r.status_code == 413 and r["Content-Type"].startswith("application/json")
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE" in r.json()["detail"]


@pytest.mark.smoke
def test_multipart_upload_is_capped(lima, auth_client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from benchmarks_app.models import CalibrationSnapshot

    settings.HANAS_MAX_UPLOAD_BYTES = 5_000
    before = CalibrationSnapshot.objects.count()
    big = SimpleUploadedFile("cal.json", b"{" + b" " * 50_000 + b"}", content_type="application/json")
    r = auth_client.post("/api/calibrations/upload/", {"file": big}, format="multipart")
    assert r.status_code == 413 and "HANAS_MAX_UPLOAD_BYTES" in r.json()["detail"]
    assert CalibrationSnapshot.objects.count() == before


@pytest.mark.smoke
def test_failed_estimate_leaves_no_circuit(lima, auth_client):
    from benchmarks_app.models import Circuit, CostEstimate

    seven = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[7];\nh q[0];\ncx q[0],q[6];\n'
    r = auth_client.post("/api/estimates/", {"backend": "lima", "qasm": seven}, format="json")
    assert r.status_code == 400 and "7 qubits" in str(r.json())
    r = auth_client.post("/api/estimates/", {"backend": "nowhere", "qasm": GHZ2}, format="json")
    assert r.status_code == 404
    assert not Circuit.objects.exists() and not CostEstimate.objects.exists()
    # a stored circuit that an estimate then fails on is not deleted
    stored = auth_client.post("/api/circuits/", {"qasm": seven}, format="json").json()["id"]
    assert auth_client.post("/api/estimates/", {"backend": "lima", "circuit": stored}, format="json").status_code == 400
    assert Circuit.objects.filter(pk=stored).exists()


@pytest.mark.smoke
def test_unmatched_api_path_is_a_json_404(client, db):
    r = client.get("/api/no-such-thing/")
    assert r.status_code == 404 and r.json()["detail"].startswith("no such endpoint")


# --- item 9: the API contract -------------------------------------------------------------------------------
@pytest.fixture
def schema(db, client):
    import yaml

    r = client.get("/api/schema/")
    assert r.status_code == 200
    return yaml.safe_load(r.content)


@pytest.mark.smoke
def test_schema_matches_the_answers(schema):
    comp = schema["components"]["schemas"]
    assert comp["Circuit"]["properties"]["owner"].get("nullable") is True
    assert comp["SearchRun"]["properties"]["team"].get("nullable") is True
    assert "snapshot_count" in comp["BackendDetail"]["properties"]
    pareto = schema["paths"]["/api/searches/{id}/pareto/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert pareto["schema"]["$ref"].endswith("/ParetoFront") and comp["ParetoFront"]["type"] == "object"
    conflict = schema["paths"]["/api/searches/{id}/cancel/"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert "Error" in comp
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for code in ("400", "401", "403", "404"):
                assert code in op["responses"], (method, path, code)
            if method == "post":
                assert "413" in op["responses"], path
    params = {p["name"] for p in schema["paths"]["/api/estimates/"]["get"]["parameters"]}
    assert {"page_size", "ordering", "search", "backend"} <= params


@pytest.mark.smoke
def test_page_size_ordering_search_and_short_backend_names(lima, auth_client, settings):
    from benchmarks_app.services import circuit_create
    from search_app.models import SearchRun

    for n in range(2, 6):
        circuit_create(qasm=f'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[{n}];\nh q[0];\n', name=f"c{n}")
    r = auth_client.get("/api/circuits/?page_size=2&ordering=-num_qubits").json()
    assert [c["num_qubits"] for c in r["results"]] == [5, 4] and r["count"] == 4
    settings.HANAS_MAX_PAGE_SIZE = 3
    assert len(auth_client.get("/api/circuits/?page_size=1000").json()["results"]) == 3
    assert [c["name"] for c in auth_client.get("/api/circuits/?search=c3").json()["results"]] == ["c3"]
    # estimates and searches filter by short backend names as paths accept them
    r = auth_client.post("/api/estimates/", {"backend": "lima", "qasm": GHZ2}, format="json")
    assert r.status_code == 201
    for name in ("lima", "ibmq_lima", "fake_lima"):
        assert auth_client.get(f"/api/estimates/?backend={name}").json()["count"] == 1, name
    assert auth_client.get("/api/estimates/?backend=kingston").json()["count"] == 0
    user = __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.get()
    SearchRun.objects.create(owner=user, visibility="public", config={}, dataset="iris", backend_name="ibm_kingston",
                             status="succeeded")
    assert auth_client.get("/api/searches/?backend=kingston").json()["count"] == 1
    assert auth_client.get("/api/searches/?search=iris&ordering=-created_at").json()["count"] == 1


@pytest.mark.smoke
def test_cancelling_a_finished_run_is_409(auth_client, user):
    from search_app.models import SearchRun

    done = SearchRun.objects.create(owner=user, config={}, dataset="iris", backend_name="ibm_kingston",
                                    status="succeeded")
    r = auth_client.post(f"/api/searches/{done.pk}/cancel/")
    assert r.status_code == 409 and "already finished" in r.json()["detail"]
    done.refresh_from_db()
    assert done.status == "succeeded"
