"""The vectorised availability encoding equals `utc_slot_mask` bit for bit, DST weeks included."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from bot.domain.availability import Window, coming_weeks, utc_slot_mask
from bot.domain.matching.features import _slot_words
from bot.domain.matching.model import Seeker

ZONES = (
    "UTC", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Kathmandu",
    "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns", "Asia/Tokyo",
    "Pacific/Kiritimati", "Pacific/Pago_Pago", "Australia/Sydney", "America/Santiago",
)


def _windows(rng: random.Random) -> tuple[Window, ...]:
    out = set()
    for _ in range(rng.randint(0, 6)):
        start = rng.randrange(0, 1440, rng.choice((15, 30, 60)))
        end = min(1440, start + rng.choice((15, 30, 45, 60, 90, 240)))
        out.add(Window(rng.randint(0, 6), start, end))
        if rng.random() < 0.3 and end < 1440:  # a touching window
            out.add(Window(rng.randint(0, 6) if rng.random() < 0.2 else _last(out), end,
                           min(1440, end + 60)))
    return tuple(sorted(out))


def _last(windows: set[Window]) -> int:
    return max(w.day for w in windows)


@pytest.mark.parametrize("now", [
    datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 24, tzinfo=UTC),
    datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC),
    datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 9, 24, tzinfo=UTC),
])
def test_slot_words_equal_utc_slot_mask(now: datetime) -> None:
    rng = random.Random(now.toordinal())
    seekers = [Seeker(id=str(i), zone=rng.choice(ZONES), windows=_windows(rng)) for i in range(300)]
    weeks = coming_weeks(now, 3)
    words = _slot_words(seekers, weeks)
    for i, s in enumerate(seekers):
        for w, week in enumerate(weeks):
            got = sum(int(words[w, q, i]) << (64 * q) for q in range(words.shape[1]))
            assert got == utc_slot_mask(s.windows, s.zone, week), (s.zone, s.windows, week)


def test_shared_weeks_of_pairs_equal_one_by_one() -> None:
    import numpy as np

    from bot.domain.matching.explain import shared_weeks, shared_weeks_of_pairs

    rng = random.Random(7)
    seekers = [Seeker(id=str(i), zone=rng.choice(ZONES), windows=_windows(rng)) for i in range(80)]
    weeks = coming_weeks(datetime(2026, 3, 24, tzinfo=UTC), 2)
    words = _slot_words(seekers, weeks)
    first = np.array([rng.randrange(80) for _ in range(300)], dtype=np.intp)
    second = np.array([rng.randrange(80) for _ in range(300)], dtype=np.intp)
    fast = shared_weeks_of_pairs(words, weeks, first, second)

    def ints(i: int) -> list[int]:
        return [sum(int(words[w, q, i]) << (64 * q) for q in range(words.shape[1]))
                for w in range(len(weeks))]

    for x in range(300):
        assert fast[x] == shared_weeks([ints(first[x]), ints(second[x])], weeks)


def test_an_empty_pool_and_a_pool_without_windows_match_nobody() -> None:
    from datetime import UTC, datetime

    from bot.domain.matching import Seeker, match_pool

    now = datetime(2026, 1, 6, 17, 0, tzinfo=UTC)
    assert match_pool([], now=now).groups == ()
    idle = [Seeker(id=str(i), zone="Europe/Berlin", windows=()) for i in range(3)]
    result = match_pool(idle, now=now)
    assert result.groups == ()
    assert {u.reason for u in result.unmatched} == {"no_overlap"}
