"""Fault tests against a served deployment (issue 17, item 5): a Redis outage during POSTs leaves no job or
search run queued forever. Its own Redis (so stopping it disturbs no other test), its own PostgreSQL database,
gunicorn through scripts/serve.sh, and a real `celery worker --beat` running the stale-work sweep."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from benchmarks.served import Deployment, free_port, qasm2_circuit
from tests.test_serving import _drop, _pg_database

pytestmark = [pytest.mark.postgres, pytest.mark.worker]

SEARCH = {"dataset": "iris", "backend": "ibm_sherbrooke", "space": {"min_qubits": 2, "max_qubits": 2, "max_layers": 1},
          "population": 4, "generations": 1, "epochs": 1, "seed": 2, "max_train_samples": 30}


class Redis:
    """A throwaway redis-server without persistence: a restart loses every queued message."""

    def __init__(self, workdir):
        self.port = free_port()
        self.workdir = workdir
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def _job_row(dsn, db, job_id):
    import psycopg

    with psycopg.connect(**{**dsn, "dbname": db}) as conn:
        return conn.execute("SELECT status, error, dispatch_count FROM benchmarks_app_job WHERE id = %s",
                            (job_id,)).fetchone()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_redis_outage_during_posts_leaves_no_orphan(tmp_path, transactional_db):
    redis = Redis(tmp_path).start()
    url, dsn, name = _pg_database()
    dep = Deployment(tmp_path / "dep", database_url=url, broker_url=redis.url, env={
        "HANAS_SYNC_ESTIMATE_MAX_WORK": "400", "HANAS_STALE_QUEUED_SECONDS": "5", "HANAS_SWEEP_INTERVAL_SECONDS": "5"})
    big = {"qasm": qasm2_circuit(4, 12, 11), "backend": "ibm_sherbrooke", "name": "big"}
    try:
        dep.prepare().start()

        # 1. Redis down: the POSTs answer 503 quickly naming the cause; the job and the run are failed, not queued.
        redis.stop()
        started = time.monotonic()
        code, body, took = dep.post("/api/estimates/", big)
        assert code == 503, body
        assert took < 10, took  # was ~20 s of connection retries before the 500
        assert "broker is unreachable" in body["detail"]
        job_id = re.search(r"job ([0-9a-f-]{36})", body["detail"]).group(1)
        code, job, _ = dep.get(f"/api/jobs/{job_id}/")
        assert job["status"] == "failed" and "broker is unreachable" in job["error"], job
        code, body, _ = dep.post("/api/searches/", {"config": SEARCH, "name": "during outage"})
        assert code == 503 and "broker is unreachable" in body["detail"], body
        code, runs, _ = dep.get("/api/searches/?status=queued")
        assert code == 200 and [r for r in runs["results"] if r["name"] == "during outage"] == []
        code, runs, _ = dep.get("/api/searches/")
        outage_run = next(r for r in runs["results"] if r["name"] == "during outage")
        assert outage_run["status"] == "failed", outage_run
        assert time.monotonic() - started < 60
        assert dep.alive()

        # 2. Redis restarted after a POST was queued (no persistence: the message is lost), worker down meanwhile:
        #    the sweep re-queues the job once the worker (and its beat) run again, and it completes.
        redis.start()
        dep.stop_worker()
        code, body, _ = dep.post("/api/estimates/", big | {"name": "big-2", "shots": 2000})
        assert code == 202, body
        lost_job = body["job"]
        redis.stop()
        redis.start()
        dep.start_worker()
        job = dep.wait_job(lost_job, timeout=180)
        assert job["status"] == "succeeded", job
        status, error, dispatched = _job_row(dsn, name, lost_job)
        assert dispatched >= 2, (status, error, dispatched)  # queued again by the sweep, not by luck
        assert dep.alive()
    finally:
        dep.stop()
        redis.stop()
        _drop(dsn, name)


class Postgres:
    """A throwaway PostgreSQL cluster of its own (restarting the test run's cluster would cut the test's own
    connection), started like scripts/services.sh starts one."""

    def __init__(self):
        import glob
        import tempfile
        from pathlib import Path

        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        self.bin = bins[-1]
        self.root = Path(tempfile.mkdtemp(prefix="hanas-pg-"))  # pytest's tmp_path is closed to other users
        os.chmod(self.root, 0o755)
        self.dir = self.root / "pg"
        self.port = free_port()

    def _as_postgres(self, *argv, check=True):
        return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=check)

    def init(self):
        self.dir.mkdir(parents=True)
        shutil.chown(self.dir, "postgres")
        self._as_postgres(f"{self.bin}/initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._as_postgres(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "hanas")
        return self

    @property
    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/hanas"

    def start(self):
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.dir), "-w", "-l", str(self.dir / "pg.log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode="fast"):
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop", check=False)

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.mark.skipif(not os.path.isdir("/usr/lib/postgresql") or shutil.which("runuser") is None,
                    reason="needs PostgreSQL server binaries")
def test_postgresql_restart_the_service_recovers(tmp_path):
    """PostgreSQL restarted under a running web process and worker: without restarting either, reads, a small
    estimate (in the request) and a large one (on the worker) succeed again once the database is back."""
    pg = Postgres().init()
    dep = Deployment(tmp_path / "dep", database_url=pg.url, broker_url=os.environ["CELERY_BROKER_URL"],
                     env={"HANAS_SYNC_ESTIMATE_MAX_WORK": "400"})
    try:
        dep.prepare().start()
        assert dep.get("/api/backends/")[0] == 200
        pg.stop()
        down = dep.get("/api/backends/")[0]
        assert down in (500, 503), down  # an error answer, not a hung or dead server
        assert dep.alive()
        pg.start()
        deadline = time.monotonic() + 60
        codes = []
        while time.monotonic() < deadline:
            codes.append(dep.get("/api/backends/")[0])
            if codes[-1] == 200:
                break
            time.sleep(0.5)
        assert codes[-1] == 200, codes
        code, body, _ = dep.post("/api/estimates/", {"qasm": qasm2_circuit(3, 2, 5), "backend": "ibm_kingston"})
        assert code in (200, 201), body
        code, body, _ = dep.post("/api/estimates/", {"qasm": qasm2_circuit(4, 12, 13), "backend": "ibm_kingston",
                                                     "name": "big-after-restart"})
        assert code == 202, body
        assert dep.wait_job(body["job"], timeout=180)["status"] == "succeeded"
        assert dep.alive()
    finally:
        dep.stop()
        pg.remove()
