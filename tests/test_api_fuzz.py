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
