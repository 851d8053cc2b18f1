"""What a member tells about themselves, its validation, and what others may see of it.

``PublicProfile`` is everything that may appear in a forum post, a thread or a moderator view.
``PrivateFields`` (gender, age bracket, preferences about a partner) are used for matching only
and shown to their owner alone; no function that renders for others ever receives them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.availability import Window
from bot.domain.errors import echo
from bot.errors import InvalidInput

RHYTHMS = ("weekly", "biweekly")
RHYTHM_LABELS = {"weekly": "every week", "biweekly": "every two weeks"}
MEDIUMS = ("text", "voice", "video")
GENDERS = ("woman", "man", "non-binary", "other")
AGE_BRACKETS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
INTRO_MAX = 500
GOALS_MAX = 1000
LANGUAGES_MAX = 5
_LANGUAGE_RE = re.compile(r"^[^\W\d_][^\W\d_ '\-]*(?:[ '\-][^\W\d_]+)*$")


@dataclass(frozen=True)
class PublicProfile:
    user_id: int
    timezone: str | None
    windows: tuple[Window, ...]
    goal_areas: tuple[str, ...]
    intro: str | None
    goals_text: str | None
    rhythm: str | None
    medium: str | None
    languages: tuple[str, ...]


@dataclass(frozen=True)
class PrivateFields:
    gender: str | None = None
    age_bracket: str | None = None
    pref_genders: tuple[str, ...] = ()
    pref_age_min: int | None = None
    pref_age_max: int | None = None
    pref_languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A member's own view of their profile: public and private parts."""

    public: PublicProfile
    private: PrivateFields = field(default_factory=PrivateFields)
    pool_status: str = "idle"


def missing_for_pool(profile: PublicProfile) -> list[str]:
    """What a member must still fill in before joining the pool, in words."""
    missing = []
    if not profile.timezone:
        missing.append("your time zone")
    if not profile.windows:
        missing.append("when you're available")
    if not profile.goal_areas:
        missing.append("at least one goal area")
    if not profile.intro:
        missing.append("a short intro")
    if not profile.rhythm:
        missing.append("how often you'd like to meet")
    return missing


def clean_text(value: str, *, what: str, limit: int) -> str | None:
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(
            f"Your {what} is {len(text)} characters long; please keep it under {limit}."
        )
    return text or None


def choose(value: str, options: tuple[str, ...], *, what: str) -> str:
    normalised = value.strip().lower()
    if normalised not in options:
        raise InvalidInput(
            f"“{echo(value)}” isn't a {what} I know. Choose one of: {', '.join(options)}."
        )
    return normalised


def parse_goal_areas(text: str, allowed: list[str]) -> tuple[str, ...]:
    """Comma-separated goal areas, each from the community's list."""
    chosen: list[str] = []
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in allowed:
            raise InvalidInput(
                f"“{echo(part.strip())}” isn't one of this community's goal areas. "
                f"Choose from: {', '.join(allowed)}."
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidInput(f"Please name at least one goal area: {', '.join(allowed)}.")
    return tuple(chosen)


def parse_languages(text: str) -> tuple[str, ...]:
    """``"English, german"`` → ``("English", "German")``; letters only, at most five."""
    languages: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        if len(name) > 30 or not _LANGUAGE_RE.match(name):
            raise InvalidInput(f"“{echo(name)}” doesn't look like a language name.")
        name = name[:1].upper() + name[1:].lower()
        if name not in languages:
            languages.append(name)
    if len(languages) > LANGUAGES_MAX:
        raise InvalidInput(f"Please list at most {LANGUAGES_MAX} languages.")
    return tuple(languages)


def parse_age_range(text: str) -> tuple[int | None, int | None]:
    """``"25-40"``, ``"30+"`` or empty (no preference)."""
    value = text.strip().replace(" ", "")
    if not value:
        return None, None
    match = re.fullmatch(r"(\d{2})(?:-(\d{2})|\+)", value)
    if not match:
        raise InvalidInput("Please write an age range like 25-40 or 30+.")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else None
    if low < 18 or (high is not None and (high < low or high > 120)):
        raise InvalidInput("That age range doesn't work: members are 18 or older, low to high.")
    return low, high


def bracket_bounds(bracket: str) -> tuple[int, int]:
    """Lowest and highest age in an age bracket (``"65+"`` → 65..120)."""
    if bracket.endswith("+"):
        return int(bracket[:-1]), 120
    low, high = bracket.split("-")
    return int(low), int(high)


def preferences_allow(
    prefs: PrivateFields, other: PrivateFields, other_languages: tuple[str, ...]
) -> bool:
    """Whether ``prefs`` (one member's private wishes) accept the other member. An unknown
    field on the other side does not satisfy a stated wish."""
    if prefs.pref_genders and other.gender not in prefs.pref_genders:
        return False
    if prefs.pref_age_min is not None or prefs.pref_age_max is not None:
        if other.age_bracket is None:
            return False
        low, high = bracket_bounds(other.age_bracket)
        if prefs.pref_age_min is not None and high < prefs.pref_age_min:
            return False
        if prefs.pref_age_max is not None and low > prefs.pref_age_max:
            return False
    return not (prefs.pref_languages and not set(prefs.pref_languages) & set(other_languages))
