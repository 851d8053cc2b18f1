"""Members who leave the server, and come back.

pairbot asks for no privileged intent, so Discord does not tell it when someone leaves. It
learns it in one of three ways, and they all end here:

- GUILD_MEMBER_REMOVE, when an operator has turned the optional Server Members intent on
  (``members_intent = true``);
- a DM that fails with 50007 (which is also what closed DMs answer) followed by a member
  lookup that answers 10007 Unknown Member (a REST lookup needs no intent);
- 10007 when the bot adds them to a pair's thread.

The rule, the same however it was learnt: a live partnership (or proposal) ends at once, with
no grace period; the partner is told kindly (no name, no reason, no blame) and goes back to the
pool with priority; the leaver leaves the pool (their forum post closes, their open requests
close) and every pending message to them is called off, and none is attempted while they are
away. Nothing they entered is deleted: leaving is not ``/privacy delete`` (which stays theirs to
use). When they come back (their first interaction in the server, or GUILD_MEMBER_ADD with the
intent) they use pairbot as before; the partnership that ended stays ended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbox, partnerships, pool
from bot.services.profiles import find_member
from models import Member

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Departure:
    """What :func:`member_left` did (``None`` from it: nothing to do)."""

    ended_partnership: bool
    left_pool: bool
    cancelled: int


async def member_left(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> Departure | None:
    """Apply the rule above. Idempotent: a member already known to be gone, or one pairbot
    never stored, is left alone (``None``)."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None or member.left_at is not None:
        return None
    member.left_at = now
    member.updated_at = now
    ended = await partnerships.member_left(session, member=member, now=now)
    in_pool = member.pool_status != "idle"
    if in_pool:
        await pool.take_out(session, member=member, now=now)
    cancelled = await outbox.cancel_deliveries_to(
        session, guild_id=guild_id, user_id=user_id, now=now
    )
    await session.flush()
    log.info(
        "member %s left the server: partnership ended %s, left the pool %s, %d messages off",
        member.id,
        ended,
        in_pool,
        cancelled,
    )
    return Departure(ended_partnership=ended, left_pool=in_pool, cancelled=cancelled)


async def member_returned(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> bool:
    """They are back in the server: messages may reach them again. ``True`` if they had been
    marked gone. Nothing else is restored: they join the pool again themselves."""
    result = await session.execute(
        update(Member)
        .where(Member.guild_id == guild_id, Member.user_id == user_id, Member.left_at.is_not(None))
        .values(left_at=None, updated_at=now)
    )
    back = bool(getattr(result, "rowcount", 0))
    if back:
        log.info("a member who had left is back in guild %s", guild_id)
    return back
