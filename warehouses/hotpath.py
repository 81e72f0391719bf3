"""Every hand-written SQL statement of the warehouses app, and nothing else (issue 11,
item 4). Each is here because a benchmark showed the ORM costing too much on the lease
path (bench/lease_race.py), or because it is one set-based statement over the ledger; each
has a test that it returns what the equivalent ORM query returns
(tests/warehouses/test_hotpath.py). The business rules stay in the services that call
these (warehouses/services/ledger.py): errors, locking protocol, what a result means.

- `select_listing_for_update`: the listing (locked), its warehouse and owner, and the
  owner's blacklist flag in one SELECT, sent with the transaction's lock timeout as one
  message. Built once: the ORM would compile the join on every lease request.
- `reserve_days`: add units to every day of a range that has room, in one UPDATE.
- `reservation_drift`: the days whose `reserved` differs from the leases holding them.
"""

import functools
from datetime import date

from django.db import connection

from core import rows
from credit.models import Subject
from credit.selectors.blacklist import active_entry_exists_sql
from warehouses.models import CapacityDay, Lease, Listing, Warehouse

OWNER_UNUSED = ("description", "address", "website")  # never read under the lock: deferred


@functools.cache
def listing_lock_sql() -> str:
    return (
        f"SELECT {rows.select_list(Listing, 'l')}, {rows.select_list(Warehouse, 'w')}, "
        f"{rows.select_list(Subject, 'o', exclude=OWNER_UNUSED)}, {active_entry_exists_sql('o.id')[0]} "
        f"FROM {Listing._meta.db_table} l JOIN {Warehouse._meta.db_table} w ON w.id = l.warehouse_id "
        f"JOIN {Subject._meta.db_table} o ON o.id = w.owner_id WHERE l.id = %s FOR UPDATE OF l"
    )


def select_listing_for_update(*, listing_id: int, lock_timeout_ms: int) -> Listing | None:
    """`Listing.objects.select_related("warehouse__owner").select_for_update(of=("self",))`
    with the owner's `has_active_blacklist_entry` set, after `SET LOCAL lock_timeout`. Call
    inside a transaction; lock errors propagate (OperationalError)."""
    params = active_entry_exists_sql("o.id")[1]
    timeout = f"{int(lock_timeout_ms)}ms"
    with connection.cursor() as cursor:
        # With psycopg's client-side cursor (Django's default) the timeout goes with the
        # locking SELECT as one message: one round trip fewer on every lease request; a
        # server-side binding cursor takes one statement at a time.
        if connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"):
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [timeout])
            cursor.execute(listing_lock_sql(), [*params, listing_id])
        else:
            cursor.execute(
                f"SELECT set_config('lock_timeout', %s, true); {listing_lock_sql()}", [timeout, *params, listing_id]
            )
            cursor.nextset()
        row = cursor.fetchone()
    if row is None:
        return None
    listing, warehouse, owner = rows.instances(row[:-1], (Listing, ()), (Warehouse, ()), (Subject, OWNER_UNUSED))
    owner.has_active_blacklist_entry = bool(row[-1])
    warehouse.owner = owner
    listing.warehouse = warehouse
    return listing


def reserve_days(*, listing_id: int, start: date, end: date, units: int) -> list[int]:
    """Add `units` to every day of [start, end) with room for them (`reserved + units <=
    capacity`) and return the ids of the days changed: the ORM's `filter(...).update(
    reserved=F("reserved") + units)` would need a second query to say which. No savepoint:
    an IntegrityError (the CHECK) aborts the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {CapacityDay._meta.db_table} SET reserved = reserved + %s "
            "WHERE listing_id = %s AND day >= %s AND day < %s AND reserved + %s <= capacity RETURNING id",
            [units, listing_id, start, end, units],
        )
        return [row[0] for row in cursor.fetchall()]


def reservation_drift(*, listing_ids: list[int] | None = None) -> list[dict]:
    """[{listing_id, day, reserved, expected}] for each ledger day whose `reserved` is not
    the units of the reserving leases covering it, by listing and day. One set-based query."""
    if listing_ids is not None and not listing_ids:
        return []
    statuses = [str(s) for s in Lease.RESERVING]
    params: list = list(statuses)
    where = ""
    if listing_ids is not None:
        where = f"WHERE d.listing_id IN ({', '.join(['%s'] * len(listing_ids))})"
        params += list(listing_ids)
    sql = f"""
        SELECT d.listing_id, d.day, d.reserved, COALESCE(SUM(l.units), 0) AS expected
        FROM {CapacityDay._meta.db_table} d
        LEFT JOIN {Lease._meta.db_table} l
          ON l.listing_id = d.listing_id AND l.status IN ({", ".join(["%s"] * len(statuses))})
         AND l.start <= d.day AND l."end" > d.day
        {where}
        GROUP BY d.id, d.listing_id, d.day, d.reserved
        HAVING d.reserved <> COALESCE(SUM(l.units), 0)
        ORDER BY d.listing_id, d.day
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return [
        {"listing_id": listing_id, "day": day, "reserved": reserved, "expected": expected}
        for listing_id, day, reserved, expected in found
    ]
