"""The database tables (SQLAlchemy Core). Their history is the Alembic migrations' (migrations/versions): a change
here comes with a new revision there."""
import sqlalchemy as sa

metadata = sa.MetaData()
analyses = sa.Table(
    "analyses", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    # when the customer wrote it (the request's `time`), else when it was analysed: what /v1/stats counts by
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("aspects", sa.JSON, nullable=False),
    sa.Column("topic_id", sa.Integer, nullable=True, index=True),
    sa.Column("model", sa.String(120), nullable=False),
    sa.Column("text", sa.Text, nullable=True),
    # a platform's stand-in for a missing review (系统默认好评): counted apart, not in the sentiment shares
    sa.Column("placeholder", sa.Boolean, nullable=False, server_default=sa.false()),
    # `review`, or `conversation`: a scored chat transcript whose summary is in `conversation`
    sa.Column("kind", sa.String(16), nullable=False, server_default="review"),
    sa.Column("flags", sa.JSON, nullable=True),  # the trust flags the item returns
    sa.Column("conversation", sa.JSON, nullable=True),
)
# one row per aspect of an analysis, so that counting by aspect is a GROUP BY (the JSON column cannot be grouped
# the same way in SQLite and PostgreSQL)
analysis_aspects = sa.Table(
    "analysis_aspects", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("aspect", sa.String(64), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
)
# one row per group value an item was stored with (shop=…, category=…, region=…): /v1/stats?by=group:shop
analysis_groups = sa.Table(
    "analysis_groups", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Index("ix_analysis_groups_name_value", "name", "value"),
)
# one row per trust flag of an item (rating_mismatch, incentivised, ...), counted like aspects
analysis_flags = sa.Table(
    "analysis_flags", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("analysis_id", sa.Integer, sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("flag", sa.String(32), nullable=False),
)
