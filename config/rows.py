"""Model instances from one hand-written SELECT, for the few hot paths where building a
query through the ORM costs more than running it: the ORM compiles the SQL again on every
call (about 0.5 to 1.5 ms of CPU for a join), a prepared string costs nothing. The column
lists are built from the models' metadata, so a new field is picked up without editing
the SQL, and values go through each field's database converters as the ORM's would."""

from django.db import connection


def fields(model, *, exclude=()) -> list:
    return [f for f in model._meta.concrete_fields if f.name not in exclude]


def select_list(model, alias: str, *, exclude=()) -> str:
    return ", ".join(f'{alias}."{f.column}"' for f in fields(model, exclude=exclude))


def converted(model_fields, values) -> list:
    out = []
    for field, value in zip(model_fields, values, strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, field, connection)
        out.append(value)
    return out


def instances(row, *models_and_excludes):
    """Split one row into instances, one per (model, exclude) in SELECT order; excluded
    fields are deferred (loaded on access, as with QuerySet.defer)."""
    result, start = [], 0
    for model, exclude in models_and_excludes:
        model_fields = fields(model, exclude=exclude)
        values = converted(model_fields, row[start : start + len(model_fields)])
        result.append(model.from_db(connection.alias, [f.attname for f in model_fields], values))
        start += len(model_fields)
    return result
