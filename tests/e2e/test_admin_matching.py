"""Moderators set the community up and run matching rounds; a round proposes pairs with their
reasons and tells the unmatched why and when the next round is. Private fields never show."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.sandbox import Sandbox
from emulator import Member

BERLIN_EVENINGS = {
    "timezone": "Europe/Berlin",
    "availability": "Mon-Fri 18:00-21:00",
    "goal_areas": "writing",
    "rhythm": "weekly",
    "medium": "video",
    "languages": "English",
}


async def seeker(member: Member, **overrides: str) -> None:
    reply = await member.slash("profile edit", **{**BERLIN_EVENINGS, **overrides})
    opened = await member.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    await member.submit(opened.modal, {"A short intro": f"I'm {member.name}"})
    joined = await member.slash("partner find")
    assert "in the pool" in joined.content, joined.content


async def test_setup_saves_settings_and_says_what_is_missing(sb: Sandbox) -> None:
    forum = sb.guild.create_forum("partners-2")
    reply = await sb.moderator.slash(
        "admin setup",
        forum=forum,
        goal_areas="Fitness, Study, Writing",
        match_day="wed",
        match_time="18:30",
        odd_policy="trio",
    )
    assert reply.ephemeral and "Saved" in reply.content
    assert "fitness, study, writing" in reply.content
    assert "every Wednesday 18:30 UTC" in reply.content
    assert re.search(r"next <t:\d+:f>", reply.content)
    alice = sb.member("alice")
    choices = await alice.autocomplete("profile edit", "goal_areas", "st")
    assert [c["value"] for c in choices] == ["study"]


async def test_bad_setup_input_is_refused_politely(sb: Sandbox) -> None:
    reply = await sb.moderator.slash("admin setup", match_time="25:99")
    assert reply.ephemeral and "HH:MM in UTC" in reply.content
    reply = await sb.moderator.slash("admin setup", match_day="someday")
    assert "day of the week" in reply.content


async def test_a_non_moderator_is_refused_setup_and_match_now(sb: Sandbox) -> None:
    bob = sb.member("bob")
    sb.guild.allow_command("admin", bob)  # a server admin lets bob see /admin ...
    for command, options in (("admin setup", {"match_time": "10:00"}), ("admin match-now", {})):
        reply = await bob.slash(command, **options)
        assert reply.ephemeral and "can't use that command" in reply.content
    shown = await sb.moderator.slash("admin setup")
    assert "17:00 UTC" in shown.content  # bob's 10:00 was never saved


async def test_dry_run_shows_pairs_and_scores_and_changes_nothing(sb: Sandbox) -> None:
    alice, bob, carol = sb.member("alice"), sb.member("bob"), sb.member("carol")
    await seeker(alice)
    await seeker(bob)
    await seeker(carol, timezone="Asia/Tokyo", availability="Mon-Fri 07:00-08:00")
    await alice.slash("profile private", gender="woman", partner_genders="man")
    await bob.slash("profile private", gender="man", age="25-34")
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert preview.ephemeral and "Dry run" in preview.content
    assert f"<@{alice.id}> + <@{bob.id}>" in preview.content or (
        f"<@{bob.id}> + <@{alice.id}>" in preview.content
    )
    assert "preferences satisfied" in preview.content
    assert f"<@{carol.id}> waits: no shared hours" in preview.content  # a public hint only
    for private in ("woman", "25-34", "gender"):
        assert private not in preview.content
    await sb.tick()
    assert alice.dms() == [] and bob.dms() == []
    again = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "3 in the pool" in again.content


async def test_a_round_proposes_pairs_and_tells_the_unmatched_why(sb: Sandbox) -> None:
    alice, bob, carol = sb.member("alice"), sb.member("bob"), sb.member("carol")
    await seeker(alice)
    await seeker(bob, timezone="Europe/London", availability="Mon-Fri 17:00-20:00")
    await seeker(carol, timezone="Asia/Tokyo", availability="Mon-Fri 07:00-08:00")
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "Matching round done" in done.content and "1 group," in done.content
    await sb.tick()
    why = await carol.wait_for_dm("No partner for you this round")
    assert "shares at least 1 h of your weekly time" in why.content
    assert re.search(r"The next round is <t:\d+:F>", why.content)
    again = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "1 in the pool" in again.content  # alice and bob are no longer in the pool


async def test_the_weekly_round_runs_by_itself_on_the_community_cadence(sb: Sandbox) -> None:
    alice, bob = sb.member("alice"), sb.member("bob")
    await seeker(alice)
    await seeker(bob)
    await sb.moderator.slash("admin setup", match_day="Tuesday", match_time="17:00")
    # The sandbox starts on Monday 2026-01-05 09:00 UTC: the round is Tuesday 17:00 UTC.
    await sb.advance(timedelta(hours=31))
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "2 in the pool" in preview.content
    await sb.advance(timedelta(hours=1))
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "0 in the pool" in preview.content
    schedule = await sb.moderator.slash("admin schedule")
    assert "Matching round → the community" in schedule.content  # next week's is waiting


async def test_only_members_with_the_access_role_may_use_the_bot(sb: Sandbox) -> None:
    role = sb.guild.create_role("accountability")
    alice, bob = sb.member("alice", roles=[role]), sb.member("bob")
    saved = await sb.moderator.slash("admin setup", access_role=role)
    assert "Saved" in saved.content
    refused = await bob.slash("profile show")
    assert refused.ephemeral and "accountability" not in refused.content  # a role mention
    assert f"<@&{role.id}>" in refused.content
    welcome = await alice.slash("profile show")
    assert "don't have a profile yet" in welcome.content
