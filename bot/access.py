"""What every interaction is checked against, read from memory instead of the database.

Before any command, button or form is handled the bot needs two facts: the community's access
role, and whether the member's DMs were marked closed (a member who uses the bot again may be
reachable by DM again). Reading them in a write transaction on every interaction put the
database in front of Discord's 3-second deadline, so both live here:

- the access role per community, read once and kept for :data:`TTL` seconds (``/admin setup``
  forgets it at once in the process that ran it; another process sees a change within ``TTL``);
- the members marked with closed DMs, loaded as one set and refreshed every ``TTL`` seconds;
  the dispatcher tells the cache as soon as it marks someone. Only a member in that set costs a
  write, once, to clear the mark.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import read_only
from models import GuildSettings, Member

TTL = 30.0


class AccessCache:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: float = TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ttl = ttl
        self._monotonic = monotonic
        self._roles: dict[int, tuple[float, int | None]] = {}
        self._closed: set[tuple[int, int]] = set()
        self._left: set[tuple[int, int]] = set()
        self._closed_read_at: float | None = None

    async def access_role(self, guild_id: int) -> int | None:
        """The role a member needs to use pairbot here (``None``: everyone)."""
        now = self._monotonic()
        cached = self._roles.get(guild_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        async with read_only(self._sessions) as session:
            role = await session.scalar(
                select(GuildSettings.access_role_id).where(GuildSettings.guild_id == guild_id)
            )
        self._roles[guild_id] = (now, role)
        return role

    def forget(self, guild_id: int) -> None:
        """The community's settings changed here: read them again next time."""
        self._roles.pop(guild_id, None)

    async def _read_flags(self) -> None:
        """Members marked with closed DMs or as gone from the server: a few, read at once."""
        now = self._monotonic()
        if self._closed_read_at is None or now - self._closed_read_at >= self._ttl:
            async with read_only(self._sessions) as session:
                rows = await session.execute(
                    select(
                        Member.guild_id, Member.user_id, Member.dms_closed, Member.left_at
                    ).where(or_(Member.dms_closed.is_(True), Member.left_at.is_not(None)))
                )
                flagged = rows.all()
            self._closed = {(g, u) for g, u, closed, _ in flagged if closed}
            self._left = {(g, u) for g, u, _, left_at in flagged if left_at is not None}
            self._closed_read_at = now

    async def dms_marked_closed(self, guild_id: int, user_id: int) -> bool:
        await self._read_flags()
        return (guild_id, user_id) in self._closed

    async def marked_left(self, guild_id: int, user_id: int) -> bool:
        """Whether the member is marked as gone from the server (see services.departures)."""
        await self._read_flags()
        return (guild_id, user_id) in self._left

    def known_left(self, guild_id: int, user_id: int) -> bool:
        """What this process last heard (no database read)."""
        return (guild_id, user_id) in self._left

    def departed(self, guild_id: int, user_id: int) -> None:
        self._left.add((guild_id, user_id))

    def returned(self, guild_id: int, user_id: int) -> None:
        self._left.discard((guild_id, user_id))

    def marked_closed(self, guild_id: int, user_id: int) -> None:
        self._closed.add((guild_id, user_id))

    def cleared(self, guild_id: int, user_id: int) -> None:
        self._closed.discard((guild_id, user_id))
