"""Due work, durably: enqueue it, claim it in bounded batches, record what happened.

APScheduler only ticks; this table is the store of record (see ``models/outbox.py`` and
``docs/reliability.md``). Every row has a unique occurrence key, so enqueueing twice is a no-op,
and a claim is a lease: a worker that dies leaves rows that return to ``pending`` once the lease
runs out, and the retried send reuses the row's nonce so Discord returns the first message.

Claims on SQLite run inside the engine's ``BEGIN IMMEDIATE`` transaction (one writer at a time);
on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` lets several processes claim side by side
without ever taking the same row.

Staleness is a written rule per kind (:data:`KINDS`): when a row is enqueued its ``expires_at``
is computed from the moment the work is *about* (a meeting's start, a prompt's week) and stored,
so the rule in force at enqueue time is the one applied, whatever happens to the process.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.recurrence import Recurrence, occurrence_key, occurrences
from bot.services.ports import OutgoingMessage, Sent
from models import Member
from models.outbox import OutboxItem, OutboxState

log = logging.getLogger(__name__)

OUTBOX = cast(Table, OutboxItem.__table__)
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(minutes=15)
REASON_LIMIT = 200
_ENQUEUE_CHUNK = 500  # rows per INSERT: well under SQLite's bound-variable limit


# --------------------------------------------------------------------------- kinds and staleness


@dataclass(frozen=True)
class KindRule:
    """How one kind of due work behaves.

    ``delivery`` kinds are messages the dispatcher sends itself (payload made by
    :func:`delivery_payload`); the others go to a handler a feature registers with the dispatcher.
    ``stale_after`` is measured from the moment the work is about (``occurs_at``); ``None`` means
    the work is never too late to do. ``why`` is the rule in words, for the code's readers."""

    kind: str
    delivery: bool
    stale_after: timedelta | None
    why: str


KINDS: dict[str, KindRule] = {}


def register_kind(rule: KindRule) -> KindRule:
    """Declare a kind (features call this at import time); re-declaring must not change it."""
    if ":" in rule.kind or not rule.kind or len(rule.kind) > 32:
        raise ValueError("a kind is 1..32 characters without ':'")
    known = KINDS.get(rule.kind)
    if known is not None and known != rule:
        raise ValueError(f"kind {rule.kind!r} is already declared differently")
    KINDS[rule.kind] = rule
    return rule


def kind_rule(kind: str) -> KindRule:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown outbox kind {kind!r}; declare it with register_kind") from None


MEETING_REMINDER = register_kind(
    KindRule(
        "meeting_reminder",
        delivery=True,
        stale_after=timedelta(0),
        why="A reminder after the meeting has started is pointless: it expires at the meeting's "
        "start (due earlier by its lead time).",
    )
)
CHECKIN = register_kind(
    KindRule(
        "checkin",
        delivery=True,
        stale_after=timedelta(hours=12),
        why="A goal check-in is still worth answering the same day; 12 hours late it is noise.",
    )
)
WEEKLY_PROMPT = register_kind(
    KindRule(
        "weekly_prompt",
        delivery=True,
        stale_after=timedelta(days=3),
        why="The weekly missed-goal prompt is still useful a day or two late; after three days "
        "the next week's prompt is nearer than this one.",
    )
)
NOTICE = register_kind(
    KindRule(
        "notice",
        delivery=True,
        stale_after=timedelta(days=1),
        why="One-off news (a match proposed, a partner left) is still news a day later.",
    )
)
MATCH_ROUND = register_kind(
    KindRule(
        "match_round",
        delivery=False,
        stale_after=None,
        why="A late matching round must still run: members are waiting to be matched.",
    )
)
PROPOSAL_EXPIRY = register_kind(
    KindRule(
        "proposal_expiry",
        delivery=False,
        stale_after=None,
        why="Expiring an unanswered proposal is bookkeeping that must happen, however late.",
    )
)


def delivery_kinds() -> frozenset[str]:
    return frozenset(k for k, rule in KINDS.items() if rule.delivery)


# --------------------------------------------------------------------------- plain data


