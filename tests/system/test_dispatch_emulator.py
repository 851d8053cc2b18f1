"""The dispatcher sending through the real discord.py HTTP client to the local Discord emulator:
Discord's faults (429, 5xx, closed DMs) are survived with nothing lost and nothing doubled, and
member text pings nobody. Outbox time is the test's clock; only HTTP runs in real time."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import discord
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.dispatch import DiscordMessenger, Dispatcher
from bot.services import outbox
from bot.services.outbox import NewWork
from bot.services.ports import Button, OutgoingMessage, nonce_for
from emulator import Emulator, Guild, Message
from emulator.client import point_discord_py_at
from models import Member, OutboxItem

PRIVATE_THREAD = 12


@asynccontextmanager
async def http_client(emu: Emulator) -> AsyncIterator[discord.Client]:
    """discord.py logged in over REST only: all the dispatcher needs to send."""
    undo = point_discord_py_at(emu)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(emu.token)
        yield client
    finally:
        await client.close()
        undo()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


async def setup_members(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, guild: Guild, n: int
) -> list[int]:
    ids = [guild.add_member(f"member{i}").id for i in range(n)]
    async with unit_of_work(sessions) as session:
        for user_id in ids:
            session.add(
                Member(
                    guild_id=guild.id,
                    user_id=user_id,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
    return ids


async def enqueue_dms(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    guild: Guild,
    user_ids: list[int],
    *,
    prefix: str = "k",
    content: str = "How did this week go?",
    fallback: dict[int, int] | None = None,
) -> None:
    items = [
        NewWork(
            key=f"{prefix}{u}",
            kind="checkin",
            due_at=clock.now(),
            guild_id=guild.id,
            user_id=u,
            payload=outbox.delivery_payload(
                OutgoingMessage(content=content),
                fallback_channel_id=(fallback or {}).get(u),
            ),
        )
        for u in user_ids
    ]
    async with unit_of_work(sessions) as session:
        await outbox.enqueue_many(session, items=items, now=clock.now())


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxItem]:
    async with sessions() as session:
        return list((await session.execute(select(OutboxItem).order_by(OutboxItem.id))).scalars())


def bot_messages(emu: Emulator) -> list[Message]:
    return [m for m in emu.world.messages.values() if m.author.id == emu.bot_user.id]


async def test_a_round_of_dms_reaches_each_member_once_and_member_text_pings_nobody(
    emu: Emulator, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    guild = emu.create_guild()
    role = guild.create_role("everyone-loud", mentionable=True)
    ids = await setup_members(sessions, clock, guild, 30)
    quoted = f"Your goal: '@everyone <@&{role.id}> <@{ids[1]}> ship it' — how did it go?"
    await enqueue_dms(sessions, clock, guild, ids, content=quoted)
    async with unit_of_work(sessions) as session:
        await outbox.enqueue(
            session,
            key="buttons",
            kind="notice",
            due_at=clock.now(),
            now=clock.now(),
            guild_id=guild.id,
            user_id=ids[0],
            payload=outbox.delivery_payload(
                OutgoingMessage(
                    content="x" * 2500,
                    embeds=({"title": "t", "description": "d" * 5000},),
                    rows=((Button(label="Done", custom_id="checkin:done:1", style="success"),),),
                )
            ),
        )

    async with http_client(emu) as client:
        dispatcher = Dispatcher(
            sessions=sessions,
            clock=clock,
            messenger=DiscordMessenger(client, rate_per_second=None),
        )
        report = await dispatcher.run_once()

    assert report.states == {"sent": 31}
    members = guild.members
    for user_id in ids:
        member = members[user_id]
        [message] = [m for m in member.dms() if m.nonce == nonce_for(f"k{user_id}")]
        assert message.content == quoted
        assert not message.pings
    [fitted] = [m for m in members[ids[0]].dms() if m.nonce == nonce_for("buttons")]
    assert len(fitted.content) == 2000 and len(fitted.embeds[0]["description"]) == 4096
    assert fitted.button_labels == ["Done"]
    stored = {r.key: r for r in await rows(sessions)}
    assert {r.delivered_via for r in stored.values()} == {"dm"}
    assert stored[f"k{ids[3]}"].message_id == members[ids[3]].dms()[-1].id
    emu.assert_no_violations()


async def test_rate_limits_and_server_errors_are_retried_with_nothing_lost_or_doubled(
    emu: Emulator, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    guild = emu.create_guild()
    ids = await setup_members(sessions, clock, guild, 60)
    await enqueue_dms(sessions, clock, guild, ids)
    route = "POST /channels/*/messages"
    limited = emu.faults.rate_limit(route, times=6)  # discord.py waits and retries these
    global_limited = emu.faults.rate_limit(None, times=2)
    retried_500 = emu.faults.server_error(route, status=500, times=3)  # discord.py retries
    unavailable = emu.faults.server_error(route, status=503, times=4)  # ours to retry later

    async with http_client(emu) as client:
        dispatcher = Dispatcher(
            sessions=sessions,
            clock=clock,
            messenger=DiscordMessenger(client, rate_per_second=None),
        )
        first = await dispatcher.run_once()
        assert first.states == {"sent": 56, "pending": 4}
        clock.advance(outbox.BACKOFF_BASE)
        second = await dispatcher.run_once()
        assert second.states == {"sent": 4}

    assert all(rule.exhausted for rule in (limited, global_limited, retried_500, unavailable))
    sent = Counter(m.nonce for m in bot_messages(emu))
    assert sent == Counter({nonce_for(f"k{u}"): 1 for u in ids})
    stored = await rows(sessions)
    assert {r.state for r in stored} == {"sent"}
    assert sorted(r.attempt for r in stored) == [1] * 56 + [2] * 4
    by_id = {m.id: m for m in bot_messages(emu)}
    for row in stored:
        assert row.message_id is not None
        assert by_id[row.message_id].nonce == nonce_for(row.key)
    emu.assert_no_violations()


async def test_closed_dms_fall_back_to_the_pairs_thread_with_one_attempt_and_no_retry_storm(
    emu: Emulator, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    guild = emu.create_guild()
    ids = await setup_members(sessions, clock, guild, 40)
    closed = ids[:20]
    for user_id in closed:
        emu.faults.close_dms(user_id)
    pairs = guild.create_text_channel("pairs")
    threads = {}
    for n in range(0, 40, 2):
        thread = emu.world.create_thread(
            pairs, name=f"pair {n}", type=PRIVATE_THREAD, owner=emu.bot_user
        )
        threads[ids[n]] = threads[ids[n + 1]] = thread.id
    await enqueue_dms(sessions, clock, guild, ids, fallback=threads)

    async with http_client(emu) as client:
        dispatcher = Dispatcher(
            sessions=sessions,
            clock=clock,
            messenger=DiscordMessenger(client, rate_per_second=None),
        )
        assert (await dispatcher.run_once()).states == {"sent": 40}
        refused_first_round = emu.invalid_requests
        # Next week: the closed members are not even tried by DM.
        clock.advance(timedelta(days=7))
        await enqueue_dms(sessions, clock, guild, ids, prefix="w2-", fallback=threads)
        for _ in range(3):
            await dispatcher.run_once()
            clock.advance(timedelta(minutes=15))

    assert refused_first_round == 20 == emu.invalid_requests  # one 403 per closed member, ever
    stored = {r.key: r for r in await rows(sessions)}
    for user_id in ids:
        for key in (f"k{user_id}", f"w2-{user_id}"):
            assert stored[key].state == "sent"
            assert stored[key].delivered_via == ("fallback" if user_id in closed else "dm")
    thread_messages = [m for m in bot_messages(emu) if m.channel.id in set(threads.values())]
    assert len(thread_messages) == 40  # two rounds for the 20 closed members
    for message in thread_messages:
        mentioned = int(message.content.split(">")[0].removeprefix("<@"))
        assert mentioned in closed
        assert message.pings.users == {mentioned}
    async with sessions() as session:
        flagged = await outbox.closed_dm_users(session, members={(guild.id, u) for u in ids})
    assert flagged == {(guild.id, u) for u in closed}


async def test_a_resend_with_the_same_nonce_returns_the_first_message(emu: Emulator) -> None:
    guild = emu.create_guild()
    channel = guild.create_text_channel("general-2")
    async with http_client(emu) as client:
        messenger = DiscordMessenger(client, rate_per_second=None)
        message = OutgoingMessage(content="weekly prompt")
        first = await messenger.send_to_channel(
            channel_id=channel.id, message=message, nonce=nonce_for("p")
        )
        again = await messenger.send_to_channel(
            channel_id=channel.id, message=message, nonce=nonce_for("p")
        )
        other = await messenger.send_to_channel(
            channel_id=channel.id, message=message, nonce=nonce_for("q")
        )
    assert first == again != other
    assert len(channel.messages) == 2


async def test_paced_sending_stays_under_the_global_limit(
    emu: Emulator, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    guild = emu.create_guild()
    channels = [guild.create_text_channel(f"room{i}") for i in range(6)]
    emu.faults.global_limit(50)
    items = [
        NewWork(
            key=f"n{i}",
            kind="notice",
            due_at=clock.now(),
            guild_id=guild.id,
            channel_id=channels[i % 6].id,
            payload=outbox.delivery_payload(OutgoingMessage(content=f"notice {i}")),
        )
        for i in range(70)
    ]
    async with unit_of_work(sessions) as session:
        await outbox.enqueue_many(session, items=items, now=clock.now())
    async with http_client(emu) as client:
        dispatcher = Dispatcher(
            sessions=sessions,
            clock=clock,
            max_in_flight=20,
            messenger=DiscordMessenger(client, rate_per_second=40),
        )
        assert (await dispatcher.run_once()).states == {"sent": 70}
    assert emu.faults.rate_limited == 0
    assert len(bot_messages(emu)) == 70
