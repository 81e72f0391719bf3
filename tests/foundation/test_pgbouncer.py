"""Production reaches PostgreSQL through PgBouncer in transaction pooling: a server
connection belongs to a client for one transaction only. Nothing the platform does may
keep session state past a transaction. `make test` runs the concurrency tests a second time
through a real PgBouncer (`make test-pgbouncer`); the first test here proves that run really
goes through it."""

import os
import re
from pathlib import Path

import psycopg
import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[2]
APP_DIRS = ("config", "core", "credit", "payments", "warehouses")

# Each pattern is something that keeps state on the server connection after the
# transaction that made it, and so breaks (or leaks into another client) under
# transaction pooling.
SESSION_STATE = {
    "session-level advisory lock": re.compile(r"pg_(try_)?advisory_(un)?lock(_shared)?(_all)?\s*\(", re.I),
    "SET without LOCAL": re.compile(r"""["']\s*SET\s+(?!LOCAL\b|CONSTRAINTS\b)(SESSION\s+)?\w+\s*(=|TO\b)""", re.I),
    "set_config for the session": re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.I),
    "LISTEN": re.compile(r"""["']\s*LISTEN\s+\w""", re.I),
    "temporary table": re.compile(r"CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE", re.I),
    "WITH HOLD cursor": re.compile(r"WITH\s+HOLD", re.I),
    "server-side prepared statement": re.compile(
        r"\bprepare\s*=\s*True|prepare_threshold\s*=\s*\d|\bPREPARE\s+\w+\s*(\(|AS\b)"
    ),
}


def app_sources():
    for top in APP_DIRS:
        yield from sorted((REPO / top).rglob("*.py"))


def test_app_code_keeps_no_session_state():
    found = []
    for path in app_sources():
        text = path.read_text(encoding="utf-8")
        for what, pattern in SESSION_STATE.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(REPO)}:{line}: {what}: {match.group(0)!r}")
    assert not found, "Session state that PgBouncer's transaction pooling would break:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "sql",
    [
        "cursor.execute('SET work_mem = 1')",
        'cursor.execute("SET SESSION jit = off")',
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1, 2)",
        "cursor.execute('LISTEN grades')",
        "CREATE TEMP TABLE t (id int)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "cursor.execute(sql, prepare=True)",
    ],
)
def test_the_scan_finds_each_kind_of_session_state(sql):
    assert any(pattern.search(sql) for pattern in SESSION_STATE.values()), sql


@pytest.mark.parametrize(
    "sql",
    [
        "cursor.execute(\"SET LOCAL work_mem = '64MB'\")",
        "SELECT pg_advisory_xact_lock(%s, %s)",
        "SELECT pg_advisory_xact_lock_shared(%s, %s)",
        "UPDATE credit_subject SET score = f.score",
        "cursor.execute('SET CONSTRAINTS ALL IMMEDIATE')",
    ],
)
def test_the_scan_allows_what_ends_with_the_transaction(sql):
    assert not any(pattern.search(sql) for pattern in SESSION_STATE.values()), sql


@pytest.mark.django_db
def test_connections_use_neither_server_side_cursors_nor_prepared_statements():
    # QuerySet.iterator() outside a transaction would DECLARE ... WITH HOLD on one server
    # connection and FETCH from whichever the pooler hands out next.
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    connection.ensure_connection()
    assert connection.connection.prepare_threshold is None


@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("ENTREPOT_VIA_PGBOUNCER"), reason="only in `make test-pgbouncer`")
def test_the_pgbouncer_run_goes_through_pgbouncer_in_transaction_mode():
    settings = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        (server_port,) = cursor.fetchone()
    assert int(settings["PORT"]) != server_port, "the tests talk to PostgreSQL directly"
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname="pgbouncer", autocommit=True
    ) as admin:
        config = {row[0]: row[1] for row in admin.execute("SHOW CONFIG")}
        pools = {(row[0], row[1]) for row in admin.execute("SHOW POOLS")}
    assert config["pool_mode"] == "transaction"
    assert (settings["NAME"], settings["USER"]) in pools


def test_every_module_run_through_pgbouncer_exists():
    from tests.conftest import PGBOUNCER_MODULES

    missing = sorted(path for path in PGBOUNCER_MODULES if not (REPO / path).is_file())
    assert not missing, f"make test-pgbouncer would silently skip: {missing}"