@dataclass(frozen=True)
class DueWork:
    """A claimed row, as plain data. ``claimed_by`` and ``attempt`` are the claim's fencing
    token: an outcome is recorded only while the row is still this claim's."""

    id: int
    key: str
    kind: str
    guild_id: int | None
    user_id: int | None
    channel_id: int | None
    payload: dict[str, Any]
    due_at: datetime
    expires_at: datetime | None
    attempt: int
    claimed_by: str
    lease_until: datetime

    @property
    def message(self) -> OutgoingMessage:
        return OutgoingMessage.from_dict(self.payload.get("message") or {})

    @property
    def fallback_channel_id(self) -> int | None:
        value = self.payload.get("fallback_channel_id")
        return int(value) if value is not None else None

    @property
    def fallback_message(self) -> OutgoingMessage:
        """What the pair's thread gets when the member's DMs are closed: the feature's own
        ``fallback_message`` if it gave one (DM text may be private), else the DM with a mention
        of the member in front so that they, and only they, are pinged."""
        explicit = self.payload.get("fallback_message")
        if explicit:
            return OutgoingMessage.from_dict(explicit)
        dm = self.message
        if self.user_id is None:
            return dm
        return OutgoingMessage(
            content=f"<@{self.user_id}> {dm.content}".rstrip(),
            embeds=dm.embeds,
            rows=dm.rows,
            ping_users=(self.user_id,),
        )


@dataclass(frozen=True)
class NewWork:
    """One row to enqueue (see :func:`enqueue`)."""

    key: str
    kind: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    guild_id: int | None = None
    user_id: int | None = None
    channel_id: int | None = None
    occurs_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery; :func:`record_outcomes` writes a batch of them."""

    work: DueWork
    status: Literal["sent", "failed", "retry", "expired"]
    sent: Sent | None = None
    via: str | None = None
    reason: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class ScheduleEntry:
    """A row as moderators may see it: no payload, which can hold member text."""

    id: int
    kind: str
    state: str
    guild_id: int | None
    user_id: int | None
    channel_id: int | None
    due_at: datetime
    next_attempt_at: datetime
    attempt: int
    reason: str | None
    finished_at: datetime | None


def of_shards(
    guild_id: ColumnElement[int], count: int, ids: Collection[int]
) -> ColumnElement[bool]:
    """Rows of no guild, or of a guild that one of ``ids`` (of ``count`` shards) carries:
    Discord's ``(guild_id >> 22) % shard_count``, in SQL (both databases)."""
    shifted = guild_id.op(">>", return_type=BigInteger)(literal(22, Integer))  # bigint >> int
    shard = shifted.self_group() % count
    return or_(guild_id.is_(None), shard.in_(sorted(ids)))


def worker_id() -> str:
    """Who is claiming: host, process and a random tag (a restarted process is someone new)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"[:64]


def delivery_payload(
    message: OutgoingMessage,
    *,
    fallback_channel_id: int | None = None,
    fallback_message: OutgoingMessage | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of a delivery row: the message, and where it goes if DMs are closed."""
    data: dict[str, Any] = dict(extra or {})
    data["message"] = message.to_dict()
    if fallback_channel_id is not None:
        data["fallback_channel_id"] = fallback_channel_id
    if fallback_message is not None:
        data["fallback_message"] = fallback_message.to_dict()
    return data


def backoff(attempt: int, retry_after: float | None = None) -> timedelta:
    """Exponential, capped; never sooner than Discord's ``retry_after``."""
    delay = min(BACKOFF_BASE * (2 ** max(0, attempt - 1)), BACKOFF_CAP)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def _reason(text: str) -> str:
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


# --------------------------------------------------------------------------- enqueue


def key_target(key: str) -> str | None:
    """The ``target`` column of a row with this key: ``kind:target`` for keys of three or more
    ``:``-separated parts (``kind:target:when``, see ``occurrence_key``), else ``None``. A key
    with this target is exactly a key starting with ``kind:target:``."""
    parts = key.split(":", 2)
    return f"{parts[0]}:{parts[1]}" if len(parts) == 3 else None


