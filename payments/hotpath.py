"""Every hand-written SQL statement of the payments app, and nothing else (issue 11,
item 4). Each is on the screening path that bench/screening.py measures, where building
the ORM query cost more than running it (bench/RESULTS.md, "What one screening costs
now"); each has a test that it returns or stores what the equivalent ORM query does
(tests/payments/test_hotpath.py). The rules stay with the callers: the secret, the
expiry and the per-process cache in payments.api.authentication, the decisions in
payments.services.screening.

- `key_and_profile`: the unrevoked API key with a prefix and its institution's profile in
  one SELECT (a LEFT JOIN: the institution may not have registered), on every API call.
- `subjects_by_registration`: a screening batch's subjects by registration number, in
  one SELECT.
- `insert_decisions`: up to a few decisions and the API call that asked for them in one
  statement (a data-modifying CTE), so both are committed together in one round trip.
- `copy_decisions`: a batch's decisions with COPY (several times faster than INSERT).
"""

import functools

from django.db import connection
from psycopg.types.json import Jsonb

from core import rows
from credit.models import Subject
from payments.models import APICallRecord, InstitutionProfile, ProviderAPIKey, ScreeningDecision

# --- The API key and its institution --------------------------------------------------------


@functools.cache
def key_sql() -> str:
    institution = ProviderAPIKey._meta.get_field("institution").column
    profile_pk = InstitutionProfile._meta.pk.column
    return (
        f"SELECT {rows.select_list(ProviderAPIKey, 'k')}, {rows.select_list(InstitutionProfile, 'p')} "
        f"FROM {ProviderAPIKey._meta.db_table} k "
        f'LEFT JOIN {InstitutionProfile._meta.db_table} p ON p."{profile_pk}" = k."{institution}" '
        'WHERE k."prefix" = %s AND NOT k."revoked"'
    )


def key_and_profile(prefix: str) -> tuple[list, list | None] | None:
    """The values of `ProviderAPIKey.objects.get(prefix=prefix, revoked=False)` and of
    `InstitutionProfile.objects.filter(pk=key.institution_id).first()` (None when the
    institution has not registered), each in `core.rows.fields` order and converted as the
    ORM converts them; None when there is no such key. Expiry is not checked here."""
    with connection.cursor() as cursor:
        cursor.execute(key_sql(), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key_fields, profile_fields = rows.fields(ProviderAPIKey), rows.fields(InstitutionProfile)
    profile_row = row[len(key_fields) :]
    registered = profile_row[profile_fields.index(InstitutionProfile._meta.pk)] is not None
    return (
        rows.converted(key_fields, row[: len(key_fields)]),
        rows.converted(profile_fields, profile_row) if registered else None,
    )


# --- Subjects by registration number ---------------------------------------------------------

SUBJECT_FIELDS = ("id", "country", "registration_number", "legal_name", "grade", "score", "rated_at", "is_blacklisted")


@functools.cache
def subject_fields() -> list:
    """SUBJECT_FIELDS in the model's field order, which Model.from_db expects for a subset."""
    return [f for f in Subject._meta.concrete_fields if f.name in SUBJECT_FIELDS]


@functools.cache
def subjects_sql() -> str:
    columns = ", ".join(f'"{f.column}"' for f in subject_fields())
    return f"SELECT {columns} FROM {Subject._meta.db_table} WHERE registration_number = ANY(%s)"


def subjects_by_registration(numbers) -> dict[tuple[str, str], Subject]:
    """(country, registration number) -> Subject for every subject registered under one of
    `numbers` in any country: `Subject.objects.filter(registration_number__in=numbers)
    .only(*SUBJECT_FIELDS)`, the other fields deferred. None of these fields has a database
    converter, so the values are the row's (tests/payments/test_hotpath.py checks it)."""
    with connection.cursor() as cursor:
        cursor.execute(subjects_sql(), [list(numbers)])
        found_rows = cursor.fetchall()
    attnames = [f.attname for f in subject_fields()]
    found = {}
    for row in found_rows:
        subject = Subject.from_db(connection.alias, attnames, row)
        found[(subject.country, subject.registration_number)] = subject
    return found


# --- Storing decisions ------------------------------------------------------------------------

DECISION_COLUMNS = [
    "institution_id",
    "api_key_prefix",
    "batch_id",
    "position",
    "decided_at",
    "inputs",
    "decision",
    "reasons",
    "subject_id",
    "candidates",
    "subject_snapshot",
    "data_version",
    "model_version",
    "threshold_grade",
]

CALL_RECORD_COLUMNS = [
    "at",
    "api_key_prefix",
    "institution_id",
    "method",
    "path",
    "status_code",
    "decision",
    "duration_ms",
]


def decision_row(d) -> tuple:
    """A decision's values in DECISION_COLUMNS order, its JSON fields adapted for psycopg."""
    return (
        d.institution_id,
        d.api_key_prefix,
        d.batch_id,
        d.position,
        d.decided_at,
        Jsonb(d.inputs),
        d.decision,
        Jsonb(d.reasons),
        d.subject_id,
        Jsonb(d.candidates),
        Jsonb(d.subject_snapshot),
        d.data_version,
        d.model_version,
        d.threshold_grade,
    )


def insert_decisions(decisions: list, call_record: dict | None = None) -> tuple[list[int], int | None]:
    """Insert the decisions (objects with the DECISION_COLUMNS attributes) and, if given,
    the call record (APICallRecord's CALL_RECORD_COLUMNS) in one statement, as
    `ScreeningDecision.objects.bulk_create(...)` and `APICallRecord.objects.create(...)`
    would; returns the decisions' ids in the order given and the record's id (or None)."""
    decision_table, record_table = ScreeningDecision._meta.db_table, APICallRecord._meta.db_table
    placeholders = ", ".join(["(" + ", ".join(["%s"] * len(DECISION_COLUMNS)) + ")"] * len(decisions))
    sql = f"INSERT INTO {decision_table} ({', '.join(DECISION_COLUMNS)}) VALUES {placeholders} RETURNING id"
    params = [value for d in decisions for value in decision_row(d)]
    if call_record is not None:
        # Data-modifying CTE: both inserts are one statement, one commit.
        sql = (
            f"WITH d AS ({sql}), r AS (INSERT INTO {record_table} ({', '.join(CALL_RECORD_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(CALL_RECORD_COLUMNS))}) RETURNING id) SELECT d.id, r.id FROM d, r"
        )
        params += [call_record[c] for c in CALL_RECORD_COLUMNS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    # RETURNING follows the VALUES order.
    return [row[0] for row in found], (found[0][1] if call_record is not None else None)


def copy_decisions(decisions: list) -> None:
    """Write the decisions with COPY, which gives no ids back: the caller reads them by
    (batch_id, position). Call inside the transaction that should hold them."""
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor() as raw,
        raw.copy(f"COPY {ScreeningDecision._meta.db_table} ({', '.join(DECISION_COLUMNS)}) FROM STDIN") as copy,
    ):
        for d in decisions:
            copy.write_row(decision_row(d))
