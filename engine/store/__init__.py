"""Where is it kept? The database (connections, transactions, snapshots), the tables, and their Alembic
migrations. Uses nothing else of the engine."""
