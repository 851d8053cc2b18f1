"""Partnerships end to end: the real bot over sockets against the emulator, members pressing
buttons and running commands, and a clock that only moves when the test moves it.

A member in Berlin (alice) and one in New York (bob) are proposed to each other, talk in a
private thread, agree a meeting in one zone and see it in the other across daylight-saving
changes, get their reminders and "did you meet?" once each, and part (or block, or report)
without drama."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services import partnerships
from bot.services.profiles import find_member
from emulator import Channel, Member, Message

SECRET = "their jokes are awful"

PROFILES = {
    "alice": {"timezone": "Europe/Berlin", "availability": "Mon-Fri 18:00-21:00"},
    "bob": {"timezone": "America/New_York", "availability": "Mon-Fri 12:00-15:00"},
    "carol": {"timezone": "Europe/Paris", "availability": "Mon-Fri 18:00-21:00"},
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def stamp(moment: datetime, style: str) -> str:
    return f"<t:{int(moment.timestamp())}:{style}>"


async def join(sb: Sandbox, name: str, rhythm: str = "weekly") -> Member:
    """A member writes a complete profile (with private fields) and joins the pool."""
    who = sb.member(name)
    reply = await who.slash(
        "profile edit",
        goal_areas="writing",
        rhythm=rhythm,
        medium="video",
        languages="English",
        **PROFILES[name],
    )
    assert "Saved" in reply.content, reply.content
    opened = await who.press(reply, "Edit intro & goals")
    assert opened.modal is not None
    await who.submit(opened.modal, {"A short intro": f"I'm {name}.", "Your current goals": "Write"})
    await who.slash("profile private", gender="woman", age="35-44")
    joined = await who.slash("partner find")
    assert "You're in the pool" in joined.content
    return who


async def propose(sb: Sandbox, *people: Member) -> Channel:
    """A matching round proposes them; the next tick opens their private thread."""
    async with unit_of_work(sb.bot.deps.sessions) as session:
        ids = []
        for person in people:
            found = await find_member(session, guild_id=sb.guild.id, user_id=person.id)
            assert found is not None
            ids.append(found.id)
        await partnerships.propose(
            session,
            guild_id=sb.guild.id,
            member_ids=ids,
            source="round",
            now=sb.clock.now(),
            explanation={"shared_areas": ["writing"], "languages": ["English"]},
        )
    before = len(sb.pairs.threads)
    await sb.tick()
    return await sb.emu.wait_for(
        lambda: (
            sb.pairs.threads[-1]
            if len(sb.pairs.threads) > before and sb.pairs.threads[-1].messages
            else None
        )
    )


def proposal_in(thread: Channel) -> Message:
    return next(m for m in thread.messages if "Accept" in m.button_labels)


async def partners(sb: Sandbox) -> tuple[Member, Member, Channel]:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    thread = await propose(sb, alice, bob)
    proposal = proposal_in(thread)
    await alice.press(proposal, "Accept")
    done = await bob.press(proposal, "Accept")
    assert "You're partners" in done.content
    await sb.emu.wait_for(lambda: any("you're partners" in m.content for m in thread.messages))
    return alice, bob, thread


def seen_by(sb: Sandbox, who: Member) -> list[str]:
    """Every text the member could read: their DMs, their ephemerals, threads they're in and
    channels they can see."""
    texts = [m.content for m in who.dms()] + [m.content for m in who.ephemerals()]
    for channel in sb.guild.channels:
        if channel.is_thread and who.id not in channel.member_ids:
            continue
        texts += [m.content for m in getattr(channel, "messages", [])]
    for thread in sb.guild.threads:
        if who.id in thread.member_ids:
            texts += [m.content for m in thread.messages]
    return texts


# --------------------------------------------------------------------------- proposals


async def test_a_request_accepted_opens_a_trial_with_no_second_accept(sb: Sandbox) -> None:
    """Regression: a pair formed from a forum request accepted twice (the author in the DM,
    then both again with Accept buttons in the thread). The request and its acceptance are
    both partners choosing: the thread opens on a trial with nothing left to press."""
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    post = next(t for t in sb.forum.threads if t.name.startswith("alice"))
    await bob.press(post.messages[0], "Request partnership")
    card = await alice.wait_for_dm("would like to be your accountability partner")
    await alice.press(card, "Accept")

    thread = await sb.emu.wait_for(
        lambda: sb.pairs.threads[0] if sb.pairs.threads and sb.pairs.threads[0].messages else None
    )
    welcome = thread.messages[0]
    assert thread.type == 12  # private
    assert set(thread.member_ids) >= {alice.id, bob.id}
    carol = sb.member("carol")
    assert carol.id not in thread.member_ids
    assert welcome.button_labels == []  # no second Accept / Decline
    assert "you're partners now" in welcome.content
    assert "Accept" not in welcome.content
    assert stamp(sb.clock.now() + timedelta(days=14), "D") in welcome.content  # trial's end
    assert welcome.pings.users == {alice.id, bob.id}  # the pair, in their own thread
    assert "I'm bob." in welcome.content and "I'm alice." in welcome.content
    assert "woman" not in welcome.content and "35-44" not in welcome.content
    slots = re.findall(r"^\d\. <t:(\d+):F>$", welcome.content, re.M)
    assert len(slots) == 3  # suggested meetings inside the overlap, in each reader's own time
    for slot in slots:
        berlin = datetime.fromtimestamp(int(slot), UTC) + timedelta(hours=1)
        assert 18 <= berlin.hour < 21 and berlin.weekday() < 5

    for who in (alice, bob):
        status = await who.slash("pair status")
        assert "Partners with" in status.content and "trial period" in status.content
        assert status.message is not None and status.message.button_labels == []
    await sb.tick()
    assert not any("Waiting for the other answer" in m.content for m in thread.messages)
    # the trial's end still asks each of them, privately, whether to carry on
    await sb.advance(timedelta(days=14, minutes=1))
    for who in (alice, bob):
        choice = await who.wait_for_dm("Would you like to carry on together?")
        assert choice.button_labels == ["Continue together", "Part ways kindly"]


async def test_a_decline_is_kind_private_and_returns_both_to_the_pool(sb: Sandbox) -> None:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    thread = await propose(sb, alice, bob)
    assert all(t.archived for t in sb.forum.threads)  # out of the pool while proposed
    opened = await bob.press(proposal_in(thread), "Decline")
    assert opened.modal is not None
    declined = await bob.submit(opened.modal, {"Why? (optional, private)": SECRET})
    assert declined.ephemeral and "stays private" in declined.content
    told = await alice.wait_for_dm("won't go ahead")
    assert "priority" in told.content and bob.mention in told.content
    await sb.advance(timedelta(minutes=3))
    await sb.tick()  # the pool's upkeep reopens both forum posts
    assert thread.archived and thread.locked
    assert any("didn't go ahead" in m.content for m in thread.messages)
    assert not any(t.archived for t in sb.forum.threads)
    for who in (alice, bob, sb.moderator):
        assert not any(SECRET in text for text in seen_by(sb, who))
    assert "seeking" in (await alice.slash("profile show")).content


async def test_an_unanswered_proposal_expires_after_72_hours(sb: Sandbox) -> None:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    thread = await propose(sb, alice, bob)
    await alice.press(proposal_in(thread), "Accept")
    await sb.advance(timedelta(hours=71))
    assert not any("expired" in m.content for m in alice.dms())
    await sb.advance(timedelta(hours=1))
    await sb.tick()  # the expiry ran last tick; the news it enqueued goes out on this one
    for who in (alice, bob):
        note = await who.wait_for_dm("expired")
        assert "priority" in note.content
    late = await bob.press(proposal_in(thread), "Accept")
    assert late.ephemeral and "closed" in late.content
    await sb.advance(timedelta(minutes=3))
    assert thread.archived and thread.locked


async def test_without_a_pairs_channel_the_proposal_arrives_by_dm(sb: Sandbox) -> None:
    alice, bob = await join(sb, "alice"), await join(sb, "bob")
    async with unit_of_work(sb.bot.deps.sessions) as session:
        from bot.services.guilds import get_settings

        settings = await get_settings(session, guild_id=sb.guild.id, now=sb.clock.now())
        settings.pair_channel_id = None
        ids = []
        for person in (alice, bob):
            found = await find_member(session, guild_id=sb.guild.id, user_id=person.id)
            assert found is not None
            ids.append(found.id)
        await partnerships.propose(
            session, guild_id=sb.guild.id, member_ids=ids, source="round", now=sb.clock.now()
        )
    await sb.tick()
    card = await alice.wait_for_dm("I'd like to introduce you")
    assert "I'm bob." in card.content and "I'm alice." not in card.content
    assert sb.pairs.threads == []
    await alice.press(card, "Accept")
    bob_card = await bob.wait_for_dm("I'd like to introduce you")
    done = await bob.press(bob_card, "Accept")
    assert "You're partners" in done.content
    await alice.wait_for_dm("you're partners")


# --------------------------------------------------------------------------- meetings


async def test_a_meeting_set_in_new_york_time_is_seen_in_berlin_time_across_dst(
    sb: Sandbox,
) -> None:
    """Tuesdays 12:00 New York. The US changes clocks on 8 March 2026, Europe on 29 March:
    Berlin sees 18:00, then 17:00 for three weeks, then 18:00 again. Reminders come 30 min
    before, "did you meet?" at the end; once each."""
    sb.clock.set(utc(2026, 2, 23, 9, 0))
    alice, bob, thread = await partners(sb)
    choices = await alice.autocomplete("pair meeting", "zone", "")
    assert [c["value"] for c in choices] == ["Europe/Berlin", "America/New_York"]
    bad = await alice.slash("pair meeting", day=1, time="12:00", zone="Asia/Tokyo")
    assert "your own time zone or your partner's" in bad.content
    set_ = await alice.slash("pair meeting", day=1, time="12:00", zone="America/New_York")
    first = utc(2026, 2, 24, 17, 0)
    assert stamp(first, "F") in set_.content
    assert "Europe/Berlin: Tuesday 18:00" in set_.content
    assert "America/New_York: Tuesday 12:00" in set_.content
    told = await sb.emu.wait_for(
        lambda: next((m for m in thread.messages if "set your meeting" in m.content), None)
    )
    assert stamp(first, "F") in told.content and bob.id in told.pings.users

    meetings = [
        utc(2026, 2, 24, 17, 0),
        utc(2026, 3, 3, 17, 0),
        utc(2026, 3, 10, 16, 0),  # New York on summer time, Berlin not yet: 17:00 in Berlin
        utc(2026, 3, 31, 16, 0),  # both on summer time: 18:00 in Berlin again
    ]

    def reminders() -> list[Message]:
        return [m for m in thread.messages if m.content.startswith("⏰")]

    for meeting in meetings:
        reminder_at = meeting - timedelta(minutes=30)
        before = len(reminders())
        await sb.travel_to(reminder_at - timedelta(minutes=1), step=timedelta(days=1))
        assert len(reminders()) == before
        await sb.travel_to(reminder_at)
        assert len(reminders()) == before + 1, meeting
        reminder = reminders()[-1]
        assert stamp(meeting, "R") in reminder.content and "Three questions" in reminder.content
        assert reminder.pings.users == {alice.id, bob.id}
        await sb.travel_to(meeting + timedelta(minutes=44))
        assert not [m for m in alice.dms() if stamp(meeting, "f") in m.content]
        await sb.travel_to(meeting + timedelta(minutes=45))
        for who in (alice, bob):
            asked = [
                m
                for m in who.dms()
                if "Did you meet" in m.content and stamp(meeting, "f") in m.content
            ]
            assert len(asked) == 1, (who.name, meeting)
            answered = await who.press(asked[0], "Yes, we met")
            assert answered.ephemeral and "you met" in answered.content
    await sb.travel_to(meetings[-1] + timedelta(hours=2))
    assert len(reminders()) == len({m.content for m in reminders()})  # none sent twice
    status = await bob.slash("pair status")
    # Nobody answered for 17 and 24 March (skipped here): those count as missed.
    assert "1 met in a row · 4 met in all" in status.content
    assert "choose whether to carry on" in status.content  # the trial is over, choices open


async def test_a_pair_meeting_every_two_weeks_is_proposed_set_and_reminded_fortnightly(
    sb: Sandbox,
) -> None:
    """Regression: pairs whose profiles say "every two weeks" got a weekly meeting by default
    and were told to "agree a weekly time". The proposal, the suggested slots, the default of
    `/pair meeting` and the reminders all follow the fortnightly rhythm."""
    sb.clock.set(utc(2026, 2, 23, 9, 0))  # a Monday
    alice = await join(sb, "alice", rhythm="biweekly")
    bob = await join(sb, "bob", rhythm="biweekly")
    thread = await propose(sb, alice, bob)
    proposal = proposal_in(thread)
    assert "Meeting times that suit you both** (45 min, every two weeks)" in proposal.content
    assert "repeats every two weeks" in proposal.content
    assert "every week" not in proposal.content and "weekly" not in proposal.content
    await alice.press(proposal, "Accept")
    await bob.press(proposal, "Accept")
    news = await sb.emu.wait_for(
        lambda: next((m for m in thread.messages if "you're partners" in m.content), None)
    )
    assert "agree a time every two weeks" in news.content and "weekly" not in news.content

    set_ = await alice.slash("pair meeting", day=1, time="18:00", zone="Europe/Berlin")
    assert "every two weeks" in set_.content  # no rhythm given: the pair's own
    told = await sb.emu.wait_for(
        lambda: next((m for m in thread.messages if "set your meeting" in m.content), None)
    )
    assert "every two weeks" in told.content
    status = await bob.slash("pair status")
    assert "Meeting every two weeks" in status.content

    def reminders() -> list[Message]:
        return [m for m in thread.messages if m.content.startswith("⏰")]

    first = utc(2026, 2, 24, 17, 0)  # Tuesday 18:00 in Berlin
    await sb.live_until(first + timedelta(weeks=4, hours=1))
    expected = [first, first + timedelta(weeks=2), first + timedelta(weeks=4)]
    sent = reminders()
    assert [r.content.count(stamp(at, "R")) for r, at in zip(sent, expected, strict=False)] == [
        1,
        1,
        1,
    ]
    assert len(reminders()) == 3  # none in the weeks between
    assert "your goals for the next two weeks" in reminders()[0].content
    for who in (alice, bob):
        asked = [m for m in who.dms() if "Did you meet" in m.content]
        assert len(asked) == 3
    # a member who gives the rhythm explicitly still can
    weekly = await bob.slash("pair meeting", day=1, time="18:00", zone="Europe/Berlin", rhythm=1)
    assert "every week" in weekly.content


async def test_a_weekly_and_a_fortnightly_member_meet_every_week_by_default(
    sb: Sandbox,
) -> None:
    alice = await join(sb, "alice", rhythm="biweekly")
    bob = await join(sb, "bob", rhythm="weekly")
    thread = await propose(sb, alice, bob)
    assert "(45 min, every week)" in proposal_in(thread).content


# --------------------------------------------------------------------------- trial, ending


async def test_a_trial_both_continue_then_another_where_one_parts(sb: Sandbox) -> None:
    alice, bob, thread = await partners(sb)
    await sb.advance(timedelta(days=14))
    for who in (alice, bob):
        prompt = await who.wait_for_dm("Would you like to carry on")
        assert prompt.button_labels == ["Continue together", "Part ways kindly"]
    first = await alice.press(alice.last_dm(), "Continue together")  # type: ignore[arg-type]
    assert "noted privately" in first.content
    second = await bob.press(await bob.wait_for_dm("carry on"), "Continue together")
    assert "full partnership" in second.content
    await sb.emu.wait_for(lambda: any("full partners" in m.content for m in thread.messages))

    carol = await join(sb, "carol")
    dave = sb.member("dave")
    reply = await dave.slash(
        "profile edit",
        goal_areas="writing",
        rhythm="weekly",
        medium="video",
        languages="English",
        timezone="Europe/Paris",
        availability="Mon-Fri 18:00-21:00",
    )
    opened = await dave.press(reply, "Edit intro & goals")
    await dave.submit(opened.modal, {"A short intro": "I'm dave."})  # type: ignore[arg-type]
    await dave.slash("partner find")
    thread2 = await propose(sb, carol, dave)
    await carol.press(proposal_in(thread2), "Accept")
    await dave.press(proposal_in(thread2), "Accept")
    await sb.advance(timedelta(days=14))
    await carol.press(await carol.wait_for_dm("carry on"), "Continue together")
    parted = await dave.press(await dave.wait_for_dm("carry on"), "Part ways kindly")
    assert "ended kindly" in parted.content
    note = await carol.wait_for_dm("ended without continuing")
    assert "dave chose" not in note.content and "/partner find" in note.content
    await sb.advance(timedelta(minutes=3))
    assert thread2.archived and thread2.locked
    assert not thread.archived  # the other pair carries on


async def test_ending_with_a_private_reason(sb: Sandbox) -> None:
    alice, bob, thread = await partners(sb)
    opened = await bob.slash("pair end")
    assert opened.modal is not None
    ended = await bob.submit(opened.modal, {"Why? (optional, private)": SECRET})
    assert ended.ephemeral and "has ended" in ended.content
    told = await alice.wait_for_dm("ended your partnership")
    assert bob.mention in told.content
    await sb.advance(timedelta(minutes=3))
    assert thread.archived and thread.locked
    assert "now closed" in thread.messages[-1].content
    for who in (alice, bob, sb.moderator):
        assert not any(SECRET in text for text in seen_by(sb, who))
    status = await alice.slash("pair status")
    assert "don't have a partner" in status.content and bob.mention in status.content


async def test_a_block_looks_like_an_ending_and_they_are_never_matched_again(
    sb: Sandbox,
) -> None:
    alice, bob, thread = await partners(sb)
    ask = await bob.slash("pair block")
    assert ask.button_labels == ["Block", "Cancel"]
    done = await bob.press(ask, "Block")
    assert "Blocked" in done.content
    told = await alice.wait_for_dm("ended your partnership")
    assert told.content == partnerships.d.ended_dm(bob.id)  # the very words of /pair end
    await sb.advance(timedelta(minutes=3))
    assert thread.archived and thread.locked
    assert not any("block" in text.lower() for text in seen_by(sb, alice))
    # Back in the pool, bob's request to alice is quietly ruled out: alice never sees it.
    await alice.slash("partner find")
    await bob.slash("partner find")
    post = next(t for t in sb.forum.threads if t.name.startswith("alice"))
    sent = await bob.press(post.messages[0], "Request partnership")
    assert "Request sent" in sent.content
    await sb.advance(timedelta(hours=12))
    assert not any("would like to be your accountability partner" in m.content for m in alice.dms())


async def test_a_report_gives_moderators_context_and_nothing_private(sb: Sandbox) -> None:
    alice, bob, thread = await partners(sb)
    opened = await bob.slash("report")
    assert opened.modal is not None
    sent = await bob.submit(opened.modal, {"What happened?": "Rude to me @everyone <@&1>"})
    assert sent.ephemeral and "moderators have your report" in sent.content
    report = await sb.emu.wait_for(lambda: next(iter(sb.mods.messages), None))
    assert bob.mention in report.content and alice.mention in report.content
    assert thread.mention in report.content and "trial" in report.content
    assert "Rude to me @everyone" in report.content
    assert not report.pings
    assert "woman" not in report.content and "35-44" not in report.content
    assert not any("Rude to me" in m.content for m in alice.dms())


# --------------------------------------------------------------------------- health


async def test_a_quiet_partner_is_noticed_and_the_other_is_offered_a_rematch(
    sb: Sandbox,
) -> None:
    alice, bob, thread = await partners(sb)
    await alice.slash("pair meeting", day=1, time="18:00", zone="Europe/Berlin")
    await sb.emu.wait_for(lambda: any("set your meeting" in m.content for m in thread.messages))
    start = sb.clock.now()
    answered: set[int] = set()
    while sb.clock.now() < start + timedelta(weeks=3, days=1):
        await sb.advance(timedelta(hours=6))
        for dm in alice.dms():
            if "Did you meet" in dm.content and dm.id not in answered:
                await alice.press(dm, "Yes, we met")
                answered.add(dm.id)
        if sb.clock.now() < start + timedelta(weeks=3):
            assert not any("keep waiting" in m.content for m in alice.dms())
    asked = await alice.wait_for_dm("keep waiting")
    assert bob.mention in asked.content
    assert asked.button_labels == ["Keep waiting", "Find me someone new"]
    assert not any("keep waiting" in m.content for m in bob.dms())
    assert not any("keep waiting" in m.content for m in thread.messages)
    chosen = await alice.press(asked, "Find me someone new")
    assert "back in the pool with priority" in chosen.content
    note = await bob.wait_for_dm("has ended")
    assert alice.mention not in note.content
    await sb.advance(timedelta(minutes=3))
    assert thread.archived and thread.locked
    assert "seeking" in (await alice.slash("profile show")).content


async def test_moderators_see_counts_and_nothing_private(sb: Sandbox) -> None:
    fresh = await sb.moderator.slash("admin stats")
    assert "0 with a profile" in fresh.content and "no pairs meeting yet" in fresh.content
    alice, bob, _ = await partners(sb)
    await join(sb, "carol")
    empty = await sb.moderator.slash("admin stats")
    assert "0 of 1 pairs have a meeting time" in empty.content
    await alice.slash("pair meeting", day=0, time="19:00", zone="Europe/Berlin")

    shown = await sb.moderator.slash("admin stats")
    text = shown.content
    assert shown.ephemeral
    assert "3 with a profile · 1 looking for a partner · 0 taking a break" in text
    assert "0 active · 1 in their trial · 0 proposals waiting · 1 started, 0 ended" in text
    assert "1 of 1 pairs have a meeting time" in text
    assert "**Last round**: none yet" in text and "<t:" in text
    for private in ("alice", "bob", "carol", "woman", "35-44", str(alice.id), str(bob.id)):
        assert private not in text

    sb.guild.allow_command("admin", bob)
    refused = await bob.slash("admin stats")
    assert refused.ephemeral and "can't use that command" in refused.content
