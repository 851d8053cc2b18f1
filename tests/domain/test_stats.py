"""``/stats`` in words and as a picture: weekly tallies in the member's own weeks, completion
with partly counting half, the reasons they gave, weeks off, and a chart whose bars are there."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image

from bot.charts import COLOURS, OFF, weekly_chart
from bot.domain.goals import GoalRecord
from bot.domain.stats import WeekTally, member_stats

MONDAY = date(2026, 3, 2)


def record(status: str, week: int, reason: str | None = None, area: str = "writing") -> GoalRecord:
    due = MONDAY + timedelta(days=7 * week + 4)
    return GoalRecord(status=status, due=due, created=due - timedelta(days=3), area=area,
                      reason=reason)


def test_weeks_are_tallied_in_order_ending_with_the_current_one() -> None:
    history = [record("done", 0), record("missed", 0, "work"), record("partly", 2),
               record("done", 2), record("missed", 3, "work"), record("missed", 3, "family"),
               record("done", -20)]  # too old to show
    stats = member_stats(history, snoozed={MONDAY + timedelta(days=7)}, open_goals=2, streak=1,
                         today=MONDAY + timedelta(days=7 * 3 + 2), zone="Europe/Berlin",
                         weeks=4)
    assert [w.week for w in stats.weeks] == [MONDAY + timedelta(days=7 * k) for k in range(4)]
    assert [(w.done, w.partly, w.missed, w.snoozed) for w in stats.weeks] == [
        (1, 0, 1, False), (0, 0, 0, True), (1, 1, 0, False), (0, 0, 2, False)]
    assert stats.completion == (2 + 0.5) / 6
    assert stats.reasons == (("work", 2), ("family", 1))
    text = stats.render()
    assert "✅ 2 done, 🟡 1 partly, ❌ 3 missed: **42 %** completion." in text
    assert "too much work ×2, a family matter ×1" in text
    assert "2 goals still open." in text and "Weeks off: 1" in text
    assert "Streak: **1 week**" in text


def test_a_new_member_sees_their_weeks_from_their_first_goal() -> None:
    stats = member_stats([record("done", 1)], snoozed=set(), open_goals=0, streak=1,
                         today=MONDAY + timedelta(days=7 * 2), zone="UTC")
    assert [w.week for w in stats.weeks] == [MONDAY + timedelta(days=7 * k) for k in (1, 2)]
    assert "(2 weeks)" in stats.render()


def test_without_finished_goals_there_is_no_rate_and_no_best_week() -> None:
    stats = member_stats([], snoozed=set(), open_goals=1, streak=0, today=MONDAY, zone="UTC")
    assert stats.completion is None and [w.week for w in stats.weeks] == [MONDAY]
    text = stats.render()
    assert "No finished goals" in text and "No streak yet" in text and "Best week" not in text


def test_the_chart_draws_each_outcome_in_its_colour() -> None:
    weeks = [WeekTally(MONDAY, done=2), WeekTally(MONDAY + timedelta(days=7), missed=1),
             WeekTally(MONDAY + timedelta(days=14), snoozed=True)]
    image = Image.open(io.BytesIO(weekly_chart(weeks))).convert("RGB")
    assert image.size == (720, 360)
    colours = {image.getpixel((x, y)) for x in range(0, 720, 3) for y in range(70, 310, 3)}
    done, _, missed = (c for _, c in COLOURS)
    assert {done, missed, OFF} <= colours
    assert weekly_chart(weeks) == weekly_chart(weeks)  # the same weeks, the same picture


def test_community_counts_read_as_a_moderator_would_want() -> None:
    from datetime import UTC, datetime

    from bot.domain.stats import CommunityStats, LastRound, MeetingTally

    ran = datetime(2026, 3, 16, 17, tzinfo=UTC)
    stats = CommunityStats(
        since=datetime(2026, 3, 1, tzinfo=UTC), profiles=40, seeking=6, paused=2, proposed=1,
        trial=3, active=12, with_meeting=13, quiet=2, started=5,
        ended=(("declined", 2), ("ended", 1)), meetings=MeetingTally(
            past=50, held=45, disputed=3, missed=2),
        checkins_asked=120, checkins_answered=90, done=60, partly=10, missed=30,
        missed_never_asked=4, open_reports=1,
        last_round=LastRound(ran, 9, 4, 1),
    )
    text = stats.render()
    assert "40 with a profile · 6 looking for a partner · 2 taking a break" in text
    assert "12 active · 3 in their trial · 1 proposal waiting · 5 started, 3 ended" in text
    assert "(declined 2, ended 1)" in text
    assert "13 of 15 pairs have a meeting time · 2 with a partner gone quiet" in text
    assert "meetings held 45 of 50 (90 %): 3 where partners disagree, 2 missed" in text
    assert "30 missed (65 % completion); 4 missed without a check-in asking" in text
    assert "120 asked, 90 answered (75 %)" in text and "(65 % completion)" in text
    assert f"<t:{int(ran.timestamp())}:f>: 9 in the pool, 4 groups, 1 unmatched" in text
