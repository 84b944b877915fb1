"""Loopback load test of the served platform: 20 clients for 30 s, mixed reads and estimate POSTs, against
the processes `make run` serves (scripts/serve.sh: gunicorn; on the embedded default one local Celery worker
on a file queue), on the embedded default (SQLite) and -- when DATABASE_URL/CELERY_BROKER_URL point at
PostgreSQL/Redis, as benchmarks/run_db_benches.sh and scripts/services.sh set them -- on PostgreSQL + Redis with
a real worker. Clients and server share the machine's cores. Writes benchmarks/results/load.md.

    .venv/bin/python benchmarks/bench_load.py              # embedded only
    bash -c 'source scripts/services.sh; start_services; trap stop_services EXIT; .venv/bin/python benchmarks/bench_load.py'
Settings: BENCH_LOAD_CLIENTS (20), BENCH_LOAD_SECONDS (30).
"""
from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.served import Deployment, run_load, table  # noqa: E402

CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "20"))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "30"))


def _pg_database(url: str):
    import psycopg
    from urllib.parse import urlparse

    p = urlparse(url)
    dsn = dict(host=p.hostname, port=p.port, user=p.username, password=p.password, dbname="postgres")
    name = f"hanas_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return p._replace(path="/" + name).geturl(), dsn, name


def bench(label: str, dep: Deployment) -> list[str]:
    print(f"== {label}: preparing", flush=True)
    try:
        dep.prepare().start()
        print(f"== {label}: {CLIENTS} clients for {SECONDS:.0f} s", flush=True)
        load = run_load(dep, clients=CLIENTS, seconds=SECONDS)
        alive = dep.alive()
    finally:
        dep.stop()
    rows = [f"## {label}", ""] + table(load)
    rows.append(f"Server process alive afterwards: {'yes' if alive else 'NO'}.")
    if load["errors"]:
        rows.append("")
        rows.append("First errors: " + "; ".join(f"{k} -> {s}: {b[:120]}" for k, s, b in load["errors"][:5]))
    rows.append("")
    print("\n".join(rows), flush=True)
    return rows


def main() -> None:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    try:
        load_avg = os.getloadavg()[0]
    except OSError:
        load_avg = float("nan")
    out = ["# Loopback load test of the served platform", "",
           f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({cpu}), load average "
           f"{load_avg:.1f} at the start (other work shared the machine); {CLIENTS} client threads for "
           f"{SECONDS:.0f} s, each request an estimate POST (25%: one of 12 small OpenQASM 2/3 circuits on "
           "ibm_sherbrooke or ibm_kingston, answered in the request; the first POST of a circuit compiles and "
           "scores it, later ones find the stored estimate) or a read (backend list, estimate list, circuit "
           "list, backend leaderboard). Served by scripts/serve.sh as `make run` serves: gunicorn, 2 workers x 4 "
           "threads. An error is a connection failure, a 5xx or any unexpected 4xx. "
           "Produced by `benchmarks/bench_load.py`.", ""]
    with tempfile.TemporaryDirectory(prefix="hanas-load-") as tmp:
        out += bench("Embedded default: SQLite (WAL, BEGIN IMMEDIATE) + local worker on the file queue",
                     Deployment(Path(tmp) / "embedded"))
        db_url, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
        if db_url.startswith("postgres") and broker.startswith("redis"):
            import psycopg

            url, dsn, name = _pg_database(db_url)
            try:
                out += bench("PostgreSQL + Redis + one Celery worker (concurrency 2)",
                             Deployment(Path(tmp) / "pg", database_url=url, broker_url=broker))
            finally:
                with psycopg.connect(**dsn, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            out += ["## PostgreSQL", "", "not run: DATABASE_URL/CELERY_BROKER_URL do not point at PostgreSQL/Redis", ""]
    path = ROOT / "benchmarks" / "results" / "load.md"
    path.write_text("\n".join(out))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
