"""Partnerships in the database, driven by a moved clock and the real dispatcher: proposals
accepted, declined and expired; meetings agreed in one zone and delivered at the right instant
across daylight-saving changes; trials, endings, blocks, reports and quiet partners. Runs on
SQLite and, with PAIRBOT_TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import FakeClock
from bot.db import unit_of_work
from bot.dispatch import Dispatcher
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services import outbox, partnerships, pool
from bot.services.outbox import DueWork
from bot.services.ports import DmClosed, OutgoingMessage, Sent
from bot.services.posts import POST_SYNC
from bot.services.profiles import (
    PrivateChanges,
    ProfileChanges,
    find_member,
    update_private,
    update_profile,
)
from models import (
    Goal,
    GuildSettings,
    Meeting,
    Member,
    MissedReflection,
    OutboxItem,
    Partnership,
    PartnershipMember,
    Report,
)

G = 4242
PAIR_CHANNEL = 900
MOD_CHANNEL = 901
THREAD_BASE = 50_000
BERLIN_USER, NY_USER, THIRD_USER = 11, 22, 33
SECRET = "my partner snores on calls"


# --------------------------------------------------------------------------- a small world


@dataclass
class Delivery:
    where: str  # "dm" or "channel"
    target: int
    message: OutgoingMessage
    at: datetime


@dataclass
class ContentMessenger:
    """Keeps what was sent (with its text), de-duplicating by nonce as Discord does."""

    clock: FakeClock
    closed_dms: set[int] = field(default_factory=set)
    sent: list[Delivery] = field(default_factory=list)
    by_nonce: dict[str, Sent] = field(default_factory=dict)

    async def send_dm(self, *, user_id: int, message: OutgoingMessage, nonce: str) -> Sent:
        if user_id in self.closed_dms:
            raise DmClosed("closed")
        return self._send("dm", user_id, message, nonce)

    async def send_to_channel(
        self, *, channel_id: int, message: OutgoingMessage, nonce: str
    ) -> Sent:
        return self._send("channel", channel_id, message, nonce)

    def _send(self, where: str, target: int, message: OutgoingMessage, nonce: str) -> Sent:
        if nonce in self.by_nonce:
            return self.by_nonce[nonce]
        sent = Sent(message_id=len(self.by_nonce) + 1, channel_id=target)
        self.by_nonce[nonce] = sent
        self.sent.append(Delivery(where, target, message, self.clock.now()))
        return sent

    def to(self, where: str, target: int) -> list[str]:
        return [d.message.content for d in self.sent if d.where == where and d.target == target]

    def texts(self) -> str:
        return "\n".join(d.message.content for d in self.sent)


class World:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.messenger = ContentMessenger(clock)
        self.dispatcher = Dispatcher(sessions=sessions, clock=clock, messenger=self.messenger)
        for kind, handler in partnerships.work_handlers(clock).items():
            self.dispatcher.register(kind, handler)
        self.dispatcher.register("space_open", self._open_space)
        self.dispatcher.register("space_close", self._close_space)
        self.closed_threads: list[int] = []
        self.private_threads_possible = True

    async def _open_space(self, session: AsyncSession, work: DueWork) -> None:
        """What ``cogs.pairs`` does, minus Discord: a thread per proposal (or DMs)."""
        pid = int(work.payload["partnership_id"])
        card = await partnerships.proposal_card(session, partnership_id=pid, now=self.clock.now())
        if card is None:
            return
        thread = THREAD_BASE + pid if self.private_threads_possible else None
        await partnerships.record_space(
            session, partnership_id=pid, thread_id=thread, now=self.clock.now()
        )

    async def _close_space(self, session: AsyncSession, work: DueWork) -> None:
        self.closed_threads.append(int(work.payload["thread_id"]))

    async def tick(self) -> None:
        await self.dispatcher.run_once()

    async def at(self, moment: datetime) -> None:
        """Move the clock to ``moment`` and run two ticks (a handler's deliveries go out on the
        tick after it ran)."""
        assert moment >= self.clock.now()
        self.clock.set(moment)
        await self.tick()
        await self.tick()

    async def settings(self, **values: Any) -> None:
        async with unit_of_work(self.sessions) as s:
            from bot.services.guilds import get_settings

            settings = await get_settings(s, guild_id=G, now=self.clock.now())
            for name, value in values.items():
                setattr(settings, name, value)

    async def member(self, user_id: int, zone: str, availability: str) -> int:
        async with unit_of_work(self.sessions) as s:
            await update_profile(
                s,
                guild_id=G,
                user_id=user_id,
                changes=ProfileChanges(
                    timezone=zone,
                    availability=availability,
                    goal_areas="writing",
                    intro=f"I am member {user_id}.",
                    rhythm="weekly",
                    languages="English",
                ),
                now=self.clock.now(),
                display_name=f"Member{user_id}",
            )
            await update_private(
                s,
                guild_id=G,
                user_id=user_id,
                changes=PrivateChanges(gender="woman", age_bracket="35-44"),
                now=self.clock.now(),
            )
            await pool.join_pool(s, guild_id=G, user_id=user_id, now=self.clock.now())
            found = await find_member(s, guild_id=G, user_id=user_id)
            assert found is not None
            return found.id

    async def pair(self) -> int:
        """A Berlin member and a New York member, proposed by a round."""
        a = await self.member(BERLIN_USER, "Europe/Berlin", "Mon-Fri 18:00-21:00")
        b = await self.member(NY_USER, "America/New_York", "Mon-Fri 12:00-15:00")
        async with unit_of_work(self.sessions) as s:
            p = await partnerships.propose(
                s,
                guild_id=G,
                member_ids=[a, b],
                source="round",
                now=self.clock.now(),
                explanation={"shared_areas": ["writing"], "languages": ["English"]},
            )
            pid = p.id
        await self.tick()
        return pid

    async def accept_both(self, pid: int) -> None:
        for user in (BERLIN_USER, NY_USER):
            async with unit_of_work(self.sessions) as s:
                await partnerships.decide(
                    s, partnership_id=pid, user_id=user, accept=True, now=self.clock.now()
                )
        await self.tick()

    async def meet_tuesdays_in_berlin(self) -> None:
        """The Berlin member sets the pair's meeting: Tuesdays 18:00 Berlin time."""
        async with unit_of_work(self.sessions) as s:
            await partnerships.set_meeting(
                s,
                guild_id=G,
                user_id=BERLIN_USER,
                weekday=1,
                time_text="18:00",
                zone="Europe/Berlin",
                now=self.clock.now(),
            )

    async def partnership(self, pid: int) -> Partnership:
        async with self.sessions() as s:
            found = await s.get(Partnership, pid)
            assert found is not None
            return found

    async def rows(self, kind: str | None = None) -> list[OutboxItem]:
        async with self.sessions() as s:
            query = select(OutboxItem).order_by(OutboxItem.due_at, OutboxItem.id)
            if kind is not None:
                query = query.where(OutboxItem.kind == kind)
            return list((await s.execute(query)).scalars())

    async def members(self) -> dict[int, Member]:
        async with self.sessions() as s:
            return {m.user_id: m for m in (await s.execute(select(Member))).scalars()}


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> World:
    w = World(sessions, clock)
    await w.settings(pair_channel_id=PAIR_CHANNEL, mod_channel_id=MOD_CHANNEL)
    return w


