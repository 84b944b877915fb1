#!/usr/bin/env bash
# The main job on the embedded default (SQLite + eager Celery unless DATABASE_URL/CELERY_BROKER_URL are set):
# set-up, migrate, ingest, cost, search, leaderboards, then serve the API on 127.0.0.1:8000.
# HANAS_NO_SERVE=1 stops after the job instead of serving.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py run_main_job
if [ "${HANAS_NO_SERVE:-0}" = "1" ]; then exit 0; fi
echo "Serving the API on http://127.0.0.1:8000/api/docs/ (Ctrl-C to stop)"
exec .venv/bin/python manage.py runserver --noreload 127.0.0.1:8000
