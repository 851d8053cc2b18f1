"""The accountability loop: goals, check-ins by DM, a partner's feedback, the missed-goal
prompt, and snoozed weeks, on the cycle :mod:`bot.domain.goals` defines (due at the pair's next
meeting, or at the end of a day; asked about before the due moment; reviewed just after it and
before the next meeting's agenda).

Everything due runs on the outbox. Planning is event-driven: each member has at most one pending
``checkin_plan`` row (their next check-in) and one ``goal_review`` row (their next review), laid
down by :func:`plan_member` whenever something that moves them changes (a goal added, edited,
done or dropped; a check-in time; a snooze; the pair's meeting) and chained by each row when it
runs. No tick reads every member: :func:`sweep` only re-plans, a bounded batch at a time,
members whose goals are overdue for review (a safety net that finds nothing when all is well).

* ``checkin_plan``: one :class:`CheckIn` per goal the moment asks about, and the ``checkin``
  DMs (Done / Partly / Missed / Add a note);
* ``goal_review``: open goals past their due moment become missed (never one that was not
  asked about: it is asked first), goals due in a snoozed week or a pause move to the cycle
  after it, and a ``weekly_prompt`` DM asks, without blame, what got in the way.

Planning rows are checked against the member's rule when they run, so a changed time zone or
check-in time leaves the old rows harmless. What a member types (answers, notes, feedback,
reasons) is written in the same unit of work as the delivery that shares it, so a crash loses
neither. Sharing with the partner waits :data:`SHARE_DELAY` and is replaced by a newer answer,
so pressing "Done" and then adding a note tells the partner once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.domain import goals as g
from bot.domain.posts import ts
from bot.domain.recurrence import occurrence_key
from bot.domain.stats import MemberStats, member_stats
from bot.errors import Conflict, NotAllowed, NotFound
from bot.services import outbox
from bot.services.guilds import get_settings
from bot.services.outbox import DueWork, KindRule, register_kind
from bot.services.ports import Button, OutgoingMessage
from bot.services.profiles import ensure_member, find_member
from models import (
    CheckIn,
    Feedback,
    Goal,
    Member,
    MissedReflection,
    Partnership,
    PartnershipMember,
    Snooze,
)

log = logging.getLogger(__name__)

PAIR_STATES = ("trial", "active")
"""A partner sees goals, check-ins and reflections once both have accepted."""
SCHEDULE_HORIZON = timedelta(days=2)
SHARE_DELAY = timedelta(minutes=3)
RECENT = timedelta(days=8)
PATTERN_LOOKBACK = timedelta(weeks=12)
DEFAULT_ZONE = "UTC"

CHECKIN_LATE = timedelta(hours=12)
CHECKIN_PLAN = register_kind(
    KindRule(
        "checkin_plan",
        delivery=False,
        stale_after=None,
        why="A check-in plan always runs, however late, because it plans the next one; more "
        "than 12 hours late it asks nothing (those DMs would be stale by the checkin rule) and "
        "a goal that still needs asking gets its last call instead.",
    )
)
GOAL_REVIEW = register_kind(
    KindRule(
        "goal_review",
        delivery=False,
        stale_after=None,
        why="Closing a cycle (open goals past their due moment become missed) is bookkeeping "
        "that must happen however late; the prompt it sends has its own weekly_prompt rule.",
    )
)
CHECKIN_SHARED = register_kind(
    KindRule(
        "checkin_shared",
        delivery=True,
        stale_after=timedelta(days=2),
        why="Telling the partner how a check-in went is news for a couple of days; after that "
        "the meeting agenda shows it anyway.",
    )
)
GOAL_FEEDBACK = register_kind(
    KindRule(
        "goal_feedback",
        delivery=True,
        stale_after=timedelta(days=7),
        why="A partner's words are worth delivering late, but not after the next week's "
        "check-in has made them moot.",
    )
)
REFLECTION_SHARED = register_kind(
    KindRule(
        "reflection_shared",
        delivery=True,
        stale_after=timedelta(days=7),
        why="Why a goal was missed is shared before the next meeting; a week late it is on the "
        "meeting agenda instead.",
    )
)


DueWorkHandler = Callable[[AsyncSession, DueWork], Awaitable[None]]


def due_work_handlers(clock: Clock) -> dict[str, DueWorkHandler]:
    """The planning kinds and their handlers, for ``Dispatcher.register``."""

    async def plan(session: AsyncSession, work: DueWork) -> None:
        await run_checkin_plan(session, work=work, now=clock.now())

    async def review(session: AsyncSession, work: DueWork) -> None:
        await run_review(session, work=work, now=clock.now())

    return {CHECKIN_PLAN.kind: plan, GOAL_REVIEW.kind: review}


# --------------------------------------------------------------------------- plain results


@dataclass(frozen=True)
class GoalView:
    id: int
    user_id: int
    text: str
    area: str | None
    due: date
    status: str
    deadline: datetime
    last_answer: str | None = None
    rule: str = "day"
    meeting_at: datetime | None = None
    """For a goal due at the pair's next meeting: that meeting."""
    checkin_at: datetime | None = None
    """When its owner will next be asked about it (filled in by ``add_goal`` and ``edit_goal``)."""


@dataclass(frozen=True)
class GoalBoard:
    """``/goal list``: the member's goals and their partners' (nobody else's)."""

    user_id: int
    mine: tuple[GoalView, ...]
    partners: tuple[tuple[int, tuple[GoalView, ...]], ...]
    today: date
    zone: str
    zone_known: bool


@dataclass(frozen=True)
class CheckinSetting:
    description: str
    next_at: datetime
    own_choice: bool


@dataclass(frozen=True)
class AnswerResult:
    goal_text: str
    answer: str | None
    note_saved: bool
    shared: bool
    late: bool


@dataclass(frozen=True)
class SnoozeResult:
    week_start: date
    starts_at: datetime
    ends_at: datetime
    undone: bool = False


@dataclass
class _Target:
    """A member and their running partnership, loaded once per operation."""

    member: Member
    pair: Partnership | None = None
    partner_ids: list[int] = field(default_factory=list)

    @property
    def zone(self) -> str:
        return self.member.timezone or DEFAULT_ZONE

    @property
    def thread_id(self) -> int | None:
        return self.pair.thread_id if self.pair else None


# --------------------------------------------------------------------------- loading


