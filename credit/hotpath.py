"""Every hand-written SQL statement of the credit app but the scorer's (issue 11, item 4;
the scorer's set-based SQL is credit/services/ratings/scorer_sql.py), and nothing else.
Each is here because a benchmark exercises it, or because PostgreSQL offers what the ORM
cannot say (advisory locks, SET LOCAL, a function of the search migration, columns the
model does not declare). Each has a test that it returns what the equivalent ORM query
returns, or does what it says (tests/credit/test_hotpath.py). The rules stay in the
selectors and services that call these: which query to ask, what a result means.

Registry search (bench/registry_search.py; migration 0003 holds the columns, indexes and
functions, and `search_words`/`search_bigrams` are not model fields):
- `similar_words`: each query word's dictionary readings and its swapped-letter variants
  found, in one round trip.
- `registration_number_exists`, `words_exist`, `bigrams_exist`: whether any subject
  matches, before the search picks its broader form.
- `search_condition`, `registration_match`, `search_rank`: the search's WHERE, its
  `registration_match` and its `rank` as expressions of the search QuerySet.

The lease gate (bench/lease_race.py: every lease request):
- `active_entry_exists_sql`: the EXISTS that flags a subject read anyway.
- `acting_subject_rows`: the subject a user acts for, with that flag, one prepared SELECT.
- `active_entries_for_subjects`: several subjects' active entries, one prepared SELECT.

Grades (bench/event_to_grade.py, bench/credit_recompute.py):
- `upsert_recompute_request`: the recompute outbox row, inserted or refreshed, saying which.
- `lock_shared`, `lock_range`, `exclusively_held`: the advisory transaction locks of the
  rating buckets (credit/services/ratings/locks.py), and which are held right now.
- `set_chunk_planner_settings`: SET LOCAL for a full-run chunk's transaction.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, FloatField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import rows
from credit.models import BlacklistEntry, Membership, Subject

# --- Registry search ---------------------------------------------------------------------

NAME_SQL = "(credit_subject.legal_name || ' ' || credit_subject.trading_name)"
WORD_SQL = "(credit_subject.search_words && %s::text[])"
BIGRAM_SQL = "(credit_subject.search_bigrams @> %s::text[])"
REGISTRATION_SQL = "(credit_subject.registration_number = %s)"


def similar_words(
    words: list[str], swaps: list[str], *, fuzzy_known: bool, limit: int
) -> list[tuple[bool, str, list[str] | None]]:
    """Rows (is_swap, word, readings) in one round trip: for each of `words`, its readings
    (`entrepot_similar_words`: itself, then up to `limit` similar dictionary words) when it
    is not in the dictionary or `fuzzy_known`, else None; then (True, swap, None) for each
    of `swaps` that is a dictionary word."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT false, w, CASE WHEN %s OR NOT EXISTS (SELECT 1 FROM credit_search_word d WHERE d.word = w) "
            "THEN entrepot_similar_words(w, %s) END FROM unnest(%s::text[]) AS w "
            "UNION ALL SELECT true, d.word, NULL FROM credit_search_word d WHERE d.word = ANY(%s::text[])",
            [fuzzy_known, limit, list(words), list(swaps)],
        )
        return cursor.fetchall()


def _subject_exists(sql: str, params: list) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM credit_subject WHERE {sql})", params)
        return cursor.fetchone()[0]


def registration_number_exists(registration: str) -> bool:
    """Whether a subject has this (normalised) registration number."""
    return _subject_exists("credit_subject.registration_number = %s", [registration])


def words_exist(readings: list[list[str]]) -> bool:
    """Whether a subject's name holds, for every list of `readings`, one of its words."""
    return _subject_exists(" AND ".join([WORD_SQL] * len(readings)), list(readings))


def bigrams_exist(bigrams: list[str]) -> bool:
    """Whether a subject's name holds every one of `bigrams`."""
    return _subject_exists(BIGRAM_SQL, [bigrams])


def search_condition(
    *, word_groups: list[list[list[str]]], bigram_sets: list[list[str]], registration: str | None
) -> RawSQL | None:
    """The search's WHERE: (one of `word_groups` matches, each of its readings lists
    overlapping the name's words, AND the name holds every bigram of one of
    `bigram_sets`; a part with nothing in it is left out) OR the registration number is
    `registration`. None when there is nothing to match."""
    clauses: list[str] = []
    params: list = []
    if word_groups:
        if len(word_groups) == 1:
            clauses.append("(" + " AND ".join([WORD_SQL] * len(word_groups[0])) + ")")
        else:
            clauses.append(
                "(" + " OR ".join("(" + " AND ".join([WORD_SQL] * len(group)) + ")" for group in word_groups) + ")"
            )
        params.extend(readings for group in word_groups for readings in group)
    if bigram_sets:
        clauses.append("(" + " OR ".join([BIGRAM_SQL] * len(bigram_sets)) + ")")
        params.extend(bigram_sets)
    conditions = [" AND ".join(clauses)] if clauses else []
    if registration:
        conditions.append(REGISTRATION_SQL)
        params.append(registration)
    if not conditions:
        return None
    return RawSQL(" OR ".join(f"({c})" for c in conditions), params, output_field=BooleanField())


def registration_match(registration: str) -> RawSQL:
    """True for the subject whose registration number is `registration`."""
    return RawSQL(REGISTRATION_SQL, [registration], output_field=BooleanField())


