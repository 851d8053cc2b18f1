"""Moderators see what is due and what failed, in their own time, without anyone's words; members
are refused by a real check even when a server admin lets them see the command; and the bot's
own tick delivers due work, falling back to the pair's thread when DMs are closed."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services import guilds, outbox
from bot.services.ports import OutgoingMessage, nonce_for

PRIVATE_THREAD = 12


async def enqueue_examples(sb: Sandbox, user_id: int) -> None:
    now = sb.clock.now()
    secret = outbox.delivery_payload(OutgoingMessage(content="my secret goal: quit my job"))
    async with unit_of_work(sb.bot.deps.sessions) as session:
        await outbox.enqueue(
            session, key="checkin:a", kind="checkin", due_at=now + timedelta(hours=2), now=now,
            guild_id=sb.guild.id, user_id=user_id, payload=secret,
        )  # fmt: skip
        await outbox.enqueue(
            session, key="reminder:b", kind="meeting_reminder", now=now,
            due_at=now - timedelta(hours=3), occurs_at=now - timedelta(hours=2),
            guild_id=sb.guild.id, channel_id=sb.pairs.id, payload=secret,
        )  # fmt: skip
        await outbox.expire_stale(session, now=now)


async def test_a_moderator_sees_kinds_targets_and_local_times_but_no_message_text(
    sb: Sandbox,
) -> None:
    alice = sb.member("alice")
    await enqueue_examples(sb, alice.id)
    reply = await sb.moderator.slash("admin schedule")
    assert reply.ephemeral
    text = reply.content
    due = int((sb.clock.now() + timedelta(hours=2)).timestamp())
    assert f"Goal check-in → <@{alice.id}> · <t:{due}:f> (<t:{due}:R>)" in text
    assert re.search(rf"Meeting reminder → <#{sb.pairs.id}> · expired <t:\d+:f>.*: stale", text)
    assert "secret" not in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)  # no internal kind names (regression)
    assert not reply.message or not reply.message.pings


async def test_a_member_is_refused_even_when_an_admin_lets_them_see_the_command(
    sb: Sandbox,
) -> None:
    bob = sb.member("bob")
    await enqueue_examples(sb, bob.id)
    sb.guild.allow_command("admin", bob)  # default_permissions is only a hint
    reply = await bob.slash("admin schedule")
    assert reply.ephemeral
    assert "can't use that command" in reply.content
    assert "check-in" not in reply.content


async def test_the_communitys_moderator_role_is_enough(sb: Sandbox) -> None:
    role = sb.guild.create_role("Mentors")
    carol = sb.member("carol", roles=[role])
    sb.guild.allow_command("admin", role)
    async with unit_of_work(sb.bot.deps.sessions) as session:
        await guilds.configure(
            session, guild_id=sb.guild.id, now=sb.clock.now(), moderator_role_id=role.id
        )
    reply = await carol.slash("admin schedule")
    assert "**Due next**" in reply.content


async def test_the_bots_tick_sends_due_work_and_falls_back_to_the_pairs_thread(
    sb: Sandbox,
) -> None:
    dana, erin = sb.member("dana"), sb.member("erin")
    sb.emu.faults.close_dms(erin)
    thread = sb.emu.world.create_thread(
        sb.pairs, name="dana & erin", type=PRIVATE_THREAD, owner=sb.emu.bot_user
    )
    now = sb.clock.now()
    async with unit_of_work(sb.bot.deps.sessions) as session:
        for member in (dana, erin):
            await outbox.enqueue(
                session, key=f"checkin:{member.id}", kind="checkin", now=now,
                due_at=now + timedelta(minutes=10), guild_id=sb.guild.id, user_id=member.id,
                payload=outbox.delivery_payload(
                    OutgoingMessage(content="@everyone How did your goal go this week?"),
                    fallback_channel_id=thread.id,
                ),
            )  # fmt: skip
    await sb.advance(timedelta(minutes=5))
    assert dana.dms() == [] and thread.messages == []
    await sb.advance(timedelta(minutes=5))
    [dm] = dana.dms()
    assert dm.nonce == nonce_for(f"checkin:{dana.id}") and not dm.pings
    [fallback] = thread.messages
    assert fallback.content.startswith(f"<@{erin.id}>")
    assert erin.pinged_by(fallback) and not dana.pinged_by(fallback)
    reply = await sb.moderator.slash("admin schedule")
    assert "Goal check-in" not in reply.content  # nothing of theirs is waiting any more
