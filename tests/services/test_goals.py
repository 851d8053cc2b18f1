"""The accountability loop on the database (SQLite, and PostgreSQL with
PAIRBOT_TEST_DATABASE_URL): goals only partners see, check-ins laid down on each member's local
time and sent through the outbox, answers that update, notes kept whole, a partner's feedback,
the end-of-week prompt for missed goals, reasons on the agenda, and weeks off.

The clock only moves when a test moves it; the dispatcher runs with a recording messenger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.dispatch import Dispatcher
from bot.domain import goals as g
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services import goals
from bot.services.ports import OutgoingMessage, RecordingMessenger
from bot.services.profiles import ensure_member
from models import (
    CheckIn,
    Feedback,
    Goal,
    Member,
    MissedReflection,
    OutboxItem,
    Partnership,
    PartnershipMember,
)

G = 4242
AKI, BIA, CARL = 101, 202, 303  # Tokyo, São Paulo, a stranger
THREAD = 9_000
# Monday 5 January 2026, 09:00 UTC = 18:00 in Tokyo, 06:00 in São Paulo.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Goals due "this week" (Sunday 23:59) are reviewed the next morning at 08:00, local.
REVIEW_SP = datetime(2026, 1, 12, 11, 0, tzinfo=UTC)  # Monday 12 Jan, 08:00 São Paulo
REVIEW_TOKYO = datetime(2026, 1, 11, 23, 0, tzinfo=UTC)  # Monday 12 Jan, 08:00 Tokyo


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    messenger: RecordingMessenger
    dispatcher: Dispatcher
    pair_id: int

    async def run(self, fn: Any, **kwargs: Any) -> Any:
        async with unit_of_work(self.sessions) as session:
            return await fn(session, now=self.clock.now(), **kwargs)

    async def run_plain(self, fn: Any, **kwargs: Any) -> Any:
        async with unit_of_work(self.sessions) as session:
            return await fn(session, **kwargs)

    async def tick(self) -> None:
        """What the bot's tick does: the safety sweep, then claim and handle what's due (twice:
        planning work enqueues deliveries that go out on the next pass)."""
        async with unit_of_work(self.sessions) as session:
            await goals.sweep(session, now=self.clock.now())
        await self.dispatcher.run_once()
        await self.dispatcher.run_once()

    async def at(self, moment: datetime) -> None:
        """Move the clock to ``moment``, stopping (and ticking) whenever outbox work falls due
        and at least once a day, as a running bot would."""
        await self.tick()
        while self.clock.now() < moment:
            async with self.sessions() as session:
                due = await session.scalar(
                    select(func.min(OutboxItem.next_attempt_at)).where(
                        OutboxItem.state == "pending",
                        OutboxItem.next_attempt_at > self.clock.now(),
                    )
                )
            step = min(moment, self.clock.now() + timedelta(days=1))
            if due is not None:
                step = min(step, due)
            self.clock.set(step)
            await self.tick()

    async def rows(self, kind: str | None = None) -> list[OutboxItem]:
        async with self.sessions() as session:
            query = select(OutboxItem).order_by(OutboxItem.id)
            if kind:
                query = query.where(OutboxItem.kind == kind)
            return list((await session.execute(query)).scalars())

    async def goal(self, goal_id: int) -> Goal:
        async with self.sessions() as session:
            found = await session.get(Goal, goal_id)
            assert found is not None
            return found

    async def checkins(self, goal_id: int | None = None) -> list[CheckIn]:
        async with self.sessions() as session:
            query = select(CheckIn).order_by(CheckIn.id)
            if goal_id is not None:
                query = query.where(CheckIn.goal_id == goal_id)
            return list((await session.execute(query)).scalars())


def message(row: OutboxItem) -> OutgoingMessage:
    return OutgoingMessage.from_dict(row.payload["message"])


async def make_member(
    session: AsyncSession, user_id: int, zone: str | None, now: datetime
) -> Member:
    member = await ensure_member(session, guild_id=G, user_id=user_id, now=now)
    member.timezone = zone
    await session.flush()
    return member


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    """Aki in Tokyo and Bia in São Paulo, partners meeting on Tuesdays 20:00 Tokyo time
    (= Tuesdays 08:00 in São Paulo), with a private thread; Carl is someone else."""
    clock = FakeClock(START)
    async with unit_of_work(sessions) as session:
        aki = await make_member(session, AKI, "Asia/Tokyo", clock.now())
        bia = await make_member(session, BIA, "America/Sao_Paulo", clock.now())
        await make_member(session, CARL, "Europe/Berlin", clock.now())
        pair = Partnership(
            guild_id=G,
            state="active",
            source="request",
            proposed_at=clock.now(),
            started_at=clock.now(),
            thread_id=THREAD,
            meeting_weekday=1,
            meeting_time="20:00",
            meeting_zone="Asia/Tokyo",
            members=[PartnershipMember(member_id=aki.id), PartnershipMember(member_id=bia.id)],
        )
        session.add(pair)
        await session.flush()
        pair_id = pair.id
    messenger = RecordingMessenger()
    dispatcher = Dispatcher(sessions=sessions, clock=clock, messenger=messenger)
    for kind, handler in goals.due_work_handlers(clock).items():
        dispatcher.register(kind, handler)
    return World(sessions, clock, messenger, dispatcher, pair_id)


async def add(w: World, user_id: int, text: str, due: str = "this week", **kw: Any) -> int:
    view = await w.run(goals.add_goal, guild_id=G, user_id=user_id, text=text, due=due, **kw)
    return int(view.id)


# --------------------------------------------------------------------------- goals


async def test_a_goal_due_this_week_ends_on_the_members_own_sunday(world: World) -> None:
    # Sunday 11 Jan 20:00 UTC: already Monday 12 Jan in Tokyo, still Sunday in São Paulo.
    world.clock.set(datetime(2026, 1, 11, 20, 0, tzinfo=UTC))
    aki = await world.run(goals.add_goal, guild_id=G, user_id=AKI, text="run", due="this week")
    bia = await world.run(goals.add_goal, guild_id=G, user_id=BIA, text="read", due="this week")
    assert aki.due == date(2026, 1, 18)
    assert bia.due == date(2026, 1, 11)
    assert bia.deadline == datetime(2026, 1, 12, 2, 59, tzinfo=UTC)


async def test_partners_see_each_others_goals_and_nobody_else_does(world: World) -> None:
    await add(world, AKI, "write 2,000 words", area="writing")
    await add(world, BIA, "run three times", due="next week")
    await add(world, CARL, "a private goal")
    aki = await world.run(goals.list_goals, guild_id=G, user_id=AKI)
    assert [v.text for v in aki.mine] == ["write 2,000 words"]
    assert aki.mine[0].area == "writing"
    assert [(uid, [v.text for v in vs]) for uid, vs in aki.partners] == [(BIA, ["run three times"])]
    carl = await world.run(goals.list_goals, guild_id=G, user_id=CARL)
    assert [v.text for v in carl.mine] == ["a private goal"]
    assert carl.partners == ()
    everyone_seen = {v.text for v in carl.mine} | {v.text for _, vs in carl.partners for v in vs}
    assert "write 2,000 words" not in everyone_seen


async def test_goal_choices_are_the_members_own_and_other_ids_are_refused(world: World) -> None:
    mine = await add(world, AKI, "stretch daily")
    theirs = await add(world, BIA, "bia's goal")
    choices = await world.run(goals.goal_choices, guild_id=G, user_id=AKI)
    assert [c.id for c in choices] == [mine]
    for action in (goals.complete_goal, goals.drop_goal):
        for ref in (str(theirs), "not-a-number", "999999", f"{mine}; drop table"):
            with pytest.raises(NotFound):
                await world.run(action, guild_id=G, user_id=AKI, goal_ref=ref)
    with pytest.raises(NotFound):
        await world.run(goals.edit_goal, guild_id=G, user_id=AKI, goal_ref=str(theirs), text="x")
    assert (await world.goal(theirs)).status == "open"


async def test_done_edit_and_drop(world: World) -> None:
    a = await add(world, AKI, "draft chapter one")
    b = await add(world, AKI, "learn 50 kanji")
    view = await world.run(
        goals.edit_goal,
        guild_id=G,
        user_id=AKI,
        goal_ref=str(a),
        text="draft chapter 1",
        due="2026-01-20",
        area="Writing",
    )
    assert (view.text, view.due, view.area) == ("draft chapter 1", date(2026, 1, 20), "writing")
    with pytest.raises(InvalidInput):
        await world.run(goals.edit_goal, guild_id=G, user_id=AKI, goal_ref=str(a), area="knitting")
    await world.run(goals.complete_goal, guild_id=G, user_id=AKI, goal_ref=str(a))
    with pytest.raises(Conflict):
        await world.run(goals.complete_goal, guild_id=G, user_id=AKI, goal_ref=str(a))
    await world.run(goals.drop_goal, guild_id=G, user_id=AKI, goal_ref=str(b))
    assert [(await world.goal(i)).status for i in (a, b)] == ["done", "dropped"]
    assert await world.run(goals.goal_choices, guild_id=G, user_id=AKI) == []


async def test_open_goals_are_capped_so_checkins_stay_few(world: World) -> None:
    for n in range(g.MAX_LIVE_GOALS):
        await add(world, AKI, f"goal {n}")
    with pytest.raises(Conflict):
        await add(world, AKI, "one too many")


# --------------------------------------------------------------------------- check-ins


async def test_checkins_arrive_at_each_partners_local_time(world: World) -> None:
    """Aki (Tokyo) keeps the default: the day before the meeting, Monday 20:00 Tokyo. Bia (São
    Paulo) chose Sunday 18:00 her time."""
    setting = await world.run(
        goals.set_checkin_time, guild_id=G, user_id=BIA, weekday="Sunday", time="18:00"
    )
    assert setting.next_at == datetime(2026, 1, 11, 21, 0, tzinfo=UTC)  # Sun 18:00 BRT
    aki_goal = await add(world, AKI, "write 500 words a day")
    bia_goal = await add(world, BIA, "swim twice")
    aki_at = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)  # Monday 20:00 JST

    await world.at(aki_at - timedelta(minutes=1))
    assert await world.checkins() == []
    await world.at(aki_at)
    [ci] = await world.checkins()
    assert (ci.goal_id, ci.asked_for) == (aki_goal, aki_at)
    [dm] = await world.rows("checkin")
    assert (dm.user_id, dm.state, dm.delivered_via) == (AKI, "sent", "dm")
    text = message(dm)
    assert "write 500 words a day" in text.content
    assert [b.custom_id for b in text.rows[0]] == [
        g.answer_id(ci.id, "done"),
        g.answer_id(ci.id, "partly"),
        g.answer_id(ci.id, "missed"),
        g.answer_id(ci.id, "note"),
    ]
    assert dm.payload["fallback_channel_id"] == THREAD

    bia_at = datetime(2026, 1, 11, 21, 0, tzinfo=UTC)
    await world.at(bia_at - timedelta(minutes=1))
    assert [c.goal_id for c in await world.checkins()] == [aki_goal]
    await world.at(bia_at)
    assert [(c.goal_id, c.asked_for) for c in await world.checkins(bia_goal)] == [
        (bia_goal, bia_at)
    ]
    # Exactly one check-in DM per goal and occurrence, however many ticks ran.
    assert sorted(r.user_id or 0 for r in await world.rows("checkin")) == [AKI, BIA]


async def test_a_second_answer_updates_the_checkin_and_the_partner_hears_once(
    world: World,
) -> None:
    goal_id = await add(world, AKI, "write @everyone a letter <@&1> <@303>")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [ci] = await world.checkins()
    done = await world.run(goals.record_answer, checkin_id=ci.id, user_id=AKI, answer="partly")
    assert done.shared and not done.late
    await world.run(goals.record_answer, checkin_id=ci.id, user_id=AKI, answer="done")
    [ci] = await world.checkins()
    assert (ci.answer, ci.answered_at) == ("done", world.clock.now())
    assert (await world.goal(goal_id)).status == "done"

    shares = await world.rows("checkin_shared")
    assert [(r.state, r.channel_id) for r in shares] == [("pending", THREAD)]
    await world.at(world.clock.now() + goals.SHARE_DELAY)
    [share] = await world.rows("checkin_shared")
    assert share.state == "sent"
    shown = message(share)
    assert "<@101>" in shown.content and "done" in shown.content
    assert shown.ping_users == ()  # quoting @everyone and mentions pings nobody
    assert [b.custom_id for row in shown.rows for b in row] == [g.feedback_id(ci.id)]

    async with world.sessions() as session:
        pm = await session.get(PartnershipMember, (world.pair_id, (await _id(session, AKI))))
        assert pm is not None and pm.last_active_at == world.clock.now() - goals.SHARE_DELAY


async def _id(session: AsyncSession, user_id: int) -> int:
    member = (
        await session.execute(select(Member).where(Member.guild_id == G, Member.user_id == user_id))
    ).scalar_one()
    return member.id


async def test_a_4000_character_note_is_kept_whole_and_shown_within_limits(world: World) -> None:
    await add(world, BIA, "finish the essay")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [ci] = await world.checkins()
    note = ("Paragraph @everyone.\n\n" + "ñ" * 4000)[: g.NOTE_MAX]
    saved = await world.run(goals.save_note, checkin_id=ci.id, user_id=BIA, note=note)
    assert saved.note_saved and not saved.shared  # no answer yet: nothing to share
    await world.run(goals.record_answer, checkin_id=ci.id, user_id=BIA, answer="partly")
    [ci] = await world.checkins()
    assert ci.note == note and len(ci.note) == 4000
    [share] = await world.rows("checkin_shared")
    fitted = message(share).fitted()
    assert len(fitted.content) <= 2000
    assert fitted.embeds[0]["description"] == note  # whole, in a 4,096-character description
    total = sum(len(e.get("title", "")) + len(e.get("description", "")) for e in fitted.embeds)
    assert total <= 6000
    with pytest.raises(InvalidInput):
        await world.run(goals.save_note, checkin_id=ci.id, user_id=BIA, note="x" * 4001)


async def test_only_the_goals_owner_answers_its_checkin(world: World) -> None:
    await add(world, AKI, "stretch")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [ci] = await world.checkins()
    for user in (BIA, CARL):
        with pytest.raises(NotAllowed):
            await world.run(goals.record_answer, checkin_id=ci.id, user_id=user, answer="done")
        with pytest.raises(NotAllowed):
            await world.run(goals.save_note, checkin_id=ci.id, user_id=user, note="hi")
    with pytest.raises(InvalidInput):
        await world.run(goals.record_answer, checkin_id=ci.id, user_id=AKI, answer="maybe")


async def test_a_late_answer_counts_but_never_overrides_a_newer_one(world: World) -> None:
    goal_id = await add(world, AKI, "practise piano", due="next week")
    first = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    await world.at(first)
    await world.at(first + timedelta(days=7))
    old, new = await world.checkins(goal_id)
    assert (old.asked_for, new.asked_for) == (first, first + timedelta(days=7))
    await world.run(goals.record_answer, checkin_id=new.id, user_id=AKI, answer="partly")
    # Days later, past the goal's deadline, Aki answers the older check-in too.
    world.clock.set(datetime(2026, 1, 19, 3, 0, tzinfo=UTC))
    late = await world.run(goals.record_answer, checkin_id=old.id, user_id=AKI, answer="missed")
    assert late.late
    old, new = await world.checkins(goal_id)
    assert (old.answer, new.answer) == ("missed", "partly")
    assert (await world.goal(goal_id)).status == "partly"
    late = await world.run(goals.record_answer, checkin_id=new.id, user_id=AKI, answer="done")
    assert late.late and (await world.goal(goal_id)).status == "done"


async def test_dropped_and_finished_goals_get_no_checkin(world: World) -> None:
    a = await add(world, AKI, "a")
    b = await add(world, AKI, "b")
    c = await add(world, AKI, "c")
    await world.run(goals.drop_goal, guild_id=G, user_id=AKI, goal_ref=str(a))
    await world.run(goals.complete_goal, guild_id=G, user_id=AKI, goal_ref=str(b))
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    assert [ci.goal_id for ci in await world.checkins()] == [c]


async def test_closed_dms_fall_back_to_the_pairs_thread(world: World) -> None:
    world.messenger.closed_dms.add(AKI)
    await add(world, AKI, "write")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [row] = await world.rows("checkin")
    assert (row.state, row.delivered_via) == ("sent", "fallback")
    assert [(where, target) for where, target, _ in world.messenger.sent] == [("channel", THREAD)]
    async with world.sessions() as session:
        member = await session.get(Member, await _id(session, AKI))
        assert member is not None and member.dms_closed


async def test_changing_the_checkin_time_moves_the_coming_checkins(world: World) -> None:
    await add(world, AKI, "meditate")
    planned = [r.due_at for r in await world.rows("checkin_plan") if r.state == "pending"]
    assert planned == [datetime(2026, 1, 5, 11, 0, tzinfo=UTC)]
    setting = await world.run(
        goals.set_checkin_time, guild_id=G, user_id=AKI, weekday="Wednesday", time="07:30"
    )
    assert setting.own_choice
    assert setting.next_at == datetime(2026, 1, 6, 22, 30, tzinfo=UTC)  # Wed 07:30 JST
    pending = [r.due_at for r in await world.rows("checkin_plan") if r.state == "pending"]
    assert pending == [setting.next_at]
    await world.at(datetime(2026, 1, 6, 22, 29, tzinfo=UTC))
    assert await world.checkins() == []
    await world.at(datetime(2026, 1, 6, 22, 30, tzinfo=UTC))
    assert len(await world.checkins()) == 1
    back = await world.run(goals.set_checkin_time, guild_id=G, user_id=AKI, weekday=None, time=None)
    assert "the day before your meeting" in back.description


async def test_a_plan_row_from_an_old_rule_does_nothing(world: World) -> None:
    await add(world, AKI, "meditate")
    async with unit_of_work(world.sessions) as session:
        member = await session.get(Member, await _id(session, AKI))
        assert member is not None
        # Changed behind the service's back: the laid-down Monday rows no longer match.
        member.checkin_weekday, member.checkin_time = 2, "09:00"
    await world.at(datetime(2026, 1, 5, 11, 30, tzinfo=UTC))
    assert await world.checkins() == []
    assert {r.state for r in await world.rows("checkin_plan") if r.due_at <= world.clock.now()} == {
        "done"
    }


# --------------------------------------------------------------------------- feedback


async def test_the_partner_gives_feedback_and_it_reaches_the_member(world: World) -> None:
    await add(world, AKI, "ship the demo")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [ci] = await world.checkins()
    await world.run(goals.record_answer, checkin_id=ci.id, user_id=AKI, answer="missed")
    assert await world.run_plain(goals.feedback_target, checkin_id=ci.id, from_user_id=BIA) == (
        "ship the demo"
    )
    with pytest.raises(NotAllowed):
        await world.run_plain(goals.feedback_target, checkin_id=ci.id, from_user_id=AKI)
    with pytest.raises(NotAllowed):
        await world.run(goals.give_feedback, checkin_id=ci.id, from_user_id=CARL, text="meh")
    with pytest.raises(InvalidInput):
        await world.run(goals.give_feedback, checkin_id=ci.id, from_user_id=BIA, text="   ")
    words = "You'll get it next week @everyone! What if you start with 20 minutes?"
    await world.run(goals.give_feedback, checkin_id=ci.id, from_user_id=BIA, text=words)
    await world.tick()
    [row] = await world.rows("goal_feedback")
    assert (row.user_id, row.state, row.delivered_via) == (AKI, "sent", "dm")
    shown = message(row)
    assert "<@202>" in shown.content and shown.embeds[0]["description"] == words
    assert shown.ping_users == ()
    async with world.sessions() as session:
        [fb] = (await session.execute(select(Feedback))).scalars().all()
        assert fb.text == words


# --------------------------------------------------------------------------- the week's end


async def test_missed_and_unanswered_goals_get_the_weekly_prompt(world: World) -> None:
    missed = await add(world, BIA, "write the report")
    silent = await add(world, BIA, "call grandma")
    done = await add(world, BIA, "run 5 km")
    later = await add(world, BIA, "plan the trip", due="next week")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    by_goal = {ci.goal_id: ci for ci in await world.checkins()}
    await world.run(
        goals.record_answer, checkin_id=by_goal[missed].id, user_id=BIA, answer="missed"
    )
    await world.run(goals.record_answer, checkin_id=by_goal[done].id, user_id=BIA, answer="done")

    review = REVIEW_SP
    # Issue 12: the prompt used to close these goals at 21:30 on the Sunday they were due
    # at 23:59. Now nothing closes before the due moment, and the prompt comes after it.
    await world.at(datetime(2026, 1, 12, 2, 58, tzinfo=UTC))  # Sunday 23:58 in São Paulo
    assert [(await world.goal(i)).status for i in (silent, later)] == ["open", "open"]
    await world.at(review - timedelta(minutes=1))
    assert await world.rows("weekly_prompt") == []
    await world.at(review)
    assert [(await world.goal(i)).status for i in (missed, silent, done, later)] == [
        "missed",
        "missed",
        "done",
        "open",
    ]
    prompts = [r for r in await world.rows("weekly_prompt") if r.user_id == BIA]
    assert len(prompts) == 1 and prompts[0].state == "sent"
    shown = message(prompts[0])
    assert "write the report" in shown.content and "call grandma" in shown.content
    assert "run 5 km" not in shown.content and "plan the trip" not in shown.content
    assert [b.custom_id for row in shown.rows for b in row] == [g.why_id(missed), g.why_id(silent)]
    # Aki had no goals: no prompt for Aki.
    assert all(r.user_id != AKI for r in await world.rows("weekly_prompt"))


async def test_reasons_are_shared_and_open_the_next_meeting_agenda(world: World) -> None:
    goal_id = await add(world, BIA, "write the report <@101>")
    kept = await add(world, AKI, "stretch")
    await world.at(REVIEW_SP)
    assert (await world.goal(goal_id)).status == "missed"
    await world.run(goals.record_reason, goal_id=goal_id, user_id=BIA, reason="work")
    await world.run(
        goals.record_reason,
        goal_id=goal_id,
        user_id=BIA,
        reason="underestimated",
        reflection="Split it into two evenings.",
    )
    async with world.sessions() as session:
        [row] = (await session.execute(select(MissedReflection))).scalars().all()
    assert (row.reason, row.reflection, row.week_start) == (
        "underestimated",
        "Split it into two evenings.",
        date(2026, 1, 5),
    )
    with pytest.raises(NotAllowed):
        await world.run(goals.record_reason, goal_id=goal_id, user_id=AKI, reason="work")
    with pytest.raises(InvalidInput):
        await world.run(goals.record_reason, goal_id=goal_id, user_id=BIA, reason="lazy")

    await world.at(world.clock.now() + goals.SHARE_DELAY)
    [share] = await world.rows("reflection_shared")
    assert (share.channel_id, share.state) == (THREAD, "sent")
    shown = message(share)
    assert "Underestimated it" in shown.content
    assert shown.embeds[0]["description"] == "Split it into two evenings."

    async with world.sessions() as session:
        agenda = await goals.agenda_for(
            session, partnership_id=world.pair_id, now=world.clock.now()
        )
        text = await goals.agenda_text(session, partnership_id=world.pair_id, now=world.clock.now())
    assert [m.user_id for m in agenda.members] == [AKI, BIA]
    assert text.splitlines()[0].startswith("**1. Missed goals")
    assert "<@202>: write the report <@101> — *Underestimated it*" in text
    assert "Split it into two evenings." in text
    assert "stretch" in text
    assert (await world.goal(kept)).status == "missed"  # Aki never answered either


async def test_a_goal_marked_done_since_needs_no_reflection(world: World) -> None:
    goal_id = await add(world, BIA, "finish slides")
    await world.at(REVIEW_SP)
    await world.run(goals.complete_goal, guild_id=G, user_id=BIA, goal_ref=str(goal_id))
    with pytest.raises(Conflict):
        await world.run(goals.record_reason, goal_id=goal_id, user_id=BIA, reason="work")


async def test_a_snoozed_week_sends_nothing_and_counts_nothing_as_missed(world: World) -> None:
    goal_id = await add(world, AKI, "write")
    result = await world.run(goals.snooze, guild_id=G, user_id=AKI, week="this")
    assert result.week_start == date(2026, 1, 5)
    assert result.starts_at == datetime(2026, 1, 4, 15, 0, tzinfo=UTC)  # Monday 00:00 JST
    await world.at(REVIEW_TOKYO + timedelta(minutes=15))  # past Aki's Monday-morning review
    assert await world.checkins() == []
    assert await world.rows("checkin") == [] and await world.rows("weekly_prompt") == []
    assert world.messenger.sent == []
    assert (await world.goal(goal_id)).status == "open"
    async with world.sessions() as session:
        weeks = await goals.snoozed_weeks(session, member_id=await _id(session, AKI))
    assert weeks == {date(2026, 1, 5)}
    # The next week is not snoozed: its check-in comes.
    await world.at(datetime(2026, 1, 12, 11, 0, tzinfo=UTC))
    assert len(await world.checkins()) == 1


async def test_snoozing_calls_back_a_checkin_already_on_its_way(world: World) -> None:
    await add(world, AKI, "write")
    at = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    world.clock.set(at)
    # The plan ran (check-in enqueued) but the DM hasn't gone yet.
    [plan] = [r for r in await world.rows("checkin_plan") if r.due_at == at]
    await world.dispatcher.run_once()
    assert [r.state for r in await world.rows("checkin")] == ["pending"]
    await world.run(goals.snooze, guild_id=G, user_id=AKI, week="this")
    await world.tick()
    assert await world.rows("checkin") == [] and world.messenger.sent == []
    undone = await world.run(goals.snooze, guild_id=G, user_id=AKI, week="this", undo=True)
    assert undone.undone
    with pytest.raises(NotFound):
        await world.run(goals.snooze, guild_id=G, user_id=AKI, week="this", undo=True)
    assert plan.kind == "checkin_plan"


async def test_the_prompt_names_a_pattern_after_a_few_weeks(world: World) -> None:
    """Bia keeps missing writing goals set for Mondays and finishing the rest."""
    for week in range(4):
        monday = START + timedelta(weeks=week)
        world.clock.set(max(world.clock.now(), monday))
        writing = await add(
            world, BIA, f"write chapter {week}", due=(monday.date()).isoformat(), area="writing"
        )
        other = await add(world, BIA, f"run {week}", area="fitness")
        await world.run(goals.complete_goal, guild_id=G, user_id=BIA, goal_ref=str(other))
        await world.at(REVIEW_SP + timedelta(weeks=week))
        assert (await world.goal(writing)).status == "missed"
    prompts = [r for r in await world.rows("weekly_prompt") if r.user_id == BIA]
    assert len(prompts) == 4
    assert "outside view" not in message(prompts[0]).content
    assert (
        "🔎 An outside view: All of your last 3 misses were writing goals set for Mondays."
        in message(prompts[2]).content
    )
    assert "All of your last 4 misses were writing goals set for Mondays." in (
        message(prompts[3]).content
    )


async def test_a_holiday_week_keeps_the_streak(world: World) -> None:
    for n in range(3):
        if n == 1:
            await world.run(goals.snooze, guild_id=G, user_id=AKI, week="this")
        else:
            goal_id = await add(world, AKI, f"week {n}")
            await world.run(goals.complete_goal, guild_id=G, user_id=AKI, goal_ref=str(goal_id))
        world.clock.set(world.clock.now() + timedelta(weeks=1))
    async with world.sessions() as session:
        streak = await goals.streak_for(
            session, member_id=await _id(session, AKI), now=world.clock.now()
        )
    assert streak == 2


async def test_privacy_deletion_calls_back_thread_posts_that_quote_the_member(world: World) -> None:
    goal_id = await add(world, AKI, "private words")
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    [ci] = await world.checkins()
    await world.run(goals.save_note, checkin_id=ci.id, user_id=AKI, note="very private")
    await world.run(goals.record_answer, checkin_id=ci.id, user_id=AKI, answer="missed")
    world.clock.set(datetime(2026, 1, 12, 3, 0, tzinfo=UTC))
    await world.run(goals.record_reason, goal_id=goal_id, user_id=AKI, reason="family")
    assert {r.kind for r in await world.rows() if r.state == "pending" and r.channel_id} == {
        "checkin_shared",
        "reflection_shared",
    }
    async with unit_of_work(world.sessions) as session:
        removed = await goals.forget_member_goals(session, member_id=await _id(session, AKI))
    assert removed == 2
    assert [r for r in await world.rows() if r.state == "pending" and r.channel_id] == []


async def test_a_goal_still_running_is_not_reflected_on(world: World) -> None:
    goal_id = await add(world, AKI, "long project", due="next week")
    with pytest.raises(Conflict) as caught:
        await world.run(goals.record_reason, goal_id=goal_id, user_id=AKI, reason="work")
    assert "still on" in caught.value.user_message


# --------------------------------------------------------------------------- issue 12


async def test_ids_out_of_the_database_range_in_buttons_and_forms_are_not_found(
    world: World,
) -> None:
    """A forged or stale ``custom_id`` (or a typed id) beyond PostgreSQL's integer range must
    be a polite "not found", never a driver error (issue 12: the unexpected-error reply)."""
    goal_id = await add(world, AKI, "real goal")
    for huge in (10**20, 2**31, 2**63 - 1):
        for call in (
            world.run(goals.record_answer, checkin_id=huge, user_id=AKI, answer="done"),
            world.run(goals.save_note, checkin_id=huge, user_id=AKI, note="hi"),
            world.run_plain(goals.checkin_note, checkin_id=huge, user_id=AKI),
            world.run_plain(goals.feedback_target, checkin_id=huge, from_user_id=BIA),
            world.run(goals.give_feedback, checkin_id=huge, from_user_id=BIA, text="hi"),
            world.run(goals.reflection_goal, goal_id=huge, user_id=AKI),
            world.run(goals.record_reason, goal_id=huge, user_id=AKI, reason="work"),
            world.run(goals.complete_goal, guild_id=G, user_id=AKI, goal_ref=str(huge)),
            world.run(goals.edit_goal, guild_id=G, user_id=AKI, goal_ref=str(huge), text="x"),
            world.run(goals.drop_goal, guild_id=G, user_id=AKI, goal_ref=str(huge)),
        ):
            with pytest.raises(NotFound):
                await call
    assert (await world.goal(goal_id)).status == "open"


async def test_planning_is_per_member_and_no_tick_reads_everyone(world: World) -> None:
    """Issue 12 (speed): planning rows are laid down when something changes and chained when
    they run; the tick's sweep touches nobody while planning is healthy."""
    await add(world, AKI, "one goal")
    plans = [r for r in await world.rows() if r.kind in ("checkin_plan", "goal_review")]
    assert sorted((r.kind, r.state) for r in plans) == [
        ("checkin_plan", "pending"),
        ("goal_review", "pending"),
    ]
    async with unit_of_work(world.sessions) as session:
        assert await goals.sweep(session, now=world.clock.now()) == 0
    # The check-in row runs and plans what is next: the goal was asked about and the next
    # regular check-in is after it is due, so only its review stays.
    await world.at(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))
    assert len(await world.checkins()) == 1
    pending = [r for r in await world.rows() if r.state == "pending" and r.kind in (
        "checkin_plan", "goal_review")]
    assert [(r.kind, r.due_at) for r in pending] == [("goal_review", REVIEW_TOKYO)]
    # Planning rows lost (say, deleted by hand): the sweep finds the overdue member again.
    async with unit_of_work(world.sessions) as session:
        for kind in ("checkin_plan", "goal_review"):
            await goals.outbox.cancel_pending(session, kind=kind, target="m1")
    world.clock.set(datetime(2026, 1, 13, 0, 0, tzinfo=UTC))  # a day past Sunday 23:59 Tokyo
    async with unit_of_work(world.sessions) as session:
        assert await goals.sweep(session, now=world.clock.now()) == 1
    await world.at(world.clock.now() + timedelta(minutes=5))
    assert (await world.goal(1)).status == "missed"


