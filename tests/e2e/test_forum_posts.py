"""A member's forum post follows them: every profile change and pool change reaches it through
the outbox (retried when Discord refuses), and the times it lists are always the next ones, in
each reader's own time, however long the post stays up."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.sandbox import Sandbox
from emulator import Channel, Message
from tests.e2e.test_profiles_forum import write_profile

BERLIN = ZoneInfo("Europe/Berlin")


def starter(sb: Sandbox) -> Message:
    [post] = sb.forum.threads
    return post.messages[0]


def post_thread(sb: Sandbox) -> Channel:
    [post] = sb.forum.threads
    return post


async def shows(sb: Sandbox, text: str) -> Message:
    """The post shows ``text`` after the next tick (the change's outbox row runs then)."""
    await sb.tick()
    post = starter(sb)
    assert text in post.content, post.content
    return post


def listed_times(content: str) -> list[tuple[datetime, datetime]]:
    return [
        (datetime.fromtimestamp(int(a), UTC), datetime.fromtimestamp(int(b), UTC))
        for a, b in re.findall(r"^• <t:(\d+):F> – <t:(\d+):t>$", content, re.M)
    ]


async def test_a_forum_post_follows_every_profile_and_pool_change(sb: Sandbox) -> None:
    """Regression: a post never followed `/profile edit` (the old intro and old times stayed
    until the next `/partner find`)."""
    alice = sb.member("alice")
    await write_profile(alice, "I write short stories.")
    await alice.slash("partner find")
    assert "I write short stories." in starter(sb).content
    assert "(Europe/Berlin time): Mon-Fri 18:00-21:00, Sat 09:00-12:00" in starter(sb).content

    reply = await alice.slash("profile edit", rhythm="biweekly")
    await shows(sb, "Meets every two weeks")
    opened = await alice.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    await alice.submit(
        opened.modal, {"A short intro": "Now I write novels.", "Your current goals": "Chapter 3"}
    )
    post = await shows(sb, "Now I write novels.")
    assert "short stories" not in post.content and "Chapter 3" in post.content

    await alice.slash("profile edit", availability="Tue 07:00-08:30")
    post = await shows(sb, "Tue 07:00-08:30")
    assert "Mon-Fri" not in post.content
    [(start, end)] = listed_times(post.content)
    assert start.astimezone(BERLIN).strftime("%a %H:%M") == "Tue 07:00"
    assert end - start == timedelta(minutes=90)

    await alice.slash("profile edit", timezone="America/New_York")
    post = await shows(sb, "(America/New_York time): Tue 07:00-08:30")
    [(start, _)] = listed_times(post.content)
    assert start.astimezone(ZoneInfo("America/New_York")).strftime("%a %H:%M") == "Tue 07:00"
    assert post_thread(sb).name.endswith("· Americas")  # the region in the title follows too

    await alice.slash("profile edit", goal_areas="study", medium="voice", languages="French")
    post = await shows(sb, "by voice")
    assert "speaks French" in post.content and "English" not in post.content
    assert post_thread(sb).name.startswith("alice · study")
    tag_names = {t.name for t in sb.forum.available_tags if t.id in post_thread(sb).applied_tags}
    assert tag_names == {"study", "Americas"}

    await alice.slash("partner pause")
    await shows(sb, "Taking a break")
    await alice.slash("partner find")
    post = await shows(sb, "Now I write novels.")
    assert "Taking a break" not in post.content


async def test_a_post_update_discord_refuses_is_retried_by_the_outbox(sb: Sandbox) -> None:
    alice = sb.member("alice")
    await write_profile(alice, "First words.")
    await alice.slash("partner find")
    sb.emu.faults.server_error("PATCH /channels/*/messages/*", status=503, times=1)
    reply = await alice.slash("profile edit", medium="text")
    assert "Saved" in reply.content
    await sb.tick()
    assert "by video" in starter(sb).content  # refused: not updated yet
    await sb.advance(timedelta(minutes=1))  # past the row's backoff
    assert "by text" in starter(sb).content


async def test_the_times_a_post_lists_never_go_stale(sb: Sandbox) -> None:
    """Regression: a post listed dated windows and ten days later still showed last week's
    dates. Its times are the next of each weekly window, re-rendered when one passes."""
    alice = sb.member("alice")
    await write_profile(alice, "Hi")  # Berlin, Mon-Fri 18:00-21:00, Sat 09:00-12:00
    await alice.slash("partner find")
    edits_before = len(sb.emu.requests_to("PATCH /channels/{channel_id}/messages/{message_id}"))
    checked = 0

    async def check() -> None:
        nonlocal checked
        now = sb.clock.now()
        times = listed_times(starter(sb).content)
        assert len(times) == 6, starter(sb).content  # one per weekly window
        days = sorted(start.astimezone(BERLIN).weekday() for start, _ in times)
        assert days == [0, 1, 2, 3, 4, 5]
        for start, end in times:
            assert end > now, (now, start)  # nothing past
            assert start < now + timedelta(days=7)  # the next one, not a later one
            local = start.astimezone(BERLIN)
            assert local.strftime("%H:%M") == ("09:00" if local.weekday() == 5 else "18:00")
        checked += 1

    start = sb.clock.now()
    await check()
    await sb.live_until(start + timedelta(days=10), max_step=timedelta(hours=5), after_tick=check)
    assert checked > 40
    edits = len(sb.emu.requests_to("PATCH /channels/{channel_id}/messages/{message_id}"))
    assert 0 < edits - edits_before <= 12  # one refresh as each window passes, no more


async def test_the_outbox_post_sync_waits_for_the_send_pacer_before_each_request(
    sb: Sandbox,
) -> None:
    """Issue 13: a round moves thousands of members out of the pool and each post follows
    through the outbox; those edits share the dispatcher's send budget like every delivery."""
    alice = sb.member("alice")
    await write_profile(alice, "First words.")
    await alice.slash("partner find")
    thread_id = post_thread(sb).id
    pacer = sb.bot.dispatcher.messenger.pacer  # type: ignore[attr-defined]
    real_wait = pacer.wait
    waits: list[int] = []

    async def counted() -> None:
        waits.append(len(sb.emu.requests))
        await real_wait()

    pacer.wait = counted
    await alice.slash("profile edit", medium="text")
    before = len(sb.emu.requests)
    await sb.tick()
    assert "by text" in starter(sb).content
    to_post = [r for r in sb.emu.requests[before:] if f"/channels/{thread_id}" in r.path]
    assert len(to_post) >= 2  # the thread and its first message
    # One wait before each of them (none is sent without one).
    assert len([w for w in waits if w >= before]) >= len(to_post)
