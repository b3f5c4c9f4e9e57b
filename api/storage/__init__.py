"""Storage of analysed items for /v1/stats:

- tables.py   the database tables
- store.py    `Store`: writes analyses and counts them (GROUP BY), on SQLite or PostgreSQL; runs the migrations
- times.py    review times: time zones, ISO 8601 times, the range a review's time may fall in
- migrations/ Alembic revisions that create and upgrade the schema

Nothing is imported here: times.py is read by every `voc` command (settings), the database drivers only by those
that store.
"""
