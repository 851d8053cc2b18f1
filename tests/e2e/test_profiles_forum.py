"""Members describe themselves, join the pool with a post in the partner forum, pause, leave,
and request each other; private preferences rule a request out without revealing anything."""

from __future__ import annotations

import re

import pytest

from bot.sandbox import Sandbox
from emulator import Member

FULL_PROFILE = {
    "timezone": "Europe/Berlin",
    "availability": "Mon-Fri 18:00-21:00, Sat 09:00-12:00",
    "goal_areas": "writing, study",
    "rhythm": "weekly",
    "medium": "video",
    "languages": "English, German",
}


async def write_profile(member: Member, intro: str, **overrides: str) -> None:
    reply = await member.slash("profile edit", **{**FULL_PROFILE, **overrides})
    assert "Saved" in reply.content, reply.content
    opened = await member.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    saved = await member.submit(
        opened.modal, {"A short intro": intro, "Your current goals": "Finish my draft"}
    )
    assert "Saved" in saved.content


async def test_time_zone_autocomplete_finds_berlin_by_city_country_and_abbreviation(
    sb: Sandbox,
) -> None:
    alice = sb.member("alice")
    for typed in ("berlin", "Berlin", "CET", "germany"):
        choices = await alice.autocomplete("profile edit", "timezone", typed)
        assert 0 < len(choices) <= 25
        assert "Europe/Berlin" in [c["value"] for c in choices], typed
    berlin = next(
        c
        for c in await alice.autocomplete("profile edit", "timezone", "berlin")
        if c["value"] == "Europe/Berlin"
    )
    assert re.search(r"\d\d:\d\d \(UTC\+0[12]:00\)", berlin["name"])  # her local time beside it


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("timezone", "europe/berlin", "Did you mean Europe/Berlin?"),
        ("timezone", "Mars/Olympus", "I don't know the time zone"),
        ("timezone", "../../etc/passwd", "I don't know the time zone"),
        ("availability", "Mun 18:00-21:00", "“Mun” isn't a day"),
        ("availability", "Mon 25:00-26:00", "isn't a time"),
        ("goal_areas", "knitting", "isn't one of this community's goal areas"),
        ("languages", "English, 42", "doesn't look like a language"),
    ],
)
async def test_bad_profile_input_gets_a_polite_private_error_and_changes_nothing(
    sb: Sandbox, option: str, value: str, says: str
) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "Hello!")
    reply = await alice.slash("profile edit", **{option: value, "rhythm": "biweekly"})
    assert reply.ephemeral
    assert says in reply.content
    assert "Traceback" not in reply.content
    shown = await alice.slash("profile show")
    assert "every week" in shown.content  # the valid rhythm in the same command was not saved


async def test_joining_needs_a_complete_profile_and_opens_a_tagged_forum_post(sb: Sandbox) -> None:
    alice = sb.member("alice")
    early = await alice.slash("partner find")
    assert early.ephemeral and "Almost there" in early.content and "time zone" in early.content
    assert sb.forum.threads == []

    await write_profile(alice, "I write short stories and want a weekly nudge.")
    joined = await alice.slash("partner find")
    assert "You're in the pool" in joined.content
    [post] = sb.forum.threads
    assert post.name.startswith("alice · writing, study · Europe")
    tag_names = {t.name for t in sb.forum.available_tags if t.id in post.applied_tags}
    assert tag_names == {"writing", "study", "Europe"}
    starter = post.messages[0]
    assert "I write short stories" in starter.content
    assert re.search(r"<t:\d+:F> – <t:\d+:t>", starter.content)  # availability in the reader's time
    assert starter.button_labels == ["Request partnership"]

    paused = await alice.slash("partner pause", until="10d")
    assert "Paused until <t:" in paused.content
    assert "Taking a break" in sb.forum.threads[0].messages[0].content

    left = await alice.slash("partner leave")
    assert "left the pool" in left.content
    assert sb.forum.threads[0].archived and sb.forum.threads[0].locked