def _row(item: NewWork, now: datetime) -> dict[str, Any]:
    rule = kind_rule(item.kind)
    if not item.key or len(item.key) > 200:
        raise ValueError("an outbox key is 1..200 characters")
    if rule.delivery:
        if item.user_id is None and item.channel_id is None:
            raise ValueError(f"a {item.kind} delivery needs a user_id or a channel_id")
        if "message" not in item.payload:
            raise ValueError("a delivery payload needs a message; build it with delivery_payload")
    expires_at = item.expires_at
    if expires_at is None and rule.stale_after is not None:
        expires_at = (item.occurs_at or item.due_at) + rule.stale_after
    return {
        "key": item.key,
        "target": key_target(item.key),
        "kind": item.kind,
        "guild_id": item.guild_id,
        "user_id": item.user_id,
        "channel_id": item.channel_id,
        "payload": dict(item.payload),
        "due_at": item.due_at,
        "expires_at": expires_at,
        "next_attempt_at": item.due_at,
        "state": OutboxState.PENDING.value,
        "attempt": 0,
        "created_at": now,
    }


async def enqueue_many(session: AsyncSession, *, items: Sequence[NewWork], now: datetime) -> int:
    """Insert rows whose key is new; return how many were new (a known key is left as it is,
    ``INSERT .. ON CONFLICT DO NOTHING`` on both databases).

    One statement, compiled once and cached, run with a list of parameter sets: SQLAlchemy
    batches it into multi-row ``VALUES`` ("insertmanyvalues") and ``RETURNING`` counts the rows
    that were new. (``insert().values(list)`` compiled a new statement per call: seconds of CPU
    for a large round.)"""
    rows = [_row(item, now) for item in items]
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = postgresql.insert(OUTBOX)
    else:
        stmt = sqlite.insert(OUTBOX)
    stmt = stmt.on_conflict_do_nothing(index_elements=[OUTBOX.c.key]).returning(OUTBOX.c.id)
    inserted = 0
    for start in range(0, len(rows), _ENQUEUE_CHUNK):
        result = await session.execute(stmt, rows[start : start + _ENQUEUE_CHUNK])
        inserted += len(result.all())
    return inserted


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    due_at: datetime,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
    guild_id: int | None = None,
    user_id: int | None = None,
    channel_id: int | None = None,
    occurs_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> bool:
    """Put one piece of due work in the outbox; ``False`` if its key was already there.

    ``occurs_at`` is when the thing the work is about happens (a meeting's start) and defaults to
    ``due_at``; the kind's staleness rule counts from it unless ``expires_at`` is given."""
    item = NewWork(
        key=key,
        kind=kind,
        due_at=due_at,
        payload=payload or {},
        guild_id=guild_id,
        user_id=user_id,
        channel_id=channel_id,
        occurs_at=occurs_at,
        expires_at=expires_at,
    )
    return await enqueue_many(session, items=[item], now=now) == 1


async def materialise(
    session: AsyncSession,
    *,
    recurrence: Recurrence,
    kind: str,
    target: str | int,
    now: datetime,
    horizon: timedelta,
    payload: Mapping[str, Any] | Callable[[datetime], Mapping[str, Any]],
    lead: timedelta = timedelta(0),
    guild_id: int | None = None,
    user_id: int | None = None,
    channel_id: int | None = None,
) -> int:
    """Enqueue every occurrence of ``recurrence`` from ``now`` to ``now + horizon``, due ``lead``
    before it, keyed by :func:`occurrence_key` so running this every tick adds only what is new.
    ``payload`` may be a function of the occurrence (to show its time). Returns rows added."""
    items = []
    for at in occurrences(recurrence, now, now + horizon):
        body = payload(at) if callable(payload) else payload
        items.append(
            NewWork(
                key=occurrence_key(kind, target, at),
                kind=kind,
                due_at=at - lead,
                payload=body,
                guild_id=guild_id,
                user_id=user_id,
                channel_id=channel_id,
                occurs_at=at,
            )
        )
    return await enqueue_many(session, items=items, now=now)


def cancel_pending_statement(*, kind: str, target: str | int) -> Any:
    """The DELETE of :func:`cancel_pending`: an equality lookup on the ``target`` column (keys
    ``kind:target:...``), served by ``ix_outbox_target_state``."""
    target_text = str(target)
    if ":" in kind or ":" in target_text:
        raise ValueError("a kind and a target have no ':' (see occurrence_key)")
    return delete(OUTBOX).where(
        OUTBOX.c.target == f"{kind}:{target_text}",
        OUTBOX.c.state == OutboxState.PENDING.value,
        OUTBOX.c.kind == kind,
    )


