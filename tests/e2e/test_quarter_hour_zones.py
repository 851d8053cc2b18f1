"""Members in zones whose offset is not a whole or half hour (Asia/Kathmandu +05:45, Asia/Kolkata
+05:30 beside it) are matched on, and told, the time they really share. Half-hour UTC slots used
to round their windows inwards: two Kathmandu members free 18:00-19:00 were told nobody shares
their time, 18:00-21:00 became 18:15-20:45, Kathmandu with Kolkata showed 12.5 h for 13.75 h.
The sandbox starts on Monday 2026-01-05 09:00 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.sandbox import Sandbox
from emulator import Member

KATHMANDU = {
    "timezone": "Asia/Kathmandu",
    "goal_areas": "writing",
    "rhythm": "weekly",
    "medium": "video",
    "languages": "English",
}


def epoch(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


async def proposal(sb: Sandbox) -> str:
    """The round's proposal in the pair's new private thread."""
    await sb.tick()
    thread = await sb.emu.wait_for(
        lambda: sb.pairs.threads[-1] if sb.pairs.threads and sb.pairs.threads[-1].messages
        else None
    )
    return "\n".join(m.content for m in thread.messages)


async def join(member: Member, **profile: str) -> None:
    options: dict[str, Any] = {**KATHMANDU, **profile}
    reply = await member.slash("profile edit", **options)
    assert "Saved" in reply.content, reply.content
    opened = await member.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    await member.submit(opened.modal, {"A short intro": f"I'm {member.name}"})
    joined = await member.slash("partner find")
    assert "in the pool" in joined.content, joined.content


async def test_two_kathmandu_members_free_18_to_19_are_matched_not_told_nobody_shares_time(
    sb: Sandbox,
) -> None:
    asha, bikash = sb.member("asha"), sb.member("bikash")
    await join(asha, availability="Mon-Fri 18:00-19:00")
    await join(bikash, availability="Mon-Fri 18:00-19:00")
    preview = await sb.moderator.slash("admin match-now", dry_run=True)
    assert f"<@{asha.id}>" in preview.content and "waits" not in preview.content, preview.content
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "1 group," in done.content, done.content
    card = await proposal(sb)
    # Five whole hours a week, each 18:00-19:00 Kathmandu = 12:15-13:15 UTC (the round's weeks
    # start on 12 January; the card also lists the coming days from Monday 5 January).
    assert re.search(r"\b5 h\b", card), card
    assert f"<t:{epoch(2026, 1, 12, 12, 15)}:F>–<t:{epoch(2026, 1, 12, 13, 15)}:t>" in card
    assert f"<t:{epoch(2026, 1, 5, 12, 15)}:F> – <t:{epoch(2026, 1, 5, 13, 15)}:t>" in card
    # A 45-minute meeting is suggested at 18:00 Kathmandu, not skipped for want of a half hour.
    assert f"1. <t:{epoch(2026, 1, 5, 12, 15)}:F>" in card
    assert not [m for m in bikash.dms() if "No partner for you" in m.content]


async def test_a_kathmandu_request_shows_18_to_21_not_18_15_to_20_45(sb: Sandbox) -> None:
    asha, bikash = sb.member("asha"), sb.member("bikash")
    await join(asha, availability="Mon-Fri 18:00-21:00")
    await join(bikash, availability="Mon-Fri 18:00-21:00")
    post = next(t for t in sb.forum.threads if (t.name or "").startswith("asha"))
    sent = await bikash.press(post.messages[0], "Request partnership")
    assert "Request sent" in sent.content
    card = await asha.wait_for_dm("would like to be your accountability partner")
    assert "You're both free 15 h in the next 7 days" in card.content, card.content
    # Monday 18:00-21:00 in Kathmandu is 12:15-15:15 UTC, to the minute.
    assert f"<t:{epoch(2026, 1, 5, 12, 15)}:F> – <t:{epoch(2026, 1, 5, 15, 15)}:t>" in (
        card.content
    )


async def test_kathmandu_with_kolkata_shows_13_75_hours_not_12_5(sb: Sandbox) -> None:
    """Kolkata 18:00 is Kathmandu 18:15: both free 18:00-21:00 local share 2 h 45 min a day."""
    asha, dev = sb.member("asha"), sb.member("dev")
    await join(asha, availability="Mon-Fri 18:00-21:00")
    await join(dev, timezone="Asia/Kolkata", availability="Mon-Fri 18:00-21:00")
    post = next(t for t in sb.forum.threads if (t.name or "").startswith("asha"))
    await dev.press(post.messages[0], "Request partnership")
    card = await asha.wait_for_dm("would like to be your accountability partner")
    assert "You're both free 13.75 h in the next 7 days" in card.content, card.content
    assert f"<t:{epoch(2026, 1, 5, 12, 30)}:F> – <t:{epoch(2026, 1, 5, 15, 15)}:t>" in (
        card.content
    )
    done = await sb.moderator.slash("admin match-now", dry_run=False)
    assert "1 group," in done.content, done.content
    proposed = await proposal(sb)
    # The round counts the same 13.75 h a week the request card showed.
    assert re.search(r"\b13\.(75|8) h\b", proposed), proposed
    assert f"<t:{epoch(2026, 1, 12, 12, 30)}:F>–<t:{epoch(2026, 1, 12, 15, 15)}:t>" in proposed


async def test_profile_times_off_the_quarter_hour_are_refused_politely(sb: Sandbox) -> None:
    asha = sb.member("asha")
    await join(asha, availability="Mon-Fri 18:00-19:00")
    reply = await asha.slash("profile edit", availability="Mon-Fri 18:10-19:00")
    assert reply.ephemeral
    assert "quarter hour" in reply.content and "18:15 instead of 18:10" in reply.content
    shown = await asha.slash("profile show")
    assert "18:00" in shown.content and "18:10" not in shown.content
