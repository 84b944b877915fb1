#!/usr/bin/env bash
# The whole test suite, set-up included.
#  1. venv + pinned requirements (scripts/setup.sh)
#  2. PostgreSQL, Redis, Chromium and ChromeDriver from Debian packages when missing (apt-get, as root)
#  3. throwaway PostgreSQL cluster and Redis server on loopback, on free ports, in a temp dir
#  4. pytest against PostgreSQL + Redis (integration tests start real Celery worker processes)
#  5. the smoke subset (-m smoke) on the embedded default: SQLite and eager Celery
#  6. every server started here is stopped on exit
# Extra arguments go to the PostgreSQL pytest run (e.g. scripts/run_tests.sh -k ingest -x).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

scripts/setup.sh requirements-test.txt

source scripts/services.sh
# Headless browser for the dashboard's end-to-end tests (Debian's packages; no browser downloads).
browser_pkgs=()
command -v chromium >/dev/null 2>&1 || browser_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || browser_pkgs+=(chromium-driver)
install_services_if_missing "${browser_pkgs[@]}"
trap stop_services EXIT INT TERM
start_services

mkdir -p test-artifacts
status=0
(
  echo "== pytest on PostgreSQL + Redis + real Celery workers"
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
) || status=$?

if [ "$status" -eq 0 ]; then
  (
    unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND SECRET_KEY
    export HANAS_VAR_DIR="$SERVICES_WORK/var-embedded"
    echo "== smoke subset on the embedded default (SQLite, eager Celery)"
    .venv/bin/python -m pytest -p no:cacheprovider -m smoke -q
  ) || status=$?
fi

if [ "$status" -eq 5 ]; then
  echo "tests: pytest collected no tests: that is a failure" >&2
fi
exit "$status"