async def cancel_pending(session: AsyncSession, *, kind: str, target: str | int) -> int:
    """Remove the pending occurrences of ``kind`` for ``target`` (a meeting moved or a pair
    ended), so that :func:`materialise` can lay down the new ones. Rows being sent stay.

    It was ``key LIKE 'kind:target:%'``, which no index serves on either database: 0.6-1.1 s a
    call at 928k rows (issue 13)."""
    result = await session.execute(cancel_pending_statement(kind=kind, target=target))
    return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------- claim and lease


def _due_work(row: RowMapping, *, worker: str, lease_until: datetime) -> DueWork:
    return DueWork(
        id=row["id"],
        key=row["key"],
        kind=row["kind"],
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        channel_id=row["channel_id"],
        payload=dict(row["payload"] or {}),
        due_at=row["due_at"],
        expires_at=row["expires_at"],
        attempt=row["attempt"] + 1,
        claimed_by=worker,
        lease_until=lease_until,
    )


async def claim(
    session: AsyncSession,
    *,
    now: datetime,
    worker: str,
    limit: int,
    lease: timedelta,
    kinds: Collection[str] | None = None,
    shards: tuple[int, Collection[int]] | None = None,
) -> list[DueWork]:
    """Claim up to ``limit`` due rows (oldest first) for ``worker`` until ``now + lease``.

    Only ``kinds`` are taken when given, so work whose handler isn't loaded stays pending (and
    visible) instead of failing. Stale rows are never claimed, even before
    :func:`expire_stale` has marked them. ``shards`` (``(shard_count, shard ids)``) takes only
    the rows of guilds those shards carry (and rows of no guild): a process that runs some of
    the bot's shards knows only their guilds' channels, threads and members."""
    if limit <= 0:
        return []
    query = (
        select(OUTBOX)
        .where(
            OUTBOX.c.state == OutboxState.PENDING.value,
            OUTBOX.c.next_attempt_at <= now,
            or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > now),
        )
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite is already BEGIN IMMEDIATE
    )
    if kinds is not None:
        if not kinds:
            return []
        query = query.where(OUTBOX.c.kind.in_(sorted(kinds)))
    if shards is not None:
        query = query.where(of_shards(OUTBOX.c.guild_id, *shards))
    rows = (await session.execute(query)).mappings().all()
    if not rows:
        return []
    lease_until = now + lease
    await session.execute(
        update(OUTBOX)
        .where(OUTBOX.c.id.in_([row["id"] for row in rows]))
        .values(
            state=OutboxState.CLAIMED.value,
            claimed_by=worker,
            lease_until=lease_until,
            attempt=OUTBOX.c.attempt + 1,
        )
    )
    return [_due_work(row, worker=worker, lease_until=lease_until) for row in rows]


async def renew_leases(
    session: AsyncSession, *, works: Collection[DueWork], now: datetime, lease: timedelta
) -> set[int]:
    """Extend the leases of claims still held (the heartbeat of a worker whose handlers run
    long), fenced like an outcome: a row released, expired or taken over meanwhile is left
    alone. Returns the ids still held. One statement, however many rows."""
    if not works:
        return set()
    held = (
        await session.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.state == OutboxState.CLAIMED.value,
                tuple_(OUTBOX.c.id, OUTBOX.c.claimed_by, OUTBOX.c.attempt).in_(
                    [(w.id, w.claimed_by, w.attempt) for w in works]
                ),
            )
            .values(lease_until=now + lease)
            .returning(OUTBOX.c.id)
        )
    ).scalars()
    return set(held)


