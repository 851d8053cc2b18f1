"""Validating what moderators type in ``/admin setup``."""

from __future__ import annotations

import re

from bot.domain.errors import echo
from bot.errors import InvalidInput

ODD_POLICIES = ("trio", "carry_over")
MAX_GOAL_AREAS = 20  # a forum holds 20 tags, and the regions need some
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_goal_area_list(text: str) -> list[str]:
    """``"Fitness, study, Writing"`` → ``["fitness", "study", "writing"]``."""
    areas: list[str] = []
    for part in text.split(","):
        name = " ".join(part.strip().lower().split())
        if not name:
            continue
        if len(name) > 20 or not re.fullmatch(r"[\w][\w '&-]*", name):
            raise InvalidInput(
                f"“{echo(part.strip())}” can't be a goal area: use letters, up to 20 characters."
            )
        if name not in areas:
            areas.append(name)
    if not areas:
        raise InvalidInput("Please list at least one goal area, separated by commas.")
    if len(areas) > MAX_GOAL_AREAS - 5:
        raise InvalidInput(f"Please keep it to {MAX_GOAL_AREAS - 5} goal areas at most.")
    return areas


def parse_utc_time(text: str) -> str:
    """``"17:00"`` → ``"17:00"``; the matching round's time of day in UTC."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise InvalidInput("Please give the time as HH:MM in UTC, for example 17:00.")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_weekday(text: str) -> int:
    name = text.strip().lower()
    for index, day in enumerate(WEEKDAYS):
        if len(name) >= 3 and day.startswith(name):
            return index
    raise InvalidInput("Please name a day of the week, for example Monday.")
