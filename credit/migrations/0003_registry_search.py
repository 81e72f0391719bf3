"""Registry search structures (pg_trgm, GIN indexes, a trigger).

Names are cut two ways, kept current by a trigger (only when a name changes, so set-based
updates of scores never pay for it):

* `credit_subject.search_words`: the lower-cased words of "legal name + trading name"
  (runs of letters and digits, CJK runs excluded), GIN-indexed. Every word also goes into
  the dictionary `credit_search_word` (pg_trgm GIN index): a misspelt query word is first
  expanded to the similar dictionary words (a small table), then subjects holding one of
  them are found exactly in the array index; no per-row fuzzy recheck over a million rows.
* `credit_subject.search_bigrams`: the CJK character bigrams (U+2E80-U+FFFF), GIN-indexed,
  because a CJK name has no spaces and pg_trgm cannot match a short CJK query inside it.

Plus a B-tree on registration_number for exact look-ups without a country.
"""

from django.db import migrations

NAME = "coalesce(NEW.legal_name, '') || ' ' || coalesce(NEW.trading_name, '')"
# A dictionary word at or above this trigram similarity may be what a query word meant:
# "gatway" ~ "gateway" 0.5, "dorfn" ~ "dorfin" 0.44, "pacif" ~ "pacific" 0.56.
SIMILARITY_THRESHOLD = 0.4

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
    r"""
    CREATE OR REPLACE FUNCTION entrepot_name_words(t text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT coalesce(array_agg(DISTINCT w), '{}'::text[])
      FROM regexp_split_to_table(lower(t), '[^[:alnum:]]+') AS w
      WHERE w <> '' AND w !~ '[\u2e80-\uffff]'
    $$
    """,
    "CREATE TABLE IF NOT EXISTS credit_search_word (word text PRIMARY KEY)",
    "CREATE INDEX IF NOT EXISTS credit_search_word_trgm ON credit_search_word USING gin (word gin_trgm_ops)",
    # The dictionary words a query word may stand for: itself and the most similar ones.
    # pg_trgm's `%` has a per-row cost the planner underrates, so on a dictionary of ~100k
    # words it may pick a sequential scan (~0.5 s); the function's own settings keep the
    # trigram index (~5 ms) and fix the similarity threshold.
    f"""
    CREATE OR REPLACE FUNCTION entrepot_similar_words(w text, max_words integer) RETURNS text[]
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    SET enable_seqscan = off
    SET pg_trgm.similarity_threshold = {SIMILARITY_THRESHOLD}
    AS $$
      SELECT ARRAY[w] || ARRAY(
        SELECT d.word FROM credit_search_word d
        WHERE d.word % w AND d.word <> w
        ORDER BY similarity(d.word, w) DESC, d.word
        LIMIT max_words)
    $$
    """,
    "ALTER TABLE credit_subject ADD COLUMN IF NOT EXISTS search_words text[] NOT NULL DEFAULT '{}'",
    "ALTER TABLE credit_subject ADD COLUMN IF NOT EXISTS search_bigrams text[] NOT NULL DEFAULT '{}'",
    f"""
    CREATE OR REPLACE FUNCTION entrepot_subject_search_fields() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.search_words := entrepot_name_words({NAME});
      NEW.search_bigrams := entrepot_name_bigrams({NAME});
      INSERT INTO credit_search_word (word) SELECT unnest(NEW.search_words) ON CONFLICT DO NOTHING;
      RETURN NEW;
    END
    $$
    """,
    "DROP TRIGGER IF EXISTS credit_subject_search_fields ON credit_subject",
    """
    CREATE TRIGGER credit_subject_search_fields
    BEFORE INSERT OR UPDATE OF legal_name, trading_name ON credit_subject
    FOR EACH ROW EXECUTE FUNCTION entrepot_subject_search_fields()
    """,
    # Backfill rows that existed before the trigger (the UPDATE fires it).
    "UPDATE credit_subject SET legal_name = legal_name",
    "CREATE INDEX IF NOT EXISTS credit_subject_search_words ON credit_subject USING gin (search_words)",
    "CREATE INDEX IF NOT EXISTS credit_subject_search_bigrams ON credit_subject USING gin (search_bigrams)",
    "CREATE INDEX IF NOT EXISTS credit_subject_registration_number ON credit_subject (registration_number)",
]

# The indexes (dropped by the benchmark around a bulk load, then rebuilt from FORWARD).
INDEXES = ["credit_subject_search_words", "credit_subject_search_bigrams", "credit_subject_registration_number"]

BACKWARD = [
    *(f"DROP INDEX IF EXISTS {name}" for name in INDEXES),
    "DROP TRIGGER IF EXISTS credit_subject_search_fields ON credit_subject",
    "DROP FUNCTION IF EXISTS entrepot_subject_search_fields()",
    "ALTER TABLE credit_subject DROP COLUMN IF EXISTS search_bigrams",
    "ALTER TABLE credit_subject DROP COLUMN IF EXISTS search_words",
    "DROP TABLE IF EXISTS credit_search_word",
    "DROP FUNCTION IF EXISTS entrepot_similar_words(text, integer)",
    "DROP FUNCTION IF EXISTS entrepot_name_words(text)",
    "DROP FUNCTION IF EXISTS entrepot_name_bigrams(text)",
]


def _run(schema_editor, statements):
    # A plain cursor (no parameters), so pg_trgm's `%` operator needs no escaping.
    with schema_editor.connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def forward(apps, schema_editor):
    _run(schema_editor, FORWARD)


def backward(apps, schema_editor):
    _run(schema_editor, BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ('credit', '0002_scoring_catalogue'),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
