#!/usr/bin/env bash
# Create .venv and install the pinned requirements (idempotent: skipped when requirements are unchanged).
# Usage: scripts/setup.sh [requirements file]   (default: requirements-test.txt, which includes the runtime set)
set -euo pipefail
cd "$(dirname "$0")/.."
REQ="${1:-requirements-test.txt}"
PY="${PYTHON:-python3}"

if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Python 3.11 or newer is required ($("$PY" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    echo "setup: python3 -m venv failed; installing Debian's python3-venv" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi
stamp=".venv/.installed-$(cat requirements.txt "$REQ" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, alone and pinned: 2.13.0 is the CPU wheel (no CUDA packages).
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -r "$REQ"
  if .venv/bin/python -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "setup: an nvidia-* package was installed; torch must stay pinned to the CPU wheel" >&2
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
