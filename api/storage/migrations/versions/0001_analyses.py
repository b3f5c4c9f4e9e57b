"""create the analyses table

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("aspects", sa.JSON, nullable=False),
        sa.Column("topic_id", sa.Integer, nullable=True),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("text", sa.Text, nullable=True),
    )
    op.create_index("ix_analyses_created_at", "analyses", ["created_at"])
    op.create_index("ix_analyses_topic_id", "analyses", ["topic_id"])


def downgrade():
    op.drop_table("analyses")
