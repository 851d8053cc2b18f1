"""The pure rules of a partnership: meeting suggestions inside the overlap, the trial and quiet
partner rules, streaks, the agenda, and input parsing."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import partnership as d
from bot.domain.recurrence import Recurrence, next_occurrence
from bot.errors import InvalidInput

BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_slots_start_on_the_hour_fit_the_meeting_and_prefer_the_longest_runs() -> None:
    runs = [
        (utc(2026, 1, 5, 17, 30), utc(2026, 1, 5, 18, 30)),  # 1 h: fits 45 min from 17:30 only
        (utc(2026, 1, 6, 17, 0), utc(2026, 1, 6, 20, 0)),  # 3 h
        (utc(2026, 1, 7, 17, 0), utc(2026, 1, 7, 17, 30)),  # too short for 45 min
        (utc(2026, 1, 8, 16, 30), utc(2026, 1, 8, 19, 0)),  # 2.5 h
        (utc(2026, 1, 9, 17, 0), utc(2026, 1, 9, 19, 0)),  # 2 h
    ]
    slots = d.suggest_slots(runs, minutes=45, zone="Europe/Berlin")
    assert slots == [utc(2026, 1, 6, 17, 0), utc(2026, 1, 8, 17, 0), utc(2026, 1, 9, 17, 0)]
    for at in slots:
        assert any(start <= at and at + timedelta(minutes=45) <= end for start, end in runs)
        assert at.astimezone(BERLIN).minute == 0


def test_a_short_run_gets_a_half_hour_start_and_no_run_gives_no_slots() -> None:
    runs = [(utc(2026, 1, 5, 17, 30), utc(2026, 1, 5, 18, 30))]
    assert d.suggest_slots(runs, minutes=45, zone="UTC") == [utc(2026, 1, 5, 17, 30)]
    assert d.suggest_slots(runs, minutes=90, zone="UTC") == []
    assert d.suggest_slots([], minutes=45, zone="UTC") == []


def test_slots_are_on_the_local_hour_in_a_half_hour_zone() -> None:
    # Kolkata is UTC+5:30: 13:00 UTC is 18:30 there, so the slot starts at 13:30 UTC (19:00).
    runs = [(utc(2026, 1, 5, 13, 0), utc(2026, 1, 5, 16, 0))]
    [slot] = d.suggest_slots(runs, minutes=60, zone="Asia/Kolkata")
    assert slot == utc(2026, 1, 5, 13, 30)
    assert slot.astimezone(KOLKATA).strftime("%H:%M") == "19:00"


def test_slots_spread_over_different_days_when_they_can() -> None:
    runs = [
        (utc(2026, 1, 5, 8, 0), utc(2026, 1, 5, 12, 0)),
        (utc(2026, 1, 5, 14, 0), utc(2026, 1, 5, 18, 0)),
        (utc(2026, 1, 6, 8, 0), utc(2026, 1, 6, 9, 0)),
    ]
    slots = d.suggest_slots(runs, minutes=45, zone="UTC")
    assert [s.date() for s in slots] == [
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 6),
    ]
    assert len(d.suggest_slots(runs, minutes=45, zone="UTC", count=2)) == 2
    assert {s.date() for s in d.suggest_slots(runs, minutes=45, zone="UTC", count=2)} == {
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 6),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:30", dt.time(18, 30)),
        ("6:30pm", dt.time(18, 30)),
        ("6 pm", dt.time(18, 0)),
        ("12am", dt.time(0, 0)),
        ("12pm", dt.time(12, 0)),
        ("7", dt.time(7, 0)),
        ("18h30", dt.time(18, 30)),
        ("09.15", dt.time(9, 15)),
    ],
)
def test_clock_times_people_type(text: str, expected: dt.time) -> None:
    assert d.parse_clock(text) == expected


@pytest.mark.parametrize("text", ["25:00", "18:61", "13pm", "tea time", "", "1830pm"])
def test_unreadable_times_are_refused_politely(text: str) -> None:
    with pytest.raises(InvalidInput, match="time"):
        d.parse_clock(text)


def test_weekdays() -> None:
    assert d.parse_weekday("tue") == 1
    assert d.parse_weekday("Sunday") == 6
    assert d.parse_weekday("0") == 0
    with pytest.raises(InvalidInput):
        d.parse_weekday("t")


def test_meeting_numbers_have_sensible_bounds() -> None:
    d.check_meeting_numbers(minutes=45, reminder_minutes=30)
    with pytest.raises(InvalidInput, match="15 to 180"):
        d.check_meeting_numbers(minutes=5, reminder_minutes=30)
    with pytest.raises(InvalidInput, match="reminder"):
        d.check_meeting_numbers(minutes=45, reminder_minutes=0)


def test_trial_rule() -> None:
    assert d.trial_outcome(["continue", "continue"]) == "continue"
    assert d.trial_outcome(["continue", None]) == "pending"
    assert d.trial_outcome([None, "part"]) == "part"
    assert d.trial_outcome(["continue", "part"]) == "part"
    assert d.trial_outcome([]) == "pending"


def test_quiet_partner_rule() -> None:
    start = utc(2026, 1, 5)
    now = start + timedelta(weeks=3)
    assert d.is_quiet(last_active_at=None, since=start, now=now, weeks=3)
    assert not d.is_quiet(last_active_at=None, since=start, now=now - timedelta(hours=1), weeks=3)
    assert not d.is_quiet(last_active_at=now - timedelta(days=1), since=start, now=now, weeks=3)
    ask = d.should_ask_about_quiet_partner
    assert ask(
        asker_quiet=False,
        partner_quiet=True,
        asked_at=None,
        partner_last_active_at=None,
        now=now,
        weeks=3,
    )
    assert not ask(
        asker_quiet=True,
        partner_quiet=True,
        asked_at=None,
        partner_last_active_at=None,
        now=now,
        weeks=3,
    )
    assert not ask(
        asker_quiet=False,
        partner_quiet=False,
        asked_at=None,
        partner_last_active_at=None,
        now=now,
        weeks=3,
    )
    asked = now - timedelta(weeks=1)
    assert not ask(
        asker_quiet=False,
        partner_quiet=True,
        asked_at=asked,
        partner_last_active_at=None,
        now=now,
        weeks=3,
    )
    assert ask(
        asker_quiet=False,
        partner_quiet=True,
        asked_at=asked,
        partner_last_active_at=None,
        now=now + timedelta(weeks=2),
        weeks=3,
    )


def test_streaks_count_met_meetings_and_skip_rescheduled_ones() -> None:
    o = d.meeting_outcome
    assert o(["yes", "no"], settled=False) == "met"
    assert o(["rescheduled"], settled=False) == "rescheduled"
    assert o(["no"], settled=False) == "missed"
    assert o([], settled=False) == "pending"
    assert o([], settled=True) == "missed"
    assert d.meeting_streak(["pending", "met", "rescheduled", "met", "missed", "met"]) == 2
    assert d.meeting_streak([]) == 0


def test_the_reminder_carries_the_goals_agenda_and_the_three_questions() -> None:
    at = utc(2026, 1, 6, 17, 0)
    text = d.reminder_text([1, 2], meeting_at=at, minutes=45, goals="**1. Goals**\n• Run 5 km")
    assert text.startswith("⏰ <@1> <@2>")
    assert f"<t:{int(at.timestamp())}:R>" in text and "45 min" in text
    assert "Run 5 km" in text
    for question in d.THREE_QUESTIONS:
        assert question in text
    empty = d.reminder_text([1, 2], meeting_at=at, minutes=45, goals="  ")
    assert "No goals written down yet" in empty


def test_a_biweekly_rhythm_meets_first_in_the_coming_week() -> None:
    now = utc(2026, 1, 5, 9, 0)  # a Monday
    rec = d.anchored(
        Recurrence(weekday=3, time=dt.time(18, 0), zone="Europe/Berlin", interval_weeks=2), now
    )
    first = next_occurrence(rec, now)
    assert first == utc(2026, 1, 8, 17, 0)
    assert next_occurrence(rec, first) == utc(2026, 1, 22, 17, 0)


def test_a_rhythm_described_in_the_other_partners_zone() -> None:
    now = utc(2026, 1, 5, 9, 0)
    rec = Recurrence(weekday=1, time=dt.time(18, 30), zone="America/New_York")
    assert d.describe_in(rec, "Europe/Berlin", now) == "Wednesday 00:30"
    assert d.describe_in(rec, "America/New_York", now) == "Tuesday 18:30"


def test_button_ids_fit_discord_and_match_their_templates() -> None:
    import re

    big = 2**63 - 1
    for made, pattern in [
        (d.proposal_button_id("decline", big), d.PROPOSAL_ID_RE),
        (d.trial_button_id("continue", big), d.TRIAL_ID_RE),
        (d.met_button_id("rescheduled", big), d.MET_ID_RE),
        (d.quiet_button_id("rematch", big), d.QUIET_ID_RE),
    ]:
        assert len(made) <= 100
        assert re.fullmatch(pattern, made)


def test_a_pair_meets_every_two_weeks_only_when_every_profile_says_so() -> None:
    assert d.pair_interval_weeks(["biweekly", "biweekly"]) == 2
    assert d.pair_interval_weeks(["biweekly", "weekly"]) == 1
    assert d.pair_interval_weeks(["biweekly", None]) == 1
    assert d.pair_interval_weeks([]) == 1


def test_a_fortnightly_reminder_asks_for_two_weeks_of_goals() -> None:
    at = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    text = d.reminder_text([1, 2], meeting_at=at, minutes=45, goals="", interval_weeks=2)
    assert "your goals for the next two weeks" in text and "next week" not in text
