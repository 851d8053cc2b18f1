"""Members a round leaves without a partner hear from it once per real change in their own
situation, with a reason that is true for them and the smallest change of their own that would
help, with how many it would open; moderators see who has waited long, with public hints only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.sandbox import Sandbox
from emulator import Member, Message
from tests.e2e.test_admin_matching import seeker

TOKYO_MORNINGS = {"timezone": "Asia/Tokyo", "availability": "Mon-Fri 07:00-08:00"}
NEW_YORK_WEEKENDS = {"timezone": "America/New_York", "availability": "Sat-Sun 10:00-12:00"}


def round_dms(member: Member) -> list[Message]:
    return [m for m in member.dms() if "partner for you" in m.content]


async def match_now(sb: Sandbox) -> None:
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "Matching round done" in done.content, done.content
    await sb.tick()


async def next_scheduled_round(sb: Sandbox) -> None:
    """The community's round is Monday 17:00 UTC; the sandbox starts Monday 09:00 UTC."""
    now = sb.clock.now()
    ahead = (0 - now.weekday()) % 7
    at = (now + timedelta(days=ahead)).replace(hour=17, minute=0, second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=7)
    await sb.advance(at - now + timedelta(minutes=1))
    await sb.tick()


async def test_an_unmatchable_member_hears_once_per_real_change_with_the_smallest_fix(
    sb: Sandbox,
) -> None:
    """Regression: members nobody fits got "No partner for you this round" at every round (a
    moderator's match-now and the scheduled round nine hours later), with no idea what would
    change it."""
    carol, dan = sb.member("carol"), sb.member("dan")
    await seeker(carol, **TOKYO_MORNINGS)
    await seeker(dan, **NEW_YORK_WEEKENDS)
    await match_now(sb)
    [first] = round_dms(carol)
    assert "None of the members you could be paired with shares at least 1 h" in first.content
    # Dan is free Sat and Sun 15:00-17:00 UTC: Sun and Mon 00:00-02:00 in Tokyo.
    assert "If you added Sun 00:00-01:00 (your time; next on <t:" in first.content
    assert "1 member in this round's pool would fit you" in first.content
    assert "prefer" not in first.content and "wish" not in first.content
    [dans] = round_dms(dan)
    assert "1 member in this round's pool would fit you" in dans.content

    await next_scheduled_round(sb)  # the same day, nothing changed for carol
    await next_scheduled_round(sb)  # a week later, still nothing changed
    assert len(round_dms(carol)) == 1 and len(round_dms(dan)) == 1

    # A real change: dan leaves the pool, and erin, free when carol is, joins but meets every
    # two weeks.
    left = await dan.slash("partner leave")
    assert left.ephemeral
    erin = sb.member("erin")
    await seeker(erin, timezone="Asia/Seoul", availability="Mon-Fri 07:00-08:00",
                 rhythm="biweekly")
    await next_scheduled_round(sb)
    second = round_dms(carol)[-1]
    assert len(round_dms(carol)) == 2
    assert "ruled out by a different meeting rhythm" in second.content
    assert "If you chose “every two weeks” as your meeting rhythm" in second.content
    assert "1 member in this round's pool would fit you" in second.content
    [hers] = round_dms(erin)
    assert "If you chose “every week” as your meeting rhythm" in hers.content
    assert len(round_dms(dan)) == 1  # dan left the pool: rounds no longer write to him

    await next_scheduled_round(sb)
    assert len(round_dms(carol)) == 2
    # carol takes the advice; the next round pairs her with erin.
    changed = await carol.slash("profile edit", rhythm="biweekly")
    assert changed.ephemeral
    await next_scheduled_round(sb)
    assert len(round_dms(carol)) == 2 and len(round_dms(erin)) == 1
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert "0 in the pool" in preview.content  # carol and erin have a proposal