async def _pair_of(session: AsyncSession, *, member_id: int) -> Partnership | None:
    return (
        await session.execute(
            select(Partnership)
            .join(PartnershipMember)
            .where(PartnershipMember.member_id == member_id, Partnership.state.in_(PAIR_STATES))
            .order_by(Partnership.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _target(session: AsyncSession, member: Member) -> _Target:
    pair = await _pair_of(session, member_id=member.id)
    partners = [pm.member_id for pm in pair.members if pm.member_id != member.id] if pair else []
    return _Target(member=member, pair=pair, partner_ids=sorted(partners))


async def _member(session: AsyncSession, *, guild_id: int, user_id: int) -> Member:
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        raise NotFound("You have no goals yet. Add one with `/goal add`.")
    return member


def _due_at(goal: Goal, zone: str) -> datetime:
    return goal.due_at or g.deadline(goal.due_date, zone)


def _view(goal: Goal, *, user_id: int, zone: str, last_answer: str | None = None) -> GoalView:
    return GoalView(
        id=goal.id,
        user_id=user_id,
        text=goal.text,
        area=goal.area,
        due=goal.due_date,
        status=goal.status,
        deadline=_due_at(goal, zone),
        last_answer=last_answer,
        rule=goal.due_rule or "day",
    )


DB_ID_MAX = 2**31 - 1
"""Row ids are 32-bit integers on PostgreSQL; a bigger number typed or forged is no row."""


def db_id(value: str | int) -> int | None:
    """A row id from member input or a ``custom_id``; ``None`` when it can't be one."""
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if 0 < number <= DB_ID_MAX else None


RowT = TypeVar("RowT", Goal, CheckIn)


async def _get_row(session: AsyncSession, model: type[RowT], row_id: int) -> RowT | None:
    """``session.get`` that treats an id out of the database's range as no row (a forged
    button or a typed 20-digit number must not reach the driver)."""
    checked = db_id(row_id)
    return await session.get(model, checked) if checked is not None else None


async def _own_goal(
    session: AsyncSession, *, guild_id: int, user_id: int, goal_ref: str | int
) -> tuple[Goal, Member]:
    """The goal a member picked (autocomplete values aren't enforced by Discord): it must be
    theirs, in this community."""
    if not str(goal_ref).strip().isdigit():
        raise NotFound("Please pick one of your goals from the list.")
    member = await _member(session, guild_id=guild_id, user_id=user_id)
    goal_id = db_id(goal_ref)
    goal = await session.get(Goal, goal_id) if goal_id is not None else None
    if goal is None or goal.member_id != member.id or goal.guild_id != guild_id:
        raise NotFound("I couldn't find that goal among yours. Please pick one from the list.")
    return goal, member


# --------------------------------------------------------------------------- goals


async def add_goal(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    text: str,
    now: datetime,
    due: str | None = None,
    area: str | None = None,
    display_name: str | None = None,
) -> GoalView:
    """A new goal, due at the pair's next meeting (the default when they have a meeting time),
    "this week", "next week" or on a date in the member's zone."""
    member = await ensure_member(
        session, guild_id=guild_id, user_id=user_id, now=now, display_name=display_name
    )
    zone = member.timezone or DEFAULT_ZONE
    clean = g.clean_goal_text(text)
    target = await _target(session, member)
    due_at, rule = g.resolve_due(due, now=now, zone=zone, meeting=_meeting(target.pair))
    chosen_area = await _area(session, guild_id=guild_id, area=area, now=now)
    live = await _count_live(session, member_id=member.id)
    if live >= g.MAX_LIVE_GOALS:
        raise Conflict(
            f"You already have {live} open goals. Finish or drop one first (`/goal done`, "
            "`/goal drop`): fewer goals get done more often."
        )
    goal = Goal(
        guild_id=guild_id,
        member_id=member.id,
        partnership_id=target.pair.id if target.pair else None,
        text=clean,
        area=chosen_area,
        due_date=g.local_date(due_at, zone),
        due_at=due_at,
        due_rule=rule,
        status="open",
        created_at=now,
        updated_at=now,
    )
    session.add(goal)
    await session.flush()
    await plan_member(session, member_id=member.id, now=now)
    log.info("goal %s added by member %s", goal.id, member.id)
    return await _planned_view(session, goal, target=target, now=now)


async def _planned_view(
    session: AsyncSession, goal: Goal, *, target: _Target, now: datetime
) -> GoalView:
    """The goal as ``/goal add`` and ``/goal edit`` show it: when it is due, the meeting it is
    due at, and when its owner will next be asked about it."""
    view = _view(goal, user_id=target.member.user_id, zone=target.zone)
    meeting = _meeting(target.pair)
    meeting_at = None
    if view.rule == "meeting" and meeting is not None:
        meeting_at = meeting.next_meeting(view.deadline)
    asked = bool(
        (await session.execute(select(exists().where(CheckIn.goal_id == goal.id)))).scalar()
    )
    alone = g.next_checkin_for(
        _rule(target),
        [_timing(goal, zone=target.zone, asked=asked)],
        now=now,
        snoozed=await snoozed_weeks(session, member_id=target.member.id),
        last_calls=not await _away(session, target.member),
    )
    return dataclasses.replace(
        view, meeting_at=meeting_at, checkin_at=alone.at if alone else None
    )


async def _area(
    session: AsyncSession, *, guild_id: int, area: str | None, now: datetime
) -> str | None:
    if area is None or not area.strip():
        return None
    allowed = list((await get_settings(session, guild_id=guild_id, now=now)).goal_areas or [])
    wanted = area.strip().lower()
    for name in allowed:
        if name.lower() == wanted:
            return name
    raise g.GoalError("Please pick a goal area from the list: " + ", ".join(allowed) + ".")


async def goal_areas(session: AsyncSession, *, guild_id: int, now: datetime) -> list[str]:
    return list((await get_settings(session, guild_id=guild_id, now=now)).goal_areas or [])


async def _count_live(session: AsyncSession, *, member_id: int) -> int:
    rows = await session.execute(
        select(Goal.id).where(Goal.member_id == member_id, Goal.status.in_(g.LIVE_STATUSES))
    )
    return len(rows.all())


async def _last_answers(session: AsyncSession, goal_ids: Sequence[int]) -> dict[int, str]:
    if not goal_ids:
        return {}
    rows = await session.execute(
        select(CheckIn.goal_id, CheckIn.answer)
        .where(CheckIn.goal_id.in_(list(goal_ids)), CheckIn.answer.is_not(None))
        .order_by(CheckIn.asked_for)
    )
    return {goal_id: answer for goal_id, answer in rows.all() if answer}


async def _board_goals(
    session: AsyncSession, *, member: Member, now: datetime
) -> tuple[GoalView, ...]:
    """Live goals, and the ones that ended in the last week (so their status shows)."""
    zone = member.timezone or DEFAULT_ZONE
    since = g.local_date(now, zone) - timedelta(days=7)
    goals = list(
        (
            await session.execute(
                select(Goal)
                .where(
                    Goal.member_id == member.id,
                    or_(
                        Goal.status.in_(g.LIVE_STATUSES),
                        and_(Goal.status != "dropped", Goal.due_date >= since),
                    ),
                )
                .order_by(Goal.due_date, Goal.id)
                .limit(15)
            )
        ).scalars()
    )
    answers = await _last_answers(session, [goal.id for goal in goals])
    return tuple(
        _view(goal, user_id=member.user_id, zone=zone, last_answer=answers.get(goal.id))
        for goal in goals
    )


async def list_goals(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> GoalBoard:
    """The member's goals and their partner's, with status."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return GoalBoard(user_id, (), (), g.local_date(now, DEFAULT_ZONE), DEFAULT_ZONE, False)
    target = await _target(session, member)
    partners: list[tuple[int, tuple[GoalView, ...]]] = []
    for partner_id in target.partner_ids:
        partner = await session.get(Member, partner_id)
        if partner is not None:
            partners.append((partner.user_id, await _board_goals(session, member=partner, now=now)))
    return GoalBoard(
        user_id=user_id,
        mine=await _board_goals(session, member=member, now=now),
        partners=tuple(partners),
        today=g.local_date(now, target.zone),
        zone=target.zone,
        zone_known=member.timezone is not None,
    )


async def goal_choices(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    typed: str = "",
    recent_misses: bool = False,
) -> list[GoalView]:
    """The member's own goals for an autocomplete: live ones, and with ``recent_misses`` the
    goals missed in the last week too (they can still be marked done)."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return []
    zone = member.timezone or DEFAULT_ZONE
    allowed = [*g.LIVE_STATUSES, *(("missed",) if recent_misses else ())]
    since = g.local_date(now, zone) - timedelta(days=7)
    goals = (
        await session.execute(
            select(Goal)
            .where(
                Goal.member_id == member.id,
                Goal.guild_id == guild_id,
                Goal.status.in_(allowed),
                or_(Goal.status != "missed", Goal.due_date >= since),
            )
            .order_by(Goal.due_date, Goal.id)
        )
    ).scalars()
    needle = typed.strip().lower()
    return [
        _view(goal, user_id=user_id, zone=zone)
        for goal in goals
        if not needle or needle in goal.text.lower()
    ][:25]


async def complete_goal(
    session: AsyncSession, *, guild_id: int, user_id: int, goal_ref: str | int, now: datetime
) -> GoalView:
    """Mark a goal done (a missed one from last week too: late counts)."""
    goal, member = await _own_goal(session, guild_id=guild_id, user_id=user_id, goal_ref=goal_ref)
    if goal.status == "done":
        raise Conflict("That goal is already done. 🎉")
    if goal.status == "dropped":
        raise Conflict("You dropped that goal. Add it again with `/goal add` if it's back on.")
    goal.status = "done"
    goal.updated_at = now
    await _touch(session, member_id=member.id, now=now)
    await session.flush()
    await plan_member(session, member_id=member.id, now=now)
    return _view(goal, user_id=user_id, zone=member.timezone or DEFAULT_ZONE)


async def edit_goal(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    goal_ref: str | int,
    now: datetime,
    text: str | None = None,
    due: str | None = None,
    area: str | None = None,
) -> GoalView:
    goal, member = await _own_goal(session, guild_id=guild_id, user_id=user_id, goal_ref=goal_ref)
    if goal.status not in g.LIVE_STATUSES:
        raise Conflict("Only open goals can be edited. Add a new one with `/goal add`.")
    zone = member.timezone or DEFAULT_ZONE
    if text is None and due is None and area is None:
        raise g.GoalError("Tell me what to change: the text, the due date or the area.")
    if text is not None:
        goal.text = g.clean_goal_text(text)
    target = await _target(session, member)
    if due is not None:
        due_at, rule = g.resolve_due(due, now=now, zone=zone, meeting=_meeting(target.pair))
        goal.due_at, goal.due_rule, goal.due_date = due_at, rule, g.local_date(due_at, zone)
    if area is not None:
        goal.area = await _area(session, guild_id=guild_id, area=area, now=now)
    goal.updated_at = now
    await session.flush()
    await plan_member(session, member_id=member.id, now=now)
    return await _planned_view(session, goal, target=target, now=now)


async def drop_goal(
    session: AsyncSession, *, guild_id: int, user_id: int, goal_ref: str | int, now: datetime
) -> GoalView:
    """Let a goal go: no more check-ins, never counted as missed."""
    goal, member = await _own_goal(session, guild_id=guild_id, user_id=user_id, goal_ref=goal_ref)
    if goal.status in ("done", "dropped"):
        raise Conflict(f"That goal is already {g.STATUS_WORDS[goal.status]}.")
    goal.status = "dropped"
    goal.updated_at = now
    await session.flush()
    await plan_member(session, member_id=member.id, now=now)
    return _view(goal, user_id=user_id, zone=member.timezone or DEFAULT_ZONE)


# --------------------------------------------------------------------------- timing


def _meeting(pair: Partnership | None) -> g.MeetingRhythm | None:
    if pair is None or pair.meeting_weekday is None or not pair.meeting_time:
        return None
    if not pair.meeting_zone:
        return None
    try:
        at = g.parse_clock(pair.meeting_time)
    except g.GoalError:
        log.warning("partnership %s has an unreadable meeting time", pair.id)
        return None
    return g.MeetingRhythm(
        pair.meeting_weekday,
        at,
        pair.meeting_zone,
        pair.meeting_interval_weeks or 1,
        pair.meeting_anchor,
        pair.reminder_minutes if pair.reminder_minutes is not None else 30,
    )


def _rule(target: _Target) -> g.CheckinRule:
    member = target.member
    return g.CheckinRule(
        zone=target.zone,
        weekday=member.checkin_weekday,
        time=g.parse_clock(member.checkin_time) if member.checkin_time else None,
        meeting=_meeting(target.pair),
    )


async def set_checkin_time(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    weekday: str | None,
    time: str | None,
    now: datetime,
) -> CheckinSetting:
    """The member's own check-in day and time (their zone); no day means "the day before our
    meeting" again."""
    member = await ensure_member(session, guild_id=guild_id, user_id=user_id, now=now)
    day = g.parse_weekday(weekday) if weekday else None
    clock = g.parse_clock(time) if time else None
    member.checkin_weekday = day
    member.checkin_time = f"{clock:%H:%M}" if clock else None
    member.updated_at = now
    await session.flush()
    await plan_member(session, member_id=member.id, now=now)
    return await _checkin_setting(session, member=member, now=now)


async def _checkin_setting(
    session: AsyncSession, *, member: Member, now: datetime
) -> CheckinSetting:
    target = await _target(session, member)
    rule = _rule(target)
    return CheckinSetting(
        description=g.describe_checkin(rule),
        next_at=g.next_checkin(rule, now),
        own_choice=rule.own_choice,
    )


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    """What :func:`plan_member` laid down: the next check-in (and the goals it asks about) and
    the next review."""

    checkin_at: datetime | None = None
    review_at: datetime | None = None
    checkin_for: dict[int, datetime] = field(default_factory=dict)


async def _open_cycle(session: AsyncSession, *, member_id: int) -> list[tuple[Goal, bool]]:
    """The member's goals whose cycle isn't reviewed yet, each with whether it was asked about."""
    asked = exists().where(CheckIn.goal_id == Goal.id)
    rows = await session.execute(
        select(Goal, asked)
        .where(
            Goal.member_id == member_id,
            Goal.reviewed_at.is_(None),
            Goal.status != "dropped",
        )
        .order_by(Goal.id)
    )
    return [(goal, bool(was_asked)) for goal, was_asked in rows.all()]


def _timing(goal: Goal, *, zone: str, asked: bool) -> g.GoalTiming:
    return g.GoalTiming(
        id=goal.id,
        created=goal.created_at,
        due=_due_at(goal, zone),
        rule=goal.due_rule or "day",
        status=goal.status,
        asked=asked,
    )


async def _away(session: AsyncSession, member: Member) -> bool:
    """A paused member gets no check-ins or prompts, like a snoozed week."""
    return member.pool_status == "paused"


async def plan_member(
    session: AsyncSession,
    *,
    member_id: int,
    now: datetime,
    review_not_before: datetime | None = None,
) -> Plan:
    """Replace the member's pending check-in and review rows by the next ones their goals,
    rule and weeks off call for (none when they have no goals in a running cycle). Cheap: one
    member, a handful of queries; called on every change and by each row as it runs."""
    member = await session.get(Member, member_id)
    if member is None:
        return Plan()
    target = f"m{member.id}"
    await outbox.cancel_pending(session, kind=CHECKIN_PLAN.kind, target=target)
    await outbox.cancel_pending(session, kind=GOAL_REVIEW.kind, target=target)
    cycle = await _open_cycle(session, member_id=member.id)
    if not cycle:
        return Plan()
    who = await _target(session, member)
    rule = _rule(who)
    timings = [_timing(goal, zone=who.zone, asked=asked) for goal, asked in cycle]
    snoozed = await snoozed_weeks(session, member_id=member.id)
    payload = {"member_id": member.id}
    items: list[outbox.NewWork] = []
    # On a break (paused) only the regular moments are kept: each runs, asks nothing, and plans
    # the next, so the cycle picks up by itself once the break is over.
    checkin = g.next_checkin_for(
        rule, timings, now=now, snoozed=snoozed, last_calls=not await _away(session, member)
    )
    checkin_for: dict[int, datetime] = {}
    if checkin is not None:
        checkin_for = {goal_id: checkin.at for goal_id in checkin.goal_ids}
        items.append(
            outbox.NewWork(
                key=occurrence_key(CHECKIN_PLAN.kind, target, checkin.at),
                kind=CHECKIN_PLAN.kind,
                due_at=checkin.at,
                payload=payload,
                guild_id=member.guild_id,
                user_id=member.user_id,
            )
        )
    meeting = _meeting(who.pair)
    review = min(g.review_moment(t, zone=who.zone, meeting=meeting) for t in timings)
    review = max(review, now, review_not_before or now).replace(microsecond=0)
    items.append(
        outbox.NewWork(
            key=occurrence_key(GOAL_REVIEW.kind, target, review),
            kind=GOAL_REVIEW.kind,
            due_at=review,
            payload=payload,
            guild_id=member.guild_id,
            user_id=member.user_id,
        )
    )
    await outbox.enqueue_many(session, items=items, now=now)
    return Plan(
        checkin_at=checkin.at if checkin else None, review_at=review, checkin_for=checkin_for
    )


async def plan_pair(session: AsyncSession, *, partnership_id: int, now: datetime) -> None:
    """The pair's meeting was set or moved: goals due at "the next meeting" follow it to the new
    one, and both partners' check-ins and reviews are planned again (partnerships calls this)."""
    pair = await session.get(Partnership, partnership_id)
    if pair is None:
        return
    meeting = _meeting(pair) if pair.state in PAIR_STATES else None
    for pm in pair.members:
        member = await session.get(Member, pm.member_id)
        if member is None:
            continue
        zone = member.timezone or DEFAULT_ZONE
        if meeting is not None:
            for goal, _asked in await _open_cycle(session, member_id=member.id):
                if goal.due_rule == "meeting" and goal.status in g.LIVE_STATUSES:
                    due, _ = g.next_meeting_due(meeting, max(now, goal.created_at), zone)
                    goal.due_at, goal.due_date = due, g.local_date(due, zone)
            await session.flush()
        await plan_member(session, member_id=member.id, now=now)


SWEEP_LATE = timedelta(hours=12)
SWEEP_BATCH = 50


async def sweep(session: AsyncSession, *, now: datetime, limit: int = SWEEP_BATCH) -> int:
    """The safety net: members with a goal more than :data:`SWEEP_LATE` past its due moment and
    still not reviewed (their planning rows were lost) are planned again, at most ``limit`` of
    them. An indexed query that finds nobody when planning is healthy."""
    member_ids = list(
        (
            await session.execute(
                select(Goal.member_id)
                .where(
                    Goal.reviewed_at.is_(None),
                    Goal.status != "dropped",
                    Goal.due_at < now - SWEEP_LATE,
                )
                .distinct()
                .limit(limit)
            )
        ).scalars()
    )
    for member_id in member_ids:
        log.warning("goals: re-planning member %s, whose review was overdue", member_id)
        await plan_member(session, member_id=member_id, now=now)
    return len(member_ids)


# --------------------------------------------------------------------------- snoozing


async def snoozed_weeks(session: AsyncSession, *, member_id: int) -> set[date]:
    """Weeks off (Mondays, member-local): a streak counts straight through them."""
    rows = await session.execute(select(Snooze.week_start).where(Snooze.member_id == member_id))
    return set(rows.scalars())


async def snooze(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    week: str,
    now: datetime,
    undo: bool = False,
) -> SnoozeResult:
    """A week off: no check-ins and no prompt; goals due in it move to the cycle after it and
    are never counted as missed."""
    member = await ensure_member(session, guild_id=guild_id, user_id=user_id, now=now)
    zone = member.timezone or DEFAULT_ZONE
    today = g.local_date(now, zone)
    if week not in ("this", "next"):
        raise g.GoalError("Pick this week or next week.")
    monday = g.week_start(today) + timedelta(days=7 if week == "next" else 0)
    starts, ends = g.week_bounds_utc(monday, zone)
    existing = (
        await session.execute(
            select(Snooze).where(Snooze.member_id == member.id, Snooze.week_start == monday)
        )
    ).scalar_one_or_none()
    if undo:
        if existing is None:
            raise NotFound("That week isn't snoozed.")
        await session.delete(existing)
        await session.flush()
        await plan_member(session, member_id=member.id, now=now)
        return SnoozeResult(monday, starts, ends, undone=True)
    if existing is None:
        session.add(Snooze(member_id=member.id, week_start=monday, created_at=now))
        await session.flush()
    if week == "this":
        # Check-ins already on their way this week are called back.
        for goal_id in (
            await session.execute(select(Goal.id).where(Goal.member_id == member.id))
        ).scalars():
            await outbox.cancel_pending(session, kind=outbox.CHECKIN.kind, target=f"g{goal_id}")
    await plan_member(session, member_id=member.id, now=now)
    return SnoozeResult(monday, starts, ends)


# --------------------------------------------------------------------------- check-ins


def checkin_message(*, checkin_id: int, goal: Goal, zone: str, at: datetime) -> OutgoingMessage:
    due = _due_at(goal, zone)
    when = (
        f"Due {ts(due, 'F')} ({ts(due, 'R')})."
        if due > at
        else f"It was due {ts(due, 'F')}."
    )
    content = (
        f"🌱 **Check-in time!** How is this goal going?\n> {goal.text}\n"
        f"{when} Answer whenever you can: late answers count, and you can change your answer."
    )
    rows = (
        (
            Button("Done", g.answer_id(checkin_id, "done"), "success"),
            Button("Partly", g.answer_id(checkin_id, "partly"), "primary"),
            Button("Missed", g.answer_id(checkin_id, "missed"), "secondary"),
            Button("Add a note", g.answer_id(checkin_id, "note"), "secondary"),
        ),
    )
    return OutgoingMessage(content=content, rows=rows)


async def _ask(
    session: AsyncSession, *, target: _Target, goals: Sequence[Goal], at: datetime, now: datetime
) -> int:
    """One check-in per goal at ``at``, sent by DM (the pair's thread if DMs are closed)."""
    member = target.member
    items = []
    for goal in goals:
        checkin = (
            await session.execute(
                select(CheckIn).where(CheckIn.goal_id == goal.id, CheckIn.asked_for == at)
            )
        ).scalar_one_or_none()
        if checkin is None:
            checkin = CheckIn(goal_id=goal.id, member_id=member.id, asked_for=at)
            session.add(checkin)
            await session.flush()
        message = checkin_message(checkin_id=checkin.id, goal=goal, zone=target.zone, at=now)
        items.append(
            outbox.NewWork(
                key=occurrence_key(outbox.CHECKIN.kind, f"g{goal.id}", at),
                kind=outbox.CHECKIN.kind,
                due_at=now,
                occurs_at=max(at, now - timedelta(hours=1)),
                payload=outbox.delivery_payload(message, fallback_channel_id=target.thread_id),
                guild_id=member.guild_id,
                user_id=member.user_id,
            )
        )
    return await outbox.enqueue_many(session, items=items, now=now)


async def run_checkin_plan(session: AsyncSession, *, work: DueWork, now: datetime) -> int:
    """A check-in moment has come: the goals the member's current rule asks about at it get a
    check-in each; then the next check-in is planned. Returns how many were enqueued."""
    member = await session.get(Member, int(work.payload.get("member_id", 0)))
    if member is None:
        return 0
    at = work.due_at
    target = await _target(session, member)
    sent = 0
    cycle = await _open_cycle(session, member_id=member.id)
    if now - at > CHECKIN_LATE:
        log.info("check-in plan %s is too late to ask; planning the next one", work.id)
    elif not await _away(session, member):
        timings = [_timing(goal, zone=target.zone, asked=asked) for goal, asked in cycle]
        snoozed = await snoozed_weeks(session, member_id=member.id)
        wanted = set(g.checkins_at(_rule(target), timings, at, snoozed))
        goals = [goal for goal, _asked in cycle if goal.id in wanted][: g.MAX_LIVE_GOALS]
        if not goals:
            log.info("check-in plan %s no longer matches member %s's rule", work.id, member.id)
        sent = await _ask(session, target=target, goals=goals, at=at, now=now)
    await plan_member(session, member_id=member.id, now=max(now, at))
    return sent


async def _owned_checkin(
    session: AsyncSession, *, checkin_id: int, user_id: int
) -> tuple[CheckIn, Goal, Member]:
    checkin = await _get_row(session, CheckIn, checkin_id)
    if checkin is None:
        raise NotFound("I couldn't find that check-in any more.")
    member = await session.get(Member, checkin.member_id)
    goal = await session.get(Goal, checkin.goal_id)
    if member is None or goal is None:
        raise NotFound("I couldn't find that check-in any more.")
    if member.user_id != user_id:
        raise NotAllowed(f"This check-in is <@{member.user_id}>'s to answer.")
    return checkin, goal, member


async def checkin_note(
    session: AsyncSession, *, checkin_id: int, user_id: int
) -> tuple[str, str | None]:
    """The goal's text and the note so far (to prefill the note form), once it is checked that
    the check-in is theirs."""
    checkin, goal, _member = await _owned_checkin(session, checkin_id=checkin_id, user_id=user_id)
    return goal.text, checkin.note


async def record_answer(
    session: AsyncSession,
    *,
    checkin_id: int,
    user_id: int,
    answer: str,
    now: datetime,
) -> AnswerResult:
    """Done / partly / missed for one check-in. Late answers count; answering again updates it.
    The goal takes the answer unless a later check-in about it was already answered."""
    if answer not in g.ANSWERS:
        raise g.GoalError("Please answer done, partly or missed.")
    checkin, goal, member = await _owned_checkin(session, checkin_id=checkin_id, user_id=user_id)
    if goal.status == "dropped":
        raise Conflict("You dropped this goal, so there's nothing to check in on.")
    checkin.answer = answer
    checkin.answered_at = now
    newer = await session.execute(
        select(
            exists().where(
                CheckIn.goal_id == goal.id,
                CheckIn.asked_for > checkin.asked_for,
                CheckIn.answer.is_not(None),
            )
        )
    )
    if not newer.scalar():
        goal.status = answer
        goal.updated_at = now
    await _touch(session, member_id=member.id, now=now)
    await session.flush()
    shared = await _share_checkin(session, checkin=checkin, goal=goal, member=member, now=now)
    zone = member.timezone or DEFAULT_ZONE
    return AnswerResult(
        goal_text=goal.text,
        answer=answer,
        note_saved=bool(checkin.note),
        shared=shared,
        late=now > _due_at(goal, zone),
    )


async def save_note(
    session: AsyncSession, *, checkin_id: int, user_id: int, note: str, now: datetime
) -> AnswerResult:
    """A note on a check-in (up to 4,000 characters, kept whole); shared with the partner
    together with the answer."""
    checkin, goal, member = await _owned_checkin(session, checkin_id=checkin_id, user_id=user_id)
    checkin.note = g.clean_long_text(note, limit=g.NOTE_MAX, what="note")
    await _touch(session, member_id=member.id, now=now)
    await session.flush()
    shared = False
    if checkin.answer:
        shared = await _share_checkin(session, checkin=checkin, goal=goal, member=member, now=now)
    return AnswerResult(
        goal_text=goal.text,
        answer=checkin.answer,
        note_saved=bool(checkin.note),
        shared=shared,
        late=False,
    )


def shared_checkin_message(
    *, checkin_id: int, user_id: int, goal_text: str, answer: str, note: str | None
) -> OutgoingMessage:
    icon = g.STATUS_ICONS.get(answer, "")
    content = (
        f"📣 <@{user_id}> checked in on a goal: {icon} **{g.STATUS_WORDS[answer]}**\n> {goal_text}"
    )
    embeds: tuple[dict[str, Any], ...] = ()
    if note:
        embeds = ({"title": "Their note", "description": note},)
    rows = ((Button("Give feedback", g.feedback_id(checkin_id), "primary"),),)
    return OutgoingMessage(content=content, embeds=embeds, rows=rows)


async def _share_checkin(
    session: AsyncSession, *, checkin: CheckIn, goal: Goal, member: Member, now: datetime
) -> bool:
    """Tell the partner in the pair's thread, after :data:`SHARE_DELAY`; a newer answer or note
    replaces a share not yet sent."""
    target = await _target(session, member)
    if target.thread_id is None or checkin.answer is None:
        return False
    who = f"c{checkin.id}"
    await outbox.cancel_pending(session, kind=CHECKIN_SHARED.kind, target=who)
    message = shared_checkin_message(
        checkin_id=checkin.id,
        user_id=member.user_id,
        goal_text=goal.text,
        answer=checkin.answer,
        note=checkin.note,
    )
    await outbox.enqueue(
        session,
        key=occurrence_key(CHECKIN_SHARED.kind, who, now),
        kind=CHECKIN_SHARED.kind,
        due_at=now + SHARE_DELAY,
        now=now,
        payload=outbox.delivery_payload(message),
        guild_id=member.guild_id,
        channel_id=target.thread_id,
    )
    return True


async def _touch(session: AsyncSession, *, member_id: int, now: datetime) -> None:
    """The member is active in their partnership (ghost detection reads this)."""
    pair = await _pair_of(session, member_id=member_id)
    if pair is None:
        return
    for pm in pair.members:
        if pm.member_id == member_id:
            pm.last_active_at = now


# --------------------------------------------------------------------------- feedback


async def feedback_target(session: AsyncSession, *, checkin_id: int, from_user_id: int) -> str:
    """Check the presser may give feedback on this check-in; return the goal's text."""
    _checkin, goal, _member, _giver, _pair = await _feedback_parties(
        session, checkin_id=checkin_id, from_user_id=from_user_id
    )
    return goal.text


async def _feedback_parties(
    session: AsyncSession, *, checkin_id: int, from_user_id: int
) -> tuple[CheckIn, Goal, Member, Member, _Target]:
    checkin = await _get_row(session, CheckIn, checkin_id)
    goal = await session.get(Goal, checkin.goal_id) if checkin else None
    member = await session.get(Member, checkin.member_id) if checkin else None
    if checkin is None or goal is None or member is None:
        raise NotFound("I couldn't find that check-in any more.")
    if member.user_id == from_user_id:
        raise NotAllowed("That's your own check-in: your partner can answer it here.")
    giver = await find_member(session, guild_id=member.guild_id, user_id=from_user_id)
    target = await _target(session, member)
    if giver is None or giver.id not in target.partner_ids:
        raise NotAllowed("Only their accountability partner can give feedback on this check-in.")
    return checkin, goal, member, giver, target


async def give_feedback(
    session: AsyncSession, *, checkin_id: int, from_user_id: int, text: str, now: datetime
) -> int:
    """The partner's answer to a check-in, delivered to the member by DM (the thread if their
    DMs are closed). Returns the feedback's id."""
    checkin, goal, member, giver, target = await _feedback_parties(
        session, checkin_id=checkin_id, from_user_id=from_user_id
    )
    body = g.clean_long_text(text, limit=g.FEEDBACK_MAX, what="feedback")
    if body is None:
        raise g.GoalError("Write a few words for your partner first.")
    feedback = Feedback(checkin_id=checkin.id, from_member_id=giver.id, text=body, created_at=now)
    session.add(feedback)
    await _touch(session, member_id=giver.id, now=now)
    await session.flush()
    message = OutgoingMessage(
        content=f"💬 <@{giver.user_id}> answered your check-in on this goal:\n> {goal.text}",
        embeds=({"description": body},),
    )
    await outbox.enqueue(
        session,
        key=occurrence_key(GOAL_FEEDBACK.kind, f"f{feedback.id}", now),
        kind=GOAL_FEEDBACK.kind,
        due_at=now,
        now=now,
        payload=outbox.delivery_payload(message, fallback_channel_id=target.thread_id),
        guild_id=member.guild_id,
        user_id=member.user_id,
    )
    return feedback.id


# --------------------------------------------------------------------------- the weekly review


async def _history(session: AsyncSession, *, member: Member, now: datetime) -> list[g.GoalRecord]:
    zone = member.timezone or DEFAULT_ZONE
    since = g.local_date(now - PATTERN_LOOKBACK, zone)
    rows = await session.execute(
        select(Goal, MissedReflection.reason)
        .outerjoin(MissedReflection, MissedReflection.goal_id == Goal.id)
        .where(
            Goal.member_id == member.id,
            Goal.status.in_(g.ANSWERS),
            Goal.due_date >= since,
        )
    )
    return [
        g.GoalRecord(
            status=goal.status,
            due=goal.due_date,
            created=g.local_date(goal.created_at, zone),
            area=goal.area,
            reason=reason,
        )
        for goal, reason in rows.all()
    ]


async def pattern_for(session: AsyncSession, *, member_id: int, now: datetime) -> str | None:
    """The outside view of the member's misses, as one sentence, once there is enough history."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    found = g.find_pattern(await _history(session, member=member, now=now))
    return found.sentence() if found else None


def weekly_prompt_message(
    goals: Sequence[Goal], *, pattern: str | None, meeting_at: datetime | None = None
) -> OutgoingMessage:
    if meeting_at is not None:
        lines = [
            "🌙 **Before your next meeting.** Not every goal happens, and that's information, "
            "not failure.",
            "These didn't get done by their due time:",
        ]
    else:
        lines = [
            "🌙 **End of the week.** Not every goal happens, and that's information, not failure.",
            "These didn't get done this week:",
        ]
    lines += [f"{i}. {goal.text}" for i, goal in enumerate(goals, start=1)]
    opens = (
        f"it opens the agenda of your meeting {ts(meeting_at, 'F')}"
        if meeting_at is not None
        else "it opens your next meeting"
    )
    lines += [
        "",
        f"Tap each one to say what got in the way and what would help. Your partner will see "
        f"it, and {opens}.",
    ]
    if pattern:
        lines += ["", f"🔎 An outside view: {pattern}"]
    lines += ["", "Off next week? `/checkin snooze` keeps your streak."]
    buttons = [
        Button(f"{i}. {goal.text}"[:60], g.why_id(goal.id), "primary")
        for i, goal in enumerate(goals, start=1)
    ]
    rows = tuple(tuple(buttons[i : i + 5]) for i in range(0, len(buttons), 5))
    return OutgoingMessage(content="\n".join(lines), rows=rows)


REASK_GRACE = timedelta(hours=1)
"""A goal found unasked at its review (its check-in was lost) is asked then and reviewed this
much later, rather than closed without a word."""


async def run_review(session: AsyncSession, *, work: DueWork, now: datetime) -> int:
    """The end of a cycle: for the member's goals whose review moment has come, an open goal
    becomes missed (if it was asked about; otherwise it is asked now and reviewed a little
    later), goals due in a snoozed week or a pause move to the next cycle, and one prompt asks
    about every missed goal of the cycle still without a reason. Then the next review is
    planned. Returns how many goals the prompt asks about."""
    member = await session.get(Member, int(work.payload.get("member_id", 0)))
    if member is None:
        return 0
    at = work.due_at
    target = await _target(session, member)
    meeting = _meeting(target.pair)
    snoozed = await snoozed_weeks(session, member_id=member.id)
    away = await _away(session, member)
    ready: list[Goal] = []
    unasked: list[Goal] = []
    for goal, asked in await _open_cycle(session, member_id=member.id):
        timing = _timing(goal, zone=target.zone, asked=asked)
        if g.review_moment(timing, zone=target.zone, meeting=meeting) > at:
            continue
        if away or g.week_start(g.local_date(timing.due, target.zone)) in snoozed:
            due = g.moved_due(timing, zone=target.zone, meeting=meeting, now=at, snoozed=snoozed)
            goal.due_at, goal.due_date = due, g.local_date(due, target.zone)
            goal.updated_at = now
            continue
        if goal.status == "open" and not asked:
            unasked.append(goal)
            continue
        if goal.status == "open":
            goal.status = "missed"
            goal.updated_at = now
        goal.reviewed_at = at
        ready.append(goal)
    await session.flush()
    if unasked:
        log.warning("goals %s reached their review unasked", [goal.id for goal in unasked])
        await _ask(session, target=target, goals=unasked, at=at, now=now)
    await plan_member(
        session,
        member_id=member.id,
        now=max(now, at),
        review_not_before=at + REASK_GRACE if unasked else None,
    )
    missed = [
        goal
        for goal in ready
        if goal.status == "missed"
        and not (
            await session.execute(
                select(exists().where(MissedReflection.goal_id == goal.id))
            )
        ).scalar()
    ][:10]
    if not missed:
        return 0
    meeting_at = meeting.next_meeting(at) if meeting is not None else None
    pattern = await pattern_for(session, member_id=member.id, now=now)
    await outbox.enqueue(
        session,
        key=occurrence_key(outbox.WEEKLY_PROMPT.kind, f"m{member.id}", at),
        kind=outbox.WEEKLY_PROMPT.kind,
        due_at=now,
        now=now,
        occurs_at=at,
        payload=outbox.delivery_payload(
            weekly_prompt_message(missed, pattern=pattern, meeting_at=meeting_at),
            fallback_channel_id=target.thread_id,
        ),
        guild_id=member.guild_id,
        user_id=member.user_id,
    )
    return len(missed)


async def reflection_goal(
    session: AsyncSession, *, goal_id: int, user_id: int, now: datetime
) -> GoalView:
    """The goal a member is about to reflect on: theirs, and missed (or past its deadline)."""
    goal = await _get_row(session, Goal, goal_id)
    member = await session.get(Member, goal.member_id) if goal else None
    if goal is None or member is None:
        raise NotFound("I couldn't find that goal any more.")
    if member.user_id != user_id:
        raise NotAllowed(f"This one is <@{member.user_id}>'s to answer.")
    if goal.status == "done":
        raise Conflict("You marked this goal done since. Nice! Nothing to reflect on. 🎉")
    if goal.status == "dropped":
        raise Conflict("You dropped this goal, so there's nothing to reflect on.")
    view = _view(goal, user_id=user_id, zone=member.timezone or DEFAULT_ZONE)
    if goal.status in g.LIVE_STATUSES and now <= view.deadline:
        raise Conflict(f"This goal is still on: it's due {ts(view.deadline, 'F')}.")
    return view


async def record_reason(
    session: AsyncSession,
    *,
    goal_id: int,
    user_id: int,
    reason: str,
    now: datetime,
    reflection: str | None = None,
) -> GoalView:
    """Why a goal was missed (and, optionally, what would help); shared with the partner and
    first on the next meeting's agenda. Answering again updates it."""
    view = await reflection_goal(session, goal_id=goal_id, user_id=user_id, now=now)
    code = g.parse_reason(reason)
    goal = await session.get(Goal, goal_id)
    assert goal is not None
    text = (
        g.clean_long_text(reflection, limit=g.REFLECTION_MAX, what="reflection")
        if reflection is not None
        else None
    )
    row = (
        await session.execute(select(MissedReflection).where(MissedReflection.goal_id == goal_id))
    ).scalar_one_or_none()
    if row is None:
        row = MissedReflection(
            goal_id=goal_id,
            member_id=goal.member_id,
            week_start=g.week_start(goal.due_date),
            reason=code,
            reflection=text,
            created_at=now,
        )
        session.add(row)
    else:
        row.reason = code
        if reflection is not None:
            row.reflection = text
    if goal.status == "open":
        goal.status = "missed"
        goal.updated_at = now
    await _touch(session, member_id=goal.member_id, now=now)
    await session.flush()
    await _share_reflection(session, goal=goal, row=row, user_id=user_id, now=now)
    return view


def shared_reflection_message(
    *, user_id: int, goal_text: str, reason: str, reflection: str | None
) -> OutgoingMessage:
    content = (
        f"🧭 <@{user_id}> looked back at a missed goal:\n> {goal_text}\n"
        f"What got in the way: **{g.REASONS[reason]}**\n"
        "It's the first point on your next meeting's agenda."
    )
    embeds: tuple[dict[str, Any], ...] = ()
    if reflection:
        embeds = ({"title": "What would help", "description": reflection},)
    return OutgoingMessage(content=content, embeds=embeds)


async def _share_reflection(
    session: AsyncSession, *, goal: Goal, row: MissedReflection, user_id: int, now: datetime
) -> bool:
    member = await session.get(Member, goal.member_id)
    if member is None:
        return False
    target = await _target(session, member)
    if target.thread_id is None:
        return False
    who = f"r{goal.id}"
    await outbox.cancel_pending(session, kind=REFLECTION_SHARED.kind, target=who)
    await outbox.enqueue(
        session,
        key=occurrence_key(REFLECTION_SHARED.kind, who, now),
        kind=REFLECTION_SHARED.kind,
        due_at=now + SHARE_DELAY,
        now=now,
        payload=outbox.delivery_payload(
            shared_reflection_message(
                user_id=user_id, goal_text=goal.text, reason=row.reason, reflection=row.reflection
            )
        ),
        guild_id=member.guild_id,
        channel_id=target.thread_id,
    )
    return True


# --------------------------------------------------------------------------- the agenda


async def agenda_for(session: AsyncSession, *, partnership_id: int, now: datetime) -> g.Agenda:
    """The goals part of the pair's next meeting agenda: missed goals with reasons first, then
    each partner's goals since the last meeting with their status. Render with
    ``agenda.render(limit=...)``; it quotes member text, so send it with no pings."""
    pair = await session.get(Partnership, partnership_id)
    if pair is None:
        return g.Agenda()
    period = timedelta(days=7 * (pair.meeting_interval_weeks or 1))
    members: list[g.AgendaMember] = []
    for pm in sorted(pair.members, key=lambda pm: pm.member_id):
        member = await session.get(Member, pm.member_id)
        if member is None:
            continue
        zone = member.timezone or DEFAULT_ZONE
        since = g.local_date(now - period, zone)
        rows = await session.execute(
            select(Goal, MissedReflection)
            .outerjoin(MissedReflection, MissedReflection.goal_id == Goal.id)
            .where(
                Goal.member_id == member.id,
                Goal.guild_id == pair.guild_id,
                or_(
                    Goal.status.in_(g.LIVE_STATUSES),
                    and_(Goal.status != "dropped", Goal.due_date >= since),
                ),
            )
            .order_by(Goal.due_date, Goal.id)
            .limit(12)
        )
        members.append(
            g.AgendaMember(
                user_id=member.user_id,
                goals=tuple(
                    g.AgendaGoal(
                        text=goal.text,
                        status=goal.status,
                        due=goal.due_date,
                        reason=reflection.reason if reflection else None,
                        reflection=reflection.reflection if reflection else None,
                    )
                    for goal, reflection in rows.all()
                ),
            )
        )
    return g.Agenda(members=tuple(members))


async def agenda_text(
    session: AsyncSession, *, partnership_id: int, now: datetime, limit: int = 3000
) -> str:
    """:func:`agenda_for`, rendered; empty when neither partner has goals."""
    agenda = await agenda_for(session, partnership_id=partnership_id, now=now)
    return "" if agenda.empty else agenda.render(limit=limit)


# --------------------------------------------------------------------------- streaks, privacy


async def streak_for(session: AsyncSession, *, member_id: int, now: datetime) -> int:
    """Weeks in a row (up to the last finished one, member-local) with at least one goal done
    or partly done; snoozed weeks neither count nor break it."""
    member = await session.get(Member, member_id)
    if member is None:
        return 0
    zone = member.timezone or DEFAULT_ZONE
    rows = await session.execute(
        select(Goal.due_date).where(
            Goal.member_id == member_id, Goal.status.in_(("done", "partly"))
        )
    )
    progress = {g.week_start(due) for due in rows.scalars()}
    snoozed = await snoozed_weeks(session, member_id=member_id)
    pair = await _pair_of(session, member_id=member_id)
    return g.streak_weeks(
        progress,
        snoozed,
        current_week=g.week_start(g.local_date(now, zone)),
        interval_weeks=pair.meeting_interval_weeks if pair and pair.meeting_time else 1,
    )


async def stats_for(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> MemberStats | None:
    """The member's own ``/stats``; ``None`` while they have no goals at all."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return None
    history = await _history(session, member=member, now=now)
    open_goals = await session.scalar(
        select(func.count()).select_from(Goal).where(
            Goal.member_id == member.id, Goal.status == "open"
        )
    ) or 0
    if not history and not open_goals:
        return None
    zone = member.timezone or DEFAULT_ZONE
    return member_stats(
        history,
        snoozed=await snoozed_weeks(session, member_id=member.id),
        open_goals=open_goals,
        streak=await streak_for(session, member_id=member.id, now=now),
        today=g.local_date(now, zone),
        zone=zone,
    )


async def forget_member_goals(session: AsyncSession, *, member_id: int) -> int:
    """For ``/privacy delete``: call back pending posts to the pair's thread that quote the
    member's check-ins and reflections (``outbox.forget_member`` removes their own DMs; the
    goals themselves go with the member's row). Returns how many rows were removed."""
    removed = 0
    goal_ids = list(
        (await session.execute(select(Goal.id).where(Goal.member_id == member_id))).scalars()
    )
    checkin_ids = list(
        (await session.execute(select(CheckIn.id).where(CheckIn.member_id == member_id))).scalars()
    )
    for checkin_id in checkin_ids:
        removed += await outbox.cancel_pending(
            session, kind=CHECKIN_SHARED.kind, target=f"c{checkin_id}"
        )
    for goal_id in goal_ids:
        removed += await outbox.cancel_pending(
            session, kind=REFLECTION_SHARED.kind, target=f"r{goal_id}"
        )
    return removed


async def has_meeting(session: AsyncSession, *, guild_id: int, user_id: int) -> bool:
    """Whether the member's pair has a meeting time (so "next meeting" is a due date)."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return False
    return _meeting(await _pair_of(session, member_id=member.id)) is not None