async def work_waiting(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a tick has anything to do: a pending row due, or a claim whose lease ran out.
    One indexed read, so an idle tick costs no write transaction."""
    due = select(OUTBOX.c.id).where(
        OUTBOX.c.state == OutboxState.PENDING.value, OUTBOX.c.next_attempt_at <= now
    )
    lapsed = select(OUTBOX.c.id).where(
        OUTBOX.c.state == OutboxState.CLAIMED.value, OUTBOX.c.lease_until <= now
    )
    found = await session.scalar(select(exists(due.limit(1)) | exists(lapsed.limit(1))))
    return bool(found)


async def release_expired_leases(
    session: AsyncSession, *, now: datetime, max_attempts: int = MAX_ATTEMPTS
) -> int:
    """Rows whose claim ran out (the worker died or hung) go back to pending, at once; a row that
    has used up its attempts this way fails instead, so one poison row can't crash-loop."""
    expired = and_(
        OUTBOX.c.state == OutboxState.CLAIMED.value,
        OUTBOX.c.lease_until <= now,
    )
    failed = await session.execute(
        update(OUTBOX)
        .where(expired, OUTBOX.c.attempt >= max_attempts)
        .values(
            state=OutboxState.FAILED.value,
            reason=f"gave up after {max_attempts} attempts (lease ran out)",
            lease_until=None,
            finished_at=now,
        )
    )
    released = await session.execute(
        update(OUTBOX)
        .where(expired)
        .values(
            state=OutboxState.PENDING.value,
            next_attempt_at=now,
            lease_until=None,
            reason="lease ran out",
        )
    )
    count = int(getattr(released, "rowcount", 0) or 0)
    gave_up = int(getattr(failed, "rowcount", 0) or 0)
    if count or gave_up:
        log.warning("leases ran out: %d rows back to pending, %d given up", count, gave_up)
    return count + gave_up


async def expire_stale(session: AsyncSession, *, now: datetime) -> int:
    """Mark pending rows past their staleness deadline ``expired`` (see :data:`KINDS`)."""
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.state == OutboxState.PENDING.value,
            OUTBOX.c.expires_at.is_not(None),
            OUTBOX.c.expires_at <= now,
        )
        .values(state=OutboxState.EXPIRED.value, reason="stale", finished_at=now)
    )
    count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.info("%d outbox rows expired by their staleness rule", count)
    return count


# --------------------------------------------------------------------------- outcomes


def _fenced(work: DueWork) -> Any:
    return and_(
        OUTBOX.c.id == work.id,
        OUTBOX.c.state == OutboxState.CLAIMED.value,
        OUTBOX.c.claimed_by == work.claimed_by,
        OUTBOX.c.attempt == work.attempt,
    )


