"""Tick upkeep shared by several processes (issue 13). Every `pairbot run` process runs the same
tick handlers; on PostgreSQL they share one database, so an upkeep job (ending due pauses, the
goals safety sweep) must be done by one of them at a time, not by all of them at once (two
processes resuming one pause queued two post syncs). Each job takes a transaction-scoped
advisory lock first: the process that gets it does the job, the others skip it this tick, and
the lock ends with the transaction. Whoever runs next finds the work already done. SQLite runs
one process only (``bot.startup``'s lock), so there it is always this process's turn."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lock_key(job: str) -> int:
    """The advisory lock's number for ``job``: the same in every process (not ``hash()``)."""
    return zlib.crc32(f"pairbot-upkeep:{job}".encode())


async def take_turn(session: AsyncSession, job: str) -> bool:
    """``True`` if this process does ``job`` in this transaction; ``False`` while another
    process's transaction is doing it."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        return True
    taken = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(job)}
    )
    return bool(taken)
