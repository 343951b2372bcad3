"""The database: typed SQLAlchemy models, async sessions and Alembic migrations."""
