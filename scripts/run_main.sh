#!/usr/bin/env bash
# The main job on the embedded default (SQLite + a local Celery worker on a file queue, no server, unless
# DATABASE_URL/CELERY_BROKER_URL are set): set-up, migrate, ingest, cost, search, leaderboards, then serve the
# API with gunicorn on 127.0.0.1:8000 (scripts/serve.sh). HANAS_NO_SERVE=1 stops after the job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
.venv/bin/python manage.py migrate --noinput
HANAS_SERVE_MAIN_JOB=1 exec scripts/serve.sh
