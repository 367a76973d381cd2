"""Alembic migrations of the badge-bridge schema."""
