"""The dispatcher turns due rows into messages and feature work without losing or doubling any:
after downtime, after a crash mid-batch, through Discord's transient errors and closed DMs.
In-process, with a recording messenger and a clock that only moves when the test moves it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.dispatch import Dispatcher
from bot.scheduler import Ticker
from bot.services import outbox
from bot.services.outbox import DueWork, NewWork
from bot.services.ports import (
    DmClosed,
    OutgoingMessage,
    Permanent,
    RecordingMessenger,
    Sent,
    Transient,
    nonce_for,
)
from models import Member, OutboxItem
from tests.conftest import START

G = 8000
LEASE = timedelta(seconds=60)


def make_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    messenger: RecordingMessenger,
    **kw: object,
) -> Dispatcher:
    return Dispatcher(
        sessions=sessions,
        clock=clock,
        messenger=messenger,
        lease=LEASE,
        **kw,  # type: ignore[arg-type]
    )


def dm(
    key: str,
    kind: str,
    due: datetime,
    *,
    user_id: int,
    fallback: int | None = None,
    occurs_at: datetime | None = None,
) -> NewWork:
    payload = outbox.delivery_payload(
        OutgoingMessage(content=f"hello {key}"), fallback_channel_id=fallback
    )
    return NewWork(
        key=key,
        kind=kind,
        due_at=due,
        payload=payload,
        guild_id=G,
        user_id=user_id,
        occurs_at=occurs_at,
    )


async def add(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, items: list[NewWork]
) -> None:
    async with unit_of_work(sessions) as session:
        await outbox.enqueue_many(session, items=items, now=clock.now())


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxItem]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


async def test_after_downtime_every_delivery_goes_out_in_one_tick_or_expires_by_its_rule(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Down from 30 minutes before 100 deliveries fall due until 10 minutes after."""
    went_down = clock.now()
    due = went_down + timedelta(minutes=30)
    items = []
    for i in range(25):  # reminders for meetings that started while the bot was down
        items.append(
            dm(f"soon{i}", "meeting_reminder", due, user_id=i, occurs_at=due + timedelta(minutes=5))
        )
    for i in range(25):  # reminders for meetings that are still ahead
        items.append(
            dm(
                f"later{i}",
                "meeting_reminder",
                due,
                user_id=100 + i,
                occurs_at=due + timedelta(minutes=30),
            )
        )
    items += [dm(f"checkin{i}", "checkin", due, user_id=200 + i) for i in range(25)]
    items += [dm(f"prompt{i}", "weekly_prompt", due, user_id=300 + i) for i in range(25)]
    await add(sessions, clock, items)

    clock.set(due + timedelta(minutes=10))
    messenger = RecordingMessenger()
    ticker = Ticker(3600)
    ticker.add_handler("dispatch", make_dispatcher(sessions, clock, messenger).run_once)
    await ticker.tick()  # the catch-up tick at start-up

    states = Counter((r.key.rstrip("0123456789"), r.state) for r in await rows(sessions))
    assert states == {
        ("soon", "expired"): 25,
        ("later", "sent"): 25,
        ("checkin", "sent"): 25,
        ("prompt", "sent"): 25,
    }
    assert len(messenger.sent) == 75
    assert not any(key.startswith("soon") for key in (c[2] for c in messenger.calls))


