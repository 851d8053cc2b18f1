"""``/privacy export`` and ``/privacy delete``: everything stored about a member in one
community, or nothing.

The export holds what the member entered and what happened to them: their profile and private
fields, their wishes, whom they blocked, their requests, partnerships (with their own answers
and private reasons), goals, check-ins, the feedback they got and gave, missed-goal
reflections, weeks off and reports they filed. It never holds another member's private data: a
partner's decline reason, who blocked them, or reports about them.

Deleting ends a live partnership the way ``/pair end`` does (the partner is told kindly and the
private space closes), calls back pending messages that quote them, drops the messages
addressed to them, has their forum post deleted, and removes every row that is theirs. Where
another member's own records point at them (a partner's history, a block someone made so that
they are never matched again, a report about them for the moderators), a bare member row
with their Discord ID is kept, with their part of a shared partnership's history (membership
without the private reason, "did you meet?" answers), so those records stay true; otherwise
the member row goes too, and the database removes the rest with it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import goals, outbox, partnerships
from bot.services.outbox import KindRule, register_kind
from bot.services.profiles import find_member, is_blank
from models import (
    Block,
    CheckIn,
    Feedback,
    Goal,
    Meeting,
    MeetingAnswer,
    Member,
    MemberPrivate,
    MissedReflection,
    OutboxItem,
    PartnerRequest,
    Partnership,
    PartnershipMember,
    Report,
    RoundStanding,
    Snooze,
)

log = logging.getLogger(__name__)

EXPORT_FORMAT = "pairbot-export/1"

POST_DELETE = register_kind(
    KindRule(
        "post_delete",
        delivery=False,
        stale_after=None,
        why="A member who deleted their data must not keep a forum post: delete it however late.",
    )
)


@dataclass(frozen=True)
class Deletion:
    """What ``delete_member`` did."""

    found: bool
    ended_partnership: bool = False
    kept_id: bool = False
    """A bare row with the Discord ID alone stayed, because another member's records need it."""