async def test_a_pause_ends_by_itself_at_its_date(sb: Sandbox) -> None:
    from datetime import timedelta

    alice = sb.member("alice")
    await write_profile(alice, "Hi")
    await alice.slash("partner find")
    await alice.slash("partner pause", until="3d")
    await sb.advance(timedelta(days=2))
    assert "Taking a break" in sb.forum.threads[0].messages[0].content
    await sb.advance(timedelta(days=1, hours=1))
    assert "Taking a break" not in sb.forum.threads[0].messages[0].content
    shown = await alice.slash("profile show")
    assert "Pool: seeking" in shown.content


async def test_request_accepted_creates_a_proposal_and_closes_both_posts(sb: Sandbox) -> None:
    alice, bob = sb.member("alice"), sb.member("bob")
    await write_profile(alice, "Alice here")
    await write_profile(
        bob, "Bob here", timezone="America/New_York", availability="Mon-Fri 12:00-15:00"
    )
    await alice.slash("partner find")
    await bob.slash("partner find")
    alice_post = next(t for t in sb.forum.threads if t.name.startswith("alice"))

    sent = await bob.press(alice_post.messages[0], "Request partnership")
    assert sent.ephemeral and "Request sent" in sent.content
    again = await bob.press(alice_post.messages[0], "Request partnership")
    assert "already sent" in again.content

    request = await alice.wait_for_dm("would like to be your accountability partner")
    assert "Bob here" in request.content
    assert "You're both free" in request.content and "<t:" in request.content
    accepted = await alice.press(request, "Accept")
    assert "You accepted" in accepted.content

    note = await bob.wait_for_dm("accepted your partnership request")
    assert note is not None
    closed = await sb.emu.wait_for(
        lambda: (
            len(sb.forum.threads) == 2 and all(t.archived and t.locked for t in sb.forum.threads)
        )
    )
    assert closed


async def test_own_post_cannot_be_requested(sb: Sandbox) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "Alice here")
    await alice.slash("partner find")
    reply = await alice.press(sb.forum.threads[0].messages[0], "Request partnership")
    assert reply.ephemeral and "your own post" in reply.content


async def test_a_request_ruled_out_by_a_private_preference_reveals_nothing(sb: Sandbox) -> None:
    alice, bob = sb.member("alice"), sb.member("bob")
    await write_profile(alice, "Alice here")
    await write_profile(bob, "Bob here")
    await alice.slash(
        "profile private", gender="woman", partner_genders="woman", partner_age="30-45"
    )
    await bob.slash("profile private", gender="man", age="25-34")
    await alice.slash("partner find")
    sent = await bob.press(sb.forum.threads[0].messages[0], "Request partnership")
    assert "Request sent" in sent.content  # the same answer as any request
    assert alice.dms() == []  # the author never sees it

    everything = [m.content for c in sb.guild.channels for m in getattr(c, "messages", [])]
    everything += [m.content for t in sb.guild.threads for m in t.messages]
    everything += [m.content for who in (alice, bob) for m in who.dms()]
    for interaction in sb.emu.interactions:
        if interaction.user.id != alice.id:
            answers = [interaction.original, *interaction.followups]
            everything += [m.content for m in answers if m is not None]
    for secret in ("woman", "30-45", "25-34", "gender", "partner age"):
        assert not any(secret in text for text in everything), secret


async def test_private_fields_are_shown_to_their_owner_only(sb: Sandbox) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "Alice here")
    saved = await alice.slash(
        "profile private", gender="woman", age="35-44", partner_languages="German"
    )
    assert saved.ephemeral and "Only you can see these" in saved.content
    shown = await alice.slash("profile show")
    assert shown.ephemeral and "gender woman" in shown.content and "age 35-44" in shown.content
    await alice.slash("partner find")
    assert "woman" not in sb.forum.threads[0].messages[0].content
    assert "35-44" not in sb.forum.threads[0].messages[0].content


