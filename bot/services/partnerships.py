"""Partnerships from proposal to parting: the use-cases behind ``/pair`` and its buttons.

A proposal (from a round or an accepted request) waits for everyone's answer until it expires;
all accepting starts a trial; at the trial's end each partner chooses, privately, to continue or
part. A pair agrees a recurring meeting; every occurrence becomes a ``Meeting`` row and outbox
work: an agenda is built shortly before the reminder is due (so it shows the goals as they are
then), the reminder goes to the pair's thread, and "did you meet?" to each partner afterwards.
A weekly upkeep row per pair extends the meetings ahead and notices a partner gone quiet.

Services never talk to Discord: what members must read is enqueued in the outbox; opening and
closing the private space are outbox work too, handled by ``cogs.pairs`` (see ``bot.spaces``).
Private things (a decline or end reason, who blocked whom, who chose to part) are stored and never
put in any message, log line or outbox payload.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.domain import partnership as d
from bot.domain.posts import overlap_runs, overlap_summary
from bot.domain.profile import RHYTHM_LABELS
from bot.domain.recurrence import Recurrence, next_occurrence, occurrence_key, occurrences
from bot.domain.timezones import validate_zone
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services import goals, outbox
from bot.services.guilds import get_settings
from bot.services.outbox import (
    MEETING_REMINDER,
    NOTICE,
    PROPOSAL_EXPIRY,
    DueWork,
    KindRule,
    NewWork,
    delivery_payload,
    register_kind,
)
from bot.services.ports import Button, OutgoingMessage
from bot.services.posts import queue_post_sync, queue_post_syncs
from bot.services.profiles import ensure_member, find_member, public_profile
from models import (
    Block,
    Meeting,
    MeetingAnswer,
    Member,
    Partnership,
    PartnershipMember,
    Report,
)

log = logging.getLogger(__name__)

LIVE = ("proposed", "trial", "active")
RUNNING = ("trial", "active")
HORIZON = timedelta(weeks=5)
"""How far ahead meetings are laid down; the weekly upkeep keeps it at least four weeks."""
UPKEEP_EVERY = timedelta(days=7)
UPKEEP_SOONEST = timedelta(hours=1)
PREP_LEAD = timedelta(minutes=10)
"""The agenda is built this long before the reminder is due, so the reminder itself is sent on
time by the dispatcher (a handler's deliveries go out on a later tick)."""
CLOSE_DELAY = timedelta(minutes=2)
"""The thread closes a little after the news of the end: deliveries falling back to the thread
(closed DMs) must land before it is archived."""
ANSWER_WINDOW = timedelta(days=2)
REASON_MAX = 1000
REPORT_MAX = 1500

# --------------------------------------------------------------------------- outbox kinds

MEETING_PREP = register_kind(
    KindRule(
        "meeting_prep",
        delivery=False,
        stale_after=timedelta(0),
        why="Building a meeting's agenda and reminder is pointless once the meeting has started.",
    )
)
MEETING_CHECK = register_kind(
    KindRule(
        "meeting_check",
        delivery=True,
        stale_after=ANSWER_WINDOW,
        why="'Did you meet?' is worth asking for two days after a meeting; later, nobody "
        "remembers, and the streak treats an unanswered meeting as missed.",
    )
)
TRIAL_CHOICE = register_kind(
    KindRule(
        "trial_choice",
        delivery=True,
        stale_after=None,
        why="The end-of-trial choice stays open until both have made it, so the question is "
        "never too late (it is cancelled if the pair ends first).",
    )
)
PAIR_UPKEEP = register_kind(
    KindRule(
        "pair_upkeep",
        delivery=False,
        stale_after=None,
        why="Extending a pair's meetings and noticing a quiet partner must happen, however late.",
    )
)
SPACE_OPEN = register_kind(
    KindRule(
        "space_open",
        delivery=False,
        stale_after=None,
        why="A proposal without its private space can't be answered: open it however late "
        "(the handler skips proposals that ended meanwhile).",
    )
)
SPACE_CLOSE = register_kind(
    KindRule(
        "space_close",
        delivery=False,
        stale_after=None,
        why="An ended pair's thread must be archived and locked, however late.",
    )
)
QUIET_PARTNER = register_kind(
    KindRule(
        "quiet_partner",
        delivery=True,
        stale_after=timedelta(days=7),
        why="'Keep waiting or be rematched?' is still worth asking days late; after a week the "
        "pair's upkeep asks afresh if the partner is still quiet.",
    )
)
MOD_REPORT = register_kind(
    KindRule(
        "mod_report",
        delivery=True,
        stale_after=None,
        why="A report must reach the moderators, however late.",
    )
)

Handler = Callable[[AsyncSession, DueWork], Awaitable[None]]


# --------------------------------------------------------------------------- plain results


@dataclass(frozen=True)
class ProposalCard:
    """What the private space needs to open: public data and ready texts only."""

    partnership_id: int
    guild_id: int
    pair_channel_id: int | None
    user_ids: tuple[int, ...]
    thread_name: str
    thread_text: str
    dm_texts: dict[int, str]
    needs_answer: bool = True
    """Accept / Decline go under it; a pair from a forum request has answered already."""


@dataclass(frozen=True)
class Decision:
    outcome: Literal["waiting", "trial", "declined"]
    partnership_id: int
    others: tuple[int, ...]
    trial_ends_at: datetime | None = None


@dataclass(frozen=True)
class MeetingPlan:
    recurrence: Recurrence
    first: datetime
    minutes: int
    reminder_minutes: int
    changed: bool
    others: tuple[int, ...]
    in_zones: tuple[tuple[str, str], ...]  # (zone, "Wednesday 00:30") for each partner's zone


@dataclass(frozen=True)
class AnswerResult:
    answer: str
    streak: int
    meeting_at: datetime


@dataclass(frozen=True)
class TrialResult:
    outcome: d.TrialOutcome
    others: tuple[int, ...]


@dataclass(frozen=True)
class EndResult:
    partnership_id: int
    others: tuple[int, ...]
    was: str  # the state it ended from: proposed / trial / active


@dataclass(frozen=True)
class BlockResult:
    blocked_user_id: int
    ended_partnership: bool


@dataclass(frozen=True)
class ReportResult:
    report_id: int
    sent_to_moderators: bool


@dataclass(frozen=True)
class QuietResult:
    rematch: bool
    others: tuple[int, ...]


@dataclass(frozen=True)
class PastPartner:
    user_ids: tuple[int, ...]
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class PairStatus:
    """A member's own view of their partnership (never anyone's private reasons)."""

    state: str | None  # None: no partnership; else proposed / trial / active
    partnership_id: int | None = None
    partners: tuple[int, ...] = ()
    since: datetime | None = None
    expires_at: datetime | None = None
    my_answer: bool | None = None
    trial_ends_at: datetime | None = None
    trial_choice: str | None = None
    trial_over: bool = False
    recurrence: Recurrence | None = None
    next_meeting: datetime | None = None
    minutes: int | None = None
    reminder_minutes: int | None = None
    streak: int = 0
    met: int = 0
    thread_id: int | None = None
    history: tuple[PastPartner, ...] = ()


# --------------------------------------------------------------------------- small helpers


def _target(partnership_id: int, member_id: int | None = None) -> str:
    return f"p{partnership_id}" if member_id is None else f"p{partnership_id}m{member_id}"


def _clean(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    value = text.strip()
    if len(value) > limit:
        raise InvalidInput(f"Please keep it under {limit} characters ({len(value)} now).")
    return value or None


async def _members(session: AsyncSession, partnership: Partnership) -> dict[int, Member]:
    ids = [pm.member_id for pm in partnership.members]
    rows = (await session.execute(select(Member).where(Member.id.in_(ids)))).scalars()
    return {m.id: m for m in rows}


async def _get(session: AsyncSession, partnership_id: int) -> Partnership:
    partnership = await session.get(Partnership, partnership_id)
    if partnership is None:
        raise NotFound("I couldn't find that partnership any more.")
    return partnership


def _membership(partnership: Partnership, member_id: int) -> PartnershipMember:
    for pm in partnership.members:
        if pm.member_id == member_id:
            return pm
    raise NotAllowed("That isn't your partnership.")


async def _me_in(
    session: AsyncSession, partnership: Partnership, *, user_id: int
) -> tuple[Member, PartnershipMember]:
    member = await find_member(session, guild_id=partnership.guild_id, user_id=user_id)
    if member is None:
        raise NotAllowed("That isn't your partnership.")
    return member, _membership(partnership, member.id)


async def _live_for(session: AsyncSession, *, member_id: int) -> Partnership | None:
    return (
        await session.execute(
            select(Partnership)
            .join(PartnershipMember)
            .where(PartnershipMember.member_id == member_id, Partnership.state.in_(LIVE))
            .order_by(Partnership.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _current(
    session: AsyncSession, *, guild_id: int, user_id: int, states: Sequence[str] = LIVE
) -> tuple[Member, Partnership]:
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    partnership = None if member is None else await _live_for(session, member_id=member.id)
    if member is None or partnership is None or partnership.state not in states:
        if partnership is not None and partnership.state == "proposed":
            raise Conflict("Your proposal is still waiting for both answers. See `/pair status`.")
        raise NotFound("You don't have a partner right now. Join the pool with `/partner find`.")
    return member, partnership


def _recurrence(partnership: Partnership) -> Recurrence | None:
    if (
        partnership.meeting_weekday is None
        or partnership.meeting_time is None
        or partnership.meeting_zone is None
    ):
        return None
    hour, minute = (int(x) for x in partnership.meeting_time.split(":"))
    return Recurrence(
        weekday=partnership.meeting_weekday,
        time=dt.time(hour, minute),
        zone=partnership.meeting_zone,
        interval_weeks=partnership.meeting_interval_weeks,
        anchor=partnership.meeting_anchor or dt.date(2024, 1, 1),
    )


async def _tell_thread_or_dms(
    session: AsyncSession,
    *,
    partnership: Partnership,
    members: dict[int, Member],
    key: str,
    text: str,
    now: datetime,
    to: Sequence[int] | None = None,
    ping: bool = True,
) -> None:
    """News for the pair: in their thread (pinging them there) or, without a thread, by DM to
    each member in ``to`` (everyone by default)."""
    targets = [members[m] for m in (to if to is not None else members) if m in members]
    if partnership.thread_id is not None:
        users = [m.user_id for m in targets]
        if ping:  # a ping needs the mention in the text
            missing = [d.mention(u) for u in users if d.mention(u) not in text]
            text = " ".join([*missing, text])
        await outbox.enqueue(
            session,
            key=f"{key}:thread",
            kind=NOTICE.kind,
            due_at=now,
            now=now,
            guild_id=partnership.guild_id,
            channel_id=partnership.thread_id,
            payload=delivery_payload(
                OutgoingMessage(content=text, ping_users=tuple(users) if ping else ())
            ),
        )
        return
    for member in targets:
        await _dm(session, partnership=partnership, member=member, key=key, text=text, now=now)


async def _dm(
    session: AsyncSession,
    *,
    partnership: Partnership,
    member: Member,
    key: str,
    text: str,
    now: datetime,
    kind: str = NOTICE.kind,
    rows: tuple[tuple[Button, ...], ...] = (),
    fallback: bool = True,
    due_at: datetime | None = None,
    occurs_at: datetime | None = None,
) -> None:
    """A DM to one member, falling back to the pair's thread (pinging them) when their DMs are
    closed, unless ``fallback`` is off (for what only they may read)."""
    message = OutgoingMessage(content=text, rows=rows)
    await outbox.enqueue(
        session,
        key=f"{key}:m{member.id}",
        kind=kind,
        due_at=due_at or now,
        now=now,
        guild_id=partnership.guild_id,
        user_id=member.user_id,
        occurs_at=occurs_at,
        payload=delivery_payload(
            message, fallback_channel_id=partnership.thread_id if fallback else None
        ),
    )


def _event_key(
    partnership: Partnership, event: str, now: datetime, *, kind: str = NOTICE.kind
) -> str:
    """A unique key for one piece of news. News is enqueued in the same transaction as the
    change it tells of, so it can't be enqueued twice; the random part keeps two changes in
    the same second apart."""
    stamp = occurrence_key(kind, _target(partnership.id), now)
    return f"{stamp}:{event}:{secrets.token_hex(4)}"


async def _back_to_pool(session: AsyncSession, member: Member, now: datetime) -> None:
    """A member whose proposal fell through goes back to the pool first in line; their forum
    post reopens (through the outbox)."""
    member.pool_status = "seeking"
    member.waiting_since = now
    member.priority = True
    member.paused_until = None
    await queue_post_sync(session, member=member, now=now)
    member.updated_at = now


async def _cancel_work(session: AsyncSession, partnership: Partnership) -> int:
    """Remove every pending row about the pair's future (meetings, trial, upkeep, expiry)."""
    pid = partnership.id
    cancelled = 0
    for kind in (
        MEETING_PREP.kind,
        MEETING_REMINDER.kind,
        PAIR_UPKEEP.kind,
        PROPOSAL_EXPIRY.kind,
        SPACE_OPEN.kind,
    ):
        cancelled += await outbox.cancel_pending(session, kind=kind, target=_target(pid))
    for pm in partnership.members:
        for kind in (MEETING_REMINDER.kind, MEETING_CHECK.kind, TRIAL_CHOICE.kind):
            cancelled += await outbox.cancel_pending(
                session, kind=kind, target=_target(pid, pm.member_id)
            )
    return cancelled


async def _cancel_meeting_work(session: AsyncSession, partnership: Partnership) -> None:
    pid = partnership.id
    await outbox.cancel_pending(session, kind=MEETING_PREP.kind, target=_target(pid))
    await outbox.cancel_pending(session, kind=MEETING_REMINDER.kind, target=_target(pid))
    for pm in partnership.members:
        for kind in (MEETING_REMINDER.kind, MEETING_CHECK.kind):
            await outbox.cancel_pending(session, kind=kind, target=_target(pid, pm.member_id))


async def _cancel_future_meetings(
    session: AsyncSession, partnership: Partnership, now: datetime
) -> None:
    meetings = (
        await session.execute(
            select(Meeting).where(
                Meeting.partnership_id == partnership.id,
                Meeting.state == "scheduled",
                Meeting.occurs_at > now,
            )
        )
    ).scalars()
    for meeting in meetings:
        meeting.state = "cancelled"


async def _part_ways(
    session: AsyncSession,
    *,
    partnership: Partnership,
    members: dict[int, Member],
    leaver_id: int,
    event: str,
    text_for: Callable[[Member], str],
    closed_text: str,
    now: datetime,
) -> None:
    """Tell every member but the one who acted (each in their own words), then close the
    pair's space: the shared last steps of a decline, a parting, an end and a rematch."""
    for other in members.values():
        if other.id != leaver_id:
            await _dm(
                session,
                partnership=partnership,
                member=other,
                key=_event_key(partnership, event, now),
                text=text_for(other),
                now=now,
            )
    await _close_space(session, partnership=partnership, text=closed_text, now=now)


async def _fall_through(
    session: AsyncSession,
    *,
    partnership: Partnership,
    members: dict[int, Member],
    leaver_id: int,
    back: Sequence[Member],
    event: str,
    text_for: Callable[[Member], str],
    closed_text: str,
    now: datetime,
) -> None:
    """A partnership that ends through nobody's choice but ``leaver_id``'s (``event`` is also
    its end reason): ``back`` return to the pool first in line, the others are told."""
    await _finish(session, partnership, reason=event, now=now)
    for other in back:
        await _back_to_pool(session, other, now)
    await _part_ways(
        session,
        partnership=partnership,
        members=members,
        leaver_id=leaver_id,
        event=event,
        text_for=text_for,
        closed_text=closed_text,
        now=now,
    )


async def _close_space(
    session: AsyncSession, *, partnership: Partnership, text: str, now: datetime
) -> None:
    if partnership.thread_id is None:
        return
    await outbox.enqueue(
        session,
        key=occurrence_key(SPACE_CLOSE.kind, _target(partnership.id), now),
        kind=SPACE_CLOSE.kind,
        due_at=now + CLOSE_DELAY,
        now=now,
        guild_id=partnership.guild_id,
        channel_id=partnership.thread_id,
        payload={
            "partnership_id": partnership.id,
            "thread_id": partnership.thread_id,
            "text": text,
        },
    )


async def _finish(
    session: AsyncSession, partnership: Partnership, *, reason: str, now: datetime
) -> None:
    partnership.state = "ended"
    partnership.end_reason = reason
    partnership.ended_at = now
    await _cancel_work(session, partnership)
    await _cancel_future_meetings(session, partnership, now)


# --------------------------------------------------------------------------- proposals


async def propose(
    session: AsyncSession,
    *,
    guild_id: int,
    member_ids: Sequence[int],
    source: Literal["round", "request"],
    now: datetime,
    round_id: int | None = None,
    score: float = 0.0,
    explanation: dict[str, Any] | None = None,
) -> Partnership:
    """Propose a partnership between members (``Member.id``s) of one community: they leave the
    pool, and the proposal is opened (see :func:`open_proposal`).

    A forum request (``source="request"``) needs no second answer: the requester asked and the
    author accepted, so both have chosen; the pair starts its trial at once and its space
    opens without Accept / Decline (:func:`_begin_trial`, then :func:`record_space`).

    ``explanation`` holds public reasons only; known keys: ``reasons`` (lines of text),
    ``shared_areas``, ``languages``, ``overlap_minutes``."""
    ids = list(dict.fromkeys(member_ids))
    if len(ids) < 2:
        raise InvalidInput("A partnership needs at least two members.")
    members = list((await session.execute(select(Member).where(Member.id.in_(ids)))).scalars())
    if len(members) != len(ids) or any(m.guild_id != guild_id for m in members):
        raise NotFound("One of those members isn't in this community.")
    for member in members:
        if await _live_for(session, member_id=member.id) is not None:
            raise Conflict("One of them already has a partner or a proposal.")
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if await _blocked(session, a, b):
                raise Conflict("These members can't be matched.")
    partnership = Partnership(
        guild_id=guild_id,
        state="proposed",
        source=source,
        round_id=round_id,
        score=score,
        explanation=dict(explanation or {}),
        proposed_at=now,
        meeting_interval_weeks=d.pair_interval_weeks(m.rhythm for m in members),
        members=[PartnershipMember(member_id=m) for m in ids],
    )
    session.add(partnership)
    for member in members:
        member.pool_status = "idle"
        member.waiting_since = None
        member.priority = False
        member.updated_at = now
        await queue_post_sync(session, member=member, now=now)  # their post closes
    await session.flush()
    if source == "request":
        for pm in partnership.members:
            pm.accepted = True
            pm.decided_at = now
        await _begin_trial(session, partnership, now)
        await _enqueue_space_open(session, partnership, now)
        await session.flush()
        log.info("partnership %s started from a forum request", partnership.id)
        return partnership
    return await open_proposal(session, partnership_id=partnership.id, now=now)


async def _blocked(session: AsyncSession, a: int, b: int) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(Block)
        .where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
    )
    return bool(found)


async def open_proposal(
    session: AsyncSession, *, partnership_id: int, now: datetime
) -> Partnership:
    """Start a proposal's clock: it expires after the community's ``proposal_hours``; its
    private space is opened by the dispatcher (``space_open``). Everyone is asked to confirm in
    that space, even after a forum request: both chose the other on a profile, now they meet."""
    partnership = await _get(session, partnership_id)
    if partnership.state != "proposed":
        raise Conflict("That proposal has already been settled.")
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    if partnership.expires_at is None:
        partnership.expires_at = now + timedelta(
            hours=max(d.PROPOSAL_HOURS_MIN, settings.proposal_hours)
        )
    for pm in partnership.members:
        pm.accepted = None
        pm.decided_at = None
    await outbox.enqueue(
        session,
        key=occurrence_key(PROPOSAL_EXPIRY.kind, _target(partnership.id), partnership.expires_at),
        kind=PROPOSAL_EXPIRY.kind,
        due_at=partnership.expires_at,
        now=now,
        guild_id=partnership.guild_id,
        payload={"partnership_id": partnership.id},
    )
    await _enqueue_space_open(session, partnership, now)
    await session.flush()
    log.info("partnership %s proposed (%s)", partnership.id, partnership.source)
    return partnership


async def _enqueue_space_open(
    session: AsyncSession, partnership: Partnership, now: datetime
) -> None:
    await outbox.enqueue(
        session,
        key=occurrence_key(SPACE_OPEN.kind, _target(partnership.id), partnership.proposed_at),
        kind=SPACE_OPEN.kind,
        due_at=now,
        now=now,
        guild_id=partnership.guild_id,
        payload={"partnership_id": partnership.id},
    )


@dataclass(frozen=True)
class RoundProposal:
    """One group of a matching round, checked by the caller in this transaction (every member
    still seeking, none in a live partnership, no block between them)."""

    member_ids: tuple[int, ...]
    score: float
    explanation: dict[str, Any]
    space_open_at: datetime  # when its space opens (a round's spaces are spread out)


@dataclass(frozen=True)
class RoundMember:
    """What :func:`propose_round` needs of a member (read by the round's re-check, no ORM
    object): ids for the post sync and the rhythm for the meeting interval."""

    id: int
    guild_id: int
    user_id: int
    rhythm: str | None


async def propose_round(
    session: AsyncSession,
    *,
    guild_id: int,
    proposals: Sequence[RoundProposal],
    members: Mapping[int, RoundMember],
    round_id: int,
    now: datetime,
) -> list[int]:
    """:func:`propose` and :func:`open_proposal` for many groups of a round at once, in bulk:
    one multi-row insert of the partnerships (``RETURNING`` their ids, in order), one of their
    members, one ``UPDATE`` taking everyone out of the pool, their posts' syncs and each
    proposal's expiry and ``space_open`` row (due at ``space_open_at``): a fixed handful of
    statements per chunk, whatever its size. ``members`` holds every member named. Returns the
    new partnerships' ids, in the order of ``proposals``."""
    if not proposals:
        return []
    settings = await get_settings(session, guild_id=guild_id, now=now)
    expires_at = now + timedelta(hours=max(d.PROPOSAL_HOURS_MIN, settings.proposal_hours))
    rows = [
        {
            "guild_id": guild_id,
            "state": "proposed",
            "source": "round",
            "round_id": round_id,
            "score": p.score,
            "explanation": dict(p.explanation),
            "proposed_at": now,
            "expires_at": expires_at,
            "meeting_interval_weeks": d.pair_interval_weeks(
                members[m].rhythm for m in p.member_ids
            ),
        }
        for p in proposals
    ]
    ids = list(
        (
            await session.execute(
                insert(Partnership).returning(Partnership.id, sort_by_parameter_order=True),
                rows,
            )
        ).scalars()
    )
    await session.execute(
        insert(PartnershipMember),
        [
            {"partnership_id": pid, "member_id": m}
            for pid, p in zip(ids, proposals, strict=True)
            for m in p.member_ids
        ],
    )
    moved = [members[m] for p in proposals for m in p.member_ids]
    await session.execute(
        update(Member)
        .where(Member.id.in_([m.id for m in moved]))
        .values(pool_status="idle", waiting_since=None, priority=False, updated_at=now)
    )
    await queue_post_syncs(session, members=moved, now=now)  # their posts close
    items: list[outbox.NewWork] = []
    for pid, proposal in zip(ids, proposals, strict=True):
        target = _target(pid)
        items.append(
            outbox.NewWork(
                key=occurrence_key(PROPOSAL_EXPIRY.kind, target, expires_at),
                kind=PROPOSAL_EXPIRY.kind,
                due_at=expires_at,
                guild_id=guild_id,
                payload={"partnership_id": pid},
            )
        )
        items.append(
            outbox.NewWork(
                key=occurrence_key(SPACE_OPEN.kind, target, now),
                kind=SPACE_OPEN.kind,
                due_at=max(now, proposal.space_open_at),
                guild_id=guild_id,
                payload={"partnership_id": pid},
            )
        )
    await outbox.enqueue_many(session, items=items, now=now)
    return ids


def _opens_as_trial(partnership: Partnership) -> bool:
    """A pair from a forum request whose trial began before it had a space."""
    return partnership.source == "request" and partnership.state == "trial"


async def proposal_card(
    session: AsyncSession, *, partnership_id: int, now: datetime
) -> ProposalCard | None:
    """Everything the private space shows, or ``None`` when there is nothing to open (the
    proposal was settled meanwhile, or its space already exists)."""
    partnership = await session.get(Partnership, partnership_id)
    if partnership is None or partnership.thread_id:
        return None
    trial = _opens_as_trial(partnership)
    if partnership.state != "proposed" and not trial:
        return None
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    by_id = await _members(session, partnership)
    members = [by_id[pm.member_id] for pm in partnership.members if pm.member_id in by_id]
    profiles = [public_profile(m) for m in members]
    people = [
        d.CardPerson(
            user_id=m.user_id,
            display_name=m.display_name or "A member",
            intro=p.intro,
            goals_text=p.goals_text,
            goal_areas=p.goal_areas,
            rhythm_label=RHYTHM_LABELS.get(p.rhythm or ""),
            medium=p.medium,
            languages=p.languages,
        )
        for m, p in zip(members, profiles, strict=True)
    ]
    minutes, lines = overlap_summary(profiles[0], profiles[1], now)
    slots: list[datetime] = []
    if profiles[0].timezone:
        runs = overlap_runs(profiles[0], profiles[1], now)
        slots = d.suggest_slots(
            runs, minutes=partnership.meeting_minutes, zone=profiles[0].timezone
        )
    expires_at = partnership.expires_at or partnership.trial_ends_at
    assert expires_at is not None
    common: dict[str, Any] = {
        "explanation": dict(partnership.explanation or {}),
        "overlap_minutes": minutes,
        "overlap_lines": lines,
        "slots": slots,
        "minutes": partnership.meeting_minutes,
        "expires_at": expires_at,
        "source": partnership.source,
        "interval_weeks": partnership.meeting_interval_weeks,
        "trial_ends_at": partnership.trial_ends_at if trial else None,
    }
    name = " & ".join(p.display_name for p in people)
    return ProposalCard(
        partnership_id=partnership.id,
        guild_id=partnership.guild_id,
        pair_channel_id=settings.pair_channel_id,
        user_ids=tuple(m.user_id for m in members),
        thread_name=(name if len(name) <= 90 else name[:89] + "…") or "Your partnership",
        thread_text=d.proposal_text(people=people, **common),
        dm_texts={
            p.user_id: d.proposal_dm_text(reader=p.user_id, people=people, **common) for p in people
        },
        needs_answer=not trial,
    )


async def record_space(
    session: AsyncSession, *, partnership_id: int, thread_id: int | None, now: datetime
) -> None:
    """Remember the pair's private thread (``None``: they were written to by DM instead). A
    thread opened just as the proposal ended (a decline racing the opening) is closed again.
    A pair from a forum request gets its trial's follow-ups now that news can reach its space
    (the welcome in the space said the rest)."""
    partnership = await _get(session, partnership_id)
    partnership.thread_id = thread_id
    if partnership.state == "ended":
        await _close_space(session, partnership=partnership, text=d.proposal_closed_text(), now=now)
    elif _opens_as_trial(partnership):
        members = await _members(session, partnership)
        await _trial_follow_ups(session, partnership, members, now, announce=False)
    await session.flush()


async def decide(
    session: AsyncSession,
    *,
    partnership_id: int,
    user_id: int,
    accept: bool,
    now: datetime,
    reason: str | None = None,
) -> Decision:
    """A member accepts or declines a proposal. Everyone accepting starts the trial; one decline
    ends it and everyone goes back to the pool with priority. The decliner's ``reason`` is only
    stored, for them."""
    partnership = await _get(session, partnership_id)
    member, mine = await _me_in(session, partnership, user_id=user_id)
    reason = _clean(reason, REASON_MAX)
    if partnership.state != "proposed":
        if partnership.state in RUNNING:
            raise Conflict("You've both accepted already: you're partners! See `/pair status`.")
        raise Conflict("This proposal has already closed.")
    if partnership.expires_at is not None and partnership.expires_at <= now:
        raise Conflict("This proposal has expired; you'll be back in the pool with priority.")
    if accept and mine.accepted:
        raise Conflict("You've already accepted. Waiting for the other answer.")
    members = await _members(session, partnership)
    others = tuple(
        members[pm.member_id].user_id
        for pm in partnership.members
        if pm.member_id != member.id and pm.member_id in members
    )
    mine.accepted = accept
    mine.decided_at = now
    if not accept:
        mine.private_reason = reason
        await _fall_through(
            session,
            partnership=partnership,
            members=members,
            leaver_id=member.id,
            back=list(members.values()),
            event="declined",
            text_for=lambda other: d.proposal_declined_dm(
                [m.user_id for m in members.values() if m.id != other.id]
            ),
            closed_text=d.proposal_closed_text(),
            now=now,
        )
        await session.flush()
        log.info("partnership %s declined", partnership.id)
        return Decision("declined", partnership.id, others)
    if not all(pm.accepted for pm in partnership.members):
        await _tell_thread_or_dms(
            session,
            partnership=partnership,
            members=members,
            key=_event_key(partnership, f"accepted-m{member.id}", now),
            text=d.accepted_waiting_text(member.user_id),
            to=[m for m in members if m != member.id],
            now=now,
            ping=False,
        )
        await session.flush()
        return Decision("waiting", partnership.id, others)
    await _start_trial(session, partnership, members, now)
    return Decision("trial", partnership.id, others, partnership.trial_ends_at)


async def _start_trial(
    session: AsyncSession, partnership: Partnership, members: dict[int, Member], now: datetime
) -> None:
    await _begin_trial(session, partnership, now)
    await _trial_follow_ups(session, partnership, members, now, announce=True)


async def _begin_trial(session: AsyncSession, partnership: Partnership, now: datetime) -> None:
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    partnership.state = "trial"
    partnership.started_at = now
    partnership.trial_ends_at = now + timedelta(days=settings.trial_days)
    await outbox.cancel_pending(session, kind=PROPOSAL_EXPIRY.kind, target=_target(partnership.id))
    for pm in partnership.members:
        pm.last_active_at = now


async def _trial_follow_ups(
    session: AsyncSession,
    partnership: Partnership,
    members: dict[int, Member],
    now: datetime,
    *,
    announce: bool,
) -> None:
    """The trial's news (``announce``), each partner's end-of-trial choice, and the upkeep."""
    assert partnership.trial_ends_at is not None and partnership.started_at is not None
    if announce:
        await _tell_thread_or_dms(
            session,
            partnership=partnership,
            members=members,
            key=_event_key(partnership, "trial", now),
            text=d.both_accepted_text(
                [m.user_id for m in members.values()],
                partnership.trial_ends_at,
                partnership.meeting_interval_weeks,
            ),
            now=now,
        )
    for member in members.values():
        others = [m.user_id for m in members.values() if m.id != member.id]
        await _dm(
            session,
            partnership=partnership,
            member=member,
            key=occurrence_key(
                TRIAL_CHOICE.kind, _target(partnership.id, member.id), partnership.trial_ends_at
            ),
            kind=TRIAL_CHOICE.kind,
            text=d.trial_choice_text(others, partnership.started_at),
            rows=(
                (
                    Button(
                        "Continue together",
                        d.trial_button_id("continue", partnership.id),
                        style="success",
                    ),
                    Button("Part ways kindly", d.trial_button_id("part", partnership.id)),
                ),
            ),
            due_at=partnership.trial_ends_at,
            now=now,
        )
    await _schedule_upkeep(session, partnership, members, now)
    await session.flush()
    log.info("partnership %s started its trial", partnership.id)


async def expire_proposal(session: AsyncSession, *, partnership_id: int, now: datetime) -> bool:
    """A proposal not answered by everyone in time ends; everyone goes back to the pool with
    priority. ``False`` when there was nothing to expire (answered or ended meanwhile)."""
    partnership = await session.get(Partnership, partnership_id)
    if (
        partnership is None
        or partnership.state != "proposed"
        or partnership.expires_at is None
        or partnership.expires_at > now
    ):
        return False
    members = await _members(session, partnership)
    await _finish(session, partnership, reason="expired", now=now)
    for member in members.values():
        await _back_to_pool(session, member, now)
        await _dm(
            session,
            partnership=partnership,
            member=member,
            key=_event_key(partnership, "expired", now),
            text=d.proposal_expired_dm([m.user_id for m in members.values() if m.id != member.id]),
            now=now,
        )
    await _close_space(session, partnership=partnership, text=d.proposal_closed_text(), now=now)
    await session.flush()
    log.info("partnership %s expired unanswered", partnership.id)
    return True


# --------------------------------------------------------------------------- meetings


async def partner_zones(session: AsyncSession, *, guild_id: int, user_id: int) -> list[str]:
    """The time zones a meeting may be agreed in: the member's own first, then their partners'."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return []
    partnership = await _live_for(session, member_id=member.id)
    zones = [member.timezone] if member.timezone else []
    if partnership is not None:
        for other in (await _members(session, partnership)).values():
            if other.timezone and other.timezone not in zones:
                zones.append(other.timezone)
    return zones


async def set_meeting(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    weekday: int,
    time_text: str,
    zone: str,
    now: datetime,
    interval_weeks: int | None = None,
    minutes: int | None = None,
    reminder_minutes: int | None = None,
) -> MeetingPlan:
    """Agree (or change) the pair's recurring meeting, in the time zone of one of them. Pending
    reminders of the old time are cancelled, the new occurrences laid down, the others told.
    Without ``interval_weeks`` the pair's rhythm stays: the one agreed before, else the one
    their profiles share (every two weeks when they all say so, see
    :func:`bot.domain.partnership.pair_interval_weeks`)."""
    member, partnership = await _current(
        session, guild_id=guild_id, user_id=user_id, states=RUNNING
    )
    members = await _members(session, partnership)
    zones = [m.timezone for m in members.values() if m.timezone]
    agreed = validate_zone(zone).key
    if agreed not in zones:
        raise InvalidInput(
            "Please agree the time in your own time zone or your partner's: "
            + " or ".join(dict.fromkeys(zones))
            + "."
        )
    at = d.parse_clock(time_text)
    if not 0 <= weekday <= 6:
        raise InvalidInput("Please pick a day of the week.")
    minutes = partnership.meeting_minutes if minutes is None else minutes
    reminder = partnership.reminder_minutes if reminder_minutes is None else reminder_minutes
    d.check_meeting_numbers(minutes=minutes, reminder_minutes=reminder)
    if interval_weeks is None:
        interval_weeks = partnership.meeting_interval_weeks or 1
    rec = d.anchored(
        Recurrence(weekday=weekday, time=at, zone=agreed, interval_weeks=interval_weeks), now
    )
    changed = partnership.meeting_weekday is not None
    partnership.meeting_weekday = rec.weekday
    partnership.meeting_time = f"{rec.time:%H:%M}"
    partnership.meeting_zone = rec.zone
    partnership.meeting_interval_weeks = rec.interval_weeks
    partnership.meeting_anchor = rec.anchor
    partnership.meeting_minutes = minutes
    partnership.reminder_minutes = reminder
    await _cancel_meeting_work(session, partnership)
    await _cancel_future_meetings(session, partnership, now)
    await _lay_down_meetings(session, partnership, members, now)
    await goals.plan_pair(session, partnership_id=partnership.id, now=now)
    first = next_occurrence(rec, now)
    others = [m for m in members.values() if m.id != member.id]
    await _tell_thread_or_dms(
        session,
        partnership=partnership,
        members=members,
        key=_event_key(partnership, "meeting", now),
        text=d.meeting_set_text(
            actor=user_id, rec=rec, first=first, minutes=minutes, changed=changed
        ),
        to=[m.id for m in others],
        now=now,
    )
    await session.flush()
    log.info("partnership %s meeting %s", partnership.id, "changed" if changed else "set")
    return MeetingPlan(
        recurrence=rec,
        first=first,
        minutes=minutes,
        reminder_minutes=reminder,
        changed=changed,
        others=tuple(m.user_id for m in others),
        in_zones=tuple((z, d.describe_in(rec, z, now)) for z in dict.fromkeys(zones)),
    )


async def _lay_down_meetings(
    session: AsyncSession, partnership: Partnership, members: dict[int, Member], now: datetime
) -> int:
    """``Meeting`` rows and their outbox work for every occurrence in the coming
    :data:`HORIZON`; idempotent (known meetings and keys are left as they are)."""
    rec = _recurrence(partnership)
    if rec is None or partnership.state not in RUNNING:
        return 0
    times = occurrences(rec, now, now + HORIZON)
    if not times:
        return 0
    known = {
        m.occurs_at: m
        for m in (
            await session.execute(
                select(Meeting).where(
                    Meeting.partnership_id == partnership.id, Meeting.occurs_at.in_(times)
                )
            )
        ).scalars()
    }
    for at in times:
        meeting = known.get(at)
        if meeting is None:
            meeting = Meeting(partnership_id=partnership.id, occurs_at=at, state="scheduled")
            session.add(meeting)
            known[at] = meeting
        elif meeting.state == "cancelled":
            meeting.state = "scheduled"
    await session.flush()
    pid = partnership.id
    lead = timedelta(minutes=partnership.reminder_minutes) + PREP_LEAD
    items: list[NewWork] = []
    for at in times:
        meeting = known[at]
        items.append(
            NewWork(
                key=occurrence_key(MEETING_PREP.kind, _target(pid), at),
                kind=MEETING_PREP.kind,
                due_at=at - lead,
                occurs_at=at,
                guild_id=partnership.guild_id,
                payload={"partnership_id": pid, "meeting_id": meeting.id},
            )
        )
        for member in members.values():
            others = [m.user_id for m in members.values() if m.id != member.id]
            items.append(
                NewWork(
                    key=occurrence_key(MEETING_CHECK.kind, _target(pid, member.id), at),
                    kind=MEETING_CHECK.kind,
                    due_at=at + timedelta(minutes=partnership.meeting_minutes),
                    occurs_at=at,
                    guild_id=partnership.guild_id,
                    user_id=member.user_id,
                    payload=delivery_payload(
                        OutgoingMessage(
                            content=d.did_you_meet_text(at, others),
                            rows=(
                                (
                                    Button(
                                        "Yes, we met",
                                        d.met_button_id("yes", meeting.id),
                                        style="success",
                                    ),
                                    Button(
                                        "We rescheduled", d.met_button_id("rescheduled", meeting.id)
                                    ),
                                    Button("No", d.met_button_id("no", meeting.id)),
                                ),
                            ),
                        ),
                        fallback_channel_id=partnership.thread_id,
                    ),
                )
            )
    return await outbox.enqueue_many(session, items=items, now=now)


async def prepare_meeting(
    session: AsyncSession, *, partnership_id: int, meeting_id: int, now: datetime
) -> bool:
    """Shortly before a meeting's reminder is due: build the agenda from the goals as they are
    now and enqueue the reminder (to the pair's thread, or each partner's DMs). ``False`` when
    the meeting no longer stands (moved, or the pair ended)."""
    partnership = await session.get(Partnership, partnership_id)
    meeting = await session.get(Meeting, meeting_id)
    if (
        partnership is None
        or meeting is None
        or partnership.state not in RUNNING
        or meeting.state != "scheduled"
        or meeting.occurs_at <= now
    ):
        return False
    members = await _members(session, partnership)
    goals_part = await goals.agenda_text(session, partnership_id=partnership.id, now=now)
    text = d.reminder_text(
        [m.user_id for m in members.values()],
        meeting_at=meeting.occurs_at,
        minutes=partnership.meeting_minutes,
        goals=goals_part,
        interval_weeks=partnership.meeting_interval_weeks,
    )
    due = meeting.occurs_at - timedelta(minutes=partnership.reminder_minutes)
    if partnership.thread_id is not None:
        await outbox.enqueue(
            session,
            key=occurrence_key(MEETING_REMINDER.kind, _target(partnership.id), meeting.occurs_at),
            kind=MEETING_REMINDER.kind,
            due_at=due,
            occurs_at=meeting.occurs_at,
            now=now,
            guild_id=partnership.guild_id,
            channel_id=partnership.thread_id,
            payload=delivery_payload(
                OutgoingMessage(content=text, ping_users=tuple(m.user_id for m in members.values()))
            ),
        )
    else:
        for member in members.values():
            await outbox.enqueue(
                session,
                key=occurrence_key(
                    MEETING_REMINDER.kind, _target(partnership.id, member.id), meeting.occurs_at
                ),
                kind=MEETING_REMINDER.kind,
                due_at=due,
                occurs_at=meeting.occurs_at,
                now=now,
                guild_id=partnership.guild_id,
                user_id=member.user_id,
                payload=delivery_payload(OutgoingMessage(content=text)),
            )
    return True


async def answer_meeting(
    session: AsyncSession, *, meeting_id: int, user_id: int, answer: str, now: datetime
) -> AnswerResult:
    """A partner's "did you meet?" (yes / rescheduled / no); a later answer replaces theirs."""
    if answer not in d.ANSWERS:
        raise InvalidInput("Please answer yes, rescheduled or no.")
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("I couldn't find that meeting any more.")
    partnership = await _get(session, meeting.partnership_id)
    member, mine = await _me_in(session, partnership, user_id=user_id)
    if partnership.state not in RUNNING:
        raise Conflict("That partnership has ended, so there's nothing to record.")
    if meeting.state == "cancelled":
        raise Conflict("That meeting was moved, so there's nothing to record for it.")
    if meeting.occurs_at > now:
        raise InvalidInput("That meeting hasn't happened yet. Ask me again afterwards!")
    existing = await session.get(MeetingAnswer, (meeting.id, member.id))
    if existing is None:
        session.add(
            MeetingAnswer(
                meeting_id=meeting.id, member_id=member.id, answer=answer, answered_at=now
            )
        )
    else:
        existing.answer = answer
        existing.answered_at = now
    mine.last_active_at = now
    await session.flush()
    answered = await session.scalar(
        select(func.count())
        .select_from(MeetingAnswer)
        .where(MeetingAnswer.meeting_id == meeting.id)
    )
    if (answered or 0) >= len(partnership.members):
        meeting.state = "done"
    streak, _ = await _streak(session, partnership, now)
    await session.flush()
    return AnswerResult(answer=answer, streak=streak, meeting_at=meeting.occurs_at)


async def _streak(
    session: AsyncSession, partnership: Partnership, now: datetime
) -> tuple[int, int]:
    """(met meetings in a row, met meetings in all) for the pair."""
    meetings = list(
        (
            await session.execute(
                select(Meeting)
                .where(
                    Meeting.partnership_id == partnership.id,
                    Meeting.state != "cancelled",
                    Meeting.occurs_at <= now,
                )
                .order_by(Meeting.occurs_at.desc())
            )
        ).scalars()
    )
    if not meetings:
        return 0, 0
    answers: dict[int, list[str]] = {}
    rows = await session.execute(
        select(MeetingAnswer.meeting_id, MeetingAnswer.answer).where(
            MeetingAnswer.meeting_id.in_([m.id for m in meetings])
        )
    )
    for meeting_id, answer in rows:
        answers.setdefault(meeting_id, []).append(answer)
    length = timedelta(minutes=partnership.meeting_minutes)
    outcomes = [
        d.meeting_outcome(
            answers.get(m.id, []), settled=m.occurs_at + length + ANSWER_WINDOW <= now
        )
        for m in meetings
    ]
    return d.meeting_streak(outcomes), sum(1 for o in outcomes if o == "met")


# --------------------------------------------------------------------------- trial and ending


async def choose_trial(
    session: AsyncSession, *, partnership_id: int, user_id: int, choice: str, now: datetime
) -> TrialResult:
    """A partner's private end-of-trial choice. Everyone continuing makes a full partnership;
    anyone parting ends it kindly, and nobody is told who chose what."""
    if choice not in d.TRIAL_CHOICES:
        raise InvalidInput("Please choose to continue or to part ways.")
    partnership = await _get(session, partnership_id)
    member, mine = await _me_in(session, partnership, user_id=user_id)
    if partnership.state == "active":
        raise Conflict("You've both chosen to carry on already: you're full partners.")
    if partnership.state != "trial":
        raise Conflict("That partnership has ended.")
    if partnership.trial_ends_at is not None and now < partnership.trial_ends_at:
        raise InvalidInput(
            "Your trial is still running. I'll ask you both when it ends; to stop now, use "
            "`/pair end`."
        )
    mine.trial_choice = choice
    mine.last_active_at = now
    members = await _members(session, partnership)
    others = tuple(m.user_id for m in members.values() if m.id != member.id)
    outcome = d.trial_outcome(pm.trial_choice for pm in partnership.members)
    if outcome == "continue":
        partnership.state = "active"
        await _tell_thread_or_dms(
            session,
            partnership=partnership,
            members=members,
            key=_event_key(partnership, "active", now),
            text=d.trial_continued_text([m.user_id for m in members.values()]),
            now=now,
        )
    elif outcome == "part":
        await _finish(session, partnership, reason="trial_parted", now=now)
        await _part_ways(
            session,
            partnership=partnership,
            members=members,
            leaver_id=member.id,
            event="parted",
            text_for=lambda other: d.trial_parted_dm(
                [m.user_id for m in members.values() if m.id != other.id]
            ),
            closed_text=d.space_closed_text(),
            now=now,
        )
    await session.flush()
    log.info("partnership %s trial choice recorded: %s", partnership.id, outcome)
    return TrialResult(outcome, others)


async def end_partnership(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    reason: str | None = None,
) -> EndResult:
    """End one's partnership (or decline one's proposal) at any time. ``reason`` is private:
    stored for the member alone. The others are told kindly; the thread closes."""
    member, partnership = await _current(session, guild_id=guild_id, user_id=user_id, states=LIVE)
    return await _end(
        session, member=member, partnership=partnership, reason=reason, now=now, end_reason="ended"
    )


async def _end(
    session: AsyncSession,
    *,
    member: Member,
    partnership: Partnership,
    reason: str | None,
    now: datetime,
    end_reason: str,
) -> EndResult:
    was = partnership.state
    if was == "proposed":
        decision = await decide(
            session,
            partnership_id=partnership.id,
            user_id=member.user_id,
            accept=False,
            reason=reason,
            now=now,
        )
        return EndResult(partnership.id, decision.others, was)
    mine = _membership(partnership, member.id)
    mine.private_reason = _clean(reason, REASON_MAX)
    members = await _members(session, partnership)
    await _finish(session, partnership, reason=end_reason, now=now)
    await _part_ways(
        session,
        partnership=partnership,
        members=members,
        leaver_id=member.id,
        event="ended",
        text_for=lambda _other: d.ended_dm(member.user_id),
        closed_text=d.space_closed_text(),
        now=now,
    )
    await session.flush()
    log.info("partnership %s ended by a partner", partnership.id)
    return EndResult(
        partnership.id, tuple(m.user_id for m in members.values() if m.id != member.id), was
    )


async def block(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    other_user_id: int | None = None,
) -> BlockResult:
    """Never be matched with someone again (one's partner by default). A partnership with them
    ends exactly as ``/pair end`` would, with the same words: nobody learns of the block."""
    member = await ensure_member(session, guild_id=guild_id, user_id=user_id, now=now)
    partnership = await _live_for(session, member_id=member.id)
    members = await _members(session, partnership) if partnership is not None else {}
    if other_user_id is None:
        partners = [m for m in members.values() if m.id != member.id]
        if len(partners) != 1:
            raise InvalidInput("Tell me whom to block: pick the member in the command.")
        other = partners[0]
    else:
        if other_user_id == user_id:
            raise InvalidInput("You can't block yourself. 🙂")
        other = await ensure_member(session, guild_id=guild_id, user_id=other_user_id, now=now)
    exists = await session.scalar(
        select(func.count())
        .select_from(Block)
        .where(Block.blocker_id == member.id, Block.blocked_id == other.id)
    )
    if not exists:
        session.add(Block(blocker_id=member.id, blocked_id=other.id, created_at=now))
    ended = False
    if partnership is not None and other.id in members:
        # Stored as an ordinary end (or decline): the block row is the only private record.
        await _end(
            session,
            member=member,
            partnership=partnership,
            reason=None,
            now=now,
            end_reason="ended",
        )
        ended = True
    await session.flush()
    log.info("a block was recorded in guild %s", guild_id)
    return BlockResult(blocked_user_id=other.user_id, ended_partnership=ended)


async def file_report(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    text: str,
    now: datetime,
    reported_user_id: int | None = None,
) -> ReportResult:
    """A report to the moderators: the reporter's words and public context (who, which
    partnership, its thread), nothing private. Saved even when no moderators' channel is set."""
    words = _clean(text, REPORT_MAX)
    if not words:
        raise InvalidInput("Please tell the moderators briefly what happened.")
    member = await ensure_member(session, guild_id=guild_id, user_id=user_id, now=now)
    if reported_user_id == user_id:
        raise InvalidInput("You can't report yourself.")
    partnership = await _live_for(session, member_id=member.id)
    reported: Member | None = None
    if reported_user_id is not None:
        reported = await ensure_member(
            session, guild_id=guild_id, user_id=reported_user_id, now=now
        )
    elif partnership is not None:
        partners = [m for m in (await _members(session, partnership)).values() if m.id != member.id]
        reported = partners[0] if len(partners) == 1 else None
    context = None
    if reported is not None:
        context = await _shared_partnership(session, member.id, reported.id)
    report = Report(
        guild_id=guild_id,
        reporter_id=member.id,
        reported_id=reported.id if reported else None,
        partnership_id=context.id if context else None,
        text=words,
        state="open",
        created_at=now,
    )
    session.add(report)
    await session.flush()
    settings = await get_settings(session, guild_id=guild_id, now=now)
    if settings.mod_channel_id is not None:
        body = d.report_text(
            report_id=report.id,
            reporter=user_id,
            reported=reported.user_id if reported else None,
            state=context.state if context else None,
            since=(context.started_at or context.proposed_at) if context else None,
            thread_id=context.thread_id if context else None,
            words=words,
            now=now,
        )
        await outbox.enqueue(
            session,
            key=f"{MOD_REPORT.kind}:r{report.id}",
            kind=MOD_REPORT.kind,
            due_at=now,
            now=now,
            guild_id=guild_id,
            channel_id=settings.mod_channel_id,
            payload=delivery_payload(OutgoingMessage(content=body)),
        )
    log.info("report %s filed in guild %s", report.id, guild_id)
    return ReportResult(report.id, settings.mod_channel_id is not None)


async def _shared_partnership(session: AsyncSession, a: int, b: int) -> Partnership | None:
    """The latest partnership two members were in together."""
    mine = select(PartnershipMember.partnership_id).where(PartnershipMember.member_id == a)
    return (
        await session.execute(
            select(Partnership)
            .join(PartnershipMember)
            .where(PartnershipMember.member_id == b, Partnership.id.in_(mine))
            .order_by(Partnership.proposed_at.desc(), Partnership.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


# --------------------------------------------------------------------------- health


async def record_activity(session: AsyncSession, *, member_id: int, now: datetime) -> None:
    """A check-in (or anything showing the member is there): they aren't a quiet partner."""
    partnership = await _live_for(session, member_id=member_id)
    if partnership is not None and partnership.state in RUNNING:
        mine = _membership(partnership, member_id)
        mine.last_active_at = now
        await session.flush()


async def _schedule_upkeep(
    session: AsyncSession, partnership: Partnership, members: dict[int, Member], now: datetime
) -> None:
    """The pair's next upkeep: in a week, or sooner when a partner would turn quiet sooner."""
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    since = partnership.started_at or now
    due = now + UPKEEP_EVERY
    for pm in partnership.members:
        quiet_at = max(pm.last_active_at or since, since) + timedelta(weeks=settings.ghost_weeks)
        if quiet_at > now:
            due = min(due, quiet_at)
    due = max(due, now + UPKEEP_SOONEST)
    await outbox.enqueue(
        session,
        key=occurrence_key(PAIR_UPKEEP.kind, _target(partnership.id), due),
        kind=PAIR_UPKEEP.kind,
        due_at=due,
        now=now,
        guild_id=partnership.guild_id,
        payload={"partnership_id": partnership.id},
    )


async def upkeep(session: AsyncSession, *, partnership_id: int, now: datetime) -> list[int]:
    """A pair's regular look: lay down the coming meetings, and for a partner quiet for the
    community's ``ghost_weeks``, ask the other (privately, by DM) whether to keep waiting or be
    rematched. Returns the user ids asked. Schedules the next upkeep."""
    partnership = await session.get(Partnership, partnership_id)
    if partnership is None or partnership.state not in RUNNING:
        return []
    members = await _members(session, partnership)
    await _lay_down_meetings(session, partnership, members, now)
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    weeks = settings.ghost_weeks
    since = partnership.started_at or partnership.proposed_at
    quiet = {
        pm.member_id: d.is_quiet(
            last_active_at=pm.last_active_at, since=since, now=now, weeks=weeks
        )
        for pm in partnership.members
    }
    asked: list[int] = []
    if len(partnership.members) == 2:
        a, b = partnership.members
        for asker, partner in ((a, b), (b, a)):
            if asker.member_id not in members or partner.member_id not in members:
                continue
            if d.should_ask_about_quiet_partner(
                asker_quiet=quiet[asker.member_id],
                partner_quiet=quiet[partner.member_id],
                asked_at=asker.ghost_asked_at,
                partner_last_active_at=partner.last_active_at,
                now=now,
                weeks=weeks,
            ):
                asker.ghost_asked_at = now
                target = members[asker.member_id]
                await _dm(
                    session,
                    partnership=partnership,
                    member=target,
                    key=_event_key(partnership, "quiet", now, kind=QUIET_PARTNER.kind),
                    text=d.quiet_partner_text(members[partner.member_id].user_id, weeks),
                    rows=(
                        (
                            Button("Keep waiting", d.quiet_button_id("wait", partnership.id)),
                            Button(
                                "Find me someone new",
                                d.quiet_button_id("rematch", partnership.id),
                                style="primary",
                            ),
                        ),
                    ),
                    fallback=False,  # the pair's thread is shared with the quiet partner
                    kind=QUIET_PARTNER.kind,
                    now=now,
                )
                asked.append(target.user_id)
    await _schedule_upkeep(session, partnership, members, now)
    await session.flush()
    if asked:
        log.info("partnership %s: a partner was asked about a quiet partner", partnership.id)
    return asked


async def answer_quiet(
    session: AsyncSession, *, partnership_id: int, user_id: int, rematch: bool, now: datetime
) -> QuietResult:
    """The answer to "keep waiting or be rematched?". Rematching ends the pair kindly: the asker
    goes back to the pool with priority; the quiet partner reads a neutral message."""
    partnership = await _get(session, partnership_id)
    member, mine = await _me_in(session, partnership, user_id=user_id)
    if partnership.state not in RUNNING:
        raise Conflict("That partnership has already ended.")
    members = await _members(session, partnership)
    others = tuple(m.user_id for m in members.values() if m.id != member.id)
    mine.ghost_asked_at = now
    mine.last_active_at = now
    if not rematch:
        await session.flush()
        return QuietResult(False, others)
    settings = await get_settings(session, guild_id=partnership.guild_id, now=now)
    since = partnership.started_at or partnership.proposed_at
    if not any(
        d.is_quiet(
            last_active_at=pm.last_active_at, since=since, now=now, weeks=settings.ghost_weeks
        )
        for pm in partnership.members
        if pm.member_id != member.id
    ):
        raise Conflict(
            "Good news: your partner has been active since I asked. If you'd still like to "
            "end the partnership, use `/pair end`."
        )
    await _finish(session, partnership, reason="rematch", now=now)
    await _back_to_pool(session, member, now)
    await _part_ways(
        session,
        partnership=partnership,
        members=members,
        leaver_id=member.id,
        event="rematch",
        text_for=lambda _other: d.rematch_ended_dm(),
        closed_text=d.space_closed_text(),
        now=now,
    )
    await session.flush()
    log.info("partnership %s ended for a rematch", partnership.id)
    return QuietResult(True, others)


async def forget_member(session: AsyncSession, *, member_id: int, now: datetime) -> bool:
    """Before a member's data is deleted (``/privacy delete``): their live partnership ends as
    ``/pair end`` would (the partner is told kindly, the thread closes) and its pending work is
    cancelled. ``True`` if there was one."""
    member = await session.get(Member, member_id)
    partnership = await _live_for(session, member_id=member_id)
    if member is None or partnership is None:
        return False
    await _end(
        session, member=member, partnership=partnership, reason=None, now=now, end_reason="ended"
    )
    return True


async def member_left(session: AsyncSession, *, member: Member, now: datetime) -> bool:
    """The member has left the server: their live partnership (or proposal) ends at once, with
    no grace period (a rejoin starts afresh), as ``left``. Every other member is told kindly and
    goes back to the pool first in line; the space closes; the pair's pending work is
    cancelled. ``True`` if there was a live partnership."""
    partnership = await _live_for(session, member_id=member.id)
    if partnership is None:
        return False
    was = partnership.state
    members = await _members(session, partnership)
    await _fall_through(
        session,
        partnership=partnership,
        members=members,
        leaver_id=member.id,
        back=[m for m in members.values() if m.id != member.id],
        event="left",
        text_for=lambda _other: d.partner_left_dm(proposal=was == "proposed"),
        closed_text=d.space_closed_text(),
        now=now,
    )
    await session.flush()
    log.info("partnership %s ended: a partner left the server", partnership.id)
    return True


# --------------------------------------------------------------------------- status


async def status(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> PairStatus:
    """The member's partnership as they may see it, and their past partners."""
    member = await find_member(session, guild_id=guild_id, user_id=user_id)
    if member is None:
        return PairStatus(state=None)
    history = await _history(session, member)
    partnership = await _live_for(session, member_id=member.id)
    if partnership is None:
        return PairStatus(state=None, history=history)
    members = await _members(session, partnership)
    mine = _membership(partnership, member.id)
    rec = _recurrence(partnership)
    streak, met = await _streak(session, partnership, now)
    return PairStatus(
        state=partnership.state,
        partnership_id=partnership.id,
        partners=tuple(m.user_id for m in members.values() if m.id != member.id),
        since=partnership.started_at or partnership.proposed_at,
        expires_at=partnership.expires_at if partnership.state == "proposed" else None,
        my_answer=mine.accepted,
        trial_ends_at=partnership.trial_ends_at,
        trial_choice=mine.trial_choice,
        trial_over=partnership.trial_ends_at is not None and partnership.trial_ends_at <= now,
        recurrence=rec,
        next_meeting=next_occurrence(rec, now) if rec is not None else None,
        minutes=partnership.meeting_minutes if rec is not None else None,
        reminder_minutes=partnership.reminder_minutes if rec is not None else None,
        streak=streak,
        met=met,
        thread_id=partnership.thread_id,
        history=history,
    )


async def _history(session: AsyncSession, member: Member) -> tuple[PastPartner, ...]:
    ended = list(
        (
            await session.execute(
                select(Partnership)
                .join(PartnershipMember)
                .where(
                    PartnershipMember.member_id == member.id,
                    Partnership.state == "ended",
                    Partnership.started_at.is_not(None),
                )
                .order_by(Partnership.started_at.desc())
                .limit(10)
            )
        ).scalars()
    )
    past = []
    for partnership in ended:
        members = await _members(session, partnership)
        assert partnership.started_at is not None
        past.append(
            PastPartner(
                user_ids=tuple(m.user_id for m in members.values() if m.id != member.id),
                started_at=partnership.started_at,
                ended_at=partnership.ended_at,
            )
        )
    return tuple(past)


async def guild_of(session: AsyncSession, *, partnership_id: int) -> int:
    return (await _get(session, partnership_id)).guild_id


async def guild_of_meeting(session: AsyncSession, *, meeting_id: int) -> int:
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound("I couldn't find that meeting any more.")
    return await guild_of(session, partnership_id=meeting.partnership_id)


# --------------------------------------------------------------------------- due work


def work_handlers(clock: Clock) -> dict[str, Handler]:
    """The dispatcher's handlers for this feature's non-delivery kinds that need no Discord
    (``space_open``/``space_close`` are handled by ``cogs.pairs``)."""

    async def expiry(session: AsyncSession, work: DueWork) -> None:
        await expire_proposal(
            session, partnership_id=int(work.payload["partnership_id"]), now=clock.now()
        )

    async def prep(session: AsyncSession, work: DueWork) -> None:
        await prepare_meeting(
            session,
            partnership_id=int(work.payload["partnership_id"]),
            meeting_id=int(work.payload["meeting_id"]),
            now=clock.now(),
        )

    async def health(session: AsyncSession, work: DueWork) -> None:
        await upkeep(session, partnership_id=int(work.payload["partnership_id"]), now=clock.now())

    return {PROPOSAL_EXPIRY.kind: expiry, MEETING_PREP.kind: prep, PAIR_UPKEEP.kind: health}