def thread(pid: int) -> int:
    return THREAD_BASE + pid


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --------------------------------------------------------------------------- proposals


async def test_a_proposal_takes_both_out_of_the_pool_and_opens_a_space(world: World) -> None:
    pid = await world.pair()
    p = await world.partnership(pid)
    assert p.state == "proposed" and p.thread_id == thread(pid)
    assert p.expires_at == world.clock.now() + timedelta(hours=72)
    members = await world.members()
    assert {m.pool_status for m in members.values()} == {"idle"}
    [expiry] = await world.rows("proposal_expiry")
    assert expiry.due_at == p.expires_at and expiry.state == "pending"


async def test_the_proposal_card_shows_public_reasons_slots_in_the_overlap_and_nothing_private(
    world: World,
) -> None:
    a = await world.member(BERLIN_USER, "Europe/Berlin", "Mon-Fri 18:00-21:00")
    b = await world.member(NY_USER, "America/New_York", "Mon-Fri 12:00-15:00")
    async with unit_of_work(world.sessions) as s:
        p = await partnerships.propose(
            s,
            guild_id=G,
            member_ids=[a, b],
            source="round",
            now=world.clock.now(),
            explanation={"shared_areas": ["writing"]},
        )
        card = await partnerships.proposal_card(s, partnership_id=p.id, now=world.clock.now())
    assert card is not None
    assert card.pair_channel_id == PAIR_CHANNEL
    assert set(card.user_ids) == {BERLIN_USER, NY_USER}
    text = card.thread_text
    assert "<@11>" in text and "<@22>" in text and "writing" in text
    assert "I am member 22." in text
    # Three suggested times, inside 18:00-21:00 Berlin on weekdays, on the hour.
    stamps = [int(x) for x in _stamps(text.split("Meeting times")[1], "F")][:3]
    assert len(stamps) == 3
    for stamp in stamps:
        local = datetime.fromtimestamp(stamp, UTC).astimezone(_zone("Europe/Berlin"))
        assert local.weekday() < 5 and 18 <= local.hour <= 20 and local.minute == 0
        assert local.hour * 60 + 45 <= 21 * 60
    for private in ("woman", "35-44"):
        assert private not in text and all(private not in t for t in card.dm_texts.values())
    # The DM fallback shows each reader the other's profile, not their own.
    assert "I am member 22." in card.dm_texts[BERLIN_USER]
    assert "I am member 11." not in card.dm_texts[BERLIN_USER]


def _stamps(text: str, style: str) -> list[str]:
    import re

    return re.findall(rf"<t:(\d+):{style}>", text)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


async def test_a_pair_from_an_accepted_request_starts_its_trial_without_a_second_accept(
    world: World,
) -> None:
    """Regression: a pair formed from a forum request had to accept twice (the author in the
    DM, then both again in the thread). Asking and accepting are both partners choosing."""
    await world.member(BERLIN_USER, "Europe/Berlin", "Mon-Fri 18:00-21:00")
    await world.member(NY_USER, "America/New_York", "Mon-Fri 12:00-15:00")
    async with unit_of_work(world.sessions) as s:
        outcome = await pool.request_partnership(
            s,
            guild_id=G,
            requester_user_id=NY_USER,
            author_user_id=BERLIN_USER,
            now=world.clock.now(),
        )
    async with unit_of_work(world.sessions) as s:
        _, created = await pool.decide_request(
            s,
            guild_id=G,
            request_id=outcome.request_id,
            author_user_id=BERLIN_USER,
            accept=True,
            now=world.clock.now(),
        )
        assert created is not None
        pid = created.id
    await world.tick()
    async with world.sessions() as s:
        answers = (
            (
                await s.execute(
                    select(PartnershipMember.accepted).where(
                        PartnershipMember.partnership_id == pid
                    )
                )
            )
            .scalars()
            .all()
        )
    assert answers == [True, True]
    partnership = await world.partnership(pid)
    assert partnership.state == "trial" and partnership.started_at == world.clock.now()
    async with unit_of_work(world.sessions) as s:
        with pytest.raises(Conflict):
            await partnerships.decide(
                s, partnership_id=pid, user_id=NY_USER, accept=True, now=world.clock.now()
            )


