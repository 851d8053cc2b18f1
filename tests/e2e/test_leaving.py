"""Members who leave the server, end to end (issue 15): the real bot over sockets against the
emulator, with a clock only the test moves.

pairbot asks for no privileged intent, so by default it is never told of a departure: it finds
out when a DM fails (50007) and a member lookup answers 10007, or when adding the member to a
pair's thread answers 10007. With the optional members intent it hears GUILD_MEMBER_REMOVE.
Either way the partnership ends at once, the partner is told kindly and goes back to the pool
with priority, the leaver leaves the pool (their post closes), nothing more is sent to them,
and nothing they entered is deleted. A rejoin lets them use the bot again; it does not bring
the ended partnership back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import discord
import pytest
from sqlalchemy import func, select

from bot.app import Deps, build_bot
from bot.clock import FakeClock
from bot.config import Settings
from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.interactions import background_settled
from bot.sandbox import Sandbox
from bot.scheduler import Ticker
from bot.services import outbox, partnerships
from bot.services.profiles import find_member
from emulator import Emulator, Member, Message
from emulator.client import run_bot
from emulator.gateway import PRIVILEGED_INTENTS
from models import OutboxItem, Partnership
from tests.e2e.conftest import sandbox_for_test
from tests.e2e.test_partnerships import join, partners

KIND = "Your partner has left the server"


@pytest.fixture
async def sb_members(database_url: str, clock: FakeClock) -> AsyncIterator[Sandbox]:
    """The sandbox with the optional members intent turned on."""
    async with sandbox_for_test(database_url, clock, members_intent=True) as box:
        yield box


async def row(sb: Sandbox, who: Member) -> Any:
    async with unit_of_work(sb.bot.deps.sessions) as session:
        return await find_member(session, guild_id=sb.guild.id, user_id=who.id)


def reaching(sb: Sandbox, who: Member) -> list[Message]:
    """Every message the bot posted that reached the person: their DMs and pings anywhere."""
    found = list(who.dms())
    for message in sb.emu.world.messages.values():
        if message.channel.is_dm or message.author.id != sb.emu.world.bot_user.id:
            continue
        if who.pinged_by(message):
            found.append(message)
    return found


def dm_attempts(sb: Sandbox, who: Member) -> int:
    """Message posts the bot tried in the person's DM channel (refused ones too)."""
    channel = sb.emu.world.existing_dm_channel(who.id)
    if channel is None:
        return 0
    return len(
        [r for r in sb.emu.requests_to("POST /channels/*/messages") if str(channel.id) in r.path]
    )


async def pending_to(sb: Sandbox, who: Member) -> int:
    async with unit_of_work(sb.bot.deps.sessions) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(
                    OutboxItem.user_id == who.id,
                    OutboxItem.state == "pending",
                    OutboxItem.kind.in_(sorted(outbox.delivery_kinds())),
                )
            )
            or 0
        )


async def trial_end(sb: Sandbox) -> datetime:
    async with unit_of_work(sb.bot.deps.sessions) as session:
        ends = await session.scalar(select(Partnership.trial_ends_at))
    assert ends is not None
    return ends


async def test_a_partner_who_leaves_is_found_out_on_delivery_and_never_reached_again(
    sb: Sandbox,
) -> None:
    """No intent: nothing announces bob's departure. The first DM the bot owes him (his
    end-of-trial choice) fails with 50007; a member lookup answers 10007, and the rule runs."""
    alice, bob, thread = await partners(sb)
    carol = await join(sb, "carol")
    reached_before = len(reaching(sb, bob))
    bob.leave()
    assert (await row(sb, bob)).left_at is None  # nobody told the bot

    await sb.live_until(await trial_end(sb) + timedelta(minutes=5))
    note = await alice.wait_for_dm(KIND)
    assert "your partnership has ended" in note.content
    assert "back in the pool with priority" in note.content
    assert "first in line" not in note.content
    assert "<@" not in note.content and "bob" not in note.content  # no name, no blame
    lookups = sb.emu.requests_to(f"GET /guilds/{sb.guild.id}/members/{bob.id}")
    assert [r.status for r in lookups] == [404]  # asked once, after the refused DM
    gone = await row(sb, bob)
    assert gone.left_at is not None and gone.pool_status == "idle"
    assert (await row(sb, alice)).pool_status == "seeking"
    assert await pending_to(sb, bob) == 0
    async with unit_of_work(sb.bot.deps.sessions) as session:
        ship = await session.scalar(select(Partnership))
        assert ship is not None and ship.state == "ended" and ship.end_reason == "left"
    await sb.advance(timedelta(minutes=3))  # the thread closes a moment after the news
    await sb.emu.wait_for(lambda: thread.archived and thread.locked)

    # Weeks pass, with their weekly rounds: the first pairs alice with carol, none proposes
    # bob, and nothing more is tried for him, in DMs or as a ping in a thread.
    attempts = dm_attempts(sb, bob)
    assert attempts == 1  # the one that found out
    await sb.live_until(sb.clock.now() + timedelta(weeks=3))
    assert dm_attempts(sb, bob) == attempts
    assert len(reaching(sb, bob)) == reached_before
    later = sb.pairs.threads[sb.pairs.threads.index(thread) + 1 :]
    assert later, "a round ran"
    assert set(later[0].member_ids) >= {alice.id, carol.id}
    assert all(bob.id not in t.member_ids for t in later)
    assert all(bob.mention not in m.content for t in later for m in t.messages)


