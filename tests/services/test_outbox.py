"""The outbox keeps due work in the database: an occurrence is enqueued once, claimed by one
worker at a time in bounded batches, handed back when a lease runs out, and expired by its kind's
written staleness rule. Runs on SQLite and, with PAIRBOT_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.domain.recurrence import Recurrence, occurrence_key
from bot.services import outbox
from bot.services.outbox import NewWork
from bot.services.ports import OutgoingMessage, Sent
from models import Member, OutboxItem

G = 7000
LEASE = timedelta(seconds=60)
HELLO = outbox.delivery_payload(OutgoingMessage(content="hello"), fallback_channel_id=99)


def dm(
    key: str,
    due_at: datetime,
    *,
    kind: str = "notice",
    user_id: int = 1,
    occurs_at: datetime | None = None,
) -> NewWork:
    return NewWork(
        key=key,
        kind=kind,
        due_at=due_at,
        payload=HELLO,
        guild_id=G,
        user_id=user_id,
        occurs_at=occurs_at,
    )


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxItem]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def add(sessions: async_sessionmaker[AsyncSession], clock: FakeClock, *items: NewWork) -> int:
    async with unit_of_work(sessions) as session:
        return await outbox.enqueue_many(session, items=items, now=clock.now())


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    *,
    worker: str = "w1",
    limit: int = 100,
) -> list[outbox.DueWork]:
    async with unit_of_work(sessions) as session:
        return await outbox.claim(session, now=clock.now(), worker=worker, limit=limit, lease=LEASE)


async def test_enqueueing_the_same_occurrence_twice_is_a_no_op(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    at = clock.now() + timedelta(hours=1)
    key = occurrence_key("checkin", "member42", at)
    async with unit_of_work(sessions) as session:
        first = await outbox.enqueue(
            session,
            key=key,
            kind="checkin",
            due_at=at,
            now=clock.now(),
            payload=HELLO,
            guild_id=G,
            user_id=42,
        )
    async with unit_of_work(sessions) as session:
        again = await outbox.enqueue(
            session,
            key=key,
            kind="checkin",
            due_at=at + timedelta(hours=5),
            now=clock.now(),
            payload=outbox.delivery_payload(OutgoingMessage(content="changed")),
            guild_id=G,
            user_id=42,
        )
    assert (first, again) == (True, False)
    [row] = await rows(sessions)
    assert row.key == "checkin:member42:2026-01-05T10:00Z"
    assert row.due_at == at  # the first enqueue stands
    assert row.payload["message"]["content"] == "hello"
    assert row.state == "pending" and row.attempt == 0


async def test_enqueue_many_counts_only_new_keys(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    assert await add(sessions, clock, *(dm(f"k{i}", now) for i in range(5))) == 5
    assert await add(sessions, clock, *(dm(f"k{i}", now) for i in range(3, 8))) == 3
    assert len(await rows(sessions)) == 8


@pytest.mark.parametrize(
    ("item", "complaint"),
    [
        (NewWork(key="a", kind="no_such_kind", due_at=datetime(2026, 1, 1, tzinfo=UTC)), "unknown"),
        (
            NewWork(key="a", kind="notice", due_at=datetime(2026, 1, 1, tzinfo=UTC), payload=HELLO),
            "user_id or a channel_id",
        ),
        (
            NewWork(key="a", kind="notice", due_at=datetime(2026, 1, 1, tzinfo=UTC), user_id=1),
            "needs a message",
        ),
    ],
)
async def test_work_that_could_never_be_done_is_refused_at_enqueue(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, item: NewWork, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        await add(sessions, clock, item)
    assert await rows(sessions) == []


async def test_a_claim_takes_a_bounded_batch_of_due_rows_oldest_first(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(sessions, clock, *(dm(f"due{i:02}", now - timedelta(minutes=i)) for i in range(25)))
    await add(sessions, clock, dm("later", now + timedelta(seconds=1)))
    batch = await claim(sessions, clock, limit=10)
    assert [w.key for w in batch] == [f"due{i:02}" for i in range(24, 14, -1)]
    assert all(w.attempt == 1 and w.lease_until == now + LEASE for w in batch)
    assert len(await claim(sessions, clock, limit=10)) == 10
    assert [w.key for w in await claim(sessions, clock, limit=10)] == [
        f"due{i:02}" for i in range(4, -1, -1)
    ]
    assert await claim(sessions, clock, limit=10) == []  # "later" is not due yet
    states = {r.key: (r.state, r.claimed_by, r.attempt) for r in await rows(sessions)}
    assert states["later"] == ("pending", None, 0)
    assert states["due00"] == ("claimed", "w1", 1)


async def test_concurrent_claimers_never_take_the_same_row(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(sessions, clock, *(dm(f"r{i}", now) for i in range(300)))

    async def claimer(name: str) -> list[int]:
        taken: list[int] = []
        while batch := await claim(sessions, clock, worker=name, limit=7):
            taken += [w.id for w in batch]
            await asyncio.sleep(0)
        return taken

    results = await asyncio.gather(*(claimer(f"w{n}") for n in range(4)))
    everything = [row_id for taken in results for row_id in taken]
    assert len(everything) == 300
    assert len(set(everything)) == 300
    stored = await rows(sessions)
    assert all(r.state == "claimed" and r.attempt == 1 for r in stored)
    by_worker = {f"w{n}": set(results[n]) for n in range(4)}
    assert all(r.id in by_worker[r.claimed_by or ""] for r in stored)


async def test_a_lease_that_runs_out_returns_the_row_to_pending(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(sessions, clock, dm("x", clock.now()))
    [first] = await claim(sessions, clock, worker="dead")
    clock.advance(LEASE - timedelta(seconds=1))
    async with unit_of_work(sessions) as session:
        assert await outbox.release_expired_leases(session, now=clock.now()) == 0
    assert await claim(sessions, clock, worker="other") == []
    clock.advance(timedelta(seconds=1))
    async with unit_of_work(sessions) as session:
        assert await outbox.release_expired_leases(session, now=clock.now()) == 1
    [again] = await claim(sessions, clock, worker="other")
    assert (again.id, again.attempt, again.claimed_by) == (first.id, 2, "other")
    # The dead worker's late verdicts no longer count; a message it did send still does.
    async with unit_of_work(sessions) as session:
        assert not await outbox.mark_failed(session, work=first, reason="x", now=clock.now())
        assert await outbox.retry_later(session, work=first, reason="x", now=clock.now()) is None
        sent = Sent(message_id=555, channel_id=9)
        assert await outbox.mark_sent(session, work=first, sent=sent, via="dm", now=clock.now())
        assert not await outbox.mark_sent(session, work=again, sent=sent, via="dm", now=clock.now())
    [row] = await rows(sessions)
    assert (row.state, row.message_id) == ("sent", 555)


async def test_a_row_that_keeps_killing_its_worker_is_given_up(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(sessions, clock, dm("poison", clock.now()))
    for attempt in range(1, 4):
        [work] = await claim(sessions, clock)
        assert work.attempt == attempt
        clock.advance(LEASE)
        async with unit_of_work(sessions) as session:
            await outbox.release_expired_leases(session, now=clock.now(), max_attempts=3)
    [row] = await rows(sessions)
    assert (row.state, row.reason) == ("failed", "gave up after 3 attempts (lease ran out)")


async def test_a_retry_waits_for_its_backoff_and_for_discords_retry_after(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(sessions, clock, dm("a", clock.now()), dm("b", clock.now()))
    a, b = await claim(sessions, clock)
    async with unit_of_work(sessions) as session:
        await outbox.retry_later(session, work=a, reason="discord http 503", now=clock.now())
        await outbox.retry_later(
            session, work=b, reason="rate limited", now=clock.now(), retry_after=42.0
        )
    clock.advance(outbox.BACKOFF_BASE - timedelta(seconds=1))
    assert await claim(sessions, clock) == []
    clock.advance(timedelta(seconds=1))
    assert [w.key for w in await claim(sessions, clock)] == ["a"]
    clock.advance(timedelta(seconds=32))
    [again] = await claim(sessions, clock)
    assert (again.key, again.attempt) == ("b", 2)
    async with unit_of_work(sessions) as session:
        assert (
            await outbox.retry_later(
                session, work=again, reason="still down", now=clock.now(), max_attempts=2
            )
            == "failed"
        )
    assert {r.key: r.state for r in await rows(sessions)} == {"a": "claimed", "b": "failed"}


def test_backoff_grows_and_is_capped() -> None:
    delays = [outbox.backoff(n) for n in range(1, 12)]
    assert delays[0] == outbox.BACKOFF_BASE
    assert delays == sorted(delays)
    assert delays[-1] == outbox.BACKOFF_CAP
    assert outbox.backoff(1, retry_after=3600) == timedelta(hours=1)


async def test_each_kind_goes_stale_by_its_written_rule(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    meeting = now + timedelta(hours=2)
    await add(
        sessions,
        clock,
        dm("reminder", meeting - timedelta(minutes=30), kind="meeting_reminder", occurs_at=meeting),
        dm("checkin", now, kind="checkin"),
        dm("prompt", now, kind="weekly_prompt"),
        NewWork(key="round", kind="match_round", due_at=now, guild_id=G),
    )
    expiry = {r.key: r.expires_at for r in await rows(sessions)}
    assert expiry == {
        "reminder": meeting,
        "checkin": now + timedelta(hours=12),
        "prompt": now + timedelta(days=3),
        "round": None,
    }

    clock.set(meeting)  # the bot was down until the meeting started
    async with sessions() as session:
        due = await outbox.claim(session, now=clock.now(), worker="peek", limit=10, lease=LEASE)
        await session.rollback()
    assert {w.key for w in due} == {"checkin", "prompt", "round"}  # the reminder is pointless

    clock.set(now + timedelta(days=1))  # a day late: the weekly prompt is still useful
    async with unit_of_work(sessions) as session:
        assert await outbox.expire_stale(session, now=clock.now()) == 2
    states = {r.key: r.state for r in await rows(sessions)}
    assert states == {
        "reminder": "expired",
        "checkin": "expired",
        "prompt": "pending",
        "round": "pending",
    }

    clock.set(now + timedelta(days=30))
    async with unit_of_work(sessions) as session:
        assert await outbox.expire_stale(session, now=clock.now()) == 1
    states = {r.key: r.state for r in await rows(sessions)}
    assert states["prompt"] == "expired" and states["round"] == "pending"
    assert all(r.reason == "stale" for r in await rows(sessions) if r.state == "expired")


def test_every_declared_kind_has_a_rule_in_words() -> None:
    assert {"meeting_reminder", "checkin", "weekly_prompt", "match_round"} <= set(outbox.KINDS)
    for rule in outbox.KINDS.values():
        assert len(rule.why) > 20
    with pytest.raises(ValueError, match="differently"):
        outbox.register_kind(
            outbox.KindRule("checkin", delivery=True, stale_after=None, why="never stale")
        )


async def test_materialise_puts_each_upcoming_occurrence_in_once(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    weekly = Recurrence(weekday=1, time=time(18, 30), zone="America/New_York")  # Tuesdays

    async def run() -> int:
        async with unit_of_work(sessions) as session:
            return await outbox.materialise(
                session,
                recurrence=weekly,
                kind="meeting_reminder",
                target="pair5",
                now=clock.now(),
                horizon=timedelta(days=21),
                lead=timedelta(minutes=30),
                payload=lambda at: outbox.delivery_payload(
                    OutgoingMessage(content=f"Meeting <t:{int(at.timestamp())}:R>")
                ),
                guild_id=G,
                channel_id=555,
            )

    assert await run() == 3
    assert await run() == 0
    clock.advance(timedelta(days=7))
    assert await run() == 1
    stored = await rows(sessions)
    assert [r.key for r in stored] == [
        "meeting_reminder:pair5:2026-01-06T23:30Z",
        "meeting_reminder:pair5:2026-01-13T23:30Z",
        "meeting_reminder:pair5:2026-01-20T23:30Z",
        "meeting_reminder:pair5:2026-01-27T23:30Z",
    ]
    first = stored[0]
    assert first.due_at == datetime(2026, 1, 6, 23, 0, tzinfo=UTC)
    assert first.expires_at == datetime(2026, 1, 6, 23, 30, tzinfo=UTC)
    assert first.payload["message"]["content"] == f"Meeting <t:{1767742200}:R>"


async def test_materialise_across_daylight_saving_keeps_the_local_time(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 16, tzinfo=UTC))
    sunday_nine = Recurrence(weekday=6, time=time(9, 0), zone="Europe/Berlin")
    async with unit_of_work(sessions) as session:
        await outbox.materialise(
            session,
            recurrence=sunday_nine,
            kind="weekly_prompt",
            target="member3",
            now=clock.now(),
            horizon=timedelta(days=14),
            guild_id=G,
            user_id=3,
            payload=HELLO,
        )
    assert [r.due_at.hour for r in await rows(sessions)] == [8, 7]  # CET, then CEST


async def test_cancel_pending_removes_only_that_targets_waiting_rows(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(
        sessions,
        clock,
        dm("checkin:m1:a", now, kind="checkin"),
        dm("checkin:m1:b", now + timedelta(days=1), kind="checkin"),
        dm("checkin:m10:a", now, kind="checkin"),
        dm("checkin:m1_x:a", now, kind="checkin"),
    )
    [busy, *_] = await claim(sessions, clock, limit=1)
    assert busy.key == "checkin:m1:a"
    async with unit_of_work(sessions) as session:
        assert await outbox.cancel_pending(session, kind="checkin", target="m1") == 1
    assert [r.key for r in await rows(sessions)] == [
        "checkin:m1:a",
        "checkin:m10:a",
        "checkin:m1_x:a",
    ]


async def test_moderators_see_kind_target_and_time_but_never_the_payload(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    secret = outbox.delivery_payload(OutgoingMessage(content="my private goal text"))
    await add(
        sessions,
        clock,
        NewWork(
            key="s1",
            kind="checkin",
            due_at=now + timedelta(hours=1),
            payload=secret,
            guild_id=G,
            user_id=5,
        ),
        NewWork(key="s2", kind="notice", due_at=now, payload=secret, guild_id=G, channel_id=77),
        NewWork(
            key="other-guild",
            kind="notice",
            due_at=now,
            payload=secret,
            guild_id=G + 1,
            channel_id=78,
        ),
        NewWork(key="s3", kind="notice", due_at=now, payload=secret, guild_id=G, user_id=6),
    )
    batch = await claim(sessions, clock, limit=10)
    failing = next(w for w in batch if w.key == "s3")
    async with unit_of_work(sessions) as session:
        await outbox.mark_failed(session, work=failing, reason="dms closed", now=now)
        upcoming = await outbox.due_next(session, guild_id=G)
        failures = await outbox.recent_failures(session, guild_id=G, since=now - timedelta(days=7))
        counts = await outbox.state_counts(session, guild_id=G)
    assert [(e.kind, e.user_id, e.channel_id) for e in upcoming] == [
        ("notice", None, 77),
        ("checkin", 5, None),
    ]
    assert [(e.kind, e.user_id, e.reason) for e in failures] == [("notice", 6, "dms closed")]
    assert counts == {"claimed": 1, "pending": 1, "failed": 1}
    for entry in [*upcoming, *failures]:
        assert "private" not in repr(entry)


async def test_forgetting_a_member_deletes_their_deliveries(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(sessions, clock, dm("mine", now, user_id=5), dm("theirs", now, user_id=6))
    async with unit_of_work(sessions) as session:
        assert await outbox.forget_member(session, user_id=5, guild_id=G) == 1
    assert [r.key for r in await rows(sessions)] == ["theirs"]


async def test_closed_dms_are_remembered_until_the_member_comes_back(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    async with unit_of_work(sessions) as session:
        for user_id in (1, 2):
            session.add(Member(guild_id=G, user_id=user_id, created_at=now, updated_at=now))
    async with unit_of_work(sessions) as session:
        assert await outbox.mark_dms_closed(session, guild_id=G, user_id=1, now=now)
        assert not await outbox.mark_dms_closed(session, guild_id=G, user_id=1, now=now)
        assert not await outbox.mark_dms_closed(session, guild_id=G, user_id=404, now=now)
    async with sessions() as session:
        closed = await outbox.closed_dm_users(session, members={(G, 1), (G, 2), (G + 1, 1)})
    assert closed == {(G, 1)}
    async with unit_of_work(sessions) as session:
        assert await outbox.clear_dms_closed(session, guild_id=G, user_id=1, now=now)
        assert not await outbox.clear_dms_closed(session, guild_id=G, user_id=1, now=now)
        assert await outbox.closed_dm_users(session, members={(G, 1)}) == set()
