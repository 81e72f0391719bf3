#!/usr/bin/env bash
# `make run`: the local stack on a project-local PostgreSQL and Redis.
#
# 1. Starts the local PostgreSQL cluster (platform/scripts/postgres.sh; created on the
#    first run, kept between runs), migrates and loads the demo data (idempotent).
# 2. Stops it again and hands over to honcho (platform/Procfile), which runs PostgreSQL,
#    Redis, gunicorn, a Celery worker and Celery beat in the foreground: Ctrl-C stops all
#    of them, PostgreSQL with a fast shutdown (no postmaster.pid is left behind).
#
# Ports (environment): LOCAL_PG_PORT (54329), LOCAL_REDIS_PORT (6390), GUNICORN_BIND
# (127.0.0.1:8000). ENTREPOT_RUN_DIR (.run) holds the cluster, Redis' files and beat's.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"
export ENTREPOT_RUN_DIR="${ENTREPOT_RUN_DIR:-.run}"
export LOCAL_PG_PORT="${LOCAL_PG_PORT:-54329}"
export LOCAL_REDIS_PORT="${LOCAL_REDIS_PORT:-6390}"
export GUNICORN_BIND="${GUNICORN_BIND:-127.0.0.1:8000}"
mkdir -p "$ENTREPOT_RUN_DIR"

# One `make run` per run directory: a second one would stop the first one's PostgreSQL
# when it hands over to honcho. The lock (fd 9) is held until this script ends.
exec 9>"$ENTREPOT_RUN_DIR/run.lock"
if ! flock -n 9; then
  echo "make run is already running with $ENTREPOT_RUN_DIR; stop it with Ctrl-C first." >&2
  exit 1
fi

pg=platform/scripts/postgres.sh
echo "PostgreSQL: $(bash "$pg" info)"
# Ctrl-C while migrating or seeding ends here and stops PostgreSQL; the stack never starts.
trap 'bash "$pg" stop' EXIT
trap 'exit 130' INT TERM HUP
bash "$pg" start
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py seed_demo
bash "$pg" stop
trap - EXIT INT TERM HUP

url="http://${GUNICORN_BIND}/"
cat <<EOF

Entrepot is starting at $url
  API docs:   ${url}api/docs/
  Demo logins (password entrepot-demo): merchant, merchant2, operator, institution, regulator, staff
  Demo API key: demo0key.entrepot-demo-secret-not-for-production
  PostgreSQL: $(bash "$pg" url)   Redis: redis://127.0.0.1:${LOCAL_REDIS_PORT}/0
Ctrl-C stops everything.

EOF
# honcho as a child, not exec'd: it stops its processes on INT and TERM only, so a closed
# terminal (HUP) is passed on as TERM instead of leaving the stack running unowned.
.venv/bin/honcho -d . -f platform/Procfile start &
honcho=$!
trap 'kill -TERM "$honcho" 2>/dev/null || true' HUP TERM
trap 'kill -INT "$honcho" 2>/dev/null || true' INT
status=0
while kill -0 "$honcho" 2>/dev/null; do wait "$honcho" || status=$?; done
exit "$status"