async def test_a_member_gone_before_their_thread_opens_is_found_out_by_10007(sb: Sandbox) -> None:
    """The round proposed bob while he was still here; he leaves before the tick that opens the
    pair's thread. Adding him answers 10007: the half-made thread goes, the proposal is off,
    alice is told and is back in the pool with priority."""
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    async with unit_of_work(sb.bot.deps.sessions) as session:
        ids = [(await find_member(session, guild_id=sb.guild.id, user_id=p.id)).id
               for p in (alice, bob)]
        await partnerships.propose(
            session, guild_id=sb.guild.id, member_ids=ids, source="round", now=sb.clock.now()
        )
    bob.leave()
    await sb.tick()
    await sb.tick()
    note = await alice.wait_for_dm(KIND)
    assert "this proposal is off" in note.content
    added = sb.emu.requests_to(f"PUT /channels/*/thread-members/{bob.id}")
    assert [r.status for r in added] == [404]
    assert sb.pairs.threads == [] or all(not t.messages for t in sb.pairs.threads)
    assert (await row(sb, bob)).left_at is not None
    assert (await row(sb, alice)).pool_status == "seeking"
    assert bob.dms() == []
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "1 in the pool" in preview.content  # alice alone: bob is not proposed again


async def test_with_the_members_intent_a_departure_is_handled_at_once(
    sb_members: Sandbox,
) -> None:
    """An operator who turned the intent on: the departure arrives as GUILD_MEMBER_REMOVE. A
    member in the pool leaves it; their post closes; their profile stays. They come back, find
    a partner again as anyone would, and the bot reaches them again."""
    sb = sb_members
    alice = await join(sb, "alice")
    post = next(t for t in sb.forum.threads if t.name.startswith("alice"))
    alice.leave()
    await sb.emu.wait_for(lambda: sb.bot.access.known_left(sb.guild.id, alice.id))
    await sb.tick()  # the post follows through the outbox
    await sb.emu.wait_for(lambda: post.archived and post.locked)
    gone = await row(sb, alice)
    assert gone.left_at is not None and gone.pool_status == "idle"
    assert gone.timezone == "Europe/Berlin" and gone.intro == "I'm alice."  # nothing lost

    alice.rejoin()  # GUILD_MEMBER_ADD: present again before she does anything
    await sb.emu.wait_for(lambda: not sb.bot.access.known_left(sb.guild.id, alice.id))
    assert (await row(sb, alice)).left_at is None
    back = await alice.slash("partner find")
    assert "You're in the pool" in back.content
    await sb.emu.wait_for(lambda: not post.archived)  # her post reopens
    shown = await alice.slash("profile show")
    assert "Europe/Berlin" in shown.content


async def test_a_rejoin_does_not_bring_the_partnership_back(sb: Sandbox) -> None:
    """bob left, the bot found out, the partnership ended. bob comes back: his first command
    marks him present again, he has no partner, and he can join the pool and be reached."""
    alice, bob, _thread = await partners(sb)
    bob.leave()
    await sb.live_until(await trial_end(sb) + timedelta(minutes=5))
    await alice.wait_for_dm(KIND)
    before = len(bob.dms())

    bob.rejoin()
    status = await bob.slash("pair status")
    assert "Partners with" not in status.content
    await background_settled()  # the return is marked after the reply, off its path
    assert (await row(sb, bob)).left_at is None
    export = await bob.slash("privacy export")  # nothing he entered was lost by leaving
    [file] = export.attachments
    mine = json.loads(file.data)
    assert mine["profile"]["intro"] == "I'm bob." and mine["private"]["gender"] == "woman"
    assert [p["end_reason"] for p in mine["partnerships"]] == ["left"]
    assert mine["pool"]["left_server_at"] is None
    joined = await bob.slash("partner find")
    assert "You're in the pool" in joined.content
    await alice.slash("partner leave")  # bob is alone in the round: it tells him why
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "1 in the pool" in done.content and "0 groups" in done.content, done.content
    await sb.tick()
    await bob.wait_for_dm("No partner for you this round")  # DMs reach him again
    assert len(bob.dms()) == before + 1


async def test_pairbot_asks_for_no_privileged_intent_unless_configured(
    sb: Sandbox, database_url: str, clock: FakeClock
) -> None:
    """By default the bot identifies without any privileged intent (the README's promise); with
    ``members_intent`` it asks for Server Members, and a Discord that refuses it (the portal
    switch off) stops it with discord.py's PrivilegedIntentsRequired, which ``pairbot run``
    turns into one line for the operator."""
    [session] = sb.emu.gateway.sessions.values()
    assert session.intents & PRIVILEGED_INTENTS == 0

    async with Emulator(privileged_intents=0) as strict:
        strict.create_guild("Elsewhere")
        engine = create_engine(database_url)
        deps = Deps(
            settings=Settings(members_intent=True, tick_seconds=3600),
            engine=engine,
            sessions=create_sessionmaker(engine),
            clock=clock,
            ticker=Ticker(3600),
        )
        try:
            with pytest.raises(discord.PrivilegedIntentsRequired):
                async with run_bot(strict, build_bot(deps, guild_ready_timeout=0.05)):
                    pass
        finally:
            await engine.dispose()
