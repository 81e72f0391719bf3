"""Model instances from one hand-written SELECT, for the few hot paths where building a
query through the ORM costs more than running it: the ORM compiles the SQL again on every
call (about 0.5 to 1.5 ms of CPU for a join), a prepared string costs nothing. The column
lists are built from the models' metadata, so a new field is picked up without editing
the SQL, and values go through each field's database converters as the ORM's would."""

import functools

from django.db import DEFAULT_DB_ALIAS, connections


def fields(model, *, exclude=()) -> list:
    return [f for f in model._meta.concrete_fields if f.name not in exclude]


@functools.cache
def select_list(model, alias: str, *, exclude=()) -> str:
    """`alias."column", ...` for the model's concrete fields; built once per arguments."""
    return ", ".join(f'{alias}."{f.column}"' for f in fields(model, exclude=exclude))


def _connection():
    # The connection itself: `django.db.connection` is a proxy that looks the thread's
    # connection up again on every attribute read.
    return connections[DEFAULT_DB_ALIAS]


def converted(model_fields, values) -> list:
    """Values as the ORM would give them: each field's own converters (`from_db_value`),
    as Django's SQL compiler applies them. psycopg already returns PostgreSQL's types as
    Python's (numeric as Decimal, date, boolean), so the backend adds none."""
    connection = _connection()
    out = []
    for field, value in zip(model_fields, values, strict=True):
        column = field.cached_col
        for converter in column.get_db_converters(connection):
            value = converter(value, column, connection)
        out.append(value)
    return out


def instances(row, *models_and_excludes):
    """Split one row into instances, one per (model, exclude) in SELECT order; excluded
    fields are deferred (loaded on access, as with QuerySet.defer)."""
    alias = _connection().alias
    result, start = [], 0
    for model, exclude in models_and_excludes:
        model_fields = fields(model, exclude=exclude)
        values = converted(model_fields, row[start : start + len(model_fields)])
        result.append(model.from_db(alias, [f.attname for f in model_fields], values))
        start += len(model_fields)
    return result


_insert_sql: dict[type, str | None] = {}


def insert(obj):
    """Save a new instance as `obj.save(force_insert=True)` would (each field's pre_save, so
    auto_now_add and defaults apply, then get_db_prep_save) with an INSERT ... RETURNING
    built once per model: for models written on a hot path (leases, audit entries) that
    override neither save() nor listen to save signals, which this does not send."""
    connection = _connection()
    model = type(obj)
    if model not in _insert_sql:
        meta = model._meta
        writable = [f for f in meta.concrete_fields if not f.primary_key]
        if any(f.has_db_default() for f in writable):
            _insert_sql[model] = None
        else:
            columns = ", ".join(connection.ops.quote_name(f.column) for f in writable)
            _insert_sql[model] = (
                f"INSERT INTO {meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(writable))}) "
                f"RETURNING {connection.ops.quote_name(meta.pk.column)}"
            )
    sql = _insert_sql[model]
    if sql is None:
        obj.save(force_insert=True)
        return obj
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields(model) if not f.primary_key]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        obj.pk = cursor.fetchone()[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj
