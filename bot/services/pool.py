"""The partner pool: joining, pausing, leaving, and members' requests to each other."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.domain import posts
from bot.domain import profile as p
from bot.domain.profile import PublicProfile
from bot.domain.recurrence import local_to_utc
from bot.domain.timezones import ts, validate_zone
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services import outbox
from bot.services.ports import Button, OutgoingMessage
from bot.services.posts import queue_post_sync
from bot.services.profiles import ensure_member, find_member, private_fields, public_profile
from models import (
    Block,
    GuildSettings,
    Member,
    PartnerRequest,
    Partnership,
    PartnershipMember,
)

log = logging.getLogger(__name__)

MAX_OPEN_REQUESTS = 3
RULED_OUT_DELAY = timedelta(hours=6)
DECLINE_COOLDOWN = timedelta(days=7)
PAUSE_MAX = timedelta(days=90)
PAUSE_FORMAT = "Please give a date like 2026-12-24, or a length like 10d or 3w."
LIVE_STATES = ("proposed", "trial", "active")


async def current_partnership(session: AsyncSession, *, member_id: int) -> Partnership | None:
    """The member's proposed or running partnership, if any."""
    return (
        await session.execute(
            select(Partnership)
            .join(PartnershipMember)
            .where(PartnershipMember.member_id == member_id, Partnership.state.in_(LIVE_STATES))
            .limit(1)
        )
    ).scalar_one_or_none()


async def join_pool(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    display_name: str | None = None,
) -> PublicProfile:
    """Put the member in the pool, or say exactly what their profile still lacks."""
    member = await ensure_member(
        session, guild_id=guild_id, user_id=user_id, now=now, display_name=display_name
    )
    profile = public_profile(member)
    missing = p.missing_for_pool(profile)
    if missing:
        raise InvalidInput(
            "Almost there! Before you join, please add "
            + _and_list(missing)
            + " with `/profile edit`."
        )
    if await current_partnership(session, member_id=member.id) is not None:
        raise Conflict("You already have a partner (or a proposal waiting). See `/pair status`.")
    if member.pool_status != "seeking":
        member.pool_status = "seeking"
        member.waiting_since = member.waiting_since or now
    member.paused_until = None
    member.updated_at = now
    await queue_post_sync(session, member=member, now=now)
    await session.flush()
    return profile


