"""Every figure in /admin stats equals the same figure recomputed from the database by an
independent query, after a scripted fortnight of a pair's meetings (one held, one disputed, one
missed, one unanswered), check-ins and goals."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from bot.db import unit_of_work
from bot.sandbox import Sandbox
from bot.services.profiles import find_member
from models import Goal
from tests.e2e.test_goals import travel
from tests.e2e.test_partnerships import join, partners

MEETINGS = [datetime(2026, 1, 5, 18, 0, tzinfo=UTC) + timedelta(weeks=k) for k in range(4)]
ANSWERS = [  # (alice, bob) each week
    ("Yes, we met", "No"), ("No", "No"), ("Yes, we met", "Yes, we met"), (None, None),
]


def number(pattern: str, content: str) -> int:
    found = re.search(pattern, content)
    assert found, (pattern, content)
    return int(found.group(1))


async def recount(sb: Sandbox, since: datetime, now: datetime) -> dict[str, int]:
    """The figures, straight from the tables with plain SQL and Python counting."""
    g = sb.guild.id
    async with sb.bot.deps.sessions() as session:
        async def rows(sql: str, **params: object) -> list[tuple[object, ...]]:
            return [tuple(r) for r in (await session.execute(text(sql), params)).all()]

        pships = await rows("SELECT state, started_at, ended_at FROM partnerships "
                            "WHERE guild_id = :g", g=g)
        meetings = await rows(
            "SELECT m.id, m.occurs_at, m.state FROM meetings m JOIN partnerships p "
            "ON p.id = m.partnership_id WHERE p.guild_id = :g", g=g)
        answers = await rows("SELECT meeting_id, answer FROM meeting_answers")
        checkins = await rows(
            "SELECT c.goal_id, c.asked_for, c.answer FROM checkins c JOIN goals o "
            "ON o.id = c.goal_id WHERE o.guild_id = :g", g=g)
        goal_rows = await rows("SELECT id, status, due_date FROM goals WHERE guild_id = :g", g=g)

    def moment(value: object) -> datetime:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def day(value: object) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]

    by_meeting: dict[object, list[object]] = {}
    for meeting_id, answer in answers:
        by_meeting.setdefault(meeting_id, []).append(answer)
    past = [m for m in meetings if m[2] != "cancelled" and since <= moment(m[1]) <= now]
    said = [by_meeting.get(m[0], []) for m in past]
    asked = [c for c in checkins if since <= moment(c[1]) <= now]
    due = [r for r in goal_rows if since.date() <= day(r[2]) <= now.date()]
    with_checkin = {c[0] for c in checkins}
    status = Counter(r[1] for r in due)
    return {
        "started": sum(1 for p in pships if p[1] is not None and moment(p[1]) >= since),
        "ended": sum(1 for p in pships if p[0] == "ended" and moment(p[2]) >= since),
        "trial": sum(1 for p in pships if p[0] == "trial"),
        "past": len(past),
        "held": sum(1 for s in said if "yes" in s and "no" not in s),
        "disputed": sum(1 for s in said if "yes" in s and "no" in s),
        "missed": sum(1 for s in said if s and set(s) == {"no"}),
        "unanswered": sum(1 for s in said if not s),
        "asked": len(asked),
        "answered": sum(1 for c in asked if c[2] is not None),
        "done": status["done"],
        "partly": status["partly"],
        "missed_goals": status["missed"],
        "never_asked": sum(1 for r in due if r[1] == "missed" and r[0] not in with_checkin),
    }


async def test_admin_stats_figures_equal_an_independent_recount(sb: Sandbox) -> None:
    """Regression: "0 started" beside pairs started in the window, "meetings held 32 of 32
    (100 %)" where some were missed, and "352 asked, 352 answered (100 %)" while goals closed
    as missed without being asked."""
    alice, bob, thread = await partners(sb)
    await join(sb, "carol")
    set_ = await alice.slash("pair meeting", day=0, time="19:00", zone="Europe/Berlin")
    assert "<t:" in set_.content
    for who in (alice, bob):
        added = await who.slash("goal add", options={"text": f"{who.name}: write 500 words"})
        assert "Goal added" in added.content, added.content
    async with unit_of_work(sb.bot.deps.sessions) as session:  # a goal nobody ever asked about
        row = await find_member(session, guild_id=sb.guild.id, user_id=bob.id)
        assert row is not None
        session.add(Goal(guild_id=sb.guild.id, member_id=row.id, text="bob: old goal",
                         due_date=date(2026, 1, 4), status="missed",
                         created_at=sb.clock.now(), updated_at=sb.clock.now()))
    for meeting, answers in zip(MEETINGS, ANSWERS, strict=True):
        await travel(sb, meeting + timedelta(hours=1))
        for who, answer in zip((alice, bob), answers, strict=True):
            asked = [m for m in who.dms() if "Did you meet" in m.content
                     and f"<t:{int(meeting.timestamp())}:f>" in m.content]
            assert len(asked) == 1, (who.name, meeting)
            if answer is not None:
                await who.press(asked[0], answer)
        for who in (alice,):  # alice answers her check-ins, bob leaves his
            for dm in who.dms():
                if "Done" in dm.button_labels and not dm.content.startswith("✅"):
                    await who.press(dm, "Done")
    await travel(sb, MEETINGS[-1] + timedelta(days=1))

    shown = await sb.moderator.slash("admin stats")
    content = shown.content
    since = datetime.fromtimestamp(number(r"since <t:(\d+):f>", content), UTC)
    now = sb.clock.now()
    assert since == datetime(2025, 12, 30, tzinfo=UTC)  # 00:00 UTC, 28 days before 27 January
    want = await recount(sb, since, now)
    assert want["disputed"] == want["missed"] == want["unanswered"] == want["held"] == 1
    assert want["never_asked"] >= 1 and want["started"] == 1
    assert number(r"(\d+) started", content) == want["started"]
    assert number(r"started, (\d+) ended", content) == want["ended"]
    assert number(r"(\d+) in their trial", content) == want["trial"]
    assert number(r"meetings held (\d+) of", content) == want["held"]
    assert number(r"meetings held \d+ of (\d+)", content) == want["past"]
    assert number(r"(\d+) where partners disagree", content) == want["disputed"]
    assert number(r"(\d+) missed, ", content) == want["missed"]
    assert number(r"(\d+) not answered", content) == want["unanswered"]
    assert number(r"\*\*Check-ins\*\*: (\d+) asked", content) == want["asked"]
    assert number(r"(\d+) answered \(", content) == want["answered"]
    assert number(r"(\d+) done", content) == want["done"]
    assert number(r"(\d+) partly", content) == want["partly"]
    assert number(r"(\d+) missed \(", content) == want["missed_goals"]
    assert number(r"(\d+) missed without a check-in asking", content) == want["never_asked"]
    assert thread.messages