async def test_both_accepting_starts_the_trial(world: World) -> None:
    pid = await world.pair()
    async with unit_of_work(world.sessions) as s:
        first = await partnerships.decide(
            s, partnership_id=pid, user_id=BERLIN_USER, accept=True, now=world.clock.now()
        )
    assert first.outcome == "waiting" and first.others == (NY_USER,)
    with pytest.raises(Conflict, match="already accepted"):
        async with unit_of_work(world.sessions) as s:
            await partnerships.decide(
                s, partnership_id=pid, user_id=BERLIN_USER, accept=True, now=world.clock.now()
            )
    with pytest.raises(NotAllowed):
        async with unit_of_work(world.sessions) as s:
            await partnerships.decide(
                s, partnership_id=pid, user_id=THIRD_USER, accept=True, now=world.clock.now()
            )
    world.clock.advance(timedelta(hours=5))
    async with unit_of_work(world.sessions) as s:
        second = await partnerships.decide(
            s, partnership_id=pid, user_id=NY_USER, accept=True, now=world.clock.now()
        )
    assert second.outcome == "trial"
    p = await world.partnership(pid)
    assert p.state == "trial" and p.started_at == world.clock.now()
    assert p.trial_ends_at == world.clock.now() + timedelta(days=14)
    assert [r.state for r in await world.rows("proposal_expiry")] == []  # cancelled
    choices = await world.rows("trial_choice")
    assert len(choices) == 2 and {r.due_at for r in choices} == {p.trial_ends_at}
    await world.tick()
    thread_news = world.messenger.to("channel", thread(pid))
    assert any("accepted" in t for t in thread_news)
    assert any("you're partners" in t for t in thread_news)
    # The expiry moment passes harmlessly.
    await world.at(world.clock.now() + timedelta(hours=80))
    assert (await world.partnership(pid)).state == "trial"


async def test_a_decline_is_kind_its_reason_stays_private_and_both_return_with_priority(
    world: World,
) -> None:
    pid = await world.pair()
    async with unit_of_work(world.sessions) as s:
        decision = await partnerships.decide(
            s,
            partnership_id=pid,
            user_id=NY_USER,
            accept=False,
            reason=SECRET,
            now=world.clock.now(),
        )
    assert decision.outcome == "declined"
    await world.tick()
    p = await world.partnership(pid)
    assert p.state == "ended" and p.end_reason == "declined"
    members = await world.members()
    for user in (BERLIN_USER, NY_USER):
        assert members[user].pool_status == "seeking" and members[user].priority is True
    async with world.sessions() as s:
        syncs = (
            await s.execute(select(OutboxItem.user_id).where(OutboxItem.kind == POST_SYNC.kind))
        ).scalars()
        assert {BERLIN_USER, NY_USER} <= set(syncs)  # both posts reopen through the outbox
    assert any("won't go ahead" in t for t in world.messenger.to("dm", BERLIN_USER))
    assert world.messenger.to("dm", NY_USER) == []  # the decliner is answered by the button
    async with world.sessions() as s:
        stored = (
            (
                await s.execute(
                    select(PartnershipMember.private_reason).where(
                        PartnershipMember.partnership_id == pid
                    )
                )
            )
            .scalars()
            .all()
        )
    assert SECRET in stored
    assert all(SECRET not in json.dumps(r.payload) for r in await world.rows())
    assert SECRET not in world.messenger.texts()
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    assert world.closed_threads == [thread(pid)]
    with pytest.raises(Conflict):
        async with unit_of_work(world.sessions) as s:
            await partnerships.decide(
                s, partnership_id=pid, user_id=BERLIN_USER, accept=True, now=world.clock.now()
            )


async def test_an_unanswered_proposal_expires_on_the_tick(world: World) -> None:
    pid = await world.pair()
    async with unit_of_work(world.sessions) as s:
        await partnerships.decide(
            s, partnership_id=pid, user_id=BERLIN_USER, accept=True, now=world.clock.now()
        )
    await world.at(world.clock.now() + timedelta(hours=71, minutes=59))
    assert (await world.partnership(pid)).state == "proposed"
    await world.at(world.clock.now() + timedelta(minutes=1))
    p = await world.partnership(pid)
    assert p.state == "ended" and p.end_reason == "expired"
    members = await world.members()
    assert all(
        members[u].pool_status == "seeking" and members[u].priority for u in (BERLIN_USER, NY_USER)
    )
    for user in (BERLIN_USER, NY_USER):
        [text] = [t for t in world.messenger.to("dm", user) if "expired" in t]
        assert "priority" in text
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    assert world.closed_threads == [thread(pid)]
    async with unit_of_work(world.sessions) as s:
        assert not await partnerships.expire_proposal(s, partnership_id=pid, now=world.clock.now())