async def pause(
    session: AsyncSession, *, guild_id: int, user_id: int, until: datetime | None, now: datetime
) -> datetime | None:
    """Step out of matching for a while; ``until`` ends the pause by itself (see
    :func:`resume_due_pauses`)."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None or member.pool_status == "idle":
        raise NotFound("You're not in the pool. Join with `/partner find`.")
    if until is not None and not (now < until <= now + PAUSE_MAX):
        raise _pause_out_of_range(now)
    member.pool_status = "paused"
    member.paused_until = until
    member.updated_at = now
    await queue_post_sync(session, member=member, now=now)
    await session.flush()
    return until


def _pause_out_of_range(now: datetime) -> InvalidInput:
    latest = now + PAUSE_MAX
    return InvalidInput(
        f"A pause can end at the latest {PAUSE_MAX.days} days from now ({ts(latest, 'D')}). "
        "Please pick a date in the future up to then, or leave it empty to pause without an end."
    )


def pause_end(text: str, *, zone: str | None, now: datetime) -> datetime:
    """When a pause typed as ``2026-12-24`` (the end of that day in the member's zone) or
    ``10d`` / ``3w`` ends. Anything outside the future :data:`PAUSE_MAX` is refused politely
    here, before any arithmetic that could overflow (``9999-12-31`` west of UTC would)."""
    value = text.strip().lower()
    match = re.fullmatch(r"(\d{1,6})\s*([dw])", value)
    if match:
        days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
        if not 0 < days <= PAUSE_MAX.days:
            raise _pause_out_of_range(now)
        return now + timedelta(days=days)
    try:
        day = date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput(PAUSE_FORMAT)
    tz = validate_zone(zone) if zone else UTC
    latest = (now + PAUSE_MAX).astimezone(tz).date()
    if not now.astimezone(tz).date() <= day <= latest:
        raise _pause_out_of_range(now)
    end = local_to_utc(day, time(23, 59), tz)
    return min(end, now + PAUSE_MAX)


async def leave(session: AsyncSession, *, guild_id: int, user_id: int, now: datetime) -> None:
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None or member.pool_status == "idle":
        raise NotFound("You're not in the pool, so there's nothing to leave.")
    await take_out(session, member=member, now=now)


async def take_out(session: AsyncSession, *, member: Member, now: datetime) -> None:
    """Out of the pool (``/partner leave``, or the member left the server): open requests to
    and from them close, and their forum post follows through the outbox (it closes)."""
    member.pool_status = "idle"
    member.paused_until = None
    member.waiting_since = None
    member.updated_at = now
    await _close_requests(session, member_id=member.id, now=now)
    await queue_post_sync(session, member=member, now=now)
    await session.flush()


async def resume_due_pauses(session: AsyncSession, *, now: datetime) -> list[Member]:
    """Members whose pause has ended go back to seeking (run on every tick)."""
    members = list(
        (
            await session.execute(
                select(Member).where(
                    Member.pool_status == "paused",
                    Member.paused_until.is_not(None),
                    Member.paused_until <= now,
                )
            )
        ).scalars()
    )
    for member in members:
        member.pool_status = "seeking"
        member.paused_until = None
        member.updated_at = now
        await queue_post_sync(session, member=member, now=now)
    await session.flush()
    return members


@dataclass(frozen=True)
class RequestOutcome:
    request_id: int
    requester: PublicProfile
    author_user_id: int
    ruled_out: bool  # by the author's private preferences or a block; never shown to anyone


async def request_partnership(
    session: AsyncSession,
    *,
    guild_id: int,
    requester_user_id: int,
    author_user_id: int,
    now: datetime,
) -> RequestOutcome:
    if requester_user_id == author_user_id:
        raise InvalidInput("That's your own post. Someone else can request you from it!")
    requester = await ensure_member(session, guild_id=guild_id, user_id=requester_user_id, now=now)
    missing = p.missing_for_pool(public_profile(requester))
    if missing:
        raise InvalidInput(
            "Before you send a request, please add " + _and_list(missing) + " with `/profile edit`."
        )
    author = await find_member(session, guild_id=guild_id, user_id=author_user_id)
    if author is None or author.pool_status != "seeking":
        raise NotFound("That member isn't looking for a partner right now.")
    if await current_partnership(session, member_id=requester.id) is not None:
        raise Conflict("You already have a partner (or a proposal waiting). See `/pair status`.")
    open_to_author = await session.scalar(
        select(func.count())
        .select_from(PartnerRequest)
        .where(
            PartnerRequest.requester_id == requester.id,
            PartnerRequest.author_id == author.id,
            PartnerRequest.state == "open",
        )
    )
    if open_to_author:
        raise Conflict("You've already sent them a request. Give them a little time to answer.")
    open_total = await session.scalar(
        select(func.count())
        .select_from(PartnerRequest)
        .where(PartnerRequest.requester_id == requester.id, PartnerRequest.state == "open")
    )
    if (open_total or 0) >= MAX_OPEN_REQUESTS:
        raise Conflict(
            f"You have {MAX_OPEN_REQUESTS} requests waiting for an answer already. "
            "Wait for one of them before sending another."
        )
    recent_decline = await session.scalar(
        select(func.max(PartnerRequest.decided_at)).where(
            PartnerRequest.requester_id == requester.id,
            PartnerRequest.author_id == author.id,
            PartnerRequest.state == "declined",
        )
    )
    if recent_decline is not None and recent_decline + DECLINE_COOLDOWN > now:
        raise Conflict("They can't take a request from you right now. Keep browsing the forum!")
    ruled_out = not await _author_would_accept(session, author=author, requester=requester)
    request = PartnerRequest(
        guild_id=guild_id,
        requester_id=requester.id,
        author_id=author.id,
        state="open",
        created_at=now,
    )
    session.add(request)
    await session.flush()
    if ruled_out:
        # Declined unseen. The requester hears the same words as after a real decline, some
        # hours later (as a real answer would come), so nothing gives the reason away.
        request.state = "declined"
        request.decided_at = now
        await _notify(
            session,
            key=f"request-declined:{request.id}",
            guild_id=guild_id,
            user_id=requester_user_id,
            text=posts.request_declined_text(author_user_id),
            due_at=now + RULED_OUT_DELAY + timedelta(minutes=request.id % 240),
            now=now,
        )
    else:
        card = posts.request_card(public_profile(requester), public_profile(author), now)
        buttons = (
            Button("Accept", custom_id=f"pairbot:req:accept:{request.id}", style="success"),
            Button("Decline", custom_id=f"pairbot:req:decline:{request.id}"),
        )
        message = OutgoingMessage(content=card, rows=(buttons,))
        fallback = OutgoingMessage(
            content=f"<@{author_user_id}> (your DMs are closed, so I'm asking here)\n{card}",
            rows=(buttons,),
            ping_users=(author_user_id,),
        )
        await outbox.enqueue(
            session,
            key=f"request:{request.id}",
            kind=outbox.NOTICE.kind,
            due_at=now,
            now=now,
            guild_id=guild_id,
            user_id=author_user_id,
            payload=outbox.delivery_payload(
                message, fallback_channel_id=author.forum_post_id, fallback_message=fallback
            ),
        )
    return RequestOutcome(request.id, public_profile(requester), author_user_id, ruled_out)


async def _notify(
    session: AsyncSession,
    *,
    key: str,
    guild_id: int,
    user_id: int,
    text: str,
    due_at: datetime,
    now: datetime,
) -> None:
    await outbox.enqueue(
        session,
        key=key,
        kind=outbox.NOTICE.kind,
        due_at=due_at,
        now=now,
        guild_id=guild_id,
        user_id=user_id,
        payload=outbox.delivery_payload(OutgoingMessage(content=text)),
    )


async def decide_request(
    session: AsyncSession,
    *,
    guild_id: int,
    request_id: int,
    author_user_id: int,
    accept: bool,
    now: datetime,
) -> tuple[PartnerRequest, Partnership | None]:
    """The author accepts (a proposed partnership is created) or declines."""
    request = await session.get(PartnerRequest, request_id)
    author = await find_member(session, guild_id=guild_id, user_id=author_user_id)
    if request is None or author is None or request.author_id != author.id:
        raise NotAllowed("That request isn't addressed to you.")
    if request.state != "open":
        raise Conflict("That request has already been answered.")
    request.decided_at = now
    requester_user_id = await user_id_of(session, member_id=request.requester_id)
    if not accept:
        request.state = "declined"
        await _notify(
            session,
            key=f"request-declined:{request.id}",
            guild_id=guild_id,
            user_id=requester_user_id,
            text=posts.request_declined_text(author_user_id),
            due_at=now,
            now=now,
        )
        await session.flush()
        return request, None
    requester = await session.get(Member, request.requester_id)
    if requester is None or await current_partnership(session, member_id=requester.id):
        request.state = "closed"
        await session.flush()
        raise Conflict("They've found a partner in the meantime. Keep an eye on the forum!")
    if await current_partnership(session, member_id=author.id):
        raise Conflict("You already have a partner (or a proposal waiting). See `/pair status`.")
    request.state = "accepted"
    await _notify(
        session,
        key=f"request-accepted:{request.id}",
        guild_id=guild_id,
        user_id=requester_user_id,
        text=posts.request_accepted_text(author_user_id),
        due_at=now,
        now=now,
    )
    for member in (author, requester):
        await _close_requests(session, member_id=member.id, now=now, keep=request.id)
    # In the same transaction: the proposal (and its private space) can't be lost to a crash.
    from bot.services import partnerships

    partnership = await partnerships.propose(
        session,
        guild_id=guild_id,
        member_ids=[author.id, requester.id],
        source="request",
        now=now,
    )
    return request, partnership


async def _close_requests(
    session: AsyncSession, *, member_id: int, now: datetime, keep: int | None = None
) -> None:
    requests = (
        await session.execute(
            select(PartnerRequest).where(
                PartnerRequest.state == "open",
                or_(
                    PartnerRequest.requester_id == member_id, PartnerRequest.author_id == member_id
                ),
            )
        )
    ).scalars()
    for request in requests:
        if request.id != keep:
            request.state = "closed"
            request.decided_at = now


async def is_blocked_either_way(session: AsyncSession, *, a: int, b: int) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(Block)
        .where(
            or_(
                (Block.blocker_id == a) & (Block.blocked_id == b),
                (Block.blocker_id == b) & (Block.blocked_id == a),
            )
        )
    )
    return bool(found)


async def _author_would_accept(session: AsyncSession, *, author: Member, requester: Member) -> bool:
    if await is_blocked_either_way(session, a=author.id, b=requester.id):
        return False
    loaded = (
        await session.execute(
            select(Member)
            .options(selectinload(Member.private))
            .where(Member.id.in_([author.id, requester.id]))
        )
    ).scalars()
    by_id = {m.id: m for m in loaded}
    return p.preferences_allow(
        private_fields(by_id[author.id].private),
        private_fields(by_id[requester.id].private),
        tuple(requester.languages or ()),
    )


@dataclass(frozen=True)
class PostState:
    """Everything needed to bring a member's forum post up to date (public data only)."""

    member_id: int
    display_name: str
    profile: PublicProfile
    pool_status: str
    paused_until: datetime | None
    forum_post_id: int | None
    forum_channel_id: int | None


async def post_state(session: AsyncSession, *, guild_id: int, user_id: int) -> PostState | None:
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return None
    settings = await session.get(GuildSettings, guild_id)
    return PostState(
        member_id=member.id,
        display_name=member.display_name or "A member",
        profile=public_profile(member),
        pool_status=member.pool_status,
        paused_until=member.paused_until,
        forum_post_id=member.forum_post_id,
        forum_channel_id=settings.forum_channel_id if settings else None,
    )


async def set_forum_post(session: AsyncSession, *, member_id: int, post_id: int | None) -> None:
    member = await session.get(Member, member_id)
    if member is not None:
        member.forum_post_id = post_id
        await session.flush()


async def stale_posts(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """Members flagged ``forum_post_stale`` (by code that changes a pool status without the
    outbox) get a ``post_sync`` row; returns how many."""
    members = list(
        (
            await session.execute(
                # ``= true`` (not ``IS TRUE``): PostgreSQL's index serves only the former.
                select(Member).where(Member.forum_post_stale == true()).limit(limit)
            )
        ).scalars()
    )
    for member in members:
        member.forum_post_stale = False
        await queue_post_sync(session, member=member, now=now)
    await session.flush()
    return len(members)


async def user_id_of(session: AsyncSession, *, member_id: int) -> int:
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound("That member is no longer here.")
    return member.user_id


async def request_guild(session: AsyncSession, *, request_id: int) -> int:
    request = await session.get(PartnerRequest, request_id)
    if request is None:
        raise NotFound("That request no longer exists.")
    return request.guild_id


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
