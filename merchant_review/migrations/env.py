"""Alembic environment, configured from code (merchant_review/storage/migrate.py): no alembic.ini.

The caller passes an open connection (inside its own transaction) in
`config.attributes["connection"]`, so migrations run wherever the store runs: an installed
package, a test, `merchant-review db upgrade`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from merchant_review.storage.migrate import table_metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through merchant_review.storage.migrate (no alembic.ini)")

context.configure(
    connection=connection,
    target_metadata=table_metadata(),
    render_as_batch=True,  # SQLite cannot ALTER most things: later revisions copy tables
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