async def test_match_now_and_the_scheduled_round_the_same_day_send_one_message(
    sb: Sandbox,
) -> None:
    """Regression: two "No partner for you this round" DMs nine hours apart on day one."""
    carol, dan = sb.member("carol"), sb.member("dan")
    await seeker(carol, **TOKYO_MORNINGS)
    await seeker(dan, **NEW_YORK_WEEKENDS)
    alice, bob, erin = sb.member("alice"), sb.member("bob"), sb.member("erin")
    for member in (alice, bob, erin):
        await seeker(member)
    await sb.moderator.slash("admin setup", odd_policy="carry_over")
    await match_now(sb)
    [left] = [m for m in (alice, bob, erin) if round_dms(m)]
    assert "paired with someone else this round" in round_dms(left)[0].content
    proposal = next(
        m for channel in sb.emu.world.channels.values() for m in channel.messages
        if "Accept" in m.button_labels
    )
    for member in (alice, bob, erin):
        if member is not left:
            await member.press(proposal, "Accept")
    await sb.advance(timedelta(hours=9))  # Monday 18:00 UTC: the 17:00 round has run
    rounds = await sb.moderator.slash("admin stats")
    ran = int(datetime(2026, 1, 5, 18, 0, tzinfo=UTC).timestamp())  # the 17:00 round, at the tick
    assert f"**Last round**: <t:{ran}:f>: 3 in the pool, 0 groups" in rounds.content
    assert len(round_dms(carol)) == 1 and len(round_dms(dan)) == 1
    # The left-over member's situation changed at 17:00 (the others are paired now), but a
    # second message the same day would be one too many: it comes with the next round.
    assert len(round_dms(left)) == 1
    await next_scheduled_round(sb)
    assert len(round_dms(left)) == 2 and len(round_dms(carol)) == 1
    assert "ruled out" in round_dms(left)[1].content or "None of the members" in \
        round_dms(left)[1].content


async def test_a_member_without_wishes_is_never_told_a_preference_rules_everyone_out(
    sb: Sandbox,
) -> None:
    """Regression: "a preference rules everyone out" was said to members who had set none."""
    alice, bob, carl = sb.member("alice"), sb.member("bob"), sb.member("carl")
    await seeker(alice, rhythm="biweekly")
    await seeker(bob)
    await match_now(sb)
    [told] = round_dms(alice)
    assert "ruled out by a different meeting rhythm" in told.content
    for word in ("prefer", "wish", "/profile private"):
        assert word not in told.content
    # A member who does have a wish is told about their own wish, and nobody else's.
    await seeker(carl)
    await carl.slash("profile private", gender="man", partner_genders="woman")
    await match_now(sb)
    [own] = round_dms(carl)
    assert "ruled out by your partner wishes" in own.content
    assert "If you widened your wish about a partner's gender in `/profile private`" in own.content
    assert "woman" not in own.content


async def test_a_priority_promise_that_cannot_be_kept_is_corrected_once(sb: Sandbox) -> None:
    """Regression: "You'll be first in line next round" was promised and never kept or
    corrected. After a decline both go back with priority; the next round can't pair them again
    (too recent), so each is told plainly, once."""
    alice, bob = sb.member("alice"), sb.member("bob")
    await seeker(alice)
    await seeker(bob)
    await match_now(sb)
    proposal = next(
        m for channel in sb.emu.world.channels.values() for m in channel.messages
        if "Decline" in m.button_labels
    )
    opened = await alice.press(proposal, "Decline")
    assert opened.modal is not None
    declined = await alice.submit(opened.modal, {"Why? (optional, private)": ""})
    assert declined.ephemeral
    await sb.advance(timedelta(minutes=3))
    await match_now(sb)
    [told] = round_dms(alice)
    assert "You had priority this round, but priority can only choose among members who fit" \
        in told.content
    assert "no change on your side would help right now" in told.content
    assert "first in line" not in told.content
    await next_scheduled_round(sb)
    assert len(round_dms(alice)) == 1


async def test_moderators_see_who_waited_more_than_two_rounds_with_public_hints_only(
    sb: Sandbox,
) -> None:
    carol, dan = sb.member("carol"), sb.member("dan")
    await seeker(carol, **TOKYO_MORNINGS)
    await seeker(dan, **NEW_YORK_WEEKENDS)
    await carol.slash("profile private", gender="woman", age="25-34", partner_genders="woman")
    await match_now(sb)
    await next_scheduled_round(sb)
    stats = await sb.moderator.slash("admin stats")
    assert "**Waiting more than two rounds**: nobody" in stats.content
    await next_scheduled_round(sb)
    stats = await sb.moderator.slash("admin stats")
    line = next(x for x in stats.content.splitlines() if "Waiting more than two rounds" in x)
    assert f"<@{carol.id}> (3 rounds, no shared hours)" in line
    assert f"<@{dan.id}> (3 rounds, no shared hours)" in line
    for private in ("woman", "25-34", "wish", "prefer", "gender"):
        assert private not in stats.content
    assert not re.search(r"ruled out|rhythm|language", line)
