#!/usr/bin/env bash
# Serve the platform the production way (what `make run` ends with; tests start the served process through it).
#  * Embedded default (CELERY_BROKER_URL unset): a local queue in files under HANAS_VAR_DIR/broker (kombu's
#    filesystem transport, no server) and ONE local Celery worker (with the beat scheduler embedded) started
#    here, so searches and large estimates run off the request path as on a team deployment.
#    With CELERY_BROKER_URL set (Redis), run workers and beat yourself (docker/docker-compose.yml).
#  * The API is served by gunicorn (threaded workers), never `runserver`.
#  * HANAS_SERVE_MAIN_JOB=1 runs `manage.py run_main_job` on the local worker before serving.
# Settings: HANAS_BIND (127.0.0.1:8000), HANAS_WEB_WORKERS (2), HANAS_WEB_THREADS (4), HANAS_WEB_TIMEOUT (120 s),
#   HANAS_LOCAL_WORKER_CONCURRENCY (number of cores, at most 4), HANAS_NO_SERVE=1 (stop after the main job).
# Stops every process it started on exit (Ctrl-C, SIGTERM) or when one of them dies.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${CELERY_BROKER_URL:-}" ]; then
  export CELERY_BROKER_URL="filesystem://"
  cores="$(nproc 2>/dev/null || echo 2)"
  concurrency="${HANAS_LOCAL_WORKER_CONCURRENCY:-$(( cores < 4 ? cores : 4 ))}"
  var_dir="${HANAS_VAR_DIR:-var}"
  mkdir -p "$var_dir"
  echo "serve: local Celery worker (concurrency $concurrency, queue in $var_dir/broker, log $var_dir/worker.log)"
  "$PY" -m celery -A hanas_platform worker --beat --loglevel=INFO --concurrency="$concurrency" \
    --pool=prefork --hostname="local@%h" --without-gossip --without-mingle \
    --schedule="$var_dir/celerybeat-schedule" >>"$var_dir/worker.log" 2>&1 &
  pids+=($!)
fi

if [ "${HANAS_SERVE_MAIN_JOB:-0}" = "1" ]; then
  "$PY" manage.py run_main_job
fi
if [ "${HANAS_NO_SERVE:-0}" = "1" ]; then exit 0; fi

bind="${HANAS_BIND:-127.0.0.1:8000}"
echo "serve: API on http://$bind/api/docs/ (gunicorn; Ctrl-C stops the server and the local worker)"
"$PY" -m gunicorn hanas_platform.wsgi:application --bind "$bind" \
  --workers "${HANAS_WEB_WORKERS:-2}" --threads "${HANAS_WEB_THREADS:-4}" --worker-class gthread \
  --timeout "${HANAS_WEB_TIMEOUT:-120}" --graceful-timeout 20 --access-logfile - --no-control-socket &
pids+=($!)
set +e
wait -n "${pids[@]}"
status=$?
echo "serve: a served process exited ($status); stopping the others" >&2
exit "$status"