async def test_member_text_with_mentions_pings_nobody(sb: Sandbox) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "Hi @everyone and <@&123> — let's go")
    await alice.slash("partner find")
    post = sb.forum.threads[0].messages[0]
    assert "@everyone" in post.content
    assert not post.pings


async def test_a_ruled_out_requester_later_hears_the_same_words_as_any_decline(sb: Sandbox) -> None:
    from datetime import timedelta

    alice, bob, carol = sb.member("alice"), sb.member("bob"), sb.member("carol")
    for who in (alice, bob, carol):
        await write_profile(who, f"{who.name} here")
    await alice.slash("profile private", partner_genders="woman")
    await bob.slash("profile private", gender="man")
    await carol.slash("profile private", gender="woman")
    await alice.slash("partner find")
    post = sb.forum.threads[0].messages[0]

    await bob.press(post, "Request partnership")
    await carol.press(post, "Request partnership")
    card = await alice.wait_for_dm("would like to be your accountability partner")
    assert "carol here" in card.content and "bob" not in card.content
    declined = await alice.press(card, "Decline")
    assert "declined" in declined.content
    carol_note = await carol.wait_for_dm("can't take on a partnership")

    assert bob.dms() == []  # nothing at once: a real answer takes time too
    await sb.advance(timedelta(hours=11))
    bob_note = await bob.wait_for_dm("can't take on a partnership")
    assert bob_note.content == carol_note.content
    # alice never saw bob's request: no DM of hers names him or shows his intro
    assert alice.dms()
    assert not any(f"<@{bob.id}>" in m.content or "bob here" in m.content for m in alice.dms())


async def test_a_request_to_an_author_with_closed_dms_is_asked_in_their_post(sb: Sandbox) -> None:
    alice, bob = sb.member("alice"), sb.member("bob")
    await write_profile(alice, "Alice here")
    await write_profile(bob, "Bob here")
    sb.emu.faults.close_dms(alice.id)
    await alice.slash("partner find")
    post = sb.forum.threads[0]
    await bob.press(post.messages[0], "Request partnership")
    asked = await sb.emu.wait_for(
        lambda: next((m for m in post.messages if "DMs are closed" in m.content), None)
    )
    assert alice.id in asked.pings.users
    accepted = await alice.press(asked, "Accept")
    assert "You accepted" in accepted.content


@pytest.mark.parametrize(
    ("until", "says"),
    [
        ("9999-12-31", "at the latest 90 days from now"),
        ("0001-01-01", "at the latest 90 days from now"),
        ("999999w", "at the latest 90 days from now"),
        ("0d", "at the latest 90 days from now"),
        ("2026-02-30", "a date like 2026-12-24"),
        ("next tuesday", "a date like 2026-12-24"),
    ],
)
async def test_a_pause_date_out_of_range_gets_a_polite_answer_west_of_utc(
    sb: Sandbox, until: str, says: str
) -> None:
    """Regression: ``/partner pause until:9999-12-31`` in New York overflowed the date
    arithmetic and answered with the unexpected-error reply."""
    alice = sb.member("alice")
    await write_profile(alice, "Hi", timezone="America/New_York")
    await alice.slash("partner find")
    reply = await alice.slash("partner pause", until=until)
    assert reply.ephemeral and says in reply.content, reply.content
    assert "Something went wrong" not in reply.content
    assert "Taking a break" not in sb.forum.threads[0].messages[0].content
    shown = await alice.slash("profile show")
    assert "Pool: seeking" in shown.content


async def test_a_pause_up_to_the_limit_is_accepted_and_shown(sb: Sandbox) -> None:
    from datetime import timedelta

    alice = sb.member("alice")
    await write_profile(alice, "Hi", timezone="America/Los_Angeles")
    await alice.slash("partner find")
    last_day = (sb.clock.now() + timedelta(days=89)).date().isoformat()
    reply = await alice.slash("partner pause", until=last_day)
    assert "Paused until <t:" in reply.content
    assert "Taking a break" in sb.forum.threads[0].messages[0].content
