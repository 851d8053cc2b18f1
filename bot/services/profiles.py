"""Profiles: members describe themselves; private fields stay theirs alone."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain import profile as p
from bot.domain.availability_text import format_availability, parse_availability
from bot.domain.timezones import validate_zone
from bot.services.guilds import get_settings
from bot.services.posts import queue_post_sync
from models import Member, MemberPrivate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProfileChanges:
    """What a member typed, as text; ``None`` leaves a field as it is."""

    timezone: str | None = None
    availability: str | None = None
    goal_areas: str | None = None
    intro: str | None = None
    goals_text: str | None = None
    rhythm: str | None = None
    medium: str | None = None
    languages: str | None = None


@dataclass(frozen=True)
class PrivateChanges:
    gender: str | None = None
    age_bracket: str | None = None
    pref_genders: str | None = None
    pref_age: str | None = None
    pref_languages: str | None = None


async def find_member(session: AsyncSession, *, guild_id: int, user_id: int) -> Member | None:
    return (
        await session.execute(
            select(Member).where(Member.guild_id == guild_id, Member.user_id == user_id)
        )
    ).scalar_one_or_none()


async def ensure_member(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    display_name: str | None = None,
) -> Member:
    """The member's row, created on first use; keeps the public display name current."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is not None and display_name and member.display_name != display_name[:100]:
        member.display_name = display_name[:100]
    if member is None:
        member = Member(
            guild_id=guild_id,
            user_id=user_id,
            display_name=display_name[:100] if display_name else None,
            goal_areas=[],
            languages=[],
            created_at=now,
            updated_at=now,
        )
        session.add(member)
        await session.flush()
    return member


def public_profile(member: Member) -> p.PublicProfile:
    return p.PublicProfile(
        user_id=member.user_id,
        timezone=member.timezone,
        windows=parse_availability(member.availability) if member.availability else (),
        goal_areas=tuple(member.goal_areas or ()),
        intro=member.intro,
        goals_text=member.goals_text,
        rhythm=member.rhythm,
        medium=member.medium,
        languages=tuple(member.languages or ()),
    )


def private_fields(private: MemberPrivate | None) -> p.PrivateFields:
    if private is None:
        return p.PrivateFields()
    return p.PrivateFields(
        gender=private.gender,
        age_bracket=private.age_bracket,
        pref_genders=tuple(private.pref_genders or ()),
        pref_age_min=private.pref_age_min,
        pref_age_max=private.pref_age_max,
        pref_languages=tuple(private.pref_languages or ()),
    )


def is_blank(member: Member) -> bool:
    """Whether the member row holds nothing the member entered: a member who has not written a
    profile yet, or one who deleted their data (``/privacy delete``)."""
    return not (
        member.timezone or member.availability or member.goal_areas or member.intro
        or member.goals_text or member.rhythm or member.medium or member.languages
        or member.checkin_time or member.pool_status != "idle"
    )


async def get_profile(session: AsyncSession, *, guild_id: int, user_id: int) -> p.Profile | None:
    """The member's own full view (public and private), or ``None`` if they have none yet."""
    member = (
        await session.execute(
            select(Member)
            .options(selectinload(Member.private))
            .where(Member.guild_id == guild_id, Member.user_id == user_id)
        )
    ).scalar_one_or_none()
    if member is None or (is_blank(member) and member.private is None):
        return None
    return p.Profile(
        public=public_profile(member),
        private=private_fields(member.private),
        pool_status=member.pool_status,
    )


async def update_profile(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    changes: ProfileChanges,
    now: datetime,
    display_name: str | None = None,
) -> p.PublicProfile:
    """Validate every change first, then apply them all: bad input changes nothing."""
    settings = await get_settings(session, guild_id=guild_id, now=now)
    values: dict[str, object] = {}
    if changes.timezone is not None:
        values["timezone"] = validate_zone(changes.timezone).key
    if changes.availability is not None:
        values["availability"] = format_availability(
            parse_availability(changes.availability, quarter_hours=True)
        )
    if changes.goal_areas is not None:
        values["goal_areas"] = list(p.parse_goal_areas(changes.goal_areas, settings.goal_areas))
    if changes.intro is not None:
        values["intro"] = p.clean_text(changes.intro, what="intro", limit=p.INTRO_MAX)
    if changes.goals_text is not None:
        values["goals_text"] = p.clean_text(changes.goals_text, what="goals", limit=p.GOALS_MAX)
    if changes.rhythm is not None:
        values["rhythm"] = p.choose(changes.rhythm, p.RHYTHMS, what="meeting rhythm")
    if changes.medium is not None:
        values["medium"] = p.choose(changes.medium, p.MEDIUMS, what="way of meeting")
    if changes.languages is not None:
        values["languages"] = list(p.parse_languages(changes.languages))
    member = await ensure_member(
        session, guild_id=guild_id, user_id=user_id, now=now, display_name=display_name
    )
    for name, value in values.items():
        setattr(member, name, value)
    member.updated_at = now
    await queue_post_sync(session, member=member, now=now, only_if_posted=True)
    await session.flush()
    return public_profile(member)


async def update_private(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    changes: PrivateChanges,
    now: datetime,
) -> p.PrivateFields:
    """Set the member's private fields; an empty string clears one."""
    values: dict[str, object] = {}
    if changes.gender is not None:
        values["gender"] = (
            p.choose(changes.gender, p.GENDERS, what="gender") if changes.gender.strip() else None
        )
    if changes.age_bracket is not None:
        values["age_bracket"] = (
            p.choose(changes.age_bracket, p.AGE_BRACKETS, what="age bracket")
            if changes.age_bracket.strip()
            else None
        )
    if changes.pref_genders is not None:
        values["pref_genders"] = [
            p.choose(part, p.GENDERS, what="gender")
            for part in changes.pref_genders.split(",")
            if part.strip()
        ]
    if changes.pref_age is not None:
        values["pref_age_min"], values["pref_age_max"] = p.parse_age_range(changes.pref_age)
    if changes.pref_languages is not None:
        values["pref_languages"] = list(p.parse_languages(changes.pref_languages))
    member = await ensure_member(session, guild_id=guild_id, user_id=user_id, now=now)
    private = await session.get(MemberPrivate, member.id)
    if private is None:
        private = MemberPrivate(member_id=member.id, pref_genders=[], pref_languages=[])
        session.add(private)
    for name, value in values.items():
        setattr(private, name, value)
    member.updated_at = now
    await session.flush()
    return private_fields(private)
