"""group columns, trust flags and conversations, so that /v1/stats and the dashboard break results down by them

`kind`: `review` or `conversation` (a scored chat transcript; its summary in `conversation`). `flags`: the trust flags
an item returns (JSON). `analysis_groups`: one row per group value an item was stored with (shop=…, category=…),
`analysis_flags`: one row per trust flag, so that both are counted with GROUP BY like `analysis_aspects`.
Existing rows are reviews with no groups and no flags.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade():
    op.add_column("analyses", sa.Column("kind", sa.String(16), nullable=False, server_default="review"))
    op.add_column("analyses", sa.Column("flags", sa.JSON, nullable=True))
    op.add_column("analyses", sa.Column("conversation", sa.JSON, nullable=True))
    op.create_table(
        "analysis_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_index("ix_analysis_groups_analysis_id", "analysis_groups", ["analysis_id"])
    op.create_index("ix_analysis_groups_name_value", "analysis_groups", ["name", "value"])
    op.create_table(
        "analysis_flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False),
        sa.Column("flag", sa.String(32), nullable=False),
    )
    op.create_index("ix_analysis_flags_analysis_id", "analysis_flags", ["analysis_id"])


def downgrade():
    op.drop_table("analysis_flags")
    op.drop_table("analysis_groups")
    op.drop_column("analyses", "conversation")
    op.drop_column("analyses", "flags")
    op.drop_column("analyses", "kind")
