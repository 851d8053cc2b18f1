"""One send budget for every process of the bot (issue 13: two processes pacing themselves
sent 66 requests/s together, over Discord's global 50/s).

Each process reserves sends for the current second from a counter row in PostgreSQL, a few at a
time, in one atomic statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``); what the row
counts beyond the limit is never granted. SQLite runs one process only, so it keeps the local
pacer and never calls this."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.send_budget import SendBudget

BUDGET = cast(Table, SendBudget.__table__)
KEEP_SECONDS = 60


async def reserve(session: AsyncSession, *, second: int, wanted: int, limit: int) -> int:
    """Take up to ``wanted`` sends from ``second``'s budget of ``limit``; returns how many were
    granted (0 when the second is used up). One round trip."""
    insert_row = insert(BUDGET).values(second=second, used=wanted)
    statement = insert_row.on_conflict_do_update(
        index_elements=[BUDGET.c.second], set_={"used": BUDGET.c.used + wanted}
    ).returning(BUDGET.c.used)
    used = int((await session.execute(statement)).scalar_one())
    before = used - wanted
    return max(0, min(wanted, limit - before))


async def forget_before(session: AsyncSession, *, second: int) -> int:
    """Drop the counters of seconds long past (kept a minute, for an operator to look at)."""
    result = await session.execute(delete(BUDGET).where(BUDGET.c.second < second - KEEP_SECONDS))
    return int(getattr(result, "rowcount", 0) or 0)
