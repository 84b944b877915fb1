"""Time to ingest the shipped calibration history (issue 15) on the configured database: the main job's first
step. Run on PostgreSQL through benchmarks/run_db_benches.sh-style services, or on the embedded SQLite default
with HANAS_VAR_DIR pointing at an empty folder. Appends one line per run to
benchmarks/results/calibration_history.md."""
from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from benchmarks_app import services  # noqa: E402
from benchmarks_app.models import CalibrationSnapshot  # noqa: E402


def main():
    call_command("migrate", verbosity=0)
    CalibrationSnapshot.objects.all().delete()
    t = time.perf_counter()
    first = services.ingest_history()
    t_first = time.perf_counter() - t
    t = time.perf_counter()
    second = services.ingest_history()
    t_second = time.perf_counter() - t
    created = sum(1 for _, c, _ in first if c)
    again = sum(1 for _, c, _ in second if c)
    skipped = sum(1 for _, c, _ in first if c is None)
    load = os.getloadavg()[0]
    line = (f"| {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC | {connection.vendor} | {os.cpu_count()} cores, "
            f"load {load:.1f} | {created} created, {skipped} skipped | {t_first:.2f} s | {again} created | "
            f"{t_second:.2f} s |")
    out = ROOT / "benchmarks" / "results" / "calibration_history.md"
    if not out.exists():
        out.write_text("# Ingesting the shipped calibration history (149 real snapshots, 69 devices)\n\n"
                       f"Python {platform.python_version()}; `services.ingest_history()` on an empty store, then "
                       "again (idempotent: nothing written). The main job's first step.\n\n"
                       "| when | database | machine | first run | time | second run | time |\n"
                       "|---|---|---|---|---|---|---|\n")
    with out.open("a") as fh:
        fh.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