async def mark_sent(
    session: AsyncSession, *, work: DueWork, sent: Sent, via: str, now: datetime
) -> bool:
    """Record a message that went out. Not fenced by the claim: a message that exists is a fact
    (even if the row was released, expired or given up meanwhile), and recording it stops any
    later resend (which would carry the same nonce anyway)."""
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.id == work.id,
            OUTBOX.c.state.not_in([OutboxState.SENT.value, OutboxState.DONE.value]),
        )
        .values(
            state=OutboxState.SENT.value,
            message_id=sent.message_id,
            delivered_via=via,
            lease_until=None,
            reason=None,
            finished_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_done(session: AsyncSession, *, work: DueWork, now: datetime) -> bool:
    """Record a handler's success; ``False`` if the claim was lost (the caller rolls back)."""
    result = await session.execute(
        update(OUTBOX)
        .where(_fenced(work))
        .values(state=OutboxState.DONE.value, lease_until=None, reason=None, finished_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_failed(
    session: AsyncSession,
    *,
    work: DueWork,
    reason: str,
    now: datetime,
    state: OutboxState = OutboxState.FAILED,
) -> bool:
    """Give up on a row for a reason that retrying can't change (never member text);
    ``state=EXPIRED`` when it is no longer worth doing (its recipient left the server)."""
    result = await session.execute(
        update(OUTBOX)
        .where(_fenced(work))
        .values(
            state=state.value,
            reason=_reason(reason),
            lease_until=None,
            finished_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def retry_later(
    session: AsyncSession,
    *,
    work: DueWork,
    reason: str,
    now: datetime,
    retry_after: float | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> str | None:
    """Put a row back to pending after a backoff, or fail it once its attempts are used up.
    Returns the new state, or ``None`` if the claim was lost meanwhile."""
    if work.attempt >= max_attempts:
        done = await mark_failed(
            session, work=work, reason=f"gave up after {work.attempt} attempts: {reason}", now=now
        )
        return OutboxState.FAILED.value if done else None
    result = await session.execute(
        update(OUTBOX)
        .where(_fenced(work))
        .values(
            state=OutboxState.PENDING.value,
            next_attempt_at=now + backoff(work.attempt, retry_after),
            lease_until=None,
            reason=_reason(reason),
        )
    )
    return OutboxState.PENDING.value if getattr(result, "rowcount", 0) else None


async def record_outcomes(
    session: AsyncSession,
    *,
    outcomes: Sequence[Outcome],
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> dict[str, int]:
    """Write a batch of delivery outcomes in one transaction; returns counts by resulting state
    (``lost`` counts outcomes whose claim had been lost and so were not written)."""
    counts: dict[str, int] = {}

    def count(state: str | None) -> None:
        label = state or "lost"
        counts[label] = counts.get(label, 0) + 1

    sent = [o for o in outcomes if o.status == "sent"]
    if sent:
        # One executemany for the common case: a batch of successes is one round trip.
        result = await session.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.id == bindparam("b_id"),
                OUTBOX.c.state != OutboxState.SENT.value,  # no IN (...) in an executemany
                OUTBOX.c.state != OutboxState.DONE.value,
            )
            .values(
                state=OutboxState.SENT.value,
                message_id=bindparam("b_message_id"),
                delivered_via=bindparam("b_via"),
                lease_until=None,
                reason=None,
                finished_at=now,
            ),
            [
                {
                    "b_id": o.work.id,
                    "b_message_id": o.sent.message_id if o.sent else None,
                    "b_via": o.via or "dm",
                }
                for o in sent
            ],
        )
        # SQLite sums the rows an executemany changed; asyncpg reports no count (-1), so on
        # PostgreSQL every success is counted as written. Only reports use these counts.
        written = getattr(result, "rowcount", -1)
        written = len(sent) if written is None or written < 0 else written
        counts[OutboxState.SENT.value] = written
        if written < len(sent):
            counts["lost"] = len(sent) - written
    for outcome in outcomes:
        if outcome.status in ("failed", "expired"):
            state = OutboxState(outcome.status)
            ok = await mark_failed(
                session, work=outcome.work, reason=outcome.reason or "failed", now=now, state=state
            )
            count(state.value if ok else None)
        elif outcome.status == "retry":
            count(
                await retry_later(
                    session,
                    work=outcome.work,
                    reason=outcome.reason or "transient",
                    now=now,
                    retry_after=outcome.retry_after,
                    max_attempts=max_attempts,
                )
            )
    return {state: n for state, n in counts.items() if n}


# --------------------------------------------------------------------------- DM reachability


async def closed_dm_users(
    session: AsyncSession, *, members: Collection[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which of these ``(guild_id, user_id)`` members are known to have closed DMs."""
    return await _members_where(session, members, Member.dms_closed.is_(True))


async def departed_users(
    session: AsyncSession, *, members: Collection[tuple[int, int]]
) -> set[tuple[int, int]]:
    """Which of these ``(guild_id, user_id)`` members are known to have left the server."""
    return await _members_where(session, members, Member.left_at.is_not(None))


async def _members_where(
    session: AsyncSession, members: Collection[tuple[int, int]], condition: Any
) -> set[tuple[int, int]]:
    if not members:
        return set()
    rows = await session.execute(
        select(Member.guild_id, Member.user_id).where(
            condition, tuple_(Member.guild_id, Member.user_id).in_(sorted(members))
        )
    )
    return {(g, u) for g, u in rows.all()}


MEMBER_LEFT = "the member left the server"


async def cancel_deliveries_to(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> int:
    """The member left the server: their pending messages will not be sent (marked ``expired``
    with :data:`MEMBER_LEFT` as the reason; kept, not deleted, so nothing they wrote that a
    row quotes is lost before the privacy rules say so). Feature work about them stays."""
    result = await session.execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.guild_id == guild_id,
            OUTBOX.c.user_id == user_id,
            OUTBOX.c.state == OutboxState.PENDING.value,
            OUTBOX.c.kind.in_(sorted(delivery_kinds())),
        )
        .values(state=OutboxState.EXPIRED.value, reason=MEMBER_LEFT, finished_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def mark_dms_closed(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> bool:
    """Remember that the member's DMs are closed (Discord 50007): no more DM attempts, their
    deliveries go to the pair's thread until they use a command again."""
    result = await session.execute(
        update(Member)
        .where(Member.guild_id == guild_id, Member.user_id == user_id, Member.dms_closed.is_(False))
        .values(dms_closed=True, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def clear_dms_closed(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime
) -> bool:
    """The member used a command again: try their DMs again. Cheap when nothing is marked."""
    result = await session.execute(
        update(Member)
        .where(Member.guild_id == guild_id, Member.user_id == user_id, Member.dms_closed.is_(True))
        .values(dms_closed=False, updated_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


# --------------------------------------------------------------------------- visibility, privacy


def _entry(row: RowMapping) -> ScheduleEntry:
    return ScheduleEntry(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        channel_id=row["channel_id"],
        due_at=row["due_at"],
        next_attempt_at=row["next_attempt_at"],
        attempt=row["attempt"],
        reason=row["reason"],
        finished_at=row["finished_at"],
    )


_ENTRY_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.kind,
    OUTBOX.c.state,
    OUTBOX.c.guild_id,
    OUTBOX.c.user_id,
    OUTBOX.c.channel_id,
    OUTBOX.c.due_at,
    OUTBOX.c.next_attempt_at,
    OUTBOX.c.attempt,
    OUTBOX.c.reason,
    OUTBOX.c.finished_at,
)


async def due_next(session: AsyncSession, *, guild_id: int, limit: int = 10) -> list[ScheduleEntry]:
    """What the community has waiting (overdue first), without payloads."""
    rows = await session.execute(
        select(*_ENTRY_COLUMNS)
        .where(
            OUTBOX.c.guild_id == guild_id,
            OUTBOX.c.state.in_([OutboxState.PENDING.value, OutboxState.CLAIMED.value]),
        )
        .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id)
        .limit(limit)
    )
    return [_entry(row) for row in rows.mappings()]


async def next_due_at(session: AsyncSession, *, after: datetime) -> datetime | None:
    """When the next pending row becomes due after ``after`` (a tick is worth running then)."""
    value = await session.scalar(
        select(func.min(OUTBOX.c.next_attempt_at)).where(
            OUTBOX.c.state == OutboxState.PENDING.value, OUTBOX.c.next_attempt_at > after
        )
    )
    return cast(datetime | None, value)


async def earliest_pending(session: AsyncSession) -> datetime | None:
    """When the earliest pending row may be tried (past or future), if any."""
    value = await session.scalar(
        select(func.min(OUTBOX.c.next_attempt_at)).where(
            OUTBOX.c.state == OutboxState.PENDING.value
        )
    )
    return cast(datetime | None, value)


async def due_backlog(session: AsyncSession, *, now: datetime) -> tuple[int, datetime | None]:
    """How many pending rows are due at ``now`` (and not stale), and the oldest one's due time:
    the dispatcher's backlog, for the operators' metrics. A range of ``(state,
    next_attempt_at)``, so it costs the backlog, not the whole schedule."""
    row = (
        await session.execute(
            select(func.count(), func.min(OUTBOX.c.next_attempt_at)).where(
                OUTBOX.c.state == OutboxState.PENDING.value,
                OUTBOX.c.next_attempt_at <= now,
                or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > now),
            )
        )
    ).one()
    return int(row[0] or 0), cast(datetime | None, row[1])


async def recent_failures(
    session: AsyncSession, *, guild_id: int, since: datetime, limit: int = 10
) -> list[ScheduleEntry]:
    """Rows that failed or expired since ``since``, newest first, without payloads."""
    rows = await session.execute(
        select(*_ENTRY_COLUMNS)
        .where(
            OUTBOX.c.guild_id == guild_id,
            OUTBOX.c.state.in_([OutboxState.FAILED.value, OutboxState.EXPIRED.value]),
            OUTBOX.c.finished_at >= since,
        )
        .order_by(OUTBOX.c.finished_at.desc(), OUTBOX.c.id.desc())
        .limit(limit)
    )
    return [_entry(row) for row in rows.mappings()]


async def state_counts(session: AsyncSession, *, guild_id: int | None = None) -> dict[str, int]:
    """How many rows are in each state (all communities when ``guild_id`` is None)."""
    query = select(OUTBOX.c.state, func.count()).group_by(OUTBOX.c.state)
    if guild_id is not None:
        query = query.where(OUTBOX.c.guild_id == guild_id)
    return {state: int(n) for state, n in (await session.execute(query)).all()}


async def forget_member(session: AsyncSession, *, user_id: int, guild_id: int | None = None) -> int:
    """Delete every outbox row addressed to the member (``/privacy delete``): payloads can hold
    their words. Rows for the pair's thread that merely mention them are the feature's to
    cancel."""
    query = delete(OUTBOX).where(OUTBOX.c.user_id == user_id)
    if guild_id is not None:
        query = query.where(OUTBOX.c.guild_id == guild_id)
    result = await session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)
