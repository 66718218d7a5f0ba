"""Search indexes that only one database has.

PostgreSQL: the pg_trgm extension, a GIN index on the search vector and a
trigram GIN index on the title (typo-tolerant fallback). SQLite: an FTS5
table (porter stemming) kept in sync by knowledge/search.py. Neither is
declared in the model's Meta, so migrations run on both databases.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS article_search_vector_gin ON knowledge_article USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS article_title_trgm_gin ON knowledge_article USING gin (title gin_trgm_ops)",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS article_title_trgm_gin",
    "DROP INDEX IF EXISTS article_search_vector_gin",
]
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_article_fts USING fts5("
    "title, tags, body, tokenize = 'porter unicode61 remove_diacritics 2')",
]
SQLITE_BACKWARD = ["DROP TABLE IF EXISTS knowledge_article_fts"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
