"""A community's settings."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import GuildSettings

log = logging.getLogger(__name__)


async def get_settings(session: AsyncSession, *, guild_id: int, now: datetime) -> GuildSettings:
    """The community's settings, created with defaults the first time anyone uses the bot."""
    settings = await session.get(GuildSettings, guild_id)
    if settings is None:
        settings = GuildSettings(guild_id=guild_id, created_at=now, updated_at=now)
        session.add(settings)
        await session.flush()
    return settings


async def configure(
    session: AsyncSession,
    *,
    guild_id: int,
    now: datetime,
    forum_channel_id: int | None = None,
    pair_channel_id: int | None = None,
    mod_channel_id: int | None = None,
    access_role_id: int | None = None,
    moderator_role_id: int | None = None,
    goal_areas: list[str] | None = None,
    match_weekday: int | None = None,
    match_time_utc: str | None = None,
    odd_policy: str | None = None,
    repeat_window_days: int | None = None,
) -> GuildSettings:
    """Change the community's settings; ``None`` leaves a setting as it is."""
    settings = await get_settings(session, guild_id=guild_id, now=now)
    changes = {
        "forum_channel_id": forum_channel_id,
        "pair_channel_id": pair_channel_id,
        "mod_channel_id": mod_channel_id,
        "access_role_id": access_role_id,
        "moderator_role_id": moderator_role_id,
        "goal_areas": goal_areas,
        "match_weekday": match_weekday,
        "match_time_utc": match_time_utc,
        "odd_policy": odd_policy,
        "repeat_window_days": repeat_window_days,
    }
    for name, value in changes.items():
        if value is not None:
            setattr(settings, name, value)
    settings.updated_at = now
    await session.flush()
    return settings
