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

need_pkgs=()
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_pkgs+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
# Headless browser for the dashboard's end-to-end tests (Debian's packages; no browser downloads).
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_pkgs+=(chromium-driver)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "tests: installing ${need_pkgs[*]} from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
fi

WORK="$(mktemp -d /tmp/hanas-tests.XXXXXX)"
chmod 755 "$WORK"
PG_PID=""; REDIS_PID=""
cleanup() {
  set +e
  if [ -f "$WORK/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$WORK/pg" -m immediate -w stop >/dev/null 2>&1
  fi
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PG_PORT="$(free_port)"
REDIS_PORT="$(free_port)"

# PostgreSQL refuses to run as root: the cluster belongs to the 'postgres' user the package creates.
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
mkdir -p "$WORK/pg" "$WORK/pglog" && chown postgres "$WORK/pg" "$WORK/pglog"
runuser -u postgres -- "$pg_bin/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 >"$WORK/initdb.log" 2>&1 \
  || { cat "$WORK/initdb.log"; exit 1; }
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pglog/pg.log" \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$WORK/pglog/pg.log"; exit 1; }
runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres hanas

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "tests: redis did not start"; cat "$WORK/redis.log"; exit 1; }

echo "tests: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT (in $WORK)"
mkdir -p test-artifacts
status=0
(
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/hanas"
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
  export SECRET_KEY="test-secret-key-not-for-production"
  export HANAS_VAR_DIR="$WORK/var"
  echo "== pytest on PostgreSQL + Redis + real Celery workers"
  .venv/bin/python -m pytest -p no:cacheprovider "$@"
) || status=$?

if [ "$status" -eq 0 ]; then
  (
    unset DATABASE_URL CELERY_BROKER_URL CELERY_RESULT_BACKEND SECRET_KEY
    export HANAS_VAR_DIR="$WORK/var-embedded"
    echo "== smoke subset on the embedded default (SQLite, eager Celery)"
    .venv/bin/python -m pytest -p no:cacheprovider -m smoke -q
  ) || status=$?
fi

if [ "$status" -eq 5 ]; then
  echo "tests: pytest collected no tests: that is a failure" >&2
fi
exit "$status"
