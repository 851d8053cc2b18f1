"""A member's forum post follows what is stored about them, through the outbox.

Every change a post shows (the public profile: intro, goals, availability, zone, areas, rhythm,
medium, languages; the pool status: seeking, paused, left, matched) enqueues one ``post_sync``
row in the same transaction as the change, so a crash or a refusal from Discord can't lose it:
the dispatcher retries the row with backoff. The post is always rebuilt from the database, so a
late or repeated run is harmless. A post also lists the next time of each weekly window as
Discord timestamps; once the first of them has passed, a refresh row (due then) re-renders it,
so no date it shows is ever stale.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.recurrence import occurrence_key
from bot.services import outbox
from bot.services.outbox import KindRule, register_kind
from models import Member
from models.outbox import OutboxItem, OutboxState

log = logging.getLogger(__name__)

POST_SYNC = register_kind(
    KindRule(
        "post_sync",
        delivery=False,
        stale_after=None,
        why="A forum post must show what its member has now, however late: the post is rebuilt "
        "from the database, so a late or repeated run is harmless.",
    )
)


def _target(member_id: int, *, refresh: bool = False) -> str:
    return f"m{member_id}r" if refresh else f"m{member_id}"


async def queue_post_sync(
    session: AsyncSession, *, member: Member, now: datetime, only_if_posted: bool = False
) -> bool:
    """Bring the member's post up to date soon (``False``: a row that will read this change is
    already waiting). ``only_if_posted`` skips members with no post and out of the pool (a
    profile edit before ``/partner find`` has nothing to show)."""
    if only_if_posted and member.forum_post_id is None and member.pool_status == "idle":
        return False
    await session.flush()
    prefix = f"{POST_SYNC.kind}:{_target(member.id)}:"
    waiting = await session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(
            OutboxItem.kind == POST_SYNC.kind,
            OutboxItem.state == OutboxState.PENDING.value,
            OutboxItem.key.startswith(prefix, autoescape=True),
        )
    )
    if waiting:
        return False
    # Two changes in the same second are two rows: the first may already be done.
    key = f"{occurrence_key(POST_SYNC.kind, _target(member.id), now)}:{secrets.token_hex(4)}"
    return await outbox.enqueue(
        session,
        key=key,
        kind=POST_SYNC.kind,
        due_at=now,
        now=now,
        guild_id=member.guild_id,
        user_id=member.user_id,
        payload={"member_id": member.id},
    )


async def queue_post_refresh(
    session: AsyncSession,
    *,
    member_id: int,
    guild_id: int,
    user_id: int,
    at: datetime,
    now: datetime,
) -> None:
    """Re-render the post at ``at`` (when the first time it lists has passed); replaces any
    refresh planned before."""
    await outbox.cancel_pending(
        session, kind=POST_SYNC.kind, target=_target(member_id, refresh=True)
    )
    await outbox.enqueue(
        session,
        key=occurrence_key(POST_SYNC.kind, _target(member_id, refresh=True), at),
        kind=POST_SYNC.kind,
        due_at=at,
        now=now,
        guild_id=guild_id,
        user_id=user_id,
        payload={"member_id": member_id, "refresh": True},
    )


class MemberKeys(Protocol):
    """A member as :func:`queue_post_syncs` needs it: an ORM ``Member`` or a plain record."""

    @property
    def id(self) -> int: ...
    @property
    def guild_id(self) -> int: ...
    @property
    def user_id(self) -> int: ...


async def queue_post_syncs(
    session: AsyncSession, *, members: Sequence[MemberKeys], now: datetime
) -> int:
    """:func:`queue_post_sync` for many members at once (a round's pairs): one indexed lookup
    of the rows already waiting (by ``target``) and one bulk insert; returns how many were
    queued."""
    if not members:
        return 0
    await session.flush()
    targets = {f"{POST_SYNC.kind}:{_target(m.id)}": m for m in members}
    # By target alone, the state checked here: with ``state = 'pending'`` in the statement a
    # planner without fresh statistics (or a cached generic plan) walked every pending row
    # through the state index, testing each against the hundreds of targets: 0.7 s a chunk
    # late in a 10,000-seeker round on PostgreSQL. The target index serves this alone.
    waiting = {
        target
        for target, state in await session.execute(
            select(OutboxItem.target, OutboxItem.state).where(OutboxItem.target.in_(list(targets)))
        )
        if state == OutboxState.PENDING.value
    }
    items = [
        outbox.NewWork(
            key=f"{occurrence_key(POST_SYNC.kind, _target(m.id), now)}:{secrets.token_hex(4)}",
            kind=POST_SYNC.kind,
            due_at=now,
            payload={"member_id": m.id},
            guild_id=m.guild_id,
            user_id=m.user_id,
        )
        for target, m in targets.items()
        if target not in waiting
    ]
    return await outbox.enqueue_many(session, items=items, now=now)
