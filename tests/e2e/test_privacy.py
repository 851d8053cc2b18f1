"""``/privacy`` end to end: a member downloads everything stored about them (and nothing private
of anyone else), or deletes it after being asked once; their partner is told kindly, their
forum post goes, and a block someone made against them still holds."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services import pool
from bot.services.profiles import find_member
from emulator import Member
from emulator.interactions import Reply
from models import Block, Goal, MemberPrivate, Snooze
from tests.e2e.test_partnerships import SECRET, join, partners, proposal_in, propose, seen_by


def exported(reply: Reply) -> dict[str, Any]:
    assert reply.ephemeral, "the export is for the member's eyes only"
    [file] = reply.attachments
    assert file.filename == "pairbot-my-data.json"
    data: dict[str, Any] = json.loads(file.data)
    return data


async def member_row(sb: Sandbox, who: Member) -> Any:
    async with unit_of_work(sb.bot.deps.sessions) as session:
        return await find_member(session, guild_id=sb.guild.id, user_id=who.id)


async def test_the_export_holds_my_data_and_nothing_private_of_anyone_else(sb: Sandbox) -> None:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    thread = await propose(sb, alice, bob)
    opened = await bob.press(proposal_in(thread), "Decline")
    assert opened.modal is not None
    await bob.submit(opened.modal, {"Why? (optional, private)": SECRET})
    carol = await join(sb, "carol")
    blocked = await carol.slash("pair block", member=alice)
    await carol.press(blocked, "Block")
    added = await alice.slash("goal add", text="Finish chapter three")
    assert "chapter three" in added.content

    mine = exported(await alice.slash("privacy export"))
    assert mine["format"] == "pairbot-export/1" and mine["user_id"] == str(alice.id)
    assert mine["profile"]["timezone"] == "Europe/Berlin"
    assert mine["profile"]["intro"] == "I'm alice."
    assert mine["private"]["gender"] == "woman"  # her own private fields, to her alone
    assert mine["private"]["age_bracket"] == "35-44"
    [ship] = mine["partnerships"]
    assert ship["partner_user_ids"] == [str(bob.id)] and ship["end_reason"] == "declined"
    assert ship["why_matched"]["shared_areas"] == ["writing"]
    assert mine["pool"]["status"] == "seeking" and mine["pool"]["forum_post_id"]
    assert [g["text"] for g in mine["goals"]] == ["Finish chapter three"]
    raw = json.dumps(mine)
    assert SECRET not in raw  # bob's decline reason is bob's
    assert str(carol.id) not in raw  # and carol's block is carol's

    bobs = exported(await bob.slash("privacy export"))
    assert bobs["partnerships"][0]["my_private_reason"] == SECRET
    carols = exported(await carol.slash("privacy export"))
    assert carols["blocked"][0]["user_id"] == str(alice.id)

    stranger = sb.member("dave")
    nothing = await stranger.slash("privacy export")
    assert nothing.ephemeral and "don't have anything stored" in nothing.content
    assert not nothing.attachments


async def test_delete_asks_first_then_ends_the_partnership_kindly(sb: Sandbox) -> None:
    alice, bob, thread = await partners(sb)
    await alice.slash("goal add", text="Finish chapter three")
    post = next(t for t in sb.forum.threads if t.name.startswith("alice"))

    asked = await alice.slash("privacy delete")
    assert asked.ephemeral and "can't be undone" in asked.content
    assert asked.button_labels == ["Delete everything", "Keep my data"]
    kept = await alice.press(asked, "Keep my data")
    assert "nothing was deleted" in kept.content
    assert "Europe/Berlin" in (await alice.slash("profile show")).content

    asked = await alice.slash("privacy delete")
    done = await alice.press(asked, "Delete everything")
    assert "is deleted" in done.content and "partner was told kindly" in done.content
    assert "your Discord ID and your part of that history" in done.content  # for bob
    await sb.advance(timedelta(minutes=3))  # the thread closes a moment after the goodbye
    await sb.tick()
    await sb.emu.wait_for(lambda: thread.archived and thread.locked)
    await sb.emu.wait_for(lambda: post.id not in {t.id for t in sb.forum.threads})
    note = await bob.wait_for_dm("has ended your partnership")
    assert "Thank you" in note.content  # the same kind words as /pair end, and no reason
    status = await bob.slash("pair status")
    assert "Partners with" not in status.content

    shown = await alice.slash("profile show")
    assert "don't have a profile yet" in shown.content
    row = await member_row(sb, alice)
    assert row is not None and row.timezone is None and row.intro is None
    async with unit_of_work(sb.bot.deps.sessions) as session:
        assert await session.get(MemberPrivate, row.id) is None
        assert await session.scalar(
            select(func.count()).select_from(Goal).where(Goal.member_id == row.id)
        ) == 0
    left = exported(await alice.slash("privacy export"))
    assert left["private"] is None and left["goals"] == [] and left["profile"]["intro"] is None
    for who in (bob, sb.moderator):
        assert not any("woman" in text or "35-44" in text for text in seen_by(sb, who))


async def test_delete_with_nothing_shared_removes_the_member_entirely(sb: Sandbox) -> None:
    carol = await join(sb, "carol")
    await carol.slash("goal add", text="Run twice a week")
    await carol.slash("checkin snooze", week="next")
    carol_id = (await member_row(sb, carol)).id
    tables = ((Goal, Goal.member_id), (Snooze, Snooze.member_id),
              (MemberPrivate, MemberPrivate.member_id))
    async with unit_of_work(sb.bot.deps.sessions) as session:
        for table, column in tables:
            rows = select(func.count()).select_from(table).where(column == carol_id)
            assert await session.scalar(rows) == 1, table
    post = next(t for t in sb.forum.threads if t.name.startswith("carol"))
    done = await carol.press(await carol.slash("privacy delete"), "Delete everything")
    assert "is deleted" in done.content and "partner was told" not in done.content
    await sb.tick()
    await sb.emu.wait_for(lambda: post.id not in {t.id for t in sb.forum.threads})
    assert await member_row(sb, carol) is None
    async with unit_of_work(sb.bot.deps.sessions) as session:  # the database cascaded
        for table, column in tables:
            rows = select(func.count()).select_from(table).where(column == carol_id)
            assert await session.scalar(rows) == 0, table
    again = await carol.slash("privacy export")
    assert "don't have anything stored" in again.content

    stranger = sb.member("dave")
    nothing = await stranger.press(await stranger.slash("privacy delete"), "Delete everything")
    assert "don't have anything stored" in nothing.content


async def test_a_block_against_a_member_survives_their_deletion(sb: Sandbox) -> None:
    alice, carol = await join(sb, "alice"), await join(sb, "carol")
    await carol.press(await carol.slash("pair block", member=alice), "Block")
    await alice.press(await alice.slash("privacy delete"), "Delete everything")
    # Her row stays for carol's block, but nothing tells her so: to her, nothing is stored.
    assert "don't have anything stored" in (await alice.slash("privacy export")).content
    assert "don't have a profile yet" in (await alice.slash("profile show")).content
    await join(sb, "alice")  # she comes back with a fresh profile
    a, c = await member_row(sb, alice), await member_row(sb, carol)
    async with unit_of_work(sb.bot.deps.sessions) as session:
        assert await pool.is_blocked_either_way(session, a=a.id, b=c.id)
        assert await session.scalar(select(func.count()).select_from(Block)) == 1


async def test_a_request_from_someone_who_deleted_their_data_is_gone_politely(
    sb: Sandbox,
) -> None:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    post = next(t for t in sb.forum.threads if t.name.startswith("alice"))
    await bob.press(post.messages[0], "Request partnership")
    card = await alice.wait_for_dm("would like to be your accountability partner")
    await bob.press(await bob.slash("privacy delete"), "Delete everything")
    answer = await alice.press(card, "Accept")
    assert answer.ephemeral and "no longer exists" in answer.content
