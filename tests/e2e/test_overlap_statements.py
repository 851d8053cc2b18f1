"""What pairs are told about the time they share is about the dates it names."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.sandbox import Sandbox
from tests.e2e.test_admin_matching import seeker
from tests.e2e.test_profiles_forum import write_profile


def stamps(text: str, style: str) -> list[datetime]:
    return [
        datetime.fromtimestamp(int(x), UTC) for x in re.findall(rf"<t:(\d+):{style}>", text)
    ]


async def test_a_monday_round_names_the_week_its_overlap_is_about(sb: Sandbox) -> None:
    """Regression: "You overlap 5 h this week" was sent on Monday about next week's dates."""
    now = sb.clock.now()
    assert now.weekday() == 0  # the suite's clock starts on a Monday
    alice, bob = sb.member("alice"), sb.member("bob")
    await seeker(alice)
    await seeker(bob, timezone="Europe/London", availability="Mon-Fri 17:00-20:00")
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "1 group," in done.content
    await sb.tick()
    thread = await sb.emu.wait_for(
        lambda: sb.pairs.threads[0] if sb.pairs.threads and sb.pairs.threads[0].messages else None
    )
    card = thread.messages[0].content
    assert "this week" not in card and "coming week" not in card
    [line] = [ln for ln in card.splitlines() if "You overlap" in ln]
    [week_start] = stamps(line, "D")
    next_monday = datetime(2026, 1, 12, tzinfo=UTC)
    assert week_start == next_monday
    shown = stamps(line, "F")
    assert shown and all(next_monday <= at < next_monday + timedelta(days=7) for at in shown)
    # "both free in the next 7 days": every time listed lies in the next 7 days
    free = card[card.index("You're both free in the next 7 days") :]
    listed = stamps(free.split("\n\n")[0], "F")
    assert listed and all(now <= at < now + timedelta(days=7) for at in listed)


async def test_a_request_card_says_next_7_days_and_lists_only_those(sb: Sandbox) -> None:
    alice, bob = sb.member("alice"), sb.member("bob")
    await write_profile(alice, "Alice here")
    await write_profile(bob, "Bob here", timezone="Europe/London")
    await alice.slash("partner find")
    await bob.press(sb.forum.threads[0].messages[0], "Request partnership")
    card = await alice.wait_for_dm("would like to be your accountability partner")
    assert "in the next 7 days" in card.content and "coming week" not in card.content
    now = sb.clock.now()
    listed = stamps(card.content, "F")
    assert listed and all(now <= at < now + timedelta(days=7) for at in listed)
