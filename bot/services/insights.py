"""``/admin stats``: how the community's partnerships are doing, in counts only (never a name,
a reason or a private field)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.stats import COMMUNITY_WINDOW, CommunityStats, LastRound, MeetingTally
from bot.services.guilds import get_settings
from models import (
    CheckIn,
    Goal,
    MatchRound,
    Meeting,
    MeetingAnswer,
    Member,
    Partnership,
    PartnershipMember,
    Report,
)


def window_start(now: datetime) -> datetime:
    """The stats window starts at 00:00 UTC of the day 28 days ago: whole days, so a pair that
    started on the day the header names is counted in it."""
    return datetime.combine((now - COMMUNITY_WINDOW).astimezone(UTC).date(), time(0), UTC)


def meeting_kind(answers: list[str]) -> str:
    """A past meeting as moderators count it, from its partners' answers alone: held (someone
    said yes and nobody said no), disputed (yes and no), rescheduled, missed, or unanswered."""
    given = set(answers)
    if "yes" in given:
        return "disputed" if "no" in given else "held"
    if "rescheduled" in given:
        return "rescheduled"
    return "missed" if "no" in given else "unanswered"


async def community_stats(session: AsyncSession, *, guild_id: int, now: datetime) -> CommunityStats:
    since = window_start(now)
    settings = await get_settings(session, guild_id=guild_id, now=now)

    async def count(query: Any) -> int:
        return int(await session.scalar(query) or 0)

    members = select(func.count()).select_from(Member).where(Member.guild_id == guild_id)
    by_status = dict((await session.execute(
        select(Member.pool_status, func.count())
        .where(Member.guild_id == guild_id)
        .group_by(Member.pool_status)
    )).all())
    pairs = select(func.count()).select_from(Partnership).where(Partnership.guild_id == guild_id)
    by_state = dict((await session.execute(
        select(Partnership.state, func.count())
        .where(Partnership.guild_id == guild_id)
        .group_by(Partnership.state)
    )).all())
    live = pairs.where(Partnership.state.in_(("trial", "active")))
    quiet_since = now - timedelta(weeks=settings.ghost_weeks)
    quiet_member = exists().where(
        PartnershipMember.partnership_id == Partnership.id,
        func.coalesce(PartnershipMember.last_active_at, Partnership.started_at) < quiet_since,
    )
    ended_rows = await session.execute(
        select(Partnership.end_reason, func.count())
        .where(
            Partnership.guild_id == guild_id,
            Partnership.state == "ended",
            Partnership.ended_at >= since,
        )
        .group_by(Partnership.end_reason)
        .order_by(func.count().desc(), Partnership.end_reason)
    )
    answers: dict[int, list[str]] = {}
    for meeting_id, answer in await session.execute(
        select(Meeting.id, MeetingAnswer.answer)
        .join(Partnership, Partnership.id == Meeting.partnership_id)
        .outerjoin(MeetingAnswer, MeetingAnswer.meeting_id == Meeting.id)
        .where(
            Partnership.guild_id == guild_id,
            Meeting.state != "cancelled",
            Meeting.occurs_at >= since,
            Meeting.occurs_at <= now,
        )
    ):
        answers.setdefault(meeting_id, [])
        if answer is not None:
            answers[meeting_id].append(answer)
    kinds = Counter(meeting_kind(given) for given in answers.values())
    checkins = (
        select(func.count())
        .select_from(CheckIn)
        .join(Goal, Goal.id == CheckIn.goal_id)
        .where(Goal.guild_id == guild_id, CheckIn.asked_for >= since, CheckIn.asked_for <= now)
    )
    due_in_window = and_(
        Goal.guild_id == guild_id, Goal.due_date >= since.date(), Goal.due_date <= now.date()
    )
    never_asked = await count(
        select(func.count())
        .select_from(Goal)
        .where(
            due_in_window,
            Goal.status == "missed",
            ~exists().where(CheckIn.goal_id == Goal.id),
        )
    )
    goal_rows = dict(
        (
            await session.execute(
                select(Goal.status, func.count())
                .where(due_in_window)
                .group_by(Goal.status)
            )
        ).all()
    )
    last = (
        await session.execute(
            select(MatchRound)
            .where(MatchRound.guild_id == guild_id)
            .order_by(MatchRound.ran_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return CommunityStats(
        since=since,
        profiles=await count(members.where(Member.timezone.is_not(None))),
        seeking=int(by_status.get("seeking", 0)),
        paused=int(by_status.get("paused", 0)),
        proposed=int(by_state.get("proposed", 0)),
        trial=int(by_state.get("trial", 0)),
        active=int(by_state.get("active", 0)),
        with_meeting=await count(live.where(Partnership.meeting_time.is_not(None))),
        quiet=await count(live.where(quiet_member)),
        started=await count(pairs.where(Partnership.started_at >= since)),
        ended=tuple((reason or "ended", int(n)) for reason, n in ended_rows.all()),
        meetings=MeetingTally(
            past=len(answers),
            held=kinds["held"],
            disputed=kinds["disputed"],
            rescheduled=kinds["rescheduled"],
            missed=kinds["missed"],
            unanswered=kinds["unanswered"],
        ),
        checkins_asked=await count(checkins),
        checkins_answered=await count(checkins.where(CheckIn.answer.is_not(None))),
        done=int(goal_rows.get("done", 0)),
        partly=int(goal_rows.get("partly", 0)),
        missed=int(goal_rows.get("missed", 0)),
        missed_never_asked=never_asked,
        open_reports=await count(
            select(func.count()).select_from(Report).where(
                and_(Report.guild_id == guild_id, Report.state == "open")
            )
        ),
        last_round=None if last is None else LastRound(
            last.ran_at, last.pool_size, last.groups, last.unmatched
        ),
    )
