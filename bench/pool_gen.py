"""Seeded generator of realistic pools: a world-wide time-zone mix weighted like an
English-speaking online community, evening/weekend-heavy availability, goal areas, rhythms,
languages, private fields and wishes, blocks and recent ex-partners; and varied kinds of pool
(:data:`KINDS`) the solver must hold on too: many blocks per member, zones whose offset is not a
multiple of 30 minutes, complete graphs and near-tie scores."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from bot.domain.availability import Window
from bot.domain.matching.model import AGE_BRACKETS, Medium, PastPartner, Rhythm, Seeker

# (zone, share, local language or None)
ZONES: tuple[tuple[str, float, str | None], ...] = (
    ("America/Los_Angeles", 10, None),
    ("America/Denver", 3, None),
    ("America/Chicago", 8, None),
    ("America/New_York", 15, None),
    ("America/Toronto", 3, "fr"),
    ("America/Mexico_City", 2, "es"),
    ("America/Sao_Paulo", 4, "pt"),
    ("America/Argentina/Buenos_Aires", 1, "es"),
    ("Europe/London", 9, None),
    ("Europe/Dublin", 1, None),
    ("Europe/Lisbon", 1, "pt"),
    ("Europe/Madrid", 2, "es"),
    ("Europe/Paris", 4, "fr"),
    ("Europe/Berlin", 8, "de"),
    ("Europe/Warsaw", 2, "pl"),
    ("Europe/Kyiv", 1, "uk"),
    ("Europe/Istanbul", 1, "tr"),
    ("Europe/Moscow", 1, "ru"),
    ("Africa/Lagos", 2, None),
    ("Africa/Cairo", 1, "ar"),
    ("Africa/Johannesburg", 1, None),
    ("Asia/Dubai", 1, "ar"),
    ("Asia/Kolkata", 6, "hi"),
    ("Asia/Kathmandu", 0.5, None),
    ("Asia/Jakarta", 1, "id"),
    ("Asia/Singapore", 2, None),
    ("Asia/Manila", 2, None),
    ("Asia/Shanghai", 2, "zh"),
    ("Asia/Seoul", 1, "ko"),
    ("Asia/Tokyo", 3, "ja"),
    ("Australia/Adelaide", 0.5, None),
    ("Australia/Sydney", 3, None),
    ("Pacific/Auckland", 1, None),
)
GOAL_AREAS = (
    "career", "coding", "writing", "fitness", "study", "language-learning", "side-project",
    "health", "finance", "music", "art", "job-search", "research", "startup",
)
GENDERS = ("woman", "man", "nonbinary")


def _windows(rng: random.Random) -> tuple[Window, ...]:
    """2-6 windows of 1-4 hours, mostly weekday evenings, some mornings, lunches and weekends."""
    out: set[Window] = set()
    pattern = rng.random()
    for _ in range(rng.randint(2, 6)):
        kind = rng.random()
        if kind < 0.55:
            day, start = rng.randint(0, 4), rng.choice((17, 18, 19, 20, 21)) * 60
        elif kind < 0.7:
            day, start = rng.randint(0, 4), rng.choice((6, 7, 8)) * 60
        elif kind < 0.8:
            day, start = rng.randint(0, 4), rng.choice((12, 13)) * 60
        else:
            day, start = rng.randint(5, 6), rng.choice((9, 10, 11, 14, 15, 16, 17)) * 60
        if pattern < 0.3 and kind < 0.55:
            start += 30
        length = rng.choice((60, 90, 120, 120, 180, 240))
        out.add(Window(day, start, min(start + length, 1440)))
    return tuple(sorted(out))


def generate_pool(n: int, seed: int, now: datetime | None = None) -> list[Seeker]:
    """`n` seekers, reproducible from `seed`."""
    now = now or datetime(2026, 3, 16, 12, tzinfo=UTC)
    rng = random.Random(seed)
    zones = [z for z, _, _ in ZONES]
    shares = [s for _, s, _ in ZONES]
    local_lang = {z: lang for z, _, lang in ZONES}
    ids = [f"m{seed}-{i:06d}" for i in range(n)]
    seekers: list[Seeker] = []
    for i in range(n):
        zone = rng.choices(zones, shares)[0]
        langs = set()
        if rng.random() < 0.92:
            langs.add("en")
        local = local_lang[zone]
        if local and (rng.random() < 0.6 or not langs):
            langs.add(local)
        if not langs:
            langs.add("en")
        gender: str | None = rng.choices((*GENDERS, None), (46, 46, 4, 4))[0]
        age: str | None = rng.choices((*AGE_BRACKETS, None), (18, 34, 24, 12, 6, 3, 3))[0]
        partner_genders = None
        if gender is not None and rng.random() < 0.15:
            partner_genders = frozenset({gender} if rng.random() < 0.8 else GENDERS)
        partner_ages = None
        if age is not None and rng.random() < 0.1:
            k = AGE_BRACKETS.index(age)
            partner_ages = frozenset(AGE_BRACKETS[max(0, k - 1): k + 2])
        partner_langs = frozenset({"en"}) if "en" in langs and rng.random() < 0.05 else None
        blocks = frozenset(rng.sample(ids, rng.randint(1, 3))) if rng.random() < 0.03 else (
            frozenset()
        )
        past: list[PastPartner] = []
        if rng.random() < 0.2:
            for _ in range(rng.randint(1, 2)):
                ended: date | None = (now - timedelta(days=rng.randint(1, 365))).date()
                if rng.random() < 0.1:
                    ended = None
                past.append(PastPartner(rng.choice(ids), ended))
        rhythm: Rhythm = rng.choices(("weekly", "biweekly", "flexible"), (60, 25, 15))[0]
        medium: Medium = rng.choices(("text", "voice", "video"), (25, 35, 40))[0]
        seekers.append(
            Seeker(
                id=ids[i],
                zone=zone,
                windows=_windows(rng),
                goal_areas=frozenset(rng.sample(GOAL_AREAS, rng.randint(1, 3))),
                rhythm=rhythm,
                medium=medium,
                languages=frozenset(langs),
                gender=gender,
                age_bracket=age,
                partner_genders=partner_genders,
                partner_age_brackets=partner_ages,
                partner_languages=partner_langs,
                blocks=blocks - {ids[i]},
                past_partners=tuple(p for p in past if p.partner_id != ids[i]),
                waiting_since=now - timedelta(hours=rng.randint(1, 60 * 24)),
                carried_over=rng.random() < 0.01,
            )
        )
    return seekers


ODD_ZONES: tuple[str, ...] = (
    "Asia/Kathmandu",  # +5:45
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # +5:30
    "Australia/Eucla",  # +8:45
    "Asia/Kabul",  # +4:30
    "Asia/Tehran",  # +3:30
    "America/St_Johns",  # -3:30 / -2:30
    "Australia/Adelaide",  # +9:30 / +10:30
    "Australia/Darwin",  # +9:30
    "Pacific/Marquesas",  # -9:30
    "Asia/Yangon",  # +6:30
    "Australia/Lord_Howe",  # +10:30 / +11 (a half-hour DST)
    "Europe/London",
    "America/New_York",
)
KINDS: tuple[str, ...] = (
    "realistic", "blocks20", "blocks100", "odd_zones", "complete", "near_tie",
)
"""Pool kinds: `realistic` (:func:`generate_pool`); `blocks20` / `blocks100`, the same with that
many blocks per member; `odd_zones`, members in zones offset by 15/30/45 minutes with windows
starting and ending on any quarter hour; `complete`, every pair allowed (everyone free all
evening every day, no wishes, one language) with scores spread by goals, medium and waiting;
`near_tie`, a dense pool where most pairs score within a few points of each other."""


def _with_blocks(seekers: list[Seeker], per_member: int, rng: random.Random) -> list[Seeker]:
    ids = [s.id for s in seekers]
    out = []
    for s in seekers:
        picked = [x for x in rng.sample(ids, min(per_member + 1, len(ids))) if x != s.id]
        out.append(replace(s, blocks=frozenset(picked[:per_member])))
    return out


def _quarter_windows(rng: random.Random) -> tuple[Window, ...]:
    """2-5 windows starting and ending on any quarter hour, 45 minutes to 3 hours long."""
    out: set[Window] = set()
    for _ in range(rng.randint(2, 5)):
        day = rng.randint(0, 6)
        start = rng.randint(6 * 4, 21 * 4) * 15
        length = rng.randint(3, 12) * 15
        out.add(Window(day, start, min(start + length, 1440)))
    return tuple(sorted(out))


def generate_kind(kind: str, n: int, seed: int, now: datetime | None = None) -> list[Seeker]:
    """`n` seekers of one of :data:`KINDS`, reproducible from `seed`."""
    now = now or datetime(2026, 3, 16, 12, tzinfo=UTC)
    rng = random.Random(f"{kind}/{seed}")
    if kind == "realistic":
        return generate_pool(n, seed, now)
    if kind in ("blocks20", "blocks100"):
        return _with_blocks(generate_pool(n, seed, now), int(kind[6:]), rng)
    if kind == "odd_zones":
        return [replace(s, zone=rng.choice(ODD_ZONES), windows=_quarter_windows(rng))
                for s in generate_pool(n, seed, now)]
    if kind == "complete":
        evenings = tuple(Window(d, 17 * 60, 23 * 60) for d in range(7))
        return [
            replace(s, zone="Europe/London", windows=evenings, languages=frozenset({"en"}),
                    gender=None, partner_genders=None, partner_age_brackets=None,
                    partner_languages=None, rhythm="flexible", blocks=frozenset(),
                    past_partners=())
            for s in generate_pool(n, seed, now)
        ]
    if kind == "near_tie":
        # Three shared evening patterns, one goal area, one medium: scores differ by waiting
        # minutes and a few goal areas only.
        patterns = [tuple(Window(d, 18 * 60 + 15 * q, 21 * 60) for d in range(q, 5))
                    for q in range(3)]
        return [
            replace(s, zone="America/New_York", windows=rng.choice(patterns),
                    goal_areas=frozenset({"coding"} | ({"career"} if rng.random() < 0.1
                                                       else set())),
                    medium="video", rhythm="weekly", languages=frozenset({"en"}),
                    partner_languages=None, carried_over=False,
                    waiting_since=now - timedelta(days=3, minutes=rng.randint(0, 600)))
            for s in generate_pool(n, seed, now)
        ]
    raise ValueError(f"unknown pool kind {kind!r}; use one of {', '.join(KINDS)}")


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def to_pool_json(seekers: list[Seeker], now: datetime) -> dict[str, object]:
    """A generated pool in the pool-file format (docs/pool-format.md)."""
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    members = []
    for s in seekers:
        member: dict[str, object] = {
            "id": s.id,
            "zone": s.zone,
            "availability": [
                {"day": days[w.day], "start": _hhmm(w.start), "end": _hhmm(w.end)}
                for w in s.windows
            ],
            "goal_areas": sorted(s.goal_areas),
            "rhythm": s.rhythm,
            "medium": s.medium,
            "languages": sorted(s.languages),
            "private": {"gender": s.gender, "age_bracket": s.age_bracket},
            "preferences": {
                key: sorted(value)
                for key, value in (
                    ("partner_genders", s.partner_genders),
                    ("partner_age_brackets", s.partner_age_brackets),
                    ("partner_languages", s.partner_languages),
                )
                if value is not None
            },
            "blocks": sorted(s.blocks),
            "past_partners": [
                {"id": p.partner_id, "ended": p.ended.isoformat() if p.ended else None}
                for p in s.past_partners
            ],
            "carried_over": s.carried_over,
        }
        if s.waiting_since is not None:
            member["waiting_since"] = s.waiting_since.isoformat().replace("+00:00", "Z")
        members.append(member)
    return {
        "format": "pairbot-pool/1",
        "now": now.isoformat().replace("+00:00", "Z"),
        "members": members,
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.pool_gen 2000 --seed 1 > pool.json`: a pool file to try `pairbot match`."""
    import argparse
    import json
    import sys

    parser = argparse.ArgumentParser(description="Write a generated pool file to stdout.")
    parser.add_argument("members", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kind", choices=KINDS, default="realistic")
    args = parser.parse_args(argv)
    now = datetime(2026, 3, 16, 17, tzinfo=UTC)
    json.dump(to_pool_json(generate_kind(args.kind, args.members, args.seed, now), now),
              sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
