#!/usr/bin/env bash
# `make test`: a real PgBouncer in transaction pooling in front of the tests' PostgreSQL,
# as production runs (platform/k8s/). The concurrency tests (marker `pgbouncer`) run a
# second time through it, so anything that keeps session state past a transaction
# (session advisory locks, SET without LOCAL, prepared statements, LISTEN, temporary
# tables, WITH HOLD cursors) shows up as a failure.
#
# Debian's pgbouncer, installed from the package archive when missing. It refuses to run
# as root: as root it runs as the `postgres` system user (or `nobody`).
#
#   pgbouncer.sh restart   (re)start it on 127.0.0.1:$PGBOUNCER_PORT (default 6432)
#                          in front of $PGBOUNCER_UPSTREAM_PORT (default 5432)
#   pgbouncer.sh stop
#   pgbouncer.sh url       the DATABASE_URL through it
set -euo pipefail
cd "$(dirname "$0")/../.."
run_dir="${ENTREPOT_RUN_DIR:-.run}/pgbouncer"
# The port: PGBOUNCER_PORT if given; otherwise 6432, or the next free one when something
# else holds it (another checkout's PgBouncer, Debian's own service). The one chosen is kept
# in $run_dir/port for `url`.
port="${PGBOUNCER_PORT:-$(cat "$run_dir/port" 2>/dev/null || echo 6432)}"
upstream_port="${PGBOUNCER_UPSTREAM_PORT:-5432}"
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

bin="$(command -v pgbouncer || true)"
[ -n "$bin" ] || [ ! -x /usr/sbin/pgbouncer ] || bin=/usr/sbin/pgbouncer
if [ -z "$bin" ] && [ "${1:-}" = restart ]; then
  echo "Installing Debian's pgbouncer for the connection-pooling tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null
  # The package enables a system-wide instance on 6432; ours is the project's own.
  as_root service pgbouncer stop >/dev/null 2>&1 || true
  bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
fi

as_user=()
if [ "$(id -u)" = 0 ]; then
  user=postgres
  id "$user" >/dev/null 2>&1 || user=nobody
  as_user=(setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups --)
fi

stop() {
  if [ -f "$run_dir/pgbouncer.pid" ]; then
    kill -INT "$(cat "$run_dir/pgbouncer.pid")" 2>/dev/null || true
    for _ in $(seq 1 40); do [ -f "$run_dir/pgbouncer.pid" ] || break; sleep 0.25; done
    rm -f "$run_dir/pgbouncer.pid"
  fi
}

case "${1:-}" in
  restart)
    stop
    # Another PgBouncer on the port would answer in our place, in its own pooling mode.
    taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    if [ -n "${PGBOUNCER_PORT:-}" ]; then
      if taken "$port"; then
        echo "Port $port (PGBOUNCER_PORT) is taken by a process this script did not start." >&2
        exit 1
      fi
    else
      port=6432
      while taken "$port"; do
        port=$((port + 1))
        [ "$port" -lt 6532 ] || { echo "No free port for PgBouncer from 6432 to 6531" >&2; exit 1; }
      done
    fi
    rm -rf "$run_dir"
    mkdir -p "$run_dir"
    run_abs="$(cd "$run_dir" && pwd)"
    echo "$port" >"$run_abs/port"
    printf '"postgres" ""\n"root" ""\n' >"$run_abs/userlist.txt"
    cat >"$run_abs/pgbouncer.ini" <<INI
[databases]
; Every database, on the upstream server, with the server's time zone fixed to UTC.
* = host=127.0.0.1 port=$upstream_port timezone=UTC

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $run_abs/userlist.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = 40
max_client_conn = 1000
server_reset_query =
; Hand each transaction the next server connection in turn, not the last one used, so
; that state left on a connection by one transaction shows up in another client's.
server_round_robin = 1
ignore_startup_parameters = extra_float_digits,options
logfile = $run_abs/pgbouncer.log
pidfile = $run_abs/pgbouncer.pid
INI
    [ ${#as_user[@]} -eq 0 ] || chown -R "$user" "$run_abs"
    "${as_user[@]}" "$bin" -d -q "$run_abs/pgbouncer.ini"
    for _ in $(seq 1 40); do
      ours="$(cat "$run_abs/pgbouncer.pid" 2>/dev/null || true)"
      if [ -n "$ours" ] && kill -0 "$ours" 2>/dev/null && { pg_isready -q -h 127.0.0.1 -p "$port" -d postgres -U postgres 2>/dev/null \
        || psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }; then
        echo "PgBouncer (transaction pooling) answers on 127.0.0.1:$port in front of 127.0.0.1:$upstream_port"
        exit 0
      fi
      sleep 0.25
    done
    echo "PgBouncer did not answer on 127.0.0.1:$port" >&2
    tail -20 "$run_abs/pgbouncer.log" >&2 || true
    exit 1
    ;;
  stop) stop ;;
  url) echo "postgres://postgres@127.0.0.1:$port/entrepot" ;;
  *)
    echo "usage: $0 restart|stop|url" >&2
    exit 2
    ;;
esac
