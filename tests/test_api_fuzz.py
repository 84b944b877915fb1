"""Schema fuzzing (issue 17): schemathesis drives every operation of /api/schema/ against a live gunicorn
process on loopback (its own embedded database in a temp dir, seeded with real bundled calibrations, a circuit,
an estimate and search runs). Checks: no server error, every response matches its documented schema, every
answered status is documented. Bounded: a few examples per operation, under 2 minutes on 2 cores."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

SEED = r"""
import datetime as dt
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token
from benchmarks_app import services
from cost_engine.calibration import load_fake_calibration
from search_app.models import SearchRun

user = get_user_model().objects.create_user("fuzz", password="fuzz-pw-123")
print("TOKEN", Token.objects.create(user=user).key)
for name in ("lima", "sherbrooke"):
    snap, _ = services.ingest_calibration(load_fake_calibration(name))
circuit, _ = services.circuit_create(qasm='OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\n'
                                     'h q[0];\ncx q[0],q[1];\nmeasure q -> c;\n', name="bell", owner=user)
services.estimate_get_or_create(circuit, snap, services.cost_options({}))
for status in ("succeeded", "running"):
    SearchRun.objects.create(owner=user, visibility="public", config={"population": 4}, dataset="iris",
                             backend_name="ibm_sherbrooke", generations_total=2, name=status, status=status,
                             finished_at=timezone.now() if status == "succeeded" else None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server_url(tmp_path_factory):
    """A gunicorn process serving the platform on loopback; yields (base URL, API token)."""
    var = tmp_path_factory.mktemp("fuzz-var")
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DEBUG"}}
    # Long work (estimates over the sync limit, searches) is queued to an in-memory broker nobody consumes:
    # the fuzzer tests the API contract, not the workers, and no search runs inside a request.
    env.update(HANAS_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="hanas_platform.settings",
               CELERY_BROKER_URL="memory://", CELERY_RESULT_BACKEND="cache+memory://", PYTHONUNBUFFERED="1")
    manage = [sys.executable, "manage.py"]
    subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(manage + ["shell", "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    token = next(line.split()[1] for line in out.splitlines() if line.startswith("TOKEN "))
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "fuzz-gunicorn.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "hanas_platform.wsgi", "--bind", f"127.0.0.1:{port}",
                             "--workers", "1", "--timeout", "120"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/api/schema/", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("gunicorn did not come up; see test-artifacts/fuzz-gunicorn.log")
            time.sleep(0.3)
    yield url, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


def run_schemathesis(url: str, token: str, *extra: str, max_time: int = 60) -> subprocess.CompletedProcess:
    ARTIFACTS.mkdir(exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("st")), "run", f"{url}/api/schema/", "--url", url,
           "-H", f"Authorization: Token {token}", "--checks", CHECKS, "--max-examples", "8", "--seed", "17",
           "--phases", "examples,coverage,fuzzing", "--max-time", str(max_time), "--request-timeout", "60",
           "--no-shrink", "--suppress-health-check", "all", "--workers", "1",
           "--report", "junit", "--report-junit-path", str(ARTIFACTS / "schemathesis.xml"), *extra]
    return subprocess.run(cmd, cwd=ARTIFACTS, capture_output=True, text=True, timeout=max_time + 120)


def test_every_operation_against_the_live_server(live_server_url):
    url, token = live_server_url
    started = time.monotonic()
    out = run_schemathesis(url, token)
    (ARTIFACTS / "schemathesis.txt").write_text(out.stdout + out.stderr)
    assert out.returncode == 0, out.stdout[-8000:] + out.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", out.stdout)
    tested = re.search(r"Tested: (\d+)", out.stdout)
    assert selected and tested and int(tested.group(1)) == int(selected.group(2)) >= 28, out.stdout[-3000:]
    assert time.monotonic() - started < 240


def _post_large(url, token, body: bytes, content_type: str):
    """POST a large body the server may refuse (and close) before it is all sent: the answer is read anyway."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.putrequest("POST", parts.path)
    for name, value in (("Authorization", f"Token {token}"), ("Content-Type", content_type),
                        ("Content-Length", str(len(body)))):
        conn.putheader(name, value)
    conn.endheaders()
    try:
        for i in range(0, len(body), 1 << 20):
            conn.send(body[i:i + (1 << 20)])
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = conn.getresponse()
    out = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    conn.close()
    return out


def _request(url, token, method="GET", body: bytes | None = None, content_type="application/json", headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": f"Token {token}", "Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


ATTACKS = {  # the attack strings, over HTTP to the served process
    "include /etc/passwd": ('OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n', 400),
    "include settings.py": ('OPENQASM 2.0;\ninclude "hanas_platform/settings.py";\nqreg q[1];\n', 400),
    "qreg q[10000000]": ("qreg q[10000000];", 400),
    "5000 parentheses": ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nrx(' + "(" * 5000 + "1" + ")" * 5000
                         + ") q[0];\n", 400),
    "rx(1e308*10)": ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrx(1e308*10) q[0];\n', 400),
    "over HANAS_MAX_CIRCUIT_BYTES": ('OPENQASM 2.0;\nqreg q[1];\n' + "// pad\n" * 100_000, 413),
}


def test_attacks_on_the_live_server_are_refused_quickly_and_store_nothing(live_server_url):
    import json

    url, token = live_server_url
    count = json.loads(_request(f"{url}/api/circuits/", token)[2])["count"]
    for name, (qasm, expected) in ATTACKS.items():
        for endpoint, body in (("circuits", {"qasm": qasm}), ("estimates", {"qasm": qasm, "backend": "lima"})):
            started = time.perf_counter()
            status, ctype, raw = _request(f"{url}/api/{endpoint}/", token, "POST", json.dumps(body).encode())
            elapsed = time.perf_counter() - started
            assert status == expected and ctype.startswith("application/json"), (name, endpoint, status, raw[:300])
            assert "qasm" in json.loads(raw) and elapsed < 5, (name, elapsed)
            assert b"root:" not in raw and b"SECRET_KEY" not in raw
    assert json.loads(_request(f"{url}/api/circuits/", token)[2])["count"] == count
    # a JSON body over DATA_UPLOAD_MAX_MEMORY_SIZE (32 MB): a JSON 413 naming the limit, not an HTML 400
    big = b'{"backend": "lima", "qasm": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    status, ctype, raw = _post_large(f"{url}/api/estimates/", token, big, "application/json")
    assert status == 413 and ctype.startswith("application/json") and b"DATA_UPLOAD_MAX_MEMORY_SIZE" in raw
    # a multipart upload over HANAS_MAX_UPLOAD_BYTES (16 MB) is refused before it is read
    boundary = "hanasboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.json\"\r\n"
            f"Content-Type: application/json\r\n\r\n").encode() + b" " * (17 * 1024 * 1024) + \
        f"\r\n--{boundary}--\r\n".encode()
    status, ctype, raw = _post_large(f"{url}/api/calibrations/upload/", token, body,
                                     f"multipart/form-data; boundary={boundary}")
    assert status == 413 and b"HANAS_MAX_UPLOAD_BYTES" in raw
