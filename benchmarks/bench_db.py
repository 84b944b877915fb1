"""Database-backed latency and throughput on PostgreSQL (run through benchmarks/run_db_benches.sh, which starts a
throwaway PostgreSQL + Redis). Writes benchmarks/results/calibration_store.md and benchmarks/results/estimates.md.

Calibration store: time to ingest every bundled snapshot; trend and qubit-history latency with 10,000 snapshots
of one backend. Estimates: backend/circuit leaderboard and cost-trend latency with 100,000 stored estimates;
sustained estimate requests per second answered by 1 and 2 real Celery workers.
The 10,000 and 100,000 rows are derived from real bundled snapshots and real cost reports (dated copies with
a small deterministic drift), bulk-inserted: they exercise the queries, they are not new measurements."""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from benchmarks_app import services  # noqa: E402
from benchmarks_app.models import (SUMMARY_FLOAT_FIELDS, SUMMARY_INT_FIELDS, Backend, CalibrationSnapshot,  # noqa: E402
                                   CostEstimate)
from cost_engine.calibration import load_fake_calibration  # noqa: E402
from cost_engine.quantum import MODEL_VERSION, CompileCache, estimate_quantum_cost  # noqa: E402

N_REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))


def header(title):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
    return [f"# {title}", "", f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores "
            f"({cpu}); PostgreSQL {pg} (throwaway cluster, fsync off); requests through Django REST framework "
            f"(APIClient, no HTTP) in a fresh process started as the web server starts (hanas_platform.wsgi), "
            f"{N_REQUESTS} per row.", ""]


def latency(client, url):
    client.get(url)  # warm
    times = []
    for _ in range(N_REQUESTS):
        t = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, (url, r.status_code, r.content[:300])
    ms = np.array(times) * 1e3
    body = r.json()
    points = len(body.get("rows", body.get("points", body.get("results", []))))
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(np.percentile(ms, 99)), points