def _when(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


async def export_member(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> dict[str, Any] | None:
    """Everything stored about the member in this community, as JSON-ready data; ``None`` when
    nothing is stored."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return None
    mid = member.id
    private = await session.get(MemberPrivate, mid)
    standing = await session.get(RoundStanding, mid)
    if is_blank(member) and private is None and not await _has_own_rows(session, mid):
        # A bare row kept for others' records (a block, a report) is not the member's data,
        # and answering "nothing stored" keeps them from learning that it exists.
        return None

    blocks = list((await session.execute(
        select(Block).where(Block.blocker_id == mid).order_by(Block.created_at)
    )).scalars())
    requests = list((await session.execute(
        select(PartnerRequest)
        .where(or_(PartnerRequest.requester_id == mid, PartnerRequest.author_id == mid))
        .order_by(PartnerRequest.created_at, PartnerRequest.id)
    )).scalars())
    memberships = (await session.execute(
        select(PartnershipMember, Partnership)
        .join(Partnership, Partnership.id == PartnershipMember.partnership_id)
        .where(PartnershipMember.member_id == mid)
        .order_by(Partnership.proposed_at, Partnership.id)
    )).all()
    # Everyone the export names, looked up at once.
    named = {b.blocked_id for b in blocks}
    named |= {r.requester_id for r in requests} | {r.author_id for r in requests}
    named |= {m.member_id for _, ship in memberships for m in ship.members}
    user_ids = dict((await session.execute(
        select(Member.id, Member.user_id).where(Member.id.in_(named))
    )).all())

    def user_of(member_id: int) -> str:
        return str(user_ids.get(member_id, "unknown"))

    partnership_rows = []
    for mine, ship in memberships:
        others = [m.member_id for m in ship.members if m.member_id != mid]
        partnership_rows.append({
            "id": ship.id,
            "state": ship.state,
            "source": ship.source,
            "partner_user_ids": [user_of(o) for o in others],
            "proposed_at": _when(ship.proposed_at),
            "started_at": _when(ship.started_at),
            "ended_at": _when(ship.ended_at),
            "end_reason": ship.end_reason,
            "why_matched": ship.explanation,
            "my_answer": mine.accepted,
            "my_private_reason": mine.private_reason,
            "my_trial_choice": mine.trial_choice,
            "meeting": None if ship.meeting_time is None else {
                "weekday": ship.meeting_weekday,
                "time": ship.meeting_time,
                "zone": ship.meeting_zone,
                "every_weeks": ship.meeting_interval_weeks,
                "minutes": ship.meeting_minutes,
                "reminder_minutes": ship.reminder_minutes,
            },
        })
    answers = (await session.execute(
        select(MeetingAnswer, Meeting)
        .join(Meeting, Meeting.id == MeetingAnswer.meeting_id)
        .where(MeetingAnswer.member_id == mid)
        .order_by(Meeting.occurs_at)
    )).all()
    goals_of = select(Goal.id).where(Goal.member_id == mid).scalar_subquery()
    checkins_of: dict[int, list[CheckIn]] = {}
    for checkin in (await session.execute(
        select(CheckIn).where(CheckIn.goal_id.in_(goals_of)).order_by(CheckIn.asked_for)
    )).scalars():
        checkins_of.setdefault(checkin.goal_id, []).append(checkin)
    feedback_on: dict[int, list[Feedback]] = {}
    for f in (await session.execute(
        select(Feedback)
        .join(CheckIn, CheckIn.id == Feedback.checkin_id)
        .where(CheckIn.goal_id.in_(goals_of))
        .order_by(Feedback.created_at)
    )).scalars():
        feedback_on.setdefault(f.checkin_id, []).append(f)
    reflections = {r.goal_id: r for r in (await session.execute(
        select(MissedReflection).where(MissedReflection.goal_id.in_(goals_of))
    )).scalars()}
    goal_rows = []
    for goal in (await session.execute(
        select(Goal).where(Goal.member_id == mid).order_by(Goal.due_date, Goal.id)
    )).scalars():
        checkins = [
            {
                "asked_for": _when(checkin.asked_for),
                "answer": checkin.answer,
                "note": checkin.note,
                "answered_at": _when(checkin.answered_at),
                "feedback_received": [
                    {"text": f.text, "at": _when(f.created_at)}
                    for f in feedback_on.get(checkin.id, [])
                ],
            }
            for checkin in checkins_of.get(goal.id, [])
        ]
        reflection = reflections.get(goal.id)
        goal_rows.append({
            "text": goal.text,
            "area": goal.area,
            "due_date": _when(goal.due_date),
            "status": goal.status,
            "created_at": _when(goal.created_at),
            "checkins": checkins,
            "missed": None if reflection is None else {
                "reason": reflection.reason,
                "reflection": reflection.reflection,
            },
        })
    given = (await session.execute(
        select(Feedback).where(Feedback.from_member_id == mid).order_by(Feedback.created_at)
    )).scalars()
    weeks_off = (await session.execute(
        select(Snooze.week_start).where(Snooze.member_id == mid).order_by(Snooze.week_start)
    )).scalars()
    reports = (await session.execute(
        select(Report).where(Report.reporter_id == mid).order_by(Report.created_at)
    )).scalars()
    pending = (await session.execute(
        select(OutboxItem.kind, OutboxItem.due_at)
        .where(
            OutboxItem.guild_id == guild_id,
            OutboxItem.user_id == user_id,
            OutboxItem.state == "pending",
        )
        .order_by(OutboxItem.due_at)
    )).all()

    return {
        "format": EXPORT_FORMAT,
        "exported_at": _when(now),
        "server_id": str(guild_id),
        "user_id": str(user_id),
        "profile": {
            "display_name": member.display_name,
            "timezone": member.timezone,
            "availability": member.availability,
            "goal_areas": list(member.goal_areas or []),
            "intro": member.intro,
            "goals": member.goals_text,
            "rhythm": member.rhythm,
            "medium": member.medium,
            "languages": list(member.languages or []),
            "checkin_weekday": member.checkin_weekday,
            "checkin_time": member.checkin_time,
            "created_at": _when(member.created_at),
            "updated_at": _when(member.updated_at),
        },
        "private": None if private is None else {
            "gender": private.gender,
            "age_bracket": private.age_bracket,
            "partner_genders": list(private.pref_genders or []),
            "partner_age_min": private.pref_age_min,
            "partner_age_max": private.pref_age_max,
            "partner_languages": list(private.pref_languages or []),
        },
        "pool": {
            "status": member.pool_status,
            "paused_until": _when(member.paused_until),
            "waiting_since": _when(member.waiting_since),
            "matched_first_next_round": member.priority,
            "forum_post_id": None if member.forum_post_id is None else str(member.forum_post_id),
            "dms_closed": member.dms_closed,
            "rounds": None if standing is None else {
                "rounds_waited": standing.rounds_waited,
                "last_round_at": _when(standing.last_round_at),
                "last_told": standing.told_key,
                "last_told_at": _when(standing.told_at),
            },
        },
        "blocked": [
            {"user_id": user_of(b.blocked_id), "since": _when(b.created_at)} for b in blocks
        ],
        "partner_requests": [
            {
                "direction": "sent" if r.requester_id == mid else "received",
                "other_user_id": user_of(r.author_id if r.requester_id == mid
                                         else r.requester_id),
                "state": r.state,
                "created_at": _when(r.created_at),
                "decided_at": _when(r.decided_at),
            }
            for r in requests
        ],
        "partnerships": partnership_rows,
        "meeting_answers": [
            {"partnership_id": m.partnership_id, "meeting_at": _when(m.occurs_at),
             "answer": a.answer, "answered_at": _when(a.answered_at)}
            for a, m in answers
        ],
        "goals": goal_rows,
        "feedback_given": [{"text": f.text, "at": _when(f.created_at)} for f in given],
        "weeks_off": [_when(w) for w in weeks_off],
        "reports_filed": [
            {"text": r.text, "state": r.state, "at": _when(r.created_at)} for r in reports
        ],
        "pending_messages": [{"kind": kind, "due_at": _when(due)} for kind, due in pending],
    }


async def _has_own_rows(session: AsyncSession, member_id: int) -> bool:
    """Whether any row besides the member row is the member's."""
    owned = [
        exists().where(PartnershipMember.member_id == member_id),
        exists().where(Goal.member_id == member_id),
        exists().where(Feedback.from_member_id == member_id),
        exists().where(Snooze.member_id == member_id),
        exists().where(Report.reporter_id == member_id),
        exists().where(Block.blocker_id == member_id),
        exists().where(or_(PartnerRequest.requester_id == member_id,
                           PartnerRequest.author_id == member_id)),
    ]
    return bool(await session.scalar(select(or_(*owned))))


async def _needed_by_others(session: AsyncSession, member_id: int) -> bool:
    """Whether another member's own records point at this member: a partnership they shared
    (a partner's history), a block someone made, a report about them."""
    shared = exists().where(
        PartnershipMember.partnership_id.in_(
            select(PartnershipMember.partnership_id).where(PartnershipMember.member_id == member_id)
        ),
        PartnershipMember.member_id != member_id,
    )
    blocked = exists().where(Block.blocked_id == member_id)
    reported = exists().where(Report.reported_id == member_id)
    return bool(await session.scalar(select(or_(shared, blocked, reported))))


async def delete_member(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> Deletion:
    """Delete everything stored about the member in this community (see the module docstring)."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return Deletion(found=False)
    mid = member.id
    ended = await partnerships.forget_member(session, member_id=mid, now=now)
    await goals.forget_member_goals(session, member_id=mid)
    await outbox.forget_member(session, user_id=user_id, guild_id=guild_id)
    if member.forum_post_id is not None:
        await outbox.enqueue(
            session,
            key=f"{POST_DELETE.kind}:{member.forum_post_id}",
            kind=POST_DELETE.kind,
            due_at=now,
            now=now,
            guild_id=guild_id,
            channel_id=member.forum_post_id,
            payload={"thread_id": member.forum_post_id},
        )
    keep = await _needed_by_others(session, mid)
    if not keep:
        # The database removes every row that points at the member with it (ON DELETE CASCADE).
        await session.execute(delete(Member).where(Member.id == mid))
        await session.flush()
        log.info("member %s deleted their data", mid)
        return Deletion(found=True, ended_partnership=ended)

    goal_ids = select(Goal.id).where(Goal.member_id == mid).scalar_subquery()
    await session.execute(delete(MissedReflection).where(MissedReflection.member_id == mid))
    await session.execute(delete(CheckIn).where(or_(CheckIn.member_id == mid,
                                                    CheckIn.goal_id.in_(goal_ids))))
    await session.execute(delete(Goal).where(Goal.member_id == mid))
    await session.execute(delete(Feedback).where(Feedback.from_member_id == mid))
    await session.execute(delete(Snooze).where(Snooze.member_id == mid))
    await session.execute(delete(Report).where(Report.reporter_id == mid))
    await session.execute(delete(PartnerRequest).where(
        or_(PartnerRequest.requester_id == mid, PartnerRequest.author_id == mid)))
    await session.execute(delete(Block).where(Block.blocker_id == mid))
    await session.execute(delete(MemberPrivate).where(MemberPrivate.member_id == mid))
    await session.execute(delete(RoundStanding).where(RoundStanding.member_id == mid))
    for mine in (await session.execute(
        select(PartnershipMember).where(PartnershipMember.member_id == mid)
    )).scalars():
        mine.private_reason = None
    member.display_name = None
    member.timezone = None
    member.availability = None
    member.goal_areas = []
    member.intro = None
    member.goals_text = None
    member.rhythm = None
    member.medium = None
    member.languages = []
    member.dms_closed = False
    member.pool_status = "idle"
    member.paused_until = None
    member.waiting_since = None
    member.priority = False
    member.forum_post_id = None
    member.forum_post_stale = False
    member.checkin_weekday = None
    member.checkin_time = None
    member.updated_at = now
    await session.flush()
    log.info("member %s deleted their data (their ID stays for others' records)", mid)
    return Deletion(found=True, ended_partnership=ended, kept_id=True)
