"""Members find their time zone by typing what they know, and only real zones get through."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.errors import TimeZoneError
from bot.domain.timezones import (
    ABBREVIATIONS,
    POPULAR_ZONES,
    REGIONS,
    is_known_zone,
    search_zones,
    validate_zone,
    zone_label,
    zone_region,
)

WINTER = datetime(2026, 1, 15, 13, 5, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, 5, tzinfo=UTC)
ALL_ZONES = sorted(n for n in zoneinfo.available_timezones() if is_known_zone(n))


def names(query: str, now: datetime = WINTER, limit: int = 25) -> list[str]:
    return [choice.name for choice in search_zones(query, now=now, limit=limit)]


# --- finding a zone --------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["berlin", "Berlin", "BERLIN", " berlin ", "CET", "germany"])
def test_a_member_in_berlin_finds_her_zone_however_she_types_it(typed: str) -> None:
    assert names(typed)[0] == "Europe/Berlin"


def test_typing_germany_shows_berlin_with_her_local_time_beside_it() -> None:
    choice = search_zones("germany", now=WINTER)[0]
    assert choice.name == "Europe/Berlin"
    assert choice.label == "Europe/Berlin — 14:05 (UTC+01:00)"


def test_in_summer_the_label_shows_summer_time() -> None:
    choice = search_zones("berlin", now=SUMMER)[0]
    assert choice.label == "Europe/Berlin — 14:05 (UTC+02:00)"


def test_half_hour_and_negative_offsets_read_naturally() -> None:
    assert zone_label("Asia/Kolkata", WINTER) == "Asia/Kolkata — 18:35 (UTC+05:30)"
    assert zone_label("America/St_Johns", WINTER) == "America/St_Johns — 09:35 (UTC-03:30)"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("PST", "America/Los_Angeles"),
        ("est", "America/New_York"),
        ("IST", "Asia/Kolkata"),
        ("JST", "Asia/Tokyo"),
        ("AEST", "Australia/Sydney"),
        ("BST", "Europe/London"),
        ("GMT", "UTC"),
        ("UTC", "UTC"),
    ],
)
def test_common_abbreviations_lead_to_the_zone_people_mean(typed: str, expected: str) -> None:
    assert names(typed)[0] == expected


def test_ambiguous_abbreviations_offer_every_reading() -> None:
    assert {"Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"} <= set(names("IST"))
    assert "Europe/London" in names("GMT")


def test_every_abbreviation_points_at_real_zones() -> None:
    for abbreviation, zones in ABBREVIATIONS.items():
        for zone in zones:
            assert is_known_zone(zone), (abbreviation, zone)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("new york", "America/New_York"),
        ("new_york", "America/New_York"),
        ("America/New_York", "America/New_York"),
        ("usa", "America/New_York"),
        ("united states", "America/New_York"),
        ("uk", "Europe/London"),
        ("india", "Asia/Kolkata"),
        ("norway", "Europe/Oslo"),
        ("japan", "Asia/Tokyo"),
        ("sao paulo", "America/Sao_Paulo"),
        ("são paulo", "America/Sao_Paulo"),
        ("ivory coast", "Africa/Abidjan"),
        ("kolk", "Asia/Kolkata"),
    ],
)
def test_cities_countries_and_partial_names_are_found(typed: str, expected: str) -> None:
    assert names(typed)[0] == expected


def test_city_prefix_matches_rank_before_mere_substrings() -> None:
    found = names("ber")
    assert found[0] == "Europe/Berlin"
    assert found.index("Atlantic/Bermuda") < found.index("Australia/Canberra")


def test_legacy_names_are_found_but_current_names_come_first() -> None:
    assert names("CET")[:2] == ["Europe/Berlin", "Europe/Paris"]
    assert "CET" in names("CET")
    assert "US/Eastern" in names("us/east")[:2]


def test_an_empty_query_offers_a_short_list_of_popular_zones_west_to_east() -> None:
    choices = search_zones("", now=WINTER)
    assert 10 <= len(choices) <= 25
    assert {c.name for c in choices} <= set(POPULAR_ZONES)
    assert {"UTC", "Europe/London", "America/New_York", "Asia/Kolkata"} <= {c.name for c in choices}
    offsets = [WINTER.astimezone(zoneinfo.ZoneInfo(c.name)).utcoffset() for c in choices]
    assert offsets == sorted(offsets)  # type: ignore[type-var]


@pytest.mark.parametrize("query", ["", "a", "america", "e", "united states", "/"])
@pytest.mark.parametrize("limit", [0, 1, 5, 25, 100])
def test_never_more_choices_than_asked_or_than_discord_allows(query: str, limit: int) -> None:
    assert len(search_zones(query, now=WINTER, limit=limit)) <= min(limit, 25)


def test_nonsense_finds_nothing() -> None:
    assert names("Mars/Olympus") == []
    assert names("../../etc/passwd") == []


def test_every_label_fits_discords_limit() -> None:
    for zone in ALL_ZONES:
        assert len(zone_label(zone, WINTER)) <= 100


def test_search_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        search_zones("berlin", now=datetime(2026, 1, 1))  # noqa: DTZ001


@settings(deadline=None, max_examples=100)
@given(st.text(max_size=120))
def test_whatever_is_typed_search_answers_with_real_zones_only(query: str) -> None:
    choices = search_zones(query, now=WINTER)
    assert len(choices) <= 25
    for choice in choices:
        assert validate_zone(choice.name).key == choice.name
        assert len(choice.label) <= 100


# --- validating what arrives -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC"])
def test_real_zone_names_are_accepted(name: str) -> None:
    assert validate_zone(name).key == name


def test_surrounding_spaces_are_forgiven() -> None:
    assert validate_zone("  Asia/Tokyo ").key == "Asia/Tokyo"


def test_wrong_case_is_refused_with_the_right_spelling_suggested() -> None:
    with pytest.raises(TimeZoneError) as caught:
        validate_zone("europe/berlin")
    assert caught.value.user_message == (
        "I don't know the time zone “europe/berlin”. Did you mean Europe/Berlin?"
    )
    assert caught.value.suggestions[0] == "Europe/Berlin"


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Europe/Berln", "Europe/Berlin"),
        ("America/New York", "America/New_York"),
        ("berlin", "Europe/Berlin"),
        ("PST", "America/Los_Angeles"),
    ],
)
def test_near_misses_get_helpful_suggestions(typed: str, suggested: str) -> None:
    with pytest.raises(TimeZoneError) as caught:
        validate_zone(typed)
    assert suggested in caught.value.suggestions
    assert suggested in caught.value.user_message


@pytest.mark.parametrize(
    "typed",
    [
        "Mars/Olympus",
        "../../etc/passwd",
        "/etc/localtime",
        "localtime",
        "Europe/../Europe/Berlin",
        "Europe\\Berlin",
        "Europe/Berlin\x00",
        "posixrules",
        "Factory",
    ],
)
def test_unknown_or_path_like_names_never_reach_zoneinfo(
    typed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real = zoneinfo.ZoneInfo

    def spy(key: str) -> zoneinfo.ZoneInfo:
        opened.append(key)
        return real(key)

    monkeypatch.setattr(zoneinfo, "ZoneInfo", spy)
    with pytest.raises(TimeZoneError) as caught:
        validate_zone(typed)
    assert opened == []
    message = caught.value.user_message
    assert message.startswith("I don't know the time zone")
    assert "\x00" not in message and "Traceback" not in message


def test_empty_and_very_long_input_is_refused_kindly() -> None:
    with pytest.raises(TimeZoneError, match="Please tell me your time zone"):
        validate_zone("   ")
    with pytest.raises(TimeZoneError) as caught:
        validate_zone("Europe/" + "x" * 5000)
    assert "too long" in caught.value.user_message
    assert len(caught.value.user_message) < 120


@settings(deadline=None, max_examples=150)
@given(st.one_of(st.text(max_size=80), st.sampled_from(ALL_ZONES).map(str.lower)))
def test_anything_typed_is_either_an_exact_zone_or_a_friendly_refusal(typed: str) -> None:
    try:
        zone = validate_zone(typed)
    except TimeZoneError as error:
        assert typed.strip() not in ALL_ZONES
        assert 0 < len(error.user_message) <= 200
        assert all(is_known_zone(s) for s in error.suggestions)
    else:
        assert zone.key == typed.strip()


# --- regions for forum tags ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("Europe/Berlin", "Europe"),
        ("America/New_York", "Americas"),
        ("America/Sao_Paulo", "Americas"),
        ("Africa/Lagos", "Africa"),
        ("Asia/Kolkata", "Asia"),
        ("Asia/Tokyo", "Asia"),
        ("Australia/Sydney", "Oceania"),
        ("Pacific/Auckland", "Oceania"),
        ("Pacific/Honolulu", "Americas"),
        ("Atlantic/Reykjavik", "Europe"),
        ("Atlantic/Canary", "Europe"),
        ("Indian/Mauritius", "Africa"),
        ("Indian/Maldives", "Asia"),
        ("Asia/Nicosia", "Europe"),
        ("Japan", "Asia"),
        ("US/Eastern", "Americas"),
        ("UTC", "Europe"),
        ("Etc/GMT+5", "Americas"),
        ("Etc/GMT-9", "Asia"),
        ("Etc/GMT-12", "Oceania"),
    ],
)
def test_each_zone_belongs_to_the_region_its_members_would_look_for(zone: str, region: str) -> None:
    assert zone_region(zone) == region
    assert zone_region(zoneinfo.ZoneInfo(zone)) == region


def test_every_zone_has_exactly_one_region() -> None:
    for zone in ALL_ZONES:
        assert zone_region(zone) in REGIONS


def test_region_of_a_bad_name_is_the_same_friendly_refusal() -> None:
    with pytest.raises(TimeZoneError):
        zone_region("../../etc/passwd")
