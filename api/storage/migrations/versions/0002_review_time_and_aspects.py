"""review time, a placeholder flag and an aspects table, so that /v1/stats aggregates in SQL

`reviewed_at`: when the customer wrote the review (the request's `time`), else when it was analysed;
existing rows get their `created_at`. `analysis_aspects`: one row per aspect of an analysis, filled from
the JSON column for existing rows (the JSON stays: it is what an item returns). `placeholder`: a platform's
stand-in for a missing review, left out of the counts.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade():
    op.add_column("analyses", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE analyses SET reviewed_at = created_at")
    with op.batch_alter_table("analyses") as batch:  # SQLite cannot ALTER COLUMN: batch mode copies the table
        batch.alter_column("reviewed_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_analyses_reviewed_at", "analyses", ["reviewed_at"])
    # rows stored under revision 0001 cannot tell: they stay counted as reviews (0001 kept no placeholder flag)
    op.add_column("analyses", sa.Column("placeholder", sa.Boolean, nullable=False, server_default=sa.false()))
    aspects = op.create_table(
        "analysis_aspects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("aspect", sa.String(64), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
    )
    op.create_index("ix_analysis_aspects_analysis_id", "analysis_aspects", ["analysis_id"])
    # filled by the database itself: a server upgraded with millions of stored rows must not read them into Python
    json_rows = {"sqlite": "json_each(analyses.aspects) AS j",
                 "postgresql": "json_array_elements(analyses.aspects) AS j"}
    field = {"sqlite": "json_extract(j.value, '$.{}')", "postgresql": "j ->> '{}'"}
    dialect = op.get_bind().dialect.name
    if dialect in json_rows:
        op.execute(f"INSERT INTO analysis_aspects (analysis_id, aspect, label) "
                   f"SELECT analyses.id, {field[dialect].format('aspect')}, {field[dialect].format('label')} "
                   f"FROM analyses, {json_rows[dialect]}")
    else:  # another database: row by row in Python
        old = sa.table("analyses", sa.column("id", sa.Integer), sa.column("aspects", sa.JSON))  # typed: JSON decoded
        con = op.get_bind()
        values = [{"analysis_id": rid, "aspect": a["aspect"], "label": a["label"]}
                  for rid, found in con.execute(sa.select(old.c.id, old.c.aspects)) for a in found or []]
        if values:
            op.bulk_insert(aspects, values)


def downgrade():
    op.drop_table("analysis_aspects")
    op.drop_column("analyses", "placeholder")
    op.drop_index("ix_analyses_reviewed_at", "analyses")
    op.drop_column("analyses", "reviewed_at")
