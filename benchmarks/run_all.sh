#!/usr/bin/env bash
# Run every speed/accuracy benchmark; each writes a results table to benchmarks/results/<name>.md.
# Usage: bash benchmarks/run_all.sh   (or: make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements-test.txt
PY=.venv/bin/python
mkdir -p benchmarks/results
# One line per benchmark below.
"$PY" benchmarks/bench_quantum_cost.py
"$PY" benchmarks/bench_layout.py
"$PY" benchmarks/bench_search.py
"$PY" benchmarks/bench_hqnn_throughput.py
"$PY" benchmarks/bench_profile_fit.py
bash benchmarks/run_db_benches.sh