async def test_a_pause_moves_the_cycle_and_never_closes_an_unasked_goal(world: World) -> None:
    """Carl has no partner (the calendar week) and pauses for ten days: no check-in, no
    prompt, and his goal moves to the week after the break instead of closing as missed."""
    from bot.services import pool

    goal_id = await add(world, CARL, "learn the chords")
    async with unit_of_work(world.sessions) as session:
        carl = await session.get(Member, await _id(session, CARL))
        assert carl is not None
        carl.pool_status = "seeking"
    until = START + timedelta(days=10)
    await world.run(pool.pause, guild_id=G, user_id=CARL, until=until)
    first_due = (await world.goal(goal_id)).due_at
    assert first_due == datetime(2026, 1, 11, 22, 59, tzinfo=UTC)  # Sunday 23:59 Berlin
    await world.at(until)
    assert await world.checkins() == [] and await world.rows("weekly_prompt") == []
    moved = await world.goal(goal_id)
    assert moved.status == "open" and moved.due_at == first_due + timedelta(days=7)
    await world.run(pool.resume_due_pauses)
    # Back from the break: asked before the new due moment, closed only after it.
    await world.at(moved.due_at - timedelta(minutes=1))
    [asked] = await world.checkins(goal_id)
    assert asked.asked_for < moved.due_at
    assert (await world.goal(goal_id)).status == "open"
    await world.at(moved.due_at + timedelta(hours=10))
    assert (await world.goal(goal_id)).status == "missed"
    [prompt] = await world.rows("weekly_prompt")
    assert prompt.created_at > moved.due_at
