"""The accountability loop through the emulator, with the real discord.py client and a moved
clock: a pair in Tokyo and São Paulo set goals, get check-ins at their own local times, answer
them with notes, give each other feedback, and look back at missed goals at the end of the week.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import func, select

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services import goals
from cogs.goals import board_embeds
from emulator import Channel, Member, Message
from emulator.model import PRIVATE_THREAD
from models import CheckIn, Goal, OutboxItem, Partnership, PartnershipMember
from models import Member as MemberRow

# The suite's clock starts on Monday 5 January 2026, 09:00 UTC (18:00 Tokyo, 06:00 São Paulo).
MONDAY_CHECKIN = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)  # Monday 20:00 Tokyo
SUNDAY_CHECKIN_SP = datetime(2026, 1, 11, 21, 0, tzinfo=UTC)  # Sunday 18:00 São Paulo
# Goals due "this week" (Sunday 23:59) are reviewed the next morning, 08:00 local.
SUNDAY_REVIEW_SP = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)  # Monday 08:00 São Paulo
SUNDAY_REVIEW_TOKYO = datetime(2026, 1, 11, 23, 0, tzinfo=UTC)  # Monday 08:00 Tokyo


async def set_zone(member: Member, zone: str) -> None:
    reply = await member.slash("profile edit", timezone=zone)
    assert "Saved" in reply.content, reply.content


async def make_pair(sb: Sandbox, a: Member, b: Member) -> Channel:
    """Aki and Bia as an active pair meeting Tuesdays 20:00 Tokyo time, with their private
    thread (partnerships build this for real; here it is laid down directly)."""
    world = sb.emu.world
    thread = world.create_thread(
        sb.pairs, name="aki & bia", type=PRIVATE_THREAD, owner=world.bot_user, invitable=False
    )
    world.add_thread_member(thread, a.user)
    world.add_thread_member(thread, b.user)
    sessions = sb.bot.deps.sessions
    async with unit_of_work(sessions) as session:
        ids = []
        for person in (a, b):
            row = (
                await session.execute(
                    select(MemberRow).where(
                        MemberRow.guild_id == sb.guild.id, MemberRow.user_id == person.id
                    )
                )
            ).scalar_one()
            ids.append(row.id)
        session.add(
            Partnership(
                guild_id=sb.guild.id,
                state="active",
                source="request",
                proposed_at=sb.clock.now(),
                started_at=sb.clock.now(),
                thread_id=thread.id,
                meeting_weekday=1,
                meeting_time="20:00",
                meeting_zone="Asia/Tokyo",
                members=[PartnershipMember(member_id=i) for i in ids],
            )
        )
    return thread


async def pair_up(sb: Sandbox) -> tuple[Member, Member, Channel]:
    aki, bia = sb.member("aki"), sb.member("bia")
    await set_zone(aki, "Asia/Tokyo")
    await set_zone(bia, "America/Sao_Paulo")
    return aki, bia, await make_pair(sb, aki, bia)


async def travel(sb: Sandbox, moment: datetime) -> None:
    """Move the clock to ``moment`` as a running bot would live through it: a tick whenever
    outbox work falls due (and at least hourly), then one more to send what that work queued."""
    await sb.tick()
    while sb.clock.now() < moment:
        async with sb.bot.deps.sessions() as session:
            due = await session.scalar(
                select(func.min(OutboxItem.next_attempt_at)).where(
                    OutboxItem.state == "pending", OutboxItem.next_attempt_at > sb.clock.now()
                )
            )
        step = min(moment, sb.clock.now() + timedelta(hours=6))
        if due is not None:
            step = min(step, due)
        sb.clock.set(step)
        await sb.tick()
        await sb.tick()


def prompts(member: Member) -> list[Message]:
    """The missed-goal prompts a member got."""
    return [m for m in member.dms() if "information, not failure" in m.content]


def checkin_dms(member: Member) -> list[Message]:
    return [m for m in member.dms() if "Check-in time" in m.content]


async def add_goal(member: Member, text: str, **options: str) -> None:
    reply = await member.slash("goal add", options={"text": text, **options})
    assert reply.ephemeral and "Goal added" in reply.content, reply.content


async def test_a_tokyo_sao_paulo_pair_goes_through_a_week_of_goals(sb: Sandbox) -> None:
    aki, bia, thread = await pair_up(sb)
    carl = sb.member("carl")

    # Goals, one with text that would ping everyone if the bot let it.
    await add_goal(aki, "write 2,000 words @everyone", due="this week", area="writing")
    await add_goal(bia, "run three times", due="this week", area="fitness")
    due_choices = await aki.autocomplete("goal add", "due", "next")
    assert [c["value"] for c in due_choices] == ["next meeting", "next week"]
    board = await aki.slash("goal list")
    assert board.ephemeral
    shown = "\n".join(e.get("description", "") for e in board.embeds)
    assert "write 2,000 words @everyone" in shown and "run three times" in shown
    assert f"<@{bia.id}>" in shown
    assert "<t:" in shown  # due dates as Discord timestamps
    strangers = await carl.slash("goal list")
    assert "run three times" not in "\n".join(e.get("description", "") for e in strangers.embeds)

    # Bia prefers Sunday evenings; Aki keeps the default, the day before their meeting.
    chosen = await bia.slash("checkin time", day="Sunday", time="18:00")
    assert "Sundays at 18:00 (America/Sao_Paulo)" in chosen.content
    assert f"<t:{int(SUNDAY_CHECKIN_SP.timestamp())}:F>" in chosen.content

    # Monday 20:00 in Tokyo: Aki's check-in, and nothing for Bia.
    await travel(sb, MONDAY_CHECKIN - timedelta(minutes=1))
    assert checkin_dms(aki) == []
    await travel(sb, MONDAY_CHECKIN)
    [dm] = checkin_dms(aki)
    assert "write 2,000 words @everyone" in dm.content
    assert dm.button_labels == ["Done", "Partly", "Missed", "Add a note"]
    assert not dm.pings
    assert checkin_dms(bia) == []

    # Aki answers, then adds a 4,000-character note full of mentions.
    saved = await aki.press(dm, "Partly")
    assert saved.ephemeral and "partly" in saved.content
    opened = await aki.press(dm, "Add a note")
    assert opened.modal is not None
    note = (f"Went ok @everyone <@{bia.id}> <@&{sb.guild.id}>\n\n" + "é" * 4000)[:4000]
    noted = await aki.submit(opened.modal, {"note": note})
    assert "Note saved" in noted.content

    # A few minutes later Bia sees it in their thread, note whole, nobody pinged.
    before = len(thread.messages)
    await travel(sb, sb.clock.now() + goals.SHARE_DELAY)
    [shared] = thread.messages[before:]
    assert "partly done" in shared.content and "write 2,000 words" in shared.content
    assert shared.embeds[0]["description"] == note
    assert len(shared.content) <= 2000
    assert not shared.pings
    assert shared.button_labels == ["Give feedback"]
    async with sb.bot.deps.sessions() as session:
        [stored] = (await session.execute(select(CheckIn))).scalars().all()
    assert stored.note == note and stored.answer == "partly"

    # Only the partner gives feedback (not even a moderator who can see the thread); it
    # reaches Aki by DM.
    refused = await sb.moderator.press(shared, "Give feedback")
    assert refused.ephemeral and "Only their accountability partner" in refused.content
    form = await bia.press(shared, "Give feedback")
    assert form.modal is not None
    sent = await bia.submit(form.modal, {"feedback": "Proud of you @everyone! Same time Tue?"})
    assert "Sent" in sent.content
    await travel(sb, sb.clock.now() + timedelta(minutes=1))
    feedback = aki.dms()[-1]
    assert f"<@{bia.id}> answered your check-in" in feedback.content
    assert feedback.embeds[0]["description"] == "Proud of you @everyone! Same time Tue?"
    assert not feedback.pings

    # Aki's week is reviewed (Monday 08:00 Tokyo): the goal was only partly done: no prompt.
    await travel(sb, SUNDAY_REVIEW_TOKYO + timedelta(minutes=5))
    assert prompts(aki) == []

    # Bia's check-in on Sunday 18:00 São Paulo; she misses her goal, with a note.
    await travel(sb, SUNDAY_CHECKIN_SP)
    [bia_dm] = checkin_dms(bia)
    await bia.press(bia_dm, "Missed")

    # Monday 08:00 São Paulo: the prompt, a reason, what would help, shared with Aki.
    await travel(sb, SUNDAY_REVIEW_SP)
    [prompt] = prompts(bia)
    assert "run three times" in prompt.content and "Before your next meeting" in prompt.content
    # It names the meeting whose agenda the reason opens: Tuesday 20:00 Tokyo, still ahead.
    next_meeting = datetime(2026, 1, 13, 11, 0, tzinfo=UTC)
    assert f"<t:{int(next_meeting.timestamp())}:F>" in prompt.content
    why = await bia.press(prompt, "1. run three times")
    assert why.ephemeral and "What got in the way" in why.content
    form = await bia.choose(why, ["work"])
    assert form.modal is not None
    thanks = await bia.submit(form.modal, {"help": "Run before work, not after."})
    assert "first on your next meeting's agenda" in thanks.content
    before = len(thread.messages)
    await travel(sb, sb.clock.now() + goals.SHARE_DELAY)
    [reflection] = thread.messages[before:]
    assert "Too much work" in reflection.content
    assert reflection.embeds[0]["description"] == "Run before work, not after."
    async with sb.bot.deps.sessions() as session:
        pair_id = (await session.execute(select(Partnership.id))).scalar_one()
        agenda = await goals.agenda_text(session, partnership_id=pair_id, now=sb.clock.now())
    assert agenda.startswith("**1. Missed goals")
    assert f"<@{bia.id}>: run three times — *Too much work*" in agenda

    # Each one's /privacy export holds their check-ins, notes, feedback and reflections.
    akis = json.loads((await aki.slash("privacy export")).attachments[0].data)
    [written] = akis["goals"]
    [checkin] = written["checkins"]
    assert checkin["answer"] == "partly" and checkin["note"] == note
    assert [f["text"] for f in checkin["feedback_received"]] == [
        "Proud of you @everyone! Same time Tue?"]
    bias = json.loads((await bia.slash("privacy export")).attachments[0].data)
    assert bias["goals"][0]["missed"] == {"reason": "work",
                                          "reflection": "Run before work, not after."}
    assert [f["text"] for f in bias["feedback_given"]] == ["Proud of you @everyone! Same time Tue?"]


async def test_closed_dms_bring_the_checkin_to_the_pairs_thread(sb: Sandbox) -> None:
    aki, bia, thread = await pair_up(sb)
    await add_goal(aki, "learn 50 kanji")
    sb.emu.world.closed_dms.add(aki.id)
    await travel(sb, MONDAY_CHECKIN)
    assert checkin_dms(aki) == []
    [posted] = [m for m in thread.messages if "Check-in time" in m.content]
    assert posted.content.startswith(f"<@{aki.id}>")
    assert aki.pinged_by(posted) and not bia.pinged_by(posted)

    refused = await bia.press(posted, "Done")
    assert refused.ephemeral and f"<@{aki.id}>'s to answer" in refused.content
    saved = await aki.press(posted, "Done")
    assert "done" in saved.content
    async with sb.bot.deps.sessions() as session:
        status = (await session.execute(select(Goal.status))).scalar_one()
    assert status == "done"


async def test_a_late_answer_still_counts(sb: Sandbox) -> None:
    aki, _bia, _thread = await pair_up(sb)
    await add_goal(aki, "finish the slides", due="this week")
    await travel(sb, MONDAY_CHECKIN)
    [dm] = checkin_dms(aki)
    # A week later, after the week closed the goal as missed, Aki answers after all.
    await travel(sb, SUNDAY_REVIEW_TOKYO + timedelta(days=1))
    async with sb.bot.deps.sessions() as session:
        assert (await session.execute(select(Goal.status))).scalar_one() == "missed"
    saved = await aki.press(dm, "Done")
    assert "Late answers count" in saved.content
    async with sb.bot.deps.sessions() as session:
        assert (await session.execute(select(Goal.status))).scalar_one() == "done"
        [checkin] = (await session.execute(select(CheckIn))).scalars().all()
    assert checkin.answer == "done" and checkin.answered_at == sb.clock.now()


async def test_a_snoozed_week_sends_nothing(sb: Sandbox) -> None:
    aki, _bia, thread = await pair_up(sb)
    await add_goal(aki, "write every day")
    snoozed = await aki.slash("checkin snooze", week="this")
    assert "Snoozed the week" in snoozed.content and "streak stays unbroken" in snoozed.content
    before = len(thread.messages)
    await travel(sb, SUNDAY_REVIEW_TOKYO + timedelta(hours=1))
    assert aki.dms() == []
    assert thread.messages[before:] == []
    # The next week is back to normal.
    await travel(sb, MONDAY_CHECKIN + timedelta(weeks=1))
    assert len(checkin_dms(aki)) == 1


async def test_goal_choices_are_validated_on_the_server(sb: Sandbox) -> None:
    aki, bia, _thread = await pair_up(sb)
    await add_goal(aki, "aki's goal")
    await add_goal(bia, "bia's goal")
    choices = await bia.autocomplete("goal done", "goal", "")
    assert [c["name"] for c in choices] == ["⏳ bia's goal"]
    async with sb.bot.deps.sessions() as session:
        akis = (
            await session.execute(select(Goal.id).where(Goal.text == "aki's goal"))
        ).scalar_one()
    # Discord doesn't enforce autocomplete: Bia types Aki's goal id by hand.
    refused = await bia.slash("goal done", goal=str(akis))
    assert refused.ephemeral and "couldn't find that goal among yours" in refused.content
    nonsense = await bia.slash("goal drop", goal="drop table goals")
    assert "Please pick one of your goals" in nonsense.content
    done = await bia.slash("goal done", goal=choices[0]["value"])
    assert "done!" in done.content
    edited = await aki.slash("goal edit", goal=str(akis), due="2026-01-09")
    assert "Updated" in edited.content


def test_a_full_goal_list_stays_within_discords_embed_limits() -> None:
    """Fifteen 200-character goals each for a member and two partners (a trio)."""

    def views(user_id: int) -> tuple[goals.GoalView, ...]:
        return tuple(
            goals.GoalView(
                id=n,
                user_id=user_id,
                text=f"{n} " + "x" * 197,
                area="writing",
                due=MONDAY_CHECKIN.date(),
                status="partly",
                deadline=MONDAY_CHECKIN,
            )
            for n in range(15)
        )

    board = goals.GoalBoard(
        user_id=1,
        mine=views(1),
        partners=((2, views(2)), (3, views(3))),
        today=MONDAY_CHECKIN.date(),
        zone="UTC",
        zone_known=True,
    )
    embeds = [e.to_dict() for e in board_embeds(board)]
    assert len(embeds) == 3
    sizes = [len(e.get("title", "")) + len(e.get("description", "")) for e in embeds]
    assert all(len(e.get("description", "")) <= 4096 for e in embeds)
    assert sum(sizes) <= 6000
    assert "more" in embeds[2]["description"]  # cut with a count, not silently


async def test_stats_show_my_weeks_in_words_and_a_picture(sb: Sandbox) -> None:
    aki, bia, _ = await pair_up(sb)
    empty = await bia.slash("stats")
    assert empty.ephemeral and "No goals yet" in empty.content and not empty.attachments

    await add_goal(aki, "write 2,000 words", due="this week", area="writing")
    await add_goal(aki, "read a chapter", due="this week", area="study")
    choices = await aki.autocomplete("goal done", "goal", "write")
    await aki.slash("goal done", goal=choices[0]["value"])
    # Aki's week is reviewed (Monday 08:00 Tokyo): the open goal is missed; she says why.
    await travel(sb, SUNDAY_REVIEW_TOKYO + timedelta(minutes=5))
    [prompt] = prompts(aki)
    why = await aki.press(prompt, "1. read a chapter")
    form = await aki.choose(why, ["work"])
    assert form.modal is not None
    await aki.submit(form.modal, {"help": "Read on the train."})
    # The next week (Monday morning in Tokyo) starts with a goal done.
    await travel(sb, datetime(2026, 1, 12, 1, 0, tzinfo=UTC))
    await add_goal(aki, "run twice", due="this week", area="fitness")
    choices = await aki.autocomplete("goal done", "goal", "run")
    await aki.slash("goal done", goal=choices[0]["value"])
    await add_goal(aki, "call the bank", due="next week")

    shown = await aki.slash("stats")
    assert shown.ephemeral
    text = shown.content
    assert "Streak: **2 weeks**" in text
    assert "✅ 2 done, 🟡 0 partly, ❌ 1 missed: **67 %** completion." in text
    assert "1 goal still open." in text
    assert "too much work ×1" in text
    assert "<t:" in text  # week dates as Discord timestamps
    [picture] = shown.attachments
    assert picture.filename == "my-weeks.png"
    assert Image.open(io.BytesIO(picture.data)).size == (720, 360)
    others = await bia.slash("stats")  # stats are their owner's alone
    assert "No goals yet" in others.content
