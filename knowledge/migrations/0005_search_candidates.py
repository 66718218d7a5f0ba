"""What keeps search fast when a word is in thousands of articles (knowledge/search.py, _pg_rank).

- ``title_tags_vector``: title and tags only. On PostgreSQL it gets a GIN index;
  on SQLite it stays empty (the FTS5 table does the searching there).
- ``article_helpful_idx``: search candidates are the most helpful matches, read in
  index order instead of sorting every match.
- PostgreSQL keeps ``search_vector`` in the row (storage MAIN) rather than in the
  TOAST table: matching and ranking a candidate then reads one page, not four.
  The bodies are the columns that move out instead.

Existing rows get both vectors recomputed (the expressions of search._vector and
search._head_vector), which also moves the stored vectors back into the rows.
"""

import django.contrib.postgres.search
from django.db import migrations, models

TITLE = "COALESCE(REPLACE(REPLACE(title, '<', ' '), '>', ' '), '')"
BODY = "COALESCE(REPLACE(REPLACE(body_text, '<', ' '), '>', ' '), '')"
TAGS = "COALESCE(tag_text, '')"
PG_FORWARD = [
    "ALTER TABLE knowledge_article ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX IF NOT EXISTS article_title_tags_vector_gin ON knowledge_article USING gin (title_tags_vector)",
    "UPDATE knowledge_article SET "
    f"search_vector = setweight(to_tsvector('english'::regconfig, {TITLE}), 'A') "
    f"|| setweight(to_tsvector('english'::regconfig, {TAGS}), 'B') "
    f"|| setweight(to_tsvector('english'::regconfig, {BODY}), 'C'), "
    f"title_tags_vector = to_tsvector('english'::regconfig, {TITLE}) || to_tsvector('english'::regconfig, {TAGS})",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS article_title_tags_vector_gin",
    "ALTER TABLE knowledge_article ALTER COLUMN search_vector SET STORAGE EXTENDED",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0004_seed_articles")]

    operations = [
        migrations.AddField(
            model_name="article",
            name="title_tags_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="article",
            index=models.Index(fields=["-helpful_yes", "id"], name="article_helpful_idx"),
        ),
        migrations.RunPython(_run(PG_FORWARD), _run(PG_BACKWARD)),
    ]