async def test_a_crash_mid_batch_resends_only_with_the_same_nonce_after_the_lease(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(sessions, clock, [dm(f"k{i}", "notice", clock.now(), user_id=i) for i in range(40)])

    class Crash(BaseException):
        """The process dying between Discord's answer and the database write."""

    class CrashingMessenger(RecordingMessenger):
        async def send_dm(self, *, user_id: int, message: OutgoingMessage, nonce: str) -> Sent:
            sent = await super().send_dm(user_id=user_id, message=message, nonce=nonce)
            if len(self.sent) == 15:
                raise Crash
            return sent

    discord_side = CrashingMessenger()
    with pytest.raises(Crash):
        await make_dispatcher(
            sessions, clock, discord_side, batch_size=25, max_in_flight=4
        ).run_once()
    after_crash = await rows(sessions)
    stuck = [r for r in after_crash if r.state == "claimed"]
    recorded = [r for r in after_crash if r.state == "sent"]
    # Outcomes are written as each send completes (issue 13): only the sends in flight when the
    # process died (at most max_in_flight) are sent but unrecorded; the rest of the batch waits.
    assert len(stuck) + len(recorded) == 25 and len(discord_side.sent) >= 15
    assert 1 <= len(discord_side.sent) - len(recorded) <= 4  # the crashed send is unrecorded
    assert {nonce_for(r.key) for r in recorded} <= {nonce for _, _, nonce in discord_side.sent}

    # A restarted process (a new worker) leaves the dead one's rows alone until the lease ends...
    restarted = RecordingMessenger(by_nonce=discord_side.by_nonce, sent=discord_side.sent)
    await make_dispatcher(sessions, clock, restarted).run_once()
    assert sum(r.state == "claimed" for r in await rows(sessions)) == len(stuck)
    assert {c[2] for c in restarted.calls}.isdisjoint({nonce_for(r.key) for r in stuck})

    # ...then sends them again with their own nonce, which Discord answers with the first message.
    clock.advance(LEASE)
    await make_dispatcher(sessions, clock, restarted).run_once()
    final = await rows(sessions)
    assert {r.state for r in final} == {"sent"}
    assert len(restarted.sent) == 40
    assert len({nonce for _, _, nonce in restarted.sent}) == 40
    for row in final:
        assert row.message_id == restarted.by_nonce[nonce_for(row.key)].message_id
    assert {r.attempt for r in final if r.key in {s.key for s in stuck}} == {2}


async def test_transient_errors_are_retried_with_backoff_and_nothing_is_lost_or_doubled(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(sessions, clock, [dm(f"k{i}", "checkin", clock.now(), user_id=i) for i in range(50)])
    messenger = RecordingMessenger()
    for i in range(10):
        messenger.failures[nonce_for(f"k{i}")] = [
            Transient("discord http 503"),
            Transient("rate limited", retry_after=30.0),
        ]
    messenger.failures[nonce_for("k10")] = [Permanent("not found (discord 10003)")]
    dispatcher = make_dispatcher(sessions, clock, messenger)

    first = await dispatcher.run_once()
    assert first.states == {"sent": 39, "pending": 10, "failed": 1}
    assert (await dispatcher.run_once()).claimed == 0  # backoff: nothing is due again yet
    clock.advance(outbox.BACKOFF_BASE)
    assert (await dispatcher.run_once()).states == {"pending": 10}
    clock.advance(timedelta(seconds=29))
    assert (await dispatcher.run_once()).claimed == 0  # Discord said 30 s
    clock.advance(timedelta(seconds=1))
    assert (await dispatcher.run_once()).states == {"sent": 10}

    final = {r.key: r for r in await rows(sessions)}
    assert sum(r.state == "sent" for r in final.values()) == 49
    assert (final["k10"].state, final["k10"].reason) == ("failed", "not found (discord 10003)")
    calls = Counter(nonce for _, _, nonce in messenger.calls)
    assert calls[nonce_for("k0")] == 3 and calls[nonce_for("k10")] == 1
    assert len(messenger.sent) == 49 == len({n for _, _, n in messenger.sent})


async def test_closed_dms_fall_back_to_the_pairs_thread_once_and_are_not_tried_again(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    async with unit_of_work(sessions) as session:
        for user_id in range(100):
            session.add(Member(guild_id=G, user_id=user_id, created_at=now, updated_at=now))
    await add(
        sessions,
        clock,
        [dm(f"a{u}", "checkin", now, user_id=u, fallback=5000 + u // 2) for u in range(100)]
        + [dm("nowhere", "checkin", now, user_id=1000)],
    )
    messenger = RecordingMessenger(closed_dms=set(range(100)) | {1000})
    dispatcher = make_dispatcher(sessions, clock, messenger)

    await dispatcher.run_once()
    dm_calls = Counter(target for where, target, _ in messenger.calls if where == "dm")
    assert dm_calls == Counter({**{u: 1 for u in range(100)}, 1000: 1})
    thread_sends = [(target, nonce) for where, target, nonce in messenger.sent]
    assert sorted(thread_sends) == sorted(
        (5000 + u // 2, nonce_for(f"a{u}", fallback=True)) for u in range(100)
    )
    stored = {r.key: r for r in await rows(sessions)}
    assert {r.delivered_via for k, r in stored.items() if k != "nowhere"} == {"fallback"}
    assert (stored["nowhere"].state, stored["nowhere"].reason) == (
        "failed",
        "dms closed and no fallback channel",
    )
    async with sessions() as session:
        closed = await outbox.closed_dm_users(session, members={(G, u) for u in range(100)})
    assert len(closed) == 100

    # Later deliveries go straight to the thread: no DM attempt, no retry storm.
    clock.advance(timedelta(days=1))
    await add(
        sessions,
        clock,
        [
            dm(f"b{u}", "checkin", clock.now(), user_id=u, fallback=5000 + u // 2)
            for u in range(100)
        ],
    )
    messenger.calls.clear()
    for _ in range(3):
        await dispatcher.run_once()
        clock.advance(timedelta(minutes=5))
    assert [c for c in messenger.calls if c[0] == "dm"] == []
    assert len(messenger.calls) == 100

    # The member runs a command again: their DMs are tried again.
    async with unit_of_work(sessions) as session:
        await outbox.clear_dms_closed(session, guild_id=G, user_id=7, now=clock.now())
    messenger.closed_dms.discard(7)
    await add(sessions, clock, [dm("c7", "checkin", clock.now(), user_id=7, fallback=5003)])
    await dispatcher.run_once()
    assert messenger.sent[-1] == ("dm", 7, nonce_for("c7"))


def test_the_fallback_message_pings_only_the_member_and_a_feature_can_replace_it() -> None:
    def work(payload: dict[str, object]) -> DueWork:
        return DueWork(
            id=1,
            key="k",
            kind="checkin",
            guild_id=G,
            user_id=42,
            channel_id=None,
            payload=payload,
            due_at=START,
            expires_at=None,
            attempt=1,
            claimed_by="w",
            lease_until=START,
        )

    text = OutgoingMessage(content="@everyone how did your goal go?")
    default = work(outbox.delivery_payload(text, fallback_channel_id=5)).fallback_message
    assert default.content == "<@42> @everyone how did your goal go?"
    assert default.ping_users == (42,)
    private = OutgoingMessage(content="<@42> your check-in is waiting in your DMs")
    chosen = work(
        outbox.delivery_payload(text, fallback_channel_id=5, fallback_message=private)
    ).fallback_message
    assert chosen == private and chosen.ping_users == ()


async def test_claims_come_in_bounded_batches_and_unhandled_kinds_wait_visibly(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(sessions, clock, [dm(f"k{i}", "notice", now, user_id=i) for i in range(35)])
    await add(
        sessions, clock, [NewWork(key="expire-p1", kind="proposal_expiry", due_at=now, guild_id=G)]
    )
    messenger = RecordingMessenger()
    report = await make_dispatcher(sessions, clock, messenger, batch_size=10).run_once()
    assert (report.batches, report.claimed) == (4, 35)
    assert len(messenger.sent) == 35
    waiting = {r.key: (r.state, r.attempt) for r in await rows(sessions) if r.kind != "notice"}
    assert waiting == {"expire-p1": ("pending", 0)}


async def test_feature_work_commits_with_its_row_and_is_retried_when_it_fails(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(
        sessions,
        clock,
        [
            NewWork(
                key=f"match_round:{G}:{i}",
                kind="match_round",
                due_at=now,
                guild_id=G,
                payload={"user_id": 10 + i},
            )
            for i in range(3)
        ],
    )
    runs: Counter[str] = Counter()

    async def match_round(session: AsyncSession, work: DueWork) -> None:
        runs[work.key] += 1
        session.add(
            Member(guild_id=G, user_id=work.payload["user_id"], created_at=now, updated_at=now)
        )
        await session.flush()
        if work.key.endswith(":1") and runs[work.key] == 1:
            raise RuntimeError("the first run of round 1 breaks after writing")
        if work.key.endswith(":2"):
            raise Permanent("the community was deleted")

    dispatcher = make_dispatcher(sessions, clock, RecordingMessenger())
    dispatcher.register("match_round", match_round)
    with pytest.raises(ValueError, match="delivery kind"):
        dispatcher.register("checkin", match_round)

    assert (await dispatcher.run_once()).states == {"done": 1, "pending": 1, "failed": 1}
    clock.advance(outbox.BACKOFF_BASE)
    assert (await dispatcher.run_once()).states == {"done": 1}
    async with sessions() as session:
        members = sorted((await session.execute(select(Member.user_id))).scalars())
    assert members == [10, 11]  # the failed runs' writes were rolled back with them
    assert runs == {f"match_round:{G}:0": 1, f"match_round:{G}:1": 2, f"match_round:{G}:2": 1}
    reasons = {r.key: (r.state, r.reason) for r in await rows(sessions)}
    assert reasons[f"match_round:{G}:2"] == ("failed", "the community was deleted")


async def test_feature_work_whose_claim_was_lost_is_rolled_back(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(sessions, clock, [NewWork(key="slow", kind="match_round", due_at=now, guild_id=G)])

    async def slow_round(session: AsyncSession, work: DueWork) -> None:
        # Meanwhile the lease runs out and another worker takes the row over.
        clock.advance(LEASE + timedelta(seconds=1))
        async with unit_of_work(sessions) as other:
            await outbox.release_expired_leases(other, now=clock.now())
            await outbox.claim(other, now=clock.now(), worker="other", limit=1, lease=LEASE)
        session.add(Member(guild_id=G, user_id=1, created_at=now, updated_at=now))

    dispatcher = make_dispatcher(sessions, clock, RecordingMessenger())
    dispatcher.register("match_round", slow_round)
    assert (await dispatcher.run_once()).states == {"lost": 1}
    async with sessions() as session:
        assert (await session.execute(select(Member))).first() is None
    [row] = await rows(sessions)
    assert (row.state, row.claimed_by) == ("claimed", "other")


async def test_a_dm_closed_error_on_a_channel_send_fails_without_retrying(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await add(
        sessions,
        clock,
        [
            NewWork(
                key="chan",
                kind="notice",
                due_at=clock.now(),
                guild_id=G,
                channel_id=5,
                payload=outbox.delivery_payload(OutgoingMessage(content="x")),
            )
        ],
    )
    messenger = RecordingMessenger(failures={nonce_for("chan"): [DmClosed("odd")]})
    await make_dispatcher(sessions, clock, messenger).run_once()
    [row] = await rows(sessions)
    assert (row.state, row.reason) == ("failed", "dms closed")


async def test_a_long_handler_keeps_its_claim_through_the_heartbeat(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """Issue 13: a round longer than the lease was stolen back and forth. The heartbeat renews
    the leases a worker still holds, so another worker finds nothing to take over."""
    import asyncio

    now = clock.now()
    await add(sessions, clock, [NewWork(key="long", kind="match_round", due_at=now, guild_id=G)])
    go: asyncio.Queue[None] = asyncio.Queue()
    beaten: asyncio.Queue[None] = asyncio.Queue()
    sleeps = 0

    async def sleep(_seconds: float) -> None:
        """The heartbeat's timer, moved by the test: a later call means a beat finished."""
        nonlocal sleeps
        if sleeps:
            beaten.put_nowait(None)
        sleeps += 1
        await go.get()

    stolen: list[list[DueWork]] = []

    async def long_round(session: AsyncSession, work: DueWork) -> None:
        for _ in range(3):  # three beats, two thirds of a lease apart: 2 leases in all
            clock.advance(LEASE * 2 / 3)
            go.put_nowait(None)
            await asyncio.wait_for(beaten.get(), 10)  # a guard only: fails, never waits
            async with unit_of_work(sessions) as other:
                await outbox.release_expired_leases(other, now=clock.now())
                stolen.append(
                    await outbox.claim(other, now=clock.now(), worker="other", limit=1, lease=LEASE)
                )
        session.add(Member(guild_id=G, user_id=1, created_at=now, updated_at=now))

    dispatcher = make_dispatcher(sessions, clock, RecordingMessenger(), sleep=sleep)
    dispatcher.register("match_round", long_round)
    assert dispatcher.heartbeat == LEASE / 3
    assert (await dispatcher.run_once()).states == {"done": 1}
    assert stolen == [[], [], []]
    assert dispatcher.renewals == 3
    [row] = await rows(sessions)
    assert (row.state, row.claimed_by, row.attempt) == ("done", dispatcher.worker, 1)
    async with sessions() as session:
        assert (await session.execute(select(Member.user_id))).scalars().all() == [1]


async def test_the_heartbeat_renews_only_claims_still_held(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    now = clock.now()
    await add(
        sessions,
        clock,
        [NewWork(key=f"r{i}", kind="match_round", due_at=now, guild_id=G) for i in range(3)],
    )
    async with unit_of_work(sessions) as session:
        mine = await outbox.claim(session, now=now, worker="me", limit=3, lease=LEASE)
    later = now + LEASE + timedelta(seconds=1)
    async with unit_of_work(sessions) as session:  # r0's lease ran out; "other" took it over
        await outbox.release_expired_leases(session, now=later)
        [taken] = await outbox.claim(session, now=later, worker="other", limit=1, lease=LEASE)
    assert taken.key == "r0"
    async with unit_of_work(sessions) as session:
        await outbox.mark_done(session, work=taken, now=later)
    # r1 and r2 were released too (their leases ran out) and are pending again: not held.
    async with unit_of_work(sessions) as session:
        again = await outbox.claim(session, now=later, worker="me", limit=2, lease=LEASE)
    async with unit_of_work(sessions) as session:
        held = await outbox.renew_leases(session, works=[*mine, *again], now=later, lease=LEASE)
    assert held == {w.id for w in again}
    by_key = {r.key: r for r in await rows(sessions)}
    assert by_key["r0"].state == "done"
    assert {by_key[k].lease_until for k in ("r1", "r2")} == {later + LEASE}


async def test_a_refused_dm_to_someone_who_left_calls_off_their_messages_and_no_fallback(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    """50007 is closed DMs or a member who left (no shared server). The dispatcher asks
    (a member lookup); someone gone gets no fallback ping in the pair's thread, their other
    pending messages are called off, and nothing is tried for them afterwards. Someone still
    here falls back to the thread as before."""
    now = clock.now()
    async with unit_of_work(sessions) as session:
        for user_id in (1, 2):
            session.add(Member(guild_id=G, user_id=user_id, created_at=now, updated_at=now))
    await add(
        sessions,
        clock,
        [
            dm("gone-now", "checkin", now, user_id=1, fallback=5001),
            dm("gone-later", "checkin", now + timedelta(days=1), user_id=1, fallback=5001),
            dm("here", "checkin", now, user_id=2, fallback=5002),
            dm("here-too", "checkin", now, user_id=2, fallback=5002),
        ],
    )
    asked: list[tuple[int, int]] = []

    async def membership(guild_id: int, user_id: int) -> bool | None:
        asked.append((guild_id, user_id))
        return user_id != 1

    departed: list[tuple[int, int]] = []
    messenger = RecordingMessenger(closed_dms={1, 2})
    dispatcher = make_dispatcher(
        sessions,
        clock,
        messenger,
        membership=membership,
        on_departed=lambda g, u: departed.append((g, u)),
    )
    await dispatcher.run_once()
    stored = {r.key: r for r in await rows(sessions)}
    assert (stored["gone-now"].state, stored["gone-now"].reason) == (
        "expired",
        outbox.MEMBER_LEFT,
    )
    assert (stored["gone-later"].state, stored["gone-later"].reason) == (
        "expired",
        outbox.MEMBER_LEFT,
    )
    assert stored["here"].delivered_via == stored["here-too"].delivered_via == "fallback"
    assert [target for _, target, _ in messenger.sent] == [5002, 5002]
    assert sorted(asked) == [(G, 1), (G, 2)] and departed == [(G, 1)]  # once each a batch
    async with sessions() as session:
        assert await outbox.departed_users(session, members={(G, 1), (G, 2)}) == {(G, 1)}

    # Later work for them is not even tried, nor looked up again.
    clock.advance(timedelta(days=2))
    await add(sessions, clock, [dm("again", "checkin", clock.now(), user_id=1, fallback=5001)])
    messenger.calls.clear()
    asked.clear()
    await dispatcher.run_once()
    assert messenger.calls == [] and asked == []
    assert {r.key: r.state for r in await rows(sessions)}["again"] == "expired"
