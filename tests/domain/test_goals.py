"""Goals as pure rules: due dates on the member's own calendar, weeks that end on their Sunday,
check-ins at their local time across daylight-saving changes, and the pattern an outside eye
would name in their misses."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import goals as g

MONDAY = date(2026, 3, 9)


# --------------------------------------------------------------------------- due dates, weeks


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("this week", date(2026, 3, 11), date(2026, 3, 15)),
        ("This Week", date(2026, 3, 15), date(2026, 3, 15)),  # on Sunday: today
        ("next week", date(2026, 3, 11), date(2026, 3, 22)),
        ("next_week", date(2026, 3, 15), date(2026, 3, 22)),
        ("today", date(2026, 3, 11), date(2026, 3, 11)),
        ("tomorrow", date(2026, 3, 11), date(2026, 3, 12)),
        ("2026-04-01", date(2026, 3, 11), date(2026, 4, 1)),
        (" 2026-03-11 ", date(2026, 3, 11), date(2026, 3, 11)),
    ],
)
def test_due_dates_read_on_the_members_calendar(text: str, today: date, expected: date) -> None:
    assert g.parse_due(text, today=today) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("someday", "couldn't read"),
        ("2026-02-30", "isn't a real date"),
        ("2026-03-10", "already passed"),
        ("2028-01-01", "within the next year"),
        ("../../etc/passwd", "couldn't read"),
    ],
)
def test_bad_due_dates_are_refused_kindly(text: str, fragment: str) -> None:
    with pytest.raises(g.GoalError) as caught:
        g.parse_due(text, today=date(2026, 3, 11))
    assert fragment in caught.value.user_message


def test_the_week_runs_monday_to_sunday() -> None:
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        assert g.week_start(day) == MONDAY
        assert g.week_end(day) == date(2026, 3, 15)
    assert g.week_start(date(2026, 3, 16)) == date(2026, 3, 16)


def test_a_deadline_is_2359_on_the_due_day_in_the_members_zone() -> None:
    sunday = date(2026, 3, 15)
    assert g.deadline(sunday, "Asia/Tokyo") == datetime(2026, 3, 15, 14, 59, tzinfo=UTC)
    assert g.deadline(sunday, "America/Sao_Paulo") == datetime(2026, 3, 16, 2, 59, tzinfo=UTC)


def test_the_same_instant_is_a_different_day_in_tokyo_and_sao_paulo() -> None:
    moment = datetime(2026, 3, 15, 20, 0, tzinfo=UTC)  # Monday 05:00 Tokyo, Sunday 17:00 SP
    assert g.local_date(moment, "Asia/Tokyo") == date(2026, 3, 16)
    assert g.local_date(moment, "America/Sao_Paulo") == date(2026, 3, 15)
    # "this week" therefore means different Sundays for the two partners at that moment.
    assert g.parse_due("this week", today=g.local_date(moment, "Asia/Tokyo")) == date(2026, 3, 22)
    assert g.parse_due("this week", today=g.local_date(moment, "America/Sao_Paulo")) == date(
        2026, 3, 15
    )


def test_week_bounds_follow_a_daylight_saving_change() -> None:
    # Berlin springs forward on Sunday 29 March 2026: that week is 167 hours long.
    start, end = g.week_bounds_utc(date(2026, 3, 23), "Europe/Berlin")
    assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=167)


def test_due_labels_and_suggestions() -> None:
    today = date(2026, 3, 11)
    assert g.due_label(date(2026, 3, 15), today=today) == "this week"
    assert g.due_label(date(2026, 3, 22), today=today) == "next week"
    assert g.due_label(today, today=today) == "today"
    assert g.due_label(date(2026, 4, 1), today=today) == "Wed 1 Apr 2026"
    values = [v for _, v in g.due_suggestions(today)]
    assert values[:3] == ["this week", "next week", "2026-03-11"]
    assert len(values) <= 25
    assert [v for _, v in g.due_suggestions(today, "2026-05-05")] == ["2026-05-05"]
    assert all("next" in label for label, _ in g.due_suggestions(today, "next"))


def test_goal_text_is_one_clean_line_of_bounded_length() -> None:
    assert g.clean_goal_text("  write\n 500   words\t") == "write 500 words"
    assert g.clean_goal_text("@everyone ship it") == "@everyone ship it"  # kept; never pinged
    with pytest.raises(g.GoalError):
        g.clean_goal_text("   ")
    with pytest.raises(g.GoalError):
        g.clean_goal_text("x" * 201)


def test_long_text_is_kept_whole_up_to_its_limit() -> None:
    note = "line one\n\n" + "n" * (g.NOTE_MAX - 10)
    assert len(note) == g.NOTE_MAX
    assert g.clean_long_text(note, limit=g.NOTE_MAX, what="note") == note
    assert g.clean_long_text("  \n ", limit=g.NOTE_MAX, what="note") is None
    with pytest.raises(g.GoalError) as caught:
        g.clean_long_text(note + "!", limit=g.NOTE_MAX, what="note")
    assert "4,000" in caught.value.user_message


def test_reasons_have_friendly_labels_and_unknown_codes_are_refused() -> None:
    assert set(g.REASONS) == {"family", "work", "distraction", "underestimated", "unsure", "other"}
    assert g.parse_reason("work") == "work"
    with pytest.raises(g.GoalError):
        g.parse_reason("lazy")


# --------------------------------------------------------------------------- check-in timing


NOW = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
TOKYO_TUESDAYS = g.MeetingRhythm(1, dt.time(20, 0), "Asia/Tokyo")


def first_checkin(rule: g.CheckinRule, after: datetime = NOW) -> datetime:
    return g.next_checkin(rule, after)


def test_a_members_own_checkin_time_wins() -> None:
    rule = g.CheckinRule("Asia/Tokyo", weekday=2, time=dt.time(7, 30), meeting=TOKYO_TUESDAYS)
    at = first_checkin(rule).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (at.weekday(), at.time()) == (2, dt.time(7, 30))


def test_by_default_the_checkin_is_the_day_before_the_meeting_in_each_partners_own_time() -> None:
    # Meeting Tuesday 20:00 in Tokyo = Tuesday 08:00 in São Paulo (UTC-3).
    tokyo = first_checkin(g.CheckinRule("Asia/Tokyo", meeting=TOKYO_TUESDAYS))
    sao_paulo = first_checkin(g.CheckinRule("America/Sao_Paulo", meeting=TOKYO_TUESDAYS))
    assert tokyo == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)  # Monday 20:00 Tokyo
    assert sao_paulo == datetime(2026, 3, 9, 11, 0, tzinfo=UTC)  # Monday 08:00 São Paulo


def test_a_default_checkin_is_never_at_night() -> None:
    # Meeting Wednesday 17:00 Tokyo = Wednesday 05:00 São Paulo: asked Tuesday 18:00 there.
    meeting = g.MeetingRhythm(2, dt.time(17, 0), "Asia/Tokyo")
    at = first_checkin(g.CheckinRule("America/Sao_Paulo", meeting=meeting))
    local = at.astimezone(ZoneInfo("America/Sao_Paulo"))
    assert (local.weekday(), local.time()) == (1, g.DEFAULT_CHECKIN_TIME)


def test_without_a_meeting_the_checkin_is_friday_evening() -> None:
    at = first_checkin(g.CheckinRule("Europe/Berlin")).astimezone(ZoneInfo("Europe/Berlin"))
    assert (at.weekday(), at.time()) == (4, dt.time(18, 0))


def test_checkins_stay_at_the_local_time_across_a_daylight_saving_change() -> None:
    rule = g.CheckinRule("Europe/Berlin", weekday=4, time=dt.time(18, 0))
    found = g.checkin_moments(
        rule, datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 4, tzinfo=UTC)
    )
    assert found == [
        datetime(2026, 3, 20, 17, 0, tzinfo=UTC),  # CET
        datetime(2026, 3, 27, 17, 0, tzinfo=UTC),  # CET (change on the 29th)
        datetime(2026, 4, 3, 16, 0, tzinfo=UTC),  # CEST
    ]


def test_the_agenda_lead_agrees_with_partnerships() -> None:
    """The due moment is counted back from when partnerships builds the agenda; if its lead
    changed without this one, prompts would come after the agenda."""
    from bot.services import partnerships

    assert g.AGENDA_PREP_LEAD == partnerships.PREP_LEAD


# --------------------------------------------------------------------------- the cycle


WED_BERLIN = g.MeetingRhythm(2, dt.time(18, 0), "Europe/Berlin", reminder_minutes=30)
AFTER_MEETING = datetime(2026, 3, 11, 18, 0, tzinfo=UTC)  # Wednesday 19:00 CET


def test_a_goal_set_after_a_meeting_is_due_shortly_before_the_next_one() -> None:
    due, rule = g.resolve_due(None, now=AFTER_MEETING, zone="Europe/Berlin", meeting=WED_BERLIN)
    meeting = datetime(2026, 3, 18, 17, 0, tzinfo=UTC)  # next Wednesday 18:00 CET
    assert rule == "meeting"
    assert due == meeting - timedelta(minutes=30) - g.AGENDA_PREP_LEAD - g.ANSWER_TIME
    # Without a meeting time the default is the calendar week.
    due, rule = g.resolve_due(None, now=AFTER_MEETING, zone="Europe/Berlin", meeting=None)
    assert (rule, due) == ("day", datetime(2026, 3, 15, 22, 59, tzinfo=UTC))
    with pytest.raises(g.GoalError):
        g.resolve_due("next meeting", now=AFTER_MEETING, zone="Europe/Berlin", meeting=None)


def test_a_goal_set_just_before_a_meeting_is_for_the_one_after() -> None:
    before = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # Wednesday 16:00, past the due moment
    due, _ = g.resolve_due(None, now=before, zone="Europe/Berlin", meeting=WED_BERLIN)
    assert due.date() == date(2026, 3, 25)


@pytest.mark.parametrize("weekday", range(7))
@pytest.mark.parametrize("interval", [1, 2])
def test_the_order_is_checkin_due_prompt_agenda_meeting_on_every_weekday(
    weekday: int, interval: int
) -> None:
    """Issue 12: a pair meeting on any day but Monday was never asked about its goals."""
    meeting = g.MeetingRhythm(weekday, dt.time(18, 0), "Europe/Berlin", interval, MONDAY)
    rule = g.CheckinRule("Asia/Kathmandu", meeting=meeting)
    for hours in range(0, 24 * 14, 5):
        now = datetime(2026, 3, 9, tzinfo=UTC) + timedelta(hours=hours)
        due, _ = g.resolve_due(None, now=now, zone="Asia/Kathmandu", meeting=meeting)
        goal = g.GoalTiming(1, now, due, "meeting")
        planned = g.next_checkin_for(rule, [goal], now=now)
        assert planned is not None and planned.goal_ids == (1,)
        review = g.review_moment(goal, zone="Asia/Kathmandu", meeting=meeting)
        meeting_at = meeting.next_meeting(due)
        assert now < planned.at < due < review < meeting.agenda_at(meeting_at) < meeting_at


def test_a_goal_set_after_the_last_checkin_of_its_cycle_gets_a_last_call() -> None:
    """A "this week" goal set on Wednesday by a pair meeting on Tuesdays: the regular check-in
    (Monday) comes after Sunday, so it is asked on Saturday at 18:00."""
    tuesdays = g.MeetingRhythm(1, dt.time(19, 0), "Europe/Berlin")
    rule = g.CheckinRule("Europe/Berlin", meeting=tuesdays)
    due, _ = g.resolve_due("this week", now=AFTER_MEETING, zone="Europe/Berlin", meeting=None)
    goal = g.GoalTiming(7, AFTER_MEETING, due)
    planned = g.next_checkin_for(rule, [goal], now=AFTER_MEETING)
    assert planned == g.CheckinDue(datetime(2026, 3, 14, 17, 0, tzinfo=UTC), (7,))
    # At that moment the rule still asks about it, and once asked it needs no other.
    assert g.checkins_at(rule, [goal], planned.at) == (7,)
    asked = g.GoalTiming(7, AFTER_MEETING, due, asked=True)
    assert g.next_checkin_for(rule, [asked], now=planned.at) is None


def test_an_end_of_day_goal_is_reviewed_the_next_morning_not_at_night() -> None:
    due = datetime(2026, 3, 15, 22, 59, tzinfo=UTC)  # Sunday 23:59 Berlin
    goal = g.GoalTiming(1, AFTER_MEETING, due)
    assert g.review_moment(goal, zone="Europe/Berlin", meeting=None) == datetime(
        2026, 3, 16, 7, 0, tzinfo=UTC
    )  # Monday 08:00
    # ...unless the pair meets early on Monday: then at once, before that agenda.
    early = g.MeetingRhythm(0, dt.time(9, 0), "Europe/Berlin")
    review = g.review_moment(goal, zone="Europe/Berlin", meeting=early)
    assert due < review <= early.due_at(datetime(2026, 3, 16, 8, 0, tzinfo=UTC)) + g.REVIEW_DELAY


def test_a_snoozed_week_moves_a_goal_to_the_cycle_after_it() -> None:
    due = datetime(2026, 3, 15, 22, 59, tzinfo=UTC)
    goal = g.GoalTiming(1, AFTER_MEETING, due)
    moved = g.moved_due(
        goal, zone="Europe/Berlin", meeting=None, now=due, snoozed={date(2026, 3, 9)}
    )
    assert moved == datetime(2026, 3, 22, 22, 59, tzinfo=UTC)
    first_due = WED_BERLIN.due_at(datetime(2026, 3, 18, 17, 0, tzinfo=UTC))
    meeting_goal = g.GoalTiming(2, AFTER_MEETING, first_due, "meeting")
    moved = g.moved_due(
        meeting_goal,
        zone="Europe/Berlin",
        meeting=WED_BERLIN,
        now=first_due,
        snoozed={date(2026, 3, 16)},
    )
    assert moved == WED_BERLIN.due_at(datetime(2026, 3, 25, 17, 0, tzinfo=UTC))


def test_clock_and_weekday_parsing() -> None:
    assert g.parse_clock("18:30") == dt.time(18, 30)
    assert g.parse_clock("7.05") == dt.time(7, 5)
    for bad in ("24:00", "18:60", "six", ""):
        with pytest.raises(g.GoalError):
            g.parse_clock(bad)
    assert g.parse_weekday("Monday") == 0
    assert g.parse_weekday("sun") == 6
    with pytest.raises(g.GoalError):
        g.parse_weekday("someday")


def test_custom_ids_fit_discord_and_stay_parseable() -> None:
    big = 2**63 - 1
    for cid in (
        g.answer_id(big, "partly"),
        g.feedback_id(big),
        g.why_id(big),
        g.reason_select_id(big),
        g.note_modal_id(big),
        g.feedback_modal_id(big),
        g.help_modal_id(big, "underestimated"),
    ):
        assert 1 <= len(cid) <= 100
        assert cid.startswith("pairbot:g:")


# --------------------------------------------------------------------------- patterns


def rec(
    status: str,
    due: date,
    *,
    area: str | None = None,
    created: date | None = None,
    reason: str | None = None,
) -> g.GoalRecord:
    return g.GoalRecord(
        status=status,
        due=due,
        created=created or g.week_start(due),
        area=area,
        reason=reason,
    )


def week(n: int, weekday: int = 6) -> date:
    """A day of the n-th week of the history (week 0 starts Monday 5 Jan 2026)."""
    return date(2026, 1, 5) + timedelta(weeks=n, days=weekday)


def test_writing_goals_set_for_mondays_are_the_pattern() -> None:
    history = [
        rec("missed", week(0, 0), area="writing"),
        rec("done", week(0), area="fitness"),
        rec("done", week(1), area="writing"),
        rec("missed", week(1, 0), area="writing"),
        rec("done", week(2), area="fitness"),
        rec("missed", week(2), area="fitness"),
        rec("missed", week(3, 0), area="writing"),
        rec("done", week(3), area="study"),
    ]
    found = g.find_pattern(history)
    assert found is not None
    assert found.sentence() == "3 of your last 4 misses were writing goals set for Mondays."


def test_no_pattern_before_three_weeks_of_history() -> None:
    history = [rec("missed", week(0, d), area="writing") for d in range(4)]
    history += [rec("missed", week(1, d), area="writing") for d in range(4)]
    assert g.find_pattern(history) is None
    history.append(rec("done", week(2), area="fitness"))
    found = g.find_pattern(history)
    assert found is not None
    assert "writing goals" in found.sentence()


def test_no_pattern_when_misses_are_scattered() -> None:
    history = [
        rec("missed", week(0, 1), area="writing", reason="work"),
        rec("done", week(0), area="fitness"),
        rec("missed", week(1, 3), area="fitness", reason="family"),
        rec("done", week(1), area="study"),
        rec("missed", week(2, 5), area="study", reason="distraction"),
        rec("done", week(3), area="writing"),
    ]
    assert g.find_pattern(history) is None


def test_a_trait_every_goal_has_is_not_news() -> None:
    # Every goal is due on Sunday ("this week"): "your misses were all Sunday goals" says nothing.
    history = [rec("missed" if n % 2 else "done", week(n)) for n in range(8)]
    assert g.find_pattern(history) is None


def test_a_shared_reason_is_named() -> None:
    history = [
        rec("missed", week(0, 2), area="study", reason="work"),
        rec("done", week(0), area="fitness"),
        rec("missed", week(1, 4), area="fitness", reason="work"),
        rec("done", week(2), area="study"),
        rec("missed", week(3, 1), area="writing", reason="family"),
        rec("missed", week(4, 3), area="career", reason="work"),
    ]
    found = g.find_pattern(history)
    assert found is not None
    assert found.sentence() == "3 of your last 4 misses were put down to too much work."


def test_when_every_recent_miss_shares_the_trait_the_sentence_says_so() -> None:
    history = [
        rec("missed", week(0, 2), area="fitness"),
        rec("done", week(0), area="study"),
        rec("done", week(1), area="study"),
        rec("missed", week(1, 4), area="fitness"),
        rec("done", week(2), area="study"),
        rec("missed", week(2, 3), area="fitness"),
    ]
    found = g.find_pattern(history)
    assert found is not None
    assert found.sentence() == "All of your last 3 misses were fitness goals."


def test_goals_set_far_ahead_are_a_pattern() -> None:
    history = []
    for n in range(4):
        history.append(rec("done", week(n), area=None))
        history.append(rec("missed", week(n + 1), created=week(n, 0)))  # written a week ahead
    found = g.find_pattern(history)
    assert found is not None
    assert found.phrase == "goals set for a later week"


def test_only_finished_goals_count() -> None:
    history = [rec("open", week(n, 0), area="writing") for n in range(5)]
    history += [rec("dropped", week(n, 0), area="writing") for n in range(5)]
    assert g.find_pattern(history) is None


# --------------------------------------------------------------------------- the agenda


def test_the_agenda_puts_missed_goals_with_reasons_first() -> None:
    agenda = g.Agenda(
        members=(
            g.AgendaMember(
                1,
                (
                    g.AgendaGoal("run 10 km", "done", week(0)),
                    g.AgendaGoal("write @everyone", "missed", week(0), "work", "block mornings"),
                ),
            ),
            g.AgendaMember(2, (g.AgendaGoal("learn kana", "open", week(1)),)),
        )
    )
    text = agenda.render()
    lines = text.splitlines()
    assert lines[0] == "**1. Missed goals — what got in the way**"
    assert lines[1] == "• <@1>: write @everyone — *Too much work*"
    assert "what would help: block mornings" in lines[2]
    assert "**2. Goals**" in text
    assert "✅ run 10 km (done)" in text
    assert "⏳ learn kana (open)" in text
    assert text.index("Missed goals") < text.index("**2. Goals**")


def test_an_agenda_fits_its_limit_and_knows_when_it_is_empty() -> None:
    assert g.Agenda().empty
    assert g.Agenda(members=(g.AgendaMember(1),)).empty
    many = tuple(g.AgendaGoal("x" * 200, "missed", week(0), "other", "y" * 1000) for _ in range(30))
    text = g.Agenda(members=(g.AgendaMember(1, many),)).render(limit=1500)
    assert len(text) <= 1500
    assert text.endswith("…")


# --------------------------------------------------------------------------- streaks


def test_a_snoozed_week_neither_counts_nor_breaks_a_streak() -> None:
    weeks = [week(n, 0) for n in range(6)]
    progress = {weeks[0], weeks[1], weeks[3], weeks[4]}
    assert g.streak_weeks(progress, set(), current_week=weeks[5]) == 2
    assert g.streak_weeks(progress, {weeks[2]}, current_week=weeks[5]) == 4
    # The current week counts once it has progress, and never breaks the run before that.
    assert g.streak_weeks(progress | {weeks[5]}, {weeks[2]}, current_week=weeks[5]) == 5
    assert g.streak_weeks(set(), {weeks[2]}, current_week=weeks[5]) == 0
    assert g.streak_weeks({weeks[3]}, {weeks[4]}, current_week=weeks[5]) == 1
