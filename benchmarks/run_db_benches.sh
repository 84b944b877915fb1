#!/usr/bin/env bash
# Database benchmarks and the served load test (bench_load.py) on a throwaway PostgreSQL + Redis (started here, stopped on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh
install_services_if_missing
trap stop_services EXIT INT TERM
start_services
.venv/bin/python benchmarks/bench_db.py
.venv/bin/python benchmarks/bench_load.py
.venv/bin/python benchmarks/bench_history_ingest.py
.venv/bin/python benchmarks/bench_rerank.py
