"""Members type when they are free; the bot reads it, shows it back, converts it for partners."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.availability import Window
from bot.domain.availability_text import (
    DAY_NAMES,
    MAX_WINDOWS,
    PRESETS,
    format_availability,
    normalize_windows,
    parse_availability,
    windows_to_zone,
)
from bot.domain.errors import AvailabilityError, TimeZoneError

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def hm(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def w(day: int, start: str, end: str) -> Window:
    return Window(day, hm(start), hm(end))


# --- reading what members type ---------------------------------------------------------------


def test_a_member_who_is_free_on_weekday_evenings_just_says_so() -> None:
    assert parse_availability("weekday evenings") == tuple(
        w(day, "18:00", "21:00") for day in range(MON, SAT)
    )


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_reads_as_its_documented_windows(name: str) -> None:
    assert parse_availability(name) == normalize_windows(PRESETS[name])
    assert parse_availability(name.upper().replace(" ", "-")) == parse_availability(name)


def test_presets_combine_and_have_friendly_variants() -> None:
    assert parse_availability("Weekday evenings, weekend mornings") == (
        *(w(day, "18:00", "21:00") for day in range(MON, SAT)),
        w(SAT, "09:00", "12:00"),
        w(SUN, "09:00", "12:00"),
    )
    assert parse_availability("weeknights") == parse_availability("weekday evenings")
    assert parse_availability("weekend morning") == parse_availability("weekend mornings")
    assert parse_availability("any time") == parse_availability("anytime")


def test_the_short_form_with_day_ranges_and_several_items() -> None:
    assert parse_availability("Mon-Fri 18:00-21:00, Sat 09:00-12:00") == (
        *(w(day, "18:00", "21:00") for day in range(MON, SAT)),
        w(SAT, "09:00", "12:00"),
    )


def test_a_list_of_days_shares_its_times() -> None:
    assert parse_availability("Tue,Thu 19:30-21:00") == (
        w(TUE, "19:30", "21:00"),
        w(THU, "19:30", "21:00"),
    )


def test_a_bare_time_range_reuses_the_days_before_it() -> None:
    assert parse_availability("Mon 09:00-10:00, 18:00-19:00") == (
        w(MON, "09:00", "10:00"),
        w(MON, "18:00", "19:00"),
    )


def test_late_sunday_crosses_midnight_into_monday() -> None:
    assert parse_availability("Sun 22:00-01:00") == (
        w(MON, "00:00", "01:00"),
        w(SUN, "22:00", "24:00"),
    )


@pytest.mark.parametrize(
    "typed",
    [
        "mon 18:00-21:00",
        "MONDAY 18:00-21:00",
        "Mondays 18:00 - 21:00",
        "mon 6pm-9pm",
        "Mon 6 pm to 9 p.m.",
        "Mon 6-9pm",
        "mon 18.00-21.00",
        "Mon 18-21",
        "every Monday from 18:00 to 21:00",
        "Mon 18:00-19:30, 19:00-21:00",
        "Mon 18:00-20:00; Mon 20:00-21:00",
    ],
)
def test_the_same_evening_written_many_ways(typed: str) -> None:
    assert parse_availability(typed) == (w(MON, "18:00", "21:00"),)


def test_twelve_hour_times_and_words() -> None:
    assert parse_availability("Sat 10am-noon") == (w(SAT, "10:00", "12:00"),)
    assert parse_availability("Sat 11-1pm") == (w(SAT, "11:00", "13:00"),)
    assert parse_availability("Sat 12am-12:30am") == (w(SAT, "00:00", "00:30"),)
    assert parse_availability("Fri 10pm-midnight") == (w(FRI, "22:00", "24:00"),)
    assert parse_availability("Fri 22:00-24:00") == (w(FRI, "22:00", "24:00"),)
    assert parse_availability("weekends 07:00-9pm") == (
        w(SAT, "07:00", "21:00"),
        w(SUN, "07:00", "21:00"),
    )


def test_day_ranges_can_wrap_around_the_weekend() -> None:
    days = [window.day for window in parse_availability("Fri-Mon 10:00-11:00")]
    assert days == [MON, FRI, SAT, SUN]


def test_overlapping_and_touching_windows_are_merged() -> None:
    assert parse_availability("Mon 10:00-12:00, Mon 11:00-13:00, Mon 13:00-14:00") == (
        w(MON, "10:00", "14:00"),
    )
    assert parse_availability("weekday evenings, Mon-Fri 20:00-22:00") == tuple(
        w(day, "18:00", "22:00") for day in range(MON, SAT)
    )


# --- errors that point at the bad part -------------------------------------------------------


def test_a_typo_in_a_day_is_pointed_out() -> None:
    with pytest.raises(AvailabilityError) as caught:
        parse_availability("Mon-Fri 18:00-21:00, Mun 18:00-21:00")
    assert caught.value.user_message == (
        "I couldn't read “Mun 18:00-21:00”: “Mun” isn't a day (try Mon, Tue, …)"
    )
    assert caught.value.part == "Mun 18:00-21:00"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("Mon 25:00-26:00", "“25:00” isn't a time"),
        ("Mon 18:60-19:00", "“18:60” isn't a time"),
        ("Mon 13pm-2pm", "“13pm” isn't a time"),
        ("Mon 21:00-18:00", "ends before it starts"),
        ("Mon 18:00-18:00", "starts and ends at the same time"),
        ("Mon 24:00-01:00", "24:00 can only end a range"),
        ("Mon 18:00", "needs a start and an end"),
        ("18:00-21:00", "which days?"),
        ("Mon, Tue", "which times?"),
        ("Mon-", "needs a last day"),
        ("Mon 18:00-21:00 #", "I didn't expect “#”"),
        ("weekday evenigns", "try “weekday evenings”"),
    ],
)
def test_bad_parts_are_named_in_the_error(typed: str, says: str) -> None:
    with pytest.raises(AvailabilityError) as caught:
        parse_availability(typed)
    assert says in caught.value.user_message
    assert caught.value.user_message.startswith("I couldn't read “")


@pytest.mark.parametrize("typed", ["", "   ", ",,,", "\n"])
def test_empty_input_asks_for_availability(typed: str) -> None:
    with pytest.raises(AvailabilityError, match="Please tell me when you're free"):
        parse_availability(typed)


def test_over_long_input_is_refused_before_reading() -> None:
    with pytest.raises(AvailabilityError, match="under 500 characters"):
        parse_availability("Mon 18:00-21:00, " * 40)


def test_too_many_windows_are_refused() -> None:
    many = "daily 0-1, 2-3, 4-5, 6-7, 8-9, 10-11, 12-13, 14-15"
    with pytest.raises(AvailabilityError, match=f"more than {MAX_WINDOWS}"):
        parse_availability(many)


# --- showing it back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("weekday evenings", "Mon-Fri 18:00-21:00"),
        ("Sat 09:00-12:00, Mon-Fri 6pm-9pm", "Mon-Fri 18:00-21:00, Sat 09:00-12:00"),
        ("Thu 19:30-21:00, Tue 19:30-21:00", "Tue,Thu 19:30-21:00"),
        ("Mon,Tue,Wed,Fri 07:00-08:00", "Mon-Wed,Fri 07:00-08:00"),
        ("Mon 18:00-19:00, Mon 09:00-10:00", "Mon 09:00-10:00, 18:00-19:00"),
        ("Sun 22:00-01:00", "Mon 00:00-01:00, Sun 22:00-24:00"),
        ("anytime", "Mon-Sun 00:00-24:00"),
    ],
)
def test_availability_is_shown_back_in_one_canonical_form(typed: str, shown: str) -> None:
    assert format_availability(parse_availability(typed)) == shown
    assert parse_availability(shown) == parse_availability(typed)


def test_no_windows_show_as_nothing() -> None:
    assert format_availability(()) == ""


def test_invalid_windows_from_elsewhere_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        format_availability([Window(MON, 600, 600)])
    with pytest.raises(ValueError):
        format_availability([Window(7, 0, 60)])


# --- in a partner's time zone ----------------------------------------------------------------


def test_a_berlin_member_s_evenings_are_shown_to_her_tokyo_partner_in_tokyo_time() -> None:
    mine = parse_availability("Mon-Fri 18:00-21:00, Sun 22:00-23:30")
    theirs = windows_to_zone(mine, "Europe/Berlin", "Asia/Tokyo", date(2026, 1, 12))
    assert format_availability(theirs) == "Mon 06:00-07:30, Tue-Sat 02:00-05:00"


def test_the_week_the_clocks_change_uses_the_real_dates() -> None:
    mine = parse_availability("Mon-Fri 18:00-21:00")
    # New York is already on summer time; Berlin changes on 29 March 2026.
    before = windows_to_zone(mine, "Europe/Berlin", "America/New_York", date(2026, 3, 25))
    after = windows_to_zone(mine, "Europe/Berlin", "America/New_York", date(2026, 4, 1))
    assert format_availability(before) == "Mon-Fri 13:00-16:00"
    assert format_availability(after) == "Mon-Fri 12:00-15:00"


def test_a_window_across_the_change_keeps_its_real_length() -> None:
    fall_back = parse_availability("Sun 00:00-04:00")
    berlin = windows_to_zone(fall_back, "UTC", "Europe/Berlin", date(2026, 10, 25))
    assert berlin == (w(SUN, "02:00", "05:00"),)
    spring = windows_to_zone(
        parse_availability("Sun 01:00-04:00"), "Europe/Berlin", "Europe/Berlin", date(2026, 3, 29)
    )
    assert spring == (w(SUN, "01:00", "02:00"), w(SUN, "03:00", "04:00"))


def test_converting_needs_real_zones() -> None:
    with pytest.raises(TimeZoneError):
        windows_to_zone((w(MON, "18:00", "19:00"),), "europe/berlin", "UTC", date(2026, 1, 5))


# --- properties ------------------------------------------------------------------------------


@st.composite
def windows(draw: st.DrawFn) -> tuple[Window, ...]:
    found = []
    for _ in range(draw(st.integers(1, 12))):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, 1440))
        found.append(Window(draw(st.integers(0, 6)), start, end))
    return normalize_windows(found)


def _clock(minutes: int, twelve_hour: bool) -> str:
    hours, mins = divmod(minutes, 60)
    if twelve_hour and minutes < 1440:
        suffix = "am" if hours < 12 else "pm"
        return f"{hours % 12 or 12}:{mins:02d}{suffix}"
    return f"{hours:02d}:{mins:02d}"


@st.composite
def typed_items(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(sorted(PRESETS)))
    first = draw(st.integers(0, 6))
    last = draw(st.integers(0, 6))
    days = DAY_NAMES[first] if first == last else f"{DAY_NAMES[first]}-{DAY_NAMES[last]}"
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(start + 1, 1440))
    twelve = draw(st.booleans())
    return f"{days} {_clock(start, twelve)}-{_clock(end, twelve)}"


@settings(deadline=None, max_examples=150)
@given(windows())
def test_whatever_is_shown_reads_back_to_the_same_windows(found: tuple[Window, ...]) -> None:
    assume(len(found) <= MAX_WINDOWS)
    text = format_availability(found)
    assume(len(text) <= 500)
    assert parse_availability(text) == found


@settings(deadline=None, max_examples=150)
@given(st.lists(typed_items(), min_size=1, max_size=6))
def test_whatever_parses_is_shown_back_and_parses_again_the_same(items: list[str]) -> None:
    parsed = parse_availability(", ".join(items))
    shown = format_availability(parsed)
    assert parse_availability(shown) == parsed
    assert format_availability(parse_availability(shown)) == shown


ALPHABET = st.sampled_from(
    [*"0123456789:-–., ;\n/&+apm@#", "Mon", "tue", "Sunday", "weekday", "evenings", "to", "noon"]
)


@settings(deadline=None, max_examples=200)
@given(st.one_of(st.text(max_size=120), st.lists(ALPHABET, max_size=40).map("".join)))
def test_random_input_never_raises_anything_but_the_friendly_error(text: str) -> None:
    try:
        parsed = parse_availability(text)
    except AvailabilityError as error:
        assert 0 < len(error.user_message) <= 300
    else:
        assert 0 < len(parsed) <= MAX_WINDOWS
        assert parsed == normalize_windows(parsed)
        assert parse_availability(format_availability(parsed)) == parsed


FIXED_ZONES = ["UTC", "Asia/Kolkata", "Asia/Tokyo", "Asia/Kathmandu", "Etc/GMT+5", "Asia/Dubai"]


def _minutes(found: tuple[Window, ...]) -> int:
    return sum(window.end - window.start for window in found)


@settings(deadline=None, max_examples=60)
@given(
    windows(),
    st.sampled_from(FIXED_ZONES),
    st.sampled_from(FIXED_ZONES),
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
)
def test_without_daylight_saving_conversion_keeps_every_minute_and_round_trips(
    found: tuple[Window, ...], source: str, target: str, week: date
) -> None:
    there = windows_to_zone(found, source, target, week)
    assert _minutes(there) == _minutes(found)
    assert windows_to_zone(there, target, source, week) == found


@settings(deadline=None, max_examples=60)
@given(
    windows(),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo"]),
    st.sampled_from(["Europe/London", "America/Los_Angeles", "Pacific/Auckland", "UTC"]),
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
)
def test_conversion_always_gives_valid_windows_of_about_the_same_total(
    found: tuple[Window, ...], source: str, target: str, week: date
) -> None:
    there = windows_to_zone(found, source, target, week)
    assert there == normalize_windows(there)
    assert abs(_minutes(there) - _minutes(found)) <= 2 * 60