async def test_members_with_a_partner_or_a_block_cannot_be_proposed(world: World) -> None:
    pid = await world.pair()
    c = await world.member(THIRD_USER, "Europe/Paris", "Mon-Fri 18:00-21:00")
    members = await world.members()
    with pytest.raises(Conflict):
        async with unit_of_work(world.sessions) as s:
            await partnerships.propose(
                s,
                guild_id=G,
                member_ids=[members[BERLIN_USER].id, c],
                source="round",
                now=world.clock.now(),
            )
    with pytest.raises(InvalidInput):
        async with unit_of_work(world.sessions) as s:
            await partnerships.propose(
                s, guild_id=G, member_ids=[c, c], source="round", now=world.clock.now()
            )
    assert (await world.partnership(pid)).state == "proposed"


# --------------------------------------------------------------------------- meetings


async def test_a_meeting_set_in_new_york_time_fires_at_the_right_instants_across_dst(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    """Berlin and New York agree Tuesdays 12:00 New York time. The US moves its clocks on
    8 March 2026, Europe on 29 March: in between, Berlin sees the meeting an hour earlier."""
    world.clock.set(utc(2026, 2, 23, 9, 0))  # a Monday
    pid = await world.pair()
    await world.accept_both(pid)
    async with unit_of_work(sessions) as s:
        plan = await partnerships.set_meeting(
            s,
            guild_id=G,
            user_id=BERLIN_USER,
            weekday=1,
            time_text="12:00",
            zone="America/New_York",
            now=world.clock.now(),
            minutes=45,
        )
    assert plan.first == utc(2026, 2, 24, 17, 0)
    assert dict(plan.in_zones) == {
        "Europe/Berlin": "Tuesday 18:00",
        "America/New_York": "Tuesday 12:00",
    }
    await world.tick()
    [told] = [t for t in world.messenger.to("channel", thread(pid)) if "set your meeting" in t]
    assert f"<t:{int(plan.first.timestamp())}:F>" in told and "America/New_York" in told
    expected = [
        utc(2026, 2, 24, 17, 0),  # EST, CET: 12:00 New York, 18:00 Berlin
        utc(2026, 3, 3, 17, 0),
        utc(2026, 3, 10, 16, 0),  # EDT, CET: 12:00 New York, 17:00 Berlin
        utc(2026, 3, 17, 16, 0),
        utc(2026, 3, 24, 16, 0),
        utc(2026, 3, 31, 16, 0),  # EDT, CEST: 12:00 New York, 18:00 Berlin
        utc(2026, 4, 7, 16, 0),
    ]
    for meeting_at in expected:
        reminder_at = meeting_at - timedelta(minutes=30)
        before = len(world.messenger.sent)
        await world.at(reminder_at - timedelta(minutes=1))
        assert not [d for d in world.messenger.sent[before:] if "⏰" in d.message.content]
        await world.at(reminder_at)
        reminders = [d for d in world.messenger.sent[before:] if "⏰" in d.message.content]
        assert len(reminders) == 1, meeting_at
        [reminder] = reminders
        assert reminder.where == "channel" and reminder.target == thread(pid)
        assert reminder.at == reminder_at
        assert f"<t:{int(meeting_at.timestamp())}:R>" in reminder.message.content
        assert set(reminder.message.ping_users) == {BERLIN_USER, NY_USER}
        check_at = meeting_at + timedelta(minutes=45)
        await world.at(check_at - timedelta(minutes=1))
        assert not [d for d in world.messenger.sent[before:] if "Did you meet" in d.message.content]
        await world.at(check_at)
        checks = [d for d in world.messenger.sent[before:] if "Did you meet" in d.message.content]
        assert sorted(d.target for d in checks) == [BERLIN_USER, NY_USER]
        assert all(d.where == "dm" and d.at == check_at for d in checks)
    # Nothing was sent twice.
    contents = [(d.where, d.target, d.message.content) for d in world.messenger.sent]
    assert len(contents) == len(set(contents))


async def test_changing_the_meeting_cancels_what_was_pending_and_tells_the_other(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    await world.meet_tuesdays_in_berlin()
    old = {r.key for r in await world.rows("meeting_prep")}
    assert len(old) == 5
    async with unit_of_work(sessions) as s:
        plan = await partnerships.set_meeting(
            s,
            guild_id=G,
            user_id=NY_USER,
            weekday=3,
            time_text="1pm",
            zone="America/New_York",
            now=world.clock.now(),
            interval_weeks=2,
            reminder_minutes=60,
        )
    assert plan.changed and plan.others == (BERLIN_USER,)
    pending = await world.rows("meeting_prep")
    assert old.isdisjoint({r.key for r in pending})
    assert len(pending) == 3  # every two weeks over five weeks
    assert all(
        r.due_at.astimezone(_zone("America/New_York")).strftime("%a %H:%M") == "Thu 11:50"
        for r in pending
    )
    async with sessions() as s:
        states = (
            (await s.execute(select(Meeting.state).where(Meeting.partnership_id == pid)))
            .scalars()
            .all()
        )
    assert states.count("cancelled") == 5 and states.count("scheduled") == 3
    await world.tick()
    [moved] = [t for t in world.messenger.to("channel", thread(pid)) if "moved your meeting" in t]
    assert "<@22>" in moved and "every two weeks" in moved


async def test_bad_meeting_input_is_refused_and_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    with pytest.raises(Conflict, match="waiting"):
        await world.meet_tuesdays_in_berlin()
    await world.accept_both(pid)
    bad: list[dict[str, Any]] = [
        {"zone": "Asia/Tokyo"},
        {"zone": "europe/berlin"},
        {"zone": "../../etc/passwd"},
        {"time_text": "25:99"},
        {"minutes": 500},
        {"reminder_minutes": 0},
        {"interval_weeks": 3},
    ]
    for change in bad:
        args: dict[str, Any] = {"weekday": 1, "time_text": "18:00", "zone": "Europe/Berlin"}
        args.update(change)
        with pytest.raises(InvalidInput):
            async with unit_of_work(sessions) as s:
                await partnerships.set_meeting(
                    s, guild_id=G, user_id=BERLIN_USER, now=world.clock.now(), **args
                )
    p = await world.partnership(pid)
    assert p.meeting_weekday is None and await world.rows("meeting_prep") == []
    with pytest.raises(NotFound):
        async with unit_of_work(sessions) as s:
            await partnerships.set_meeting(
                s,
                guild_id=G,
                user_id=THIRD_USER,
                weekday=1,
                time_text="18:00",
                zone="Europe/Berlin",
                now=world.clock.now(),
            )


async def test_the_agenda_shows_each_partners_goals_as_they_are_just_before_the_meeting(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    async with unit_of_work(sessions) as s:
        plan = await partnerships.set_meeting(
            s,
            guild_id=G,
            user_id=BERLIN_USER,
            weekday=1,
            time_text="18:00",
            zone="Europe/Berlin",
            now=world.clock.now(),
        )
    members = await world.members()
    async with unit_of_work(sessions) as s:  # written after the meeting was set
        now = world.clock.now()
        missed = Goal(
            guild_id=G,
            member_id=members[NY_USER].id,
            partnership_id=pid,
            text="Finish chapter 3",
            due_date=date(2026, 1, 5),
            status="missed",
            created_at=now,
            updated_at=now,
        )
        done = Goal(
            guild_id=G,
            member_id=members[BERLIN_USER].id,
            partnership_id=pid,
            text="Send the query letter",
            due_date=date(2026, 1, 5),
            status="done",
            created_at=now,
            updated_at=now,
        )
        s.add_all([missed, done])
        await s.flush()
        s.add(
            MissedReflection(
                goal_id=missed.id,
                member_id=members[NY_USER].id,
                week_start=date(2026, 1, 5),
                reason="family",
                created_at=now,
            )
        )
    await world.at(plan.first - timedelta(minutes=30))
    [reminder] = [t for t in world.messenger.to("channel", thread(pid)) if "⏰" in t]
    assert "Finish chapter 3" in reminder and "family" in reminder
    assert "Send the query letter" in reminder
    assert reminder.index("<@22>", reminder.index("Agenda")) < reminder.index("Finish chapter 3")


async def test_without_a_thread_reminders_and_news_go_by_dm(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    world.private_threads_possible = False
    pid = await world.pair()
    await world.accept_both(pid)
    assert (await world.partnership(pid)).thread_id is None
    assert any("you're partners" in t for t in world.messenger.to("dm", NY_USER))
    async with unit_of_work(sessions) as s:
        plan = await partnerships.set_meeting(
            s,
            guild_id=G,
            user_id=BERLIN_USER,
            weekday=2,
            time_text="19:00",
            zone="Europe/Berlin",
            now=world.clock.now(),
        )
    await world.at(plan.first - timedelta(minutes=30))
    for user in (BERLIN_USER, NY_USER):
        assert len([t for t in world.messenger.to("dm", user) if "⏰" in t]) == 1


async def test_did_you_meet_answers_build_a_streak_and_show_activity(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    async with unit_of_work(sessions) as s:
        plan = await partnerships.set_meeting(
            s,
            guild_id=G,
            user_id=BERLIN_USER,
            weekday=1,
            time_text="18:00",
            zone="Europe/Berlin",
            now=world.clock.now(),
        )
    async with sessions() as s:
        meetings = list(
            (
                await s.execute(
                    select(Meeting).where(Meeting.partnership_id == pid).order_by(Meeting.occurs_at)
                )
            ).scalars()
        )
    with pytest.raises(InvalidInput, match="hasn't happened"):
        async with unit_of_work(sessions) as s:
            await partnerships.answer_meeting(
                s,
                meeting_id=meetings[0].id,
                user_id=BERLIN_USER,
                answer="yes",
                now=world.clock.now(),
            )
    answers = ["yes", "rescheduled", "yes"]
    for meeting, answer in zip(meetings, answers, strict=False):
        await world.at(meeting.occurs_at + timedelta(minutes=45))
        async with unit_of_work(sessions) as s:
            result = await partnerships.answer_meeting(
                s, meeting_id=meeting.id, user_id=NY_USER, answer=answer, now=world.clock.now()
            )
    assert result.streak == 2
    async with unit_of_work(sessions) as s:
        await partnerships.answer_meeting(
            s, meeting_id=meetings[2].id, user_id=BERLIN_USER, answer="yes", now=world.clock.now()
        )
    async with sessions() as s:
        assert (await s.get(Meeting, meetings[2].id)).state == "done"  # type: ignore[union-attr]
        view = await partnerships.status(s, guild_id=G, user_id=BERLIN_USER, now=world.clock.now())
    assert view.state == "trial" and view.partners == (NY_USER,)
    assert view.streak == 2 and view.met == 2
    assert view.next_meeting == meetings[3].occurs_at
    assert view.recurrence is not None and view.recurrence.zone == "Europe/Berlin"
    assert plan.first == meetings[0].occurs_at
    # Two unanswered meetings later (settled as missed), the streak is broken.
    await world.at(meetings[4].occurs_at + timedelta(minutes=45) + partnerships.ANSWER_WINDOW)
    async with sessions() as s:
        view = await partnerships.status(s, guild_id=G, user_id=NY_USER, now=world.clock.now())
    assert view.streak == 0 and view.met == 2


# --------------------------------------------------------------------------- trial and ending


async def _to_trial_end(world: World) -> int:
    pid = await world.pair()
    await world.accept_both(pid)
    p = await world.partnership(pid)
    assert p.trial_ends_at is not None
    with pytest.raises(InvalidInput, match="still running"):
        async with unit_of_work(world.sessions) as s:
            await partnerships.choose_trial(
                s,
                partnership_id=pid,
                user_id=BERLIN_USER,
                choice="continue",
                now=world.clock.now(),
            )
    await world.at(p.trial_ends_at)
    for user in (BERLIN_USER, NY_USER):
        [prompt] = [t for t in world.messenger.to("dm", user) if "Would you like to carry on" in t]
        assert "private" in prompt
    return pid


async def test_both_continuing_after_the_trial_makes_a_full_partnership(world: World) -> None:
    pid = await _to_trial_end(world)
    async with unit_of_work(world.sessions) as s:
        first = await partnerships.choose_trial(
            s, partnership_id=pid, user_id=NY_USER, choice="continue", now=world.clock.now()
        )
    assert first.outcome == "pending"
    async with unit_of_work(world.sessions) as s:
        second = await partnerships.choose_trial(
            s, partnership_id=pid, user_id=BERLIN_USER, choice="continue", now=world.clock.now()
        )
    assert second.outcome == "continue"
    assert (await world.partnership(pid)).state == "active"
    await world.tick()
    assert any("full partners" in t for t in world.messenger.to("channel", thread(pid)))


async def test_one_parting_ends_the_trial_kindly_without_saying_who(world: World) -> None:
    pid = await _to_trial_end(world)
    async with unit_of_work(world.sessions) as s:
        await partnerships.choose_trial(
            s, partnership_id=pid, user_id=BERLIN_USER, choice="continue", now=world.clock.now()
        )
    async with unit_of_work(world.sessions) as s:
        result = await partnerships.choose_trial(
            s, partnership_id=pid, user_id=NY_USER, choice="part", now=world.clock.now()
        )
    assert result.outcome == "part"
    p = await world.partnership(pid)
    assert p.state == "ended" and p.end_reason == "trial_parted"
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    [told] = [t for t in world.messenger.to("dm", BERLIN_USER) if "ended without continuing" in t]
    assert "chose" not in told and "<@22>" in told and "/partner find" in told
    assert world.closed_threads == [thread(pid)]
    members = await world.members()
    assert members[BERLIN_USER].pool_status == "idle"  # they may rejoin, not pushed back in


async def test_ending_keeps_the_reason_private_tells_the_other_kindly_and_closes_the_space(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    await world.meet_tuesdays_in_berlin()
    async with unit_of_work(sessions) as s:
        result = await partnerships.end_partnership(
            s, guild_id=G, user_id=BERLIN_USER, reason=SECRET, now=world.clock.now()
        )
    assert result.others == (NY_USER,) and result.was == "trial"
    pending = [r for r in await world.rows() if r.state == "pending"]
    assert {r.kind for r in pending} - {POST_SYNC.kind} == {"notice", "space_close"}
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    [told] = [t for t in world.messenger.to("dm", NY_USER) if "ended your partnership" in t]
    assert "<@11>" in told and SECRET not in world.messenger.texts()
    assert world.closed_threads == [thread(pid)]
    async with sessions() as s:
        view = await partnerships.status(s, guild_id=G, user_id=NY_USER, now=world.clock.now())
        states = (await s.execute(select(Meeting.state))).scalars().all()
    assert view.state is None and [h.user_ids for h in view.history] == [(BERLIN_USER,)]
    assert set(states) == {"cancelled"}
    with pytest.raises(NotFound):
        async with unit_of_work(sessions) as s:
            await partnerships.end_partnership(
                s, guild_id=G, user_id=BERLIN_USER, now=world.clock.now()
            )


async def test_a_block_ends_the_pair_with_the_same_words_and_they_are_never_matched_again(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    async with unit_of_work(sessions) as s:
        result = await partnerships.block(s, guild_id=G, user_id=NY_USER, now=world.clock.now())
    assert result.blocked_user_id == BERLIN_USER and result.ended_partnership
    p = await world.partnership(pid)
    assert p.state == "ended" and p.end_reason == "ended"  # indistinguishable from /pair end
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    [told] = [t for t in world.messenger.to("dm", BERLIN_USER) if "ended your partnership" in t]
    assert told == partnerships.d.ended_dm(NY_USER)
    assert "block" not in world.messenger.texts().lower()
    assert all("block" not in json.dumps(r.payload).lower() for r in await world.rows())
    members = await world.members()
    # A round can't propose them again, in either order...
    for order in ((BERLIN_USER, NY_USER), (NY_USER, BERLIN_USER)):
        with pytest.raises(Conflict):
            async with unit_of_work(sessions) as s:
                await partnerships.propose(
                    s,
                    guild_id=G,
                    member_ids=[members[u].id for u in order],
                    source="round",
                    now=world.clock.now(),
                )
    # ...and a forum request between them is quietly ruled out.
    async with unit_of_work(sessions) as s:
        await pool.join_pool(s, guild_id=G, user_id=BERLIN_USER, now=world.clock.now())
        await pool.join_pool(s, guild_id=G, user_id=NY_USER, now=world.clock.now())
        outcome = await pool.request_partnership(
            s,
            guild_id=G,
            requester_user_id=BERLIN_USER,
            author_user_id=NY_USER,
            now=world.clock.now(),
        )
    assert outcome.ruled_out


async def test_blocking_someone_else_leaves_the_partnership_alone(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.member(THIRD_USER, "Europe/Paris", "Mon-Fri 18:00-21:00")
    async with unit_of_work(sessions) as s:
        result = await partnerships.block(
            s, guild_id=G, user_id=BERLIN_USER, other_user_id=THIRD_USER, now=world.clock.now()
        )
    assert not result.ended_partnership
    assert (await world.partnership(pid)).state == "proposed"
    with pytest.raises(InvalidInput):
        async with unit_of_work(sessions) as s:
            await partnerships.block(
                s,
                guild_id=G,
                user_id=BERLIN_USER,
                other_user_id=BERLIN_USER,
                now=world.clock.now(),
            )


async def test_a_report_reaches_the_moderators_with_context_and_nothing_private(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    async with unit_of_work(sessions) as s:
        await partnerships.end_partnership(
            s, guild_id=G, user_id=NY_USER, reason=SECRET, now=world.clock.now()
        )
    async with unit_of_work(sessions) as s:
        result = await partnerships.file_report(
            s,
            guild_id=G,
            user_id=NY_USER,
            reported_user_id=BERLIN_USER,
            text="They were rude @everyone",
            now=world.clock.now(),
        )
    assert result.sent_to_moderators
    await world.tick()
    [report] = world.messenger.to("channel", MOD_CHANNEL)
    assert "<@22>" in report and "<@11>" in report and f"<#{thread(pid)}>" in report
    assert "They were rude @everyone" in report and "ended" in report
    for private in (SECRET, "woman", "35-44"):
        assert private not in report
    [sent] = [d for d in world.messenger.sent if d.target == MOD_CHANNEL]
    assert sent.message.ping_users == ()
    async with sessions() as s:
        stored = (await s.execute(select(Report))).scalar_one()
    assert stored.partnership_id == pid and stored.reported_id is not None


async def test_a_report_without_a_moderators_channel_is_kept(world: World) -> None:
    await world.settings(mod_channel_id=None)
    pid = await world.pair()
    async with unit_of_work(world.sessions) as s:
        result = await partnerships.file_report(
            s,
            guild_id=G,
            user_id=BERLIN_USER,
            text="Something felt off.",
            now=world.clock.now(),
        )
    assert not result.sent_to_moderators
    assert await world.rows("mod_report") == []
    async with world.sessions() as s:
        stored = (await s.execute(select(Report))).scalar_one()
    assert stored.partnership_id == pid  # about the current partner by default
    for text in ("", "   ", "x" * 2000):
        with pytest.raises(InvalidInput):
            async with unit_of_work(world.sessions) as s:
                await partnerships.file_report(
                    s, guild_id=G, user_id=BERLIN_USER, text=text, now=world.clock.now()
                )


# --------------------------------------------------------------------------- quiet partners


async def test_a_quiet_partner_is_noticed_and_the_other_may_be_rematched(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    await world.meet_tuesdays_in_berlin()
    start = world.clock.now()
    members = await world.members()
    # Berlin answers "did you meet?" every week; New York goes quiet.
    for week in range(4):
        async with sessions() as s:
            meeting = (
                await s.execute(
                    select(Meeting)
                    .where(Meeting.partnership_id == pid, Meeting.occurs_at > world.clock.now())
                    .order_by(Meeting.occurs_at)
                    .limit(1)
                )
            ).scalar_one()
        await world.at(meeting.occurs_at + timedelta(minutes=45))
        async with unit_of_work(sessions) as s:
            await partnerships.answer_meeting(
                s, meeting_id=meeting.id, user_id=BERLIN_USER, answer="no", now=world.clock.now()
            )
        asked = [t for t in world.messenger.to("dm", BERLIN_USER) if "keep waiting" in t]
        if world.clock.now() < start + timedelta(weeks=3):
            assert asked == [], week
    await world.at(start + timedelta(weeks=3, days=7))
    asked = [d for d in world.messenger.sent if "keep waiting" in d.message.content]
    assert [(d.where, d.target) for d in asked] == [("dm", BERLIN_USER)]  # once, privately
    assert asked[0].message.rows and "<@22>" in asked[0].message.content
    [row] = await world.rows("quiet_partner")
    assert "keep waiting" in json.dumps(row.payload)
    assert "fallback_channel_id" not in row.payload
    with pytest.raises(Conflict):  # the quiet one can't use the other's question
        async with unit_of_work(sessions) as s:
            pm = await s.get(PartnershipMember, (pid, members[NY_USER].id))
            assert pm is not None and pm.last_active_at == start
            await partnerships.answer_quiet(
                s, partnership_id=pid, user_id=NY_USER, rematch=True, now=world.clock.now()
            )
    async with unit_of_work(sessions) as s:
        result = await partnerships.answer_quiet(
            s, partnership_id=pid, user_id=BERLIN_USER, rematch=True, now=world.clock.now()
        )
    assert result.rematch and result.others == (NY_USER,)
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    members = await world.members()
    assert members[BERLIN_USER].pool_status == "seeking" and members[BERLIN_USER].priority
    assert members[NY_USER].pool_status == "idle"
    [told] = [t for t in world.messenger.to("dm", NY_USER) if "has ended" in t]
    assert "<@11>" not in told and "quiet" in told
    assert (await world.partnership(pid)).end_reason == "rematch"


async def test_keeping_waiting_asks_again_only_after_another_quiet_stretch(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    start = world.clock.now()
    members = await world.members()
    async with unit_of_work(sessions) as s:
        await partnerships.record_activity(
            s, member_id=members[BERLIN_USER].id, now=start + timedelta(weeks=2, days=6)
        )
    await world.at(start + timedelta(weeks=3))
    asked = [d for d in world.messenger.sent if "keep waiting" in d.message.content]
    assert [d.target for d in asked] == [BERLIN_USER]
    async with unit_of_work(sessions) as s:
        result = await partnerships.answer_quiet(
            s, partnership_id=pid, user_id=BERLIN_USER, rematch=False, now=world.clock.now()
        )
    assert not result.rematch
    for days in (7, 14):
        async with unit_of_work(sessions) as s:
            await partnerships.record_activity(
                s, member_id=members[BERLIN_USER].id, now=start + timedelta(weeks=3, days=days)
            )
        await world.at(start + timedelta(weeks=3, days=days))
    assert len([d for d in world.messenger.sent if "keep waiting" in d.message.content]) == 1
    async with unit_of_work(sessions) as s:
        await partnerships.record_activity(
            s, member_id=members[BERLIN_USER].id, now=start + timedelta(weeks=6)
        )
    await world.at(start + timedelta(weeks=6, hours=1))
    assert len([d for d in world.messenger.sent if "keep waiting" in d.message.content]) == 2
    assert (await world.partnership(pid)).state == "trial"


async def test_status_of_a_member_without_a_partner(world: World) -> None:
    async with world.sessions() as s:
        view = await partnerships.status(s, guild_id=G, user_id=999, now=world.clock.now())
    assert view.state is None and view.history == ()
    pid = await world.pair()
    async with world.sessions() as s:
        view = await partnerships.status(s, guild_id=G, user_id=NY_USER, now=world.clock.now())
        zones = await partnerships.partner_zones(s, guild_id=G, user_id=NY_USER)
    assert view.state == "proposed" and view.partnership_id == pid
    assert view.expires_at == world.clock.now() + timedelta(hours=72)
    assert view.my_answer is None and view.thread_id == thread(pid)
    assert zones == ["America/New_York", "Europe/Berlin"]


async def test_settings_change_the_proposal_and_trial_lengths(world: World) -> None:
    await world.settings(proposal_hours=24, trial_days=7)
    pid = await world.pair()
    assert (await world.partnership(pid)).expires_at == world.clock.now() + timedelta(hours=24)
    await world.accept_both(pid)
    p = await world.partnership(pid)
    assert p.trial_ends_at == world.clock.now() + timedelta(days=7)
    async with world.sessions() as s:
        settings = await s.get(GuildSettings, G)
    assert settings is not None and settings.trial_days == 7


async def test_closed_dms_fall_back_to_the_thread_except_for_private_questions(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> None:
    world.messenger.closed_dms.add(BERLIN_USER)
    pid = await world.pair()
    async with unit_of_work(sessions) as s:
        await partnerships.decide(
            s, partnership_id=pid, user_id=NY_USER, accept=False, now=world.clock.now()
        )
    await world.tick()
    [fallback] = [
        d
        for d in world.messenger.sent
        if d.target == thread(pid) and "won't go ahead" in d.message.content
    ]
    assert fallback.message.ping_users == (BERLIN_USER,)
    assert outbox.KINDS["meeting_check"].stale_after == partnerships.ANSWER_WINDOW


async def test_forgetting_a_member_ends_their_partnership_kindly(world: World) -> None:
    pid = await world.pair()
    await world.accept_both(pid)
    members = await world.members()
    async with unit_of_work(world.sessions) as s:
        assert await partnerships.forget_member(
            s, member_id=members[NY_USER].id, now=world.clock.now()
        )
    async with unit_of_work(world.sessions) as s:
        assert not await partnerships.forget_member(
            s, member_id=members[NY_USER].id, now=world.clock.now()
        )
    assert (await world.partnership(pid)).state == "ended"
    assert {r.kind for r in await world.rows() if r.state == "pending"} - {POST_SYNC.kind} == {
        "notice",
        "space_close",
    }


async def test_a_thread_opened_as_the_proposal_ended_is_closed_again(world: World) -> None:
    world.private_threads_possible = False
    pid = await world.pair()
    async with unit_of_work(world.sessions) as s:
        await partnerships.decide(
            s, partnership_id=pid, user_id=NY_USER, accept=False, now=world.clock.now()
        )
    async with unit_of_work(world.sessions) as s:  # the opening raced the decline
        await partnerships.record_space(
            s, partnership_id=pid, thread_id=thread(pid), now=world.clock.now()
        )
    await world.at(world.clock.now() + partnerships.CLOSE_DELAY)
    assert world.closed_threads == [thread(pid)]
