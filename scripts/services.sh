# Throwaway PostgreSQL + Redis on free loopback ports (sourced by scripts/run_tests.sh and the DB benchmarks).
#   source scripts/services.sh; install_services_if_missing; start_services   ...   stop_services
# start_services exports DATABASE_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND, SECRET_KEY, HANAS_VAR_DIR.

install_services_if_missing() {  # extra Debian package names may be given
  local need=("$@")
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || need+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  if [ ${#need[@]} -gt 0 ]; then
    echo "services: installing ${need[*]} from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  fi
}

_free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

start_services() {
  SERVICES_WORK="$(mktemp -d /tmp/hanas-services.XXXXXX)"
  chmod 755 "$SERVICES_WORK"
  PG_PORT="$(_free_port)"
  REDIS_PORT="$(_free_port)"
  # PostgreSQL refuses to run as root: the cluster belongs to the 'postgres' user the package creates.
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  mkdir -p "$SERVICES_WORK/pg" "$SERVICES_WORK/pglog" && chown postgres "$SERVICES_WORK/pg" "$SERVICES_WORK/pglog"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$SERVICES_WORK/pg" -U postgres --auth=trust -E UTF8 \
    >"$SERVICES_WORK/initdb.log" 2>&1 || { cat "$SERVICES_WORK/initdb.log"; return 1; }
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$SERVICES_WORK/pg" -w -l "$SERVICES_WORK/pglog/pg.log" \
    -o "-p $PG_PORT -k $SERVICES_WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$SERVICES_WORK/pglog/pg.log"; return 1; }
  runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres hanas
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize no \
    --dir "$SERVICES_WORK" --logfile "$SERVICES_WORK/redis.log" &
  REDIS_PID=$!
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || { echo "services: redis did not start"; cat "$SERVICES_WORK/redis.log"; return 1; }
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/hanas"
  export CELERY_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
  export CELERY_RESULT_BACKEND="redis://127.0.0.1:$REDIS_PORT/1"
  export SECRET_KEY="throwaway-secret-key-not-for-production"
  export HANAS_VAR_DIR="$SERVICES_WORK/var"
  echo "services: PostgreSQL on 127.0.0.1:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT (in $SERVICES_WORK)"
}

stop_services() {
  set +e
  if [ -n "${SERVICES_WORK:-}" ] && [ -f "$SERVICES_WORK/pg/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$SERVICES_WORK/pg" -m immediate -w stop >/dev/null 2>&1
  fi
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  [ -n "${SERVICES_WORK:-}" ] && rm -rf "$SERVICES_WORK"
  SERVICES_WORK=""; REDIS_PID=""
}