def latencies(urls):
    """Latency of each URL, measured in a fresh process started as the web server starts (hanas_platform.wsgi),
    holding what a web worker holds, not what this benchmark built up (thousands of rows, reports and compiled
    circuits): Python's full garbage collections over such a heap would be charged to the requests otherwise."""
    out = subprocess.run([sys.executable, __file__, "--latency", json.dumps(urls)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def snapshot_rows(backend, cal, count, start, step_hours, tag):
    """``count`` dated copies of a real snapshot with a deterministic drift of the summary columns."""
    summary = cal.summary()
    data = cal.to_dict()
    edges = services._edges(cal)
    rows = []
    for i in range(count):
        drift = 1.0 + 0.05 * np.sin(i / 40.0) + 0.01 * ((i * 7919) % 13 - 6) / 6
        rows.append(CalibrationSnapshot(
            backend=backend, calibrated_at=start + dt.timedelta(hours=step_hours * (i + 1)), source=f"bench:{tag}",
            content_hash=hashlib.sha256(f"{tag}:{i}".encode()).hexdigest(), data=data, edges=edges,
            dt_s=cal.dt_s, rep_delay_s=cal.rep_delay_s,
            **{f: (summary[f] * drift if summary[f] is not None else None) for f in SUMMARY_FLOAT_FIELDS},
            **{f: summary[f] for f in SUMMARY_INT_FIELDS}))
    return rows


def bench_calibration_store():
    lines = header("Calibration store on PostgreSQL")
    t = time.perf_counter()
    first = services.ingest_fake()
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    second = services.ingest_fake()
    t_second = time.perf_counter() - t
    lines += [f"- Ingest every bundled snapshot ({len(first)} backends): {t_first:.2f} s the first time "
              f"({sum(c for _, c in first)} created), {t_second:.2f} s again ({sum(c for _, c in second)} created).", ""]
    cal = load_fake_calibration("sherbrooke")
    backend = Backend.objects.get(name="ibm_sherbrooke")
    t = time.perf_counter()
    CalibrationSnapshot.objects.bulk_create(snapshot_rows(backend, cal, 9999, cal.calibrated_at, 6, "trend"),
                                            batch_size=500)
    t_bulk = time.perf_counter() - t
    n = backend.snapshots.count()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    last = backend.snapshots.order_by("-calibrated_at").first().calibrated_at
    month = (last - dt.timedelta(days=30)).isoformat()
    cases = (
        ("trend, last 30 days (120 points)",
         f"/api/backends/ibm_sherbrooke/trends/?metric=t1_median&since={month}", 50),
        ("trend, full history (10,000 points)", "/api/backends/ibm_sherbrooke/trends/?metric=t1_median", None),
        ("qubit 5 T1 history, last 30 days", f"/api/backends/ibm_sherbrooke/qubits/5/history/?field=t1&since={month}",
         None),
        ("snapshot list, first page", "/api/backends/ibm_sherbrooke/snapshots/", None))
    rows = []
    measured = latencies([url.replace("+", "%2B") for _, url, _ in cases])
    for (label, _, target), (p50, p95, p99, points) in zip(cases, measured):
        verdict = "" if target is None else (" PASS" if p95 < target else " MISS")
        rows.append(f"| {label} | {points} | {p50:.1f} | {p95:.1f}{verdict} | {p99:.1f} |")
    lines += [f"- {n} snapshots of ibm_sherbrooke (9,999 bulk-inserted dated copies of the real one, every 6 h: "
              f"{t_bulk:.1f} s).", "",
              "| request | points returned | p50 [ms] | p95 [ms] (target < 50 for the 30-day trend) | p99 [ms] |",
              "|---|---|---|---|---|", *rows]
    return lines


def bench_estimates():
    lines = header("Cost estimates on PostgreSQL")
    options = services.cost_options({})
    opts_hash = options.options_hash()
    # not sherbrooke: it holds the 10,000-snapshot trend history of the calibration-store benchmark
    names = ["torino", "fez", "marrakesh", "kyiv", "brisbane", "osaka", "quebec", "kawasaki",
             "strasbourg", "brussels", "cusco", "nazca", "kolkata", "mumbai", "hanoi", "cairo", "geneva",
             "montreal", "toronto", "auckland", "prague", "peekskill", "washington", "nighthawk"]
    backends = []
    for name in names:
        b = Backend.objects.filter(name__in=[f"ibm_{name}", f"ibmq_{name}", f"alt_{name}", f"fake_{name}"]).first()
        if b and len(backends) < 20:
            backends.append(b)
    circuits = []
    for i in range(100):
        n = 3 + i % 4
        body = "".join(f"cx q[{k}],q[{k + 1}];\n" for k in range(n - 1))
        qasm = (f"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n{body}"
                f"rz({0.001 * (i + 1):.4f}) q[0];\nmeasure q -> c;\n")
        circuits.append(services.circuit_create(qasm=qasm, name=f"bench_{i}")[0])
    cache = CompileCache()
    rows, t0 = [], time.perf_counter()
    per_backend_snaps = {}
    for b in backends:
        real = b.snapshots.order_by("-calibrated_at").first()
        cal = real.calibration()
        extra = snapshot_rows(b, cal, 49, real.calibrated_at - dt.timedelta(days=50), 24, f"est:{b.name}")
        CalibrationSnapshot.objects.bulk_create(extra, batch_size=100)
        per_backend_snaps[b.pk] = list(b.snapshots.order_by("calibrated_at").values_list("pk", "calibrated_at"))
        for c in circuits:
            report = estimate_quantum_cost(c.qasm, cal, options, cache=cache).to_dict()
            for k, (sid, when) in enumerate(per_backend_snaps[b.pk]):
                drift = 1.0 + 0.03 * np.sin(k / 5.0)
                r = dict(report, wallclock_s=report["wallclock_s"] * drift,
                         t_eff_s=report["t_eff_s"] and report["t_eff_s"] * drift)
                rows.append(CostEstimate(circuit=c, snapshot_id=sid, backend=b, snapshot_calibrated_at=when,
                                         options=options.to_dict(), options_hash=opts_hash, model_version=MODEL_VERSION,
                                         report=r, **{k2: r.get(k2) for k2 in services.REPORT_COLUMNS}))
        if len(rows) >= 5000:
            CostEstimate.objects.bulk_create(rows, batch_size=1000)
            rows = []
    CostEstimate.objects.bulk_create(rows, batch_size=1000)
    t_fill = time.perf_counter() - t0
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    total = CostEstimate.objects.count()
    c = circuits[17]
    b = backends[0]
    cases = (("backend leaderboard (circuit, wallclock_s)",
              f"/api/leaderboards/backends/?circuit={c.pk}&metric=wallclock_s"),
             ("circuit leaderboard (backend)", f"/api/leaderboards/circuits/?backend={b.name}"),
             ("cost trend (circuit x backend, 50 points)",
              f"/api/circuits/{c.pk}/cost-trend/?backend={b.name}&metric=wallclock_s"),
             ("estimate list filtered (circuit, backend)", f"/api/estimates/?circuit={c.pk}&backend={b.name}"))
    table = []
    for (label, _), (p50, p95, p99, n) in zip(cases, latencies([u for _, u in cases])):
        table.append(f"| {label} | {n} | {p50:.1f} | {p95:.1f} {'PASS' if p95 < 100 else 'MISS'} | {p99:.1f} |")
    lines += [f"- {total} stored estimates: 100 circuits x {len(backends)} backends x 50 snapshots (49 dated copies "
              f"of each real snapshot + the real one), each row a real cost report of that circuit on that "
              f"backend with a small deterministic drift; built in {t_fill:.0f} s.", "",
              "| request | rows/points | p50 [ms] | p95 [ms] (target < 100) | p99 [ms] |", "|---|---|---|---|---|",
              *table, ""]
    lines += throughput(backends)
    return lines


@contextlib.contextmanager
def workers(n: int, tag: str):
    """``n`` real Celery worker processes (prefork, concurrency 1 each) on this machine, answering ping before
    the block runs; stopped after it (SIGTERM to each process group, SIGKILL after 30 s)."""
    from hanas_platform.celery import app

    procs = []
    for w in range(n):
        with open(ROOT / "benchmarks" / "results" / f".worker{w}.log", "ab") as log:  # the child keeps its copy
            procs.append(subprocess.Popen([sys.executable, "-m", "celery", "-A", "hanas_platform", "worker",
                                           "--concurrency=1", "--pool=prefork", "-n", f"bench-{tag}{w}-{n}@%h",
                                           "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
                                          cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5) or []) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{n} workers did not answer ping within 60 s (benchmarks/results/.worker*.log)")
        yield
    finally:
        for p in procs:
            os.killpg(p.pid, 15)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a warm shutdown that hangs must not outlive the benchmark
                os.killpg(p.pid, 9)
                p.wait()


def search_scaling(config=None):
    """The default small search dispatched to 1, then 2 real worker processes: wall time from dispatch to the
    run's end, and the pace in evaluations per second (a generation's candidates are one Celery group)."""
    from django.contrib.auth import get_user_model

    from search_app import services as search_services
    from search_app.management.commands.run_search import DEFAULT_CONFIG
    from search_app.models import SearchRun

    config = config or DEFAULT_CONFIG
    user, _ = get_user_model().objects.get_or_create(username="bench")
    lines = header("Hyb-HANAS search on real workers") + [
        f"Config {config}; each run dispatched to real Celery worker processes (prefork, concurrency 1 each, "
        "same machine) and timed from dispatch until the run is finished; every run trains the same "
        "genomes (same seed), so the rows differ only in the number of workers.", "",
        "| workers | wall [s] | candidates | evaluations/s | train+cost time per candidate [s] | speed-up |",
        "|---|---|---|---|---|---|"]
    base = None
    for n_workers in (1, 2):
        with workers(n_workers, "search"):
            t0 = time.perf_counter()
            run = search_services.search_create(owner=user, config=config, name=f"bench {n_workers} workers")
            while SearchRun.objects.filter(pk=run.pk, status__in=SearchRun.ACTIVE).exists():
                time.sleep(0.2)
            seconds = time.perf_counter() - t0
        run.refresh_from_db()
        assert run.status == SearchRun.Status.SUCCEEDED, (run.status, run.error)
        base = base or seconds
        lines.append(f"| {n_workers} | {seconds:.1f} | {run.candidates_evaluated} | "
                     f"{run.candidates_evaluated / seconds:.2f} | "
                     f"{run.eval_seconds_total / run.candidates_evaluated:.2f} | {base / seconds:.2f}x |")
    return lines


def throughput(backends, n_requests=int(os.environ.get("BENCH_ESTIMATES", "60"))):
    """Distinct new estimate requests answered asynchronously (202 + job) by 1, then 2 real workers."""
    from benchmarks_app.models import Job

    settings.HANAS_SYNC_ESTIMATE_MAX_WORK = 0  # every POST goes to the workers
    client = APIClient()
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench")
    client.force_authenticate(user)
    out = ["Sustained estimate requests: distinct new circuits (no stored answer), POST /api/estimates/ answered "
           "202 and computed by real Celery worker processes (prefork, concurrency 1 each, same machine), "
           "timed from the first POST until every job has succeeded.", "",
           "| workers | requests | seconds | estimates/s |", "|---|---|---|---|"]
    for n_workers in (1, 2):
        with workers(n_workers, "est"):
            jobs = []
            t0 = time.perf_counter()
            for i in range(n_requests):
                n = 4 + i % 3
                qasm = (f"OPENQASM 2.0;\ninclude \"qelib1.inc\";\nqreg q[{n}];\ncreg c[{n}];\nh q[0];\n"
                        + "".join(f"cx q[0],q[{k}];\n" for k in range(1, n))
                        + f"ry({0.0001 * (i + 1) + n_workers:.5f}) q[1];\nmeasure q -> c;\n")
                r = client.post("/api/estimates/", {"qasm": qasm, "backend": backends[i % len(backends)].name},
                                format="json")
                assert r.status_code == 202, r.content[:300]
                jobs.append(r.json()["job"])
            while Job.objects.filter(pk__in=jobs, status__in=["queued", "running"]).exists():
                time.sleep(0.05)
            seconds = time.perf_counter() - t0
            failed = Job.objects.filter(pk__in=jobs, status="failed").count()
        out.append(f"| {n_workers} | {n_requests} ({failed} failed) | {seconds:.1f} | {n_requests / seconds:.1f} |")
    return out


def main():
    if sys.argv[1:2] == ["--latency"]:
        import hanas_platform.wsgi  # noqa: F401  the web server's start-up (loads the views, freezes the heap)

        client = APIClient()
        print(json.dumps([latency(client, url) for url in json.loads(sys.argv[2])]))
        return
    call_command("migrate", verbosity=0)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    # BENCH_ONLY=estimates or BENCH_ONLY=search re-measures those tables alone
    only = os.environ.get("BENCH_ONLY", "")
    if only:
        services.ingest_fake()
    parts = [("calibration_store", bench_calibration_store), ("estimates", bench_estimates),
             ("search_workers", search_scaling)]
    for name, bench in parts:
        if only and not name.startswith(only):
            continue
        lines = bench()
        (results / f"{name}.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
