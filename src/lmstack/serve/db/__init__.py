"""The MaaS database: API keys and the usage ledger, through SQLAlchemy, migrated by Alembic."""
