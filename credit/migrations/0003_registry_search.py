"""Registry search indexes (PostgreSQL only; a no-op on SQLite).

* pg_trgm GIN index over "legal name + trading name" for typo-tolerant word similarity
  (`q <% name`), the expression used by credit.selectors.registry.search_subjects;
* `entrepot_name_bigrams(text)`: the CJK character bigrams of a name (U+2E80-U+FFFF),
  with a GIN index, so short CJK queries (which pg_trgm cannot match inside an unspaced CJK
  name) are found by containment;
* a B-tree on registration_number for exact look-ups without a country.
"""

from django.db import migrations

NAME = "(legal_name || ' ' || trading_name)"

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    r"""
    CREATE OR REPLACE FUNCTION entrepot_name_bigrams(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT coalesce(array_agg(DISTINCT b), '{}'::text[])
      FROM (SELECT substr(lower(t), i, 2) AS b FROM generate_series(1, char_length(t) - 1) AS i) AS pairs
      WHERE b !~ '\s' AND b ~ '[\u2e80-\uffff]'
    $$
    """,
    f"CREATE INDEX IF NOT EXISTS credit_subject_name_trgm ON credit_subject USING gin ({NAME} gin_trgm_ops)",
    f"CREATE INDEX IF NOT EXISTS credit_subject_name_bigrams ON credit_subject USING gin (entrepot_name_bigrams({NAME}))",
    "CREATE INDEX IF NOT EXISTS credit_subject_registration_number ON credit_subject (registration_number)",
]

BACKWARD = [
    "DROP INDEX IF EXISTS credit_subject_registration_number",
    "DROP INDEX IF EXISTS credit_subject_name_bigrams",
    "DROP INDEX IF EXISTS credit_subject_name_trgm",
    "DROP FUNCTION IF EXISTS entrepot_name_bigrams(text)",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in FORWARD:
        schema_editor.execute(statement)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in BACKWARD:
        schema_editor.execute(statement)


class Migration(migrations.Migration):

    dependencies = [
        ('credit', '0002_scoring_catalogue'),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
