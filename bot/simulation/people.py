"""The simulated community: who the members are and how they behave.

Members come from every kind of zone (whole-hour, half-hour and 45-minute offsets, both
hemispheres' daylight-saving rules, zones without DST), are free on every weekday at every hour,
choose either rhythm, and behave like people: some answer at once, some late, some never; some
pause, snooze, edit their profile, close their DMs, end, block, report, or delete their data;
some join weeks after the others.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

from bot.domain.availability_text import parse_availability
from bot.domain.profile import PublicProfile

# (zone, languages, weight). Odd offsets and southern-hemisphere DST are there on purpose.
ZONES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("America/New_York", ("English",), 5),
    ("America/Chicago", ("English", "Spanish"), 2),
    ("America/Los_Angeles", ("English",), 3),
    ("America/St_Johns", ("English",), 1),  # −03:30 / −02:30
    ("America/Sao_Paulo", ("Portuguese", "English"), 2),  # no DST since 2019
    ("America/Santiago", ("Spanish", "English"), 1),  # southern DST
    ("America/Mexico_City", ("Spanish", "English"), 1),
    ("Europe/London", ("English",), 4),
    ("Europe/Berlin", ("German", "English"), 4),
    ("Europe/Madrid", ("Spanish", "English"), 2),
    ("Africa/Lagos", ("English",), 2),
    ("Africa/Nairobi", ("English", "Swahili"), 1),
    ("Asia/Tehran", ("English",), 1),  # +03:30
    ("Asia/Kolkata", ("English", "Hindi"), 4),  # +05:30
    ("Asia/Kathmandu", ("English",), 2),  # +05:45
    ("Asia/Singapore", ("English",), 2),
    ("Australia/Eucla", ("English",), 1),  # +08:45
    ("Asia/Tokyo", ("Japanese", "English"), 2),
    ("Australia/Adelaide", ("English",), 1),  # +09:30 / +10:30, southern DST
    ("Australia/Sydney", ("English",), 2),
    ("Pacific/Auckland", ("English",), 1),
    ("Pacific/Chatham", ("English",), 1),  # +12:45 / +13:45
)

DAY_SETS = (
    "Mon-Fri",
    "Mon-Thu",
    "Tue,Thu",
    "Mon,Wed,Fri",
    "Sat-Sun",
    "Wed",
    "Fri,Sat",
    "Sun",
    "Mon-Sun",
)
GOAL_AREAS = ("fitness", "study", "career", "writing", "creative", "habits")

# Each persona's intro and goals belong together.
STORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("writing", "Working on a novel, one chapter a week.", ("Write 3,000 words", "Edit chapter 4")),
    (
        "study",
        "Studying for a certification and easily distracted.",
        ("Finish two practice exams", "Read module 5"),
    ),
    (
        "fitness",
        "Getting back into running after a long break.",
        ("Run three times", "Stretch every morning"),
    ),
    (
        "career",
        "Changing careers and need someone to keep me honest.",
        ("Send five job applications", "Update my portfolio"),
    ),
    (
        "creative",
        "Drawing again after years away.",
        ("Finish one sketch a day", "Ink the comic page"),
    ),
    (
        "habits",
        "Trying to keep a daily language-learning habit.",
        ("Practise 20 minutes a day", "Learn 50 new words"),
    ),
)


@dataclass
class Person:
    """A simulated member (of the simulator's community or the demo's): their profile as they
    type it, and their habits."""

    name: str
    zone: str
    availability: str
    goal_areas: tuple[str, ...]
    rhythm: str
    medium: str
    languages: tuple[str, ...]
    intro: str
    goals: tuple[str, ...]
    private: dict[str, str] = field(default_factory=dict)
    joins_on_day: int = 0
    answers: float = 0.9  # how likely they answer a DM or button at all
    delay_hours: float = 2.0  # how long they usually take
    restless: float = 0.02  # chance per day of doing something unusual
    # A word that only this member ever types in private (a decline or end reason): if it
    # appears in anything another member, a moderator or the log can see, privacy leaked.
    secret: str = ""

    def delay(self, rng: random.Random) -> timedelta:
        """How long until they react to something (whether they react at all is
        :attr:`answers`)."""
        return timedelta(minutes=rng.expovariate(1 / max(self.delay_hours * 60, 1)))


def profile_options(person: Person) -> dict[str, str]:
    """The options of their ``/profile edit``."""
    return {
        "timezone": person.zone,
        "availability": person.availability,
        "goal_areas": ", ".join(person.goal_areas),
        "rhythm": person.rhythm,
        "medium": person.medium,
        "languages": ", ".join(person.languages),
    }


def public_profile(person: Person) -> PublicProfile:
    """Their profile as the bot's overlap arithmetic sees it."""
    return PublicProfile(
        user_id=0,
        timezone=person.zone,
        windows=parse_availability(person.availability),
        goal_areas=person.goal_areas,
        intro=person.intro,
        goals_text="; ".join(person.goals),
        rhythm=person.rhythm,
        medium=person.medium,
        languages=person.languages,
    )


def _window(rng: random.Random) -> str:
    days = rng.choice(DAY_SETS)
    start_hour = rng.randrange(0, 22)
    start_min = rng.choice((0, 0, 0, 30, 30, 15, 45))
    length = rng.choice((60, 90, 120, 150, 180, 240))
    end_total = min(start_hour * 60 + start_min + length, 24 * 60 - 15)
    if end_total <= start_hour * 60 + start_min:
        end_total = start_hour * 60 + start_min + 60
    end_hour, end_min = divmod(end_total, 60)
    return f"{days} {start_hour:02d}:{start_min:02d}-{end_hour:02d}:{end_min:02d}"


def community(size: int, seed: int, *, late_share: float = 0.15) -> list[Person]:
    """A seeded, varied community of ``size`` members."""
    rng = random.Random(seed)
    zones = [z for z, _, weight in ZONES for _ in range(weight)]
    people: list[Person] = []
    for index in range(size):
        zone = rng.choice(zones)
        languages = next(langs for z, langs, _ in ZONES if z == zone)
        area, intro, goals = rng.choice(STORIES)
        others = [a for a in GOAL_AREAS if a != area]
        areas = tuple(sorted({area, *rng.sample(others, rng.choice((0, 0, 1)))}))
        windows = ", ".join(_window(rng) for _ in range(rng.choice((1, 2, 2, 3))))
        private: dict[str, str] = {}
        if rng.random() < 0.3:
            private["gender"] = rng.choice(("woman", "man", "non-binary"))
            private["age"] = rng.choice(("18-24", "25-34", "35-44", "45-54"))
        if rng.random() < 0.08:
            private["partner_genders"] = rng.choice(("woman", "man"))
        people.append(
            Person(
                name=f"p{index:04d}",
                zone=zone,
                availability=windows,
                goal_areas=areas,
                rhythm="weekly" if rng.random() < 0.75 else "biweekly",
                medium=rng.choice(("text", "voice", "video")),
                languages=languages,
                intro=intro,
                goals=goals,
                private=private,
                joins_on_day=rng.randrange(7, 21) if rng.random() < late_share else 0,
                answers=rng.choice((0.99, 0.95, 0.9, 0.8, 0.6)),
                delay_hours=rng.choice((0.1, 0.5, 2.0, 6.0, 20.0)),
                restless=rng.choice((0.0, 0.01, 0.02, 0.05)),
                secret=f"zq{seed % 1000:03d}x{index:04d}",
            )
        )
    return people
