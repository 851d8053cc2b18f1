"""Alembic migrations (shipped inside the package so ``pairbot migrate`` works when installed)."""