def search_rank(*, q: str, word_readings: list[list[str]], substring: str | None, registration: str | None) -> RawSQL:
    """The rank (higher is better): pg_trgm word similarity of `q` to the name, plus half
    its similarity to the legal name, plus 0.3 for each of `word_readings` the name's words
    overlap, 0.6 when the lower-cased name holds `substring`, 2 for the registration number."""
    # Word similarity finds the query inside a long name; plain similarity prefers names
    # that are close as a whole; bigram containment lifts short CJK substrings.
    sql = f"(word_similarity(%s, {NAME_SQL}) + 0.5 * similarity(%s, credit_subject.legal_name)"
    params: list = [q, q]
    for readings in word_readings:
        sql += " + CASE WHEN credit_subject.search_words && %s::text[] THEN 0.3 ELSE 0 END"
        params.append(readings)
    if substring:
        # Cheap per row (no bigram recomputation): the query as a substring lifts a name.
        sql += f" + CASE WHEN strpos(lower({NAME_SQL}), %s) > 0 THEN 0.6 ELSE 0 END"
        params.append(substring)
    if registration:
        sql += " + CASE WHEN credit_subject.registration_number = %s THEN 2 ELSE 0 END"
        params.append(registration)
    return RawSQL(sql + ")", params, output_field=FloatField())


# --- The lease gate ------------------------------------------------------------------------


def active_entry_exists_sql(subject_column: str) -> tuple[str, list]:
    """An SQL expression (and its parameters) that is true when the subject in
    `subject_column` has an active entry (status active, publication not yet ended), for a
    caller that reads the subject anyway: it sets `has_active_blacklist_entry` on the
    subject, and `may_subjects` then needs no query of its own for a subject without one."""
    sql = (
        f"EXISTS (SELECT 1 FROM {BlacklistEntry._meta.db_table} ab WHERE ab.subject_id = {subject_column} "
        "AND ab.status = %s AND ab.publication_ends_on > %s)"
    )
    return sql, [BlacklistEntry.Status.ACTIVE.value, timezone.localdate()]


def acting_subject_rows(*, user_id: int, subject_id: int | None) -> list[Subject]:
    """At most two subjects `user_id` is an active member of (only `subject_id` when
    given), each with `has_active_blacklist_entry` set. A prepared statement (core.rows)."""
    blacklisted, blacklisted_params = active_entry_exists_sql("s.id")
    sql = (
        f"SELECT {rows.select_list(Subject, 's')}, {blacklisted} FROM {Subject._meta.db_table} s "
        f"JOIN {Membership._meta.db_table} m ON m.subject_id = s.id "
        "WHERE m.user_id = %s AND m.status = %s" + (" AND s.id = %s" if subject_id is not None else "") + " LIMIT 2"
    )
    params = [*blacklisted_params, user_id, Membership.Status.ACTIVE.value]
    params += [subject_id] if subject_id is not None else []
    found = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            subject = rows.instances(row[:-1], (Subject, ()))[0]
            subject.has_active_blacklist_entry = bool(row[-1])
            found.append(subject)
    return found


def active_entries_for_subjects(*, subject_ids) -> list[BlacklistEntry]:
    """The active entries (status active, publication not yet ended) of several subjects,
    by publication end and id. A prepared statement (core.rows)."""
    ids = [int(pk) for pk in subject_ids]
    if not ids:
        return []
    sql = (
        f"SELECT {rows.select_list(BlacklistEntry, 'b')} FROM {BlacklistEntry._meta.db_table} b "
        f"WHERE b.subject_id IN ({', '.join(['%s'] * len(ids))}) AND b.status = %s AND b.publication_ends_on > %s "
        "ORDER BY b.publication_ends_on, b.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, BlacklistEntry.Status.ACTIVE.value, timezone.localdate()])
        return [rows.instances(row, (BlacklistEntry, ()))[0] for row in cursor.fetchall()]


# --- Grades --------------------------------------------------------------------------------


def upsert_recompute_request(*, subject_id: int, requested_at: datetime) -> bool:
    """Insert the subject's recompute request, or move its `requested_at` to this one, in
    one statement that cannot race; True when it inserted (the caller then enqueues)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO credit_recomputerequest (subject_id, requested_at) VALUES (%s, %s)
            ON CONFLICT (subject_id) DO UPDATE SET requested_at = EXCLUDED.requested_at
            RETURNING (xmax = 0)
            """,
            [subject_id, requested_at],
        )
        return cursor.fetchone()[0]


def lock_shared(key: int, bucket: int) -> None:
    """Take the advisory lock (key, bucket) shared until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [key, bucket])


def lock_range(key: int, first_bucket: int, last_bucket: int) -> None:
    """Take the advisory locks (key, b) for b in [first_bucket, last_bucket] exclusively,
    in increasing order, until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, bucket::int)) FROM generate_series(%s, %s) AS bucket",
            [key, first_bucket, last_bucket],
        )


def exclusively_held(key: int, buckets: list[int]) -> set[int]:
    """Which of the advisory locks (key, b), b in `buckets`, some session of this database
    holds exclusively right now. Read from pg_locks: takes no lock and waits for none."""
    if not buckets:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND granted AND mode = 'ExclusiveLock' AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid::bigint = %s AND objid::bigint = ANY(%s::bigint[])",
            [key, list(buckets)],
        )
        return {row[0] for row in cursor.fetchall()}


def set_chunk_planner_settings() -> None:
    """For the rest of the transaction: work_mem 64MB and no JIT (small per-chunk plans,
    where JIT compilation would cost more than it saves)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute("SET LOCAL jit = off")
