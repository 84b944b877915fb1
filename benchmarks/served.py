"""A real served deployment for load and fault tests: the processes `make run` starts, over HTTP on loopback.

:class:`Deployment` prepares a database (migrate, bundled calibrations, an API token) and starts
``scripts/serve.sh`` -- gunicorn, plus on the embedded default the local Celery worker on the file queue -- exactly
as ``make run`` does after its main job. With a broker URL (Redis) it also starts one ``celery worker --beat``,
as docker/docker-compose.yml runs them. :func:`run_load` drives it with concurrent clients.
Used by benchmarks/bench_load.py (writes benchmarks/results/load.md) and tests/test_serving.py.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
_SCRUB = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SECRET_KEY", "DEBUG", "HANAS_VAR_DIR",
          "CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, token: str | None = None, body=None, timeout: float = 120.0):
    """One request; returns (status, parsed JSON or text, seconds). Connection errors give status 0."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Token {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw, code = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, code = exc.read(), exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    try:
        return code, json.loads(raw), elapsed
    except ValueError:
        return code, raw.decode(errors="replace"), elapsed


class Deployment:
    """One served platform in ``workdir``. ``database_url``/``broker_url`` None: the embedded default."""

    def __init__(self, workdir: Path, *, database_url: str | None = None, broker_url: str | None = None,
                 env: dict | None = None, backends=("ibm_sherbrooke", "ibm_kingston")):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.backends = list(backends)
        self.env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        self.env.update(HANAS_VAR_DIR=str(self.workdir / "var"), HANAS_BIND=f"127.0.0.1:{self.port}",
                        PYTHONUNBUFFERED="1", ALLOWED_HOSTS="127.0.0.1,localhost")
        if database_url:
            self.env.update(DATABASE_URL=database_url, SECRET_KEY="throwaway-served-test-key-" + "x" * 20)
        if broker_url:
            self.env.update(CELERY_BROKER_URL=broker_url, CELERY_RESULT_BACKEND=broker_url)
        self.env.update(env or {})
        self.broker_url = broker_url
        self.token = ""
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self._logs: list = []

    # --- set-up ---------------------------------------------------------------------------------
    def manage(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
        return out.stdout

    def prepare(self) -> "Deployment":
        self.manage("migrate", "--noinput", "-v0")
        ingest = ["ingest_calibrations", "--source", "fake"]
        for name in self.backends:
            ingest += ["--backend", name]
        self.manage(*ingest)
        self.token = self.manage("create_api_token", "loadtest", "--create-user").strip().splitlines()[-1]
        return self

    # --- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "ab")
        self._logs.append(log)
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_worker(self) -> None:
        """A Celery worker with the beat scheduler (team deployments; the embedded default's comes from serve.sh)."""
        self.worker = self._spawn("worker", [
            PY, "-m", "celery", "-A", "hanas_platform", "worker", "--beat", "--loglevel=INFO", "--concurrency=2",
            "--pool=prefork", f"--hostname=load{self.port}@%h", "--without-gossip", "--without-mingle",
            f"--schedule={self.workdir / 'celerybeat-schedule'}"])

    def start(self, timeout: float = 120.0, need_workers: bool = True) -> "Deployment":
        if self.broker_url and self.worker is None:
            self.start_worker()
        self.server = self._spawn("serve", ["bash", str(ROOT / "scripts" / "serve.sh")])
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"scripts/serve.sh exited {self.server.returncode}: {self.log('serve')[-3000:]}")
            last = http("GET", self.base + "/api/health/", timeout=10)
            if last[0] == 200 and (not need_workers or last[1].get("workers", {}).get("ok")):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"served platform not healthy within {timeout}s: {last}; {self.log('serve')[-3000:]}")

    def alive(self) -> bool:
        return self.server is not None and self.server.poll() is None

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @staticmethod
    def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass

    def stop_worker(self) -> None:
        self._stop(self.worker)
        self.worker = None

    def stop(self) -> None:
        self._stop(self.server)
        self.stop_worker()
        for log in self._logs:
            log.close()
        self._logs = []

    # --- API helpers ------------------------------------------------------------------------------
    def get(self, path: str, **kw):
        return http("GET", self.base + path, self.token, **kw)

    def post(self, path: str, body, **kw):
        return http("POST", self.base + path, self.token, body, **kw)

    def wait_job(self, job_id: str, timeout: float = 180.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            code, body, _ = self.get(f"/api/jobs/{job_id}/")
            if code == 200 and body.get("status") in ("succeeded", "failed"):
                return body
            if time.monotonic() > deadline:
                return body if isinstance(body, dict) else {"status": f"HTTP {code}", "body": body}
            time.sleep(0.5)


# --- circuits for the load ---------------------------------------------------------------------------
def qasm2_circuit(n: int, depth: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', f"qreg q[{n}];", f"creg c[{n}];"]
    for _ in range(depth):
        for q in range(n):
            lines.append(f"rz({rng.uniform(0, 3.14):.4f}) q[{q}];")
            lines.append(f"sx q[{q}];")
        for q in range(0, n - 1, 2):
            lines.append(f"cx q[{q}],q[{q + 1}];")
    lines.append("measure q -> c;")
    return "\n".join(lines)


def qasm3_circuit(n: int, depth: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{n}] q;", f"bit[{n}] c;"]
    for _ in range(depth):
        for q in range(n):
            lines.append(f"ry({rng.uniform(0, 3.14):.4f}) q[{q}];")
        for q in range(n - 1):
            lines.append(f"cx q[{q}], q[{q + 1}];")
    lines.append("c = measure q;")
    return "\n".join(lines)


def estimate_body(seed: int, backend: str, distinct: int = 12) -> dict:
    """One of ``distinct`` small circuits (answered in the request): the first POST of each computes, the
    others find the stored estimate, as a team re-asking about its circuits would."""
    k = seed % distinct
    n = 2 + k % 4
    qasm = qasm2_circuit(n, 2 + k % 3, k) if k % 2 == 0 else qasm3_circuit(n, 2 + k % 3, k)
    return {"qasm": qasm, "backend": backend, "name": f"load-{k}"}


# --- the load --------------------------------------------------------------------------------------
READS = [
    ("list backends", "/api/backends/"),
    ("list estimates", "/api/estimates/"),
    ("backend leaderboard", "/api/leaderboards/backends/?circuit={circuit}"),
    ("list circuits", "/api/circuits/"),
]


def run_load(dep: Deployment, *, clients: int = 20, seconds: float = 30.0, post_share: float = 0.25,
             seed: int = 0) -> dict:
    """``clients`` threads for ``seconds``: each request is an estimate POST with probability ``post_share``,
    otherwise one of :data:`READS`. Returns per-kind latencies and every error (status 0 or >= 500, or an
    unexpected 4xx)."""
    code, body, _ = dep.post("/api/estimates/", estimate_body(0, dep.backends[0]))
    if code not in (200, 201):
        raise RuntimeError(f"warm-up estimate POST answered {code}: {body}")
    circuit = body["circuit"] if isinstance(body.get("circuit"), int) else body["circuit"]["id"]
    results: dict[str, list[float]] = {}
    errors: list[tuple] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(i: int):
        rng = random.Random(seed * 1000 + i)
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            if rng.random() < post_share:
                kind = "estimate POST"
                status, body, took = dep.post("/api/estimates/",
                                              estimate_body(rng.randrange(10_000), rng.choice(dep.backends)))
                ok = status in (200, 201)
            else:
                kind, path = rng.choice(READS)
                status, body, took = dep.get(path.format(circuit=circuit))
                ok = status == 200
            with lock:
                results.setdefault(kind, []).append(took)
                if not ok:
                    errors.append((kind, status, str(body)[:300]))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 300)
    wall = time.monotonic() - started
    return {"clients": clients, "seconds": wall, "results": results, "errors": errors,
            "requests": sum(len(v) for v in results.values())}


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    idx = min(len(values) - 1, max(0, int(round(q / 100 * (len(values) - 1)))))
    return values[idx]


def table(load: dict) -> list[str]:
    rows = ["| request | count | errors | p50 ms | p95 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    err_by_kind: dict[str, int] = {}
    for kind, *_ in load["errors"]:
        err_by_kind[kind] = err_by_kind.get(kind, 0) + 1
    everything = []
    for kind in sorted(load["results"]):
        v = load["results"][kind]
        everything += v
        rows.append(f"| {kind} | {len(v)} | {err_by_kind.get(kind, 0)} | {percentile(v, 50) * 1e3:.0f} | "
                    f"{percentile(v, 95) * 1e3:.0f} | {percentile(v, 99) * 1e3:.0f} | {max(v) * 1e3:.0f} |")
    rows.append(f"| **all** | {len(everything)} | {len(load['errors'])} | {percentile(everything, 50) * 1e3:.0f} | "
                f"{percentile(everything, 95) * 1e3:.0f} | {percentile(everything, 99) * 1e3:.0f} | "
                f"{max(everything) * 1e3:.0f} |")
    rows.append("")
    rows.append(f"{load['requests']} requests from {load['clients']} clients in {load['seconds']:.1f} s: "
                f"{load['requests'] / load['seconds']:.1f} req/s, {len(load['errors'])} errors.")
    return rows
