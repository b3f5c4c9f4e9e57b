"""Alembic environment: the URL comes from the caller (api.storage.store.migrate), else the default SQLite file."""
from alembic import context
from sqlalchemy import engine_from_config, pool

from api.storage.store import default_url
from api.storage.tables import metadata

config = context.config
url = config.get_main_option("sqlalchemy.url") or default_url()
connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
