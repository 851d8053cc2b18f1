"""Advice for members a round leaves without a partner: why, from their own side, and the
smallest change of their own that would open partners, with how many.

Everything comes from the encoded pool the round used (the same hard rules, the same masks), one
member against everyone at once with numpy: O(N) array work per advised member, never a Python
step per pair. The rules split into the member's own side (their availability, rhythm,
languages and partner wishes) and everything else. Members excluded by anything else (a block
either way, a recent partnership, their own private wishes) are left out of every count and
never named as a reason, so no change is suggested that would only help because of them and no
block can be inferred.

"Smallest" is measured in minutes of weekly availability added; changing one setting (a wish,
the rhythm, a language) counts as an hour. Ties go to the change opening more members, then to
time, rhythm, language and wishes in that order (the member's wishes are theirs: suggested last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from bot.domain.availability import (
    MINUTES_PER_DAY,
    SLOT_MINUTES,
    SLOTS_PER_WEEK,
    Window,
    utc_slot_mask,
)
from bot.domain.availability_text import normalize_windows
from bot.domain.matching.features import (
    _RHYTHM_ACCEPTS,
    _RHYTHM_BIT,
    ANY,
    WORDS_PER_WEEK,
    PoolArrays,
)
from bot.domain.matching.model import Change, MemberAdvice, Obstacle
from bot.domain.matching.scoring import evaluate_pairs
from bot.domain.profile import RHYTHMS as CHOOSABLE_RHYTHMS

Mask = npt.NDArray[np.bool_]

SETTING_MINUTES = 60
"""What changing one setting costs, in minutes of availability, when comparing changes."""
EXTRA_WINDOW_SLOTS = 4
"""Added windows may be this many slots longer than the minimum overlap (to span a gap)."""
FEW_SHARED = 3
"""Moderators' hint: at most this many members share enough time."""
_KIND_ORDER = {"time": 0, "rhythm": 1, "language": 2, "wish_gender": 3, "wish_age": 3,
               "wish_language": 3}


def _hits(wants: npt.NDArray[np.uint64], i: int, has: npt.NDArray[np.uint64]) -> Mask:
    """Per member j: bitset `wants[:, i]` shares a bit with `has[:, j]`."""
    return np.asarray(((wants[:, i : i + 1] & has) != 0).any(axis=0))


def _hits_rev(wants: npt.NDArray[np.uint64], has: npt.NDArray[np.uint64], i: int) -> Mask:
    """Per member j: bitset `wants[:, j]` shares a bit with `has[:, i]`."""
    return np.asarray(((wants & has[:, i : i + 1]) != 0).any(axis=0))


@dataclass(frozen=True)
class _Sides:
    """Member i against everyone: each hard rule as a boolean mask over the pool."""

    allowed: Mask
    time: Mask
    rhythm: Mask
    language: Mask
    wish_gender: Mask
    wish_age: Mask
    wish_language: Mask
    possible: Mask
    """Not excluded by anything the member cannot change (self, blocks, recent partners,
    the other member's own wishes)."""
    overlap: npt.NDArray[np.int16]

    @property
    def wishes(self) -> Mask:
        return self.wish_gender & self.wish_age & self.wish_language


def _sides(p: PoolArrays, i: int) -> _Sides:
    n = p.n
    everyone = np.arange(n)
    ev = evaluate_pairs(p, np.full(n, i), everyone)
    allowed = ev.points >= 0
    time = ev.overlap_slots >= p.min_slots
    rhythm = ((p.rhythm_accepts[i] & p.rhythm_bit) != 0) & ((p.rhythm_accepts & p.rhythm_bit[i])
                                                            != 0)
    language = _hits(p.lang_req, i, p.lang_req)
    theirs = (_hits_rev(p.pref_gender, p.gender, i) & _hits_rev(p.pref_age, p.age, i)
              & _hits_rev(p.pref_lang, p.langs_any, i))
    free = np.ones(n, dtype=bool)
    free[i] = False
    banned = p.forbidden.get(i)
    if banned is not None:
        free[banned] = False
    sides = _Sides(
        allowed=allowed, time=time, rhythm=rhythm, language=language,
        wish_gender=_hits(p.pref_gender, i, p.gender), wish_age=_hits(p.pref_age, i, p.age),
        wish_language=_hits(p.pref_lang, i, p.langs_any), possible=free & theirs,
        overlap=ev.overlap_slots,
    )
    rebuilt = sides.possible & time & rhythm & language & sides.wishes
    if not np.array_equal(rebuilt, allowed):
        raise AssertionError("advice rules disagree with the matcher's hard rules")
    return sides


def _hint(s: _Sides, i: int) -> str:
    """From public fields only: how many share enough time, and rhythm and language."""
    others = np.ones(len(s.time), dtype=bool)
    others[i] = False
    sharing = int(np.count_nonzero(s.time & others))
    if sharing == 0:
        return "no shared hours"
    if sharing <= FEW_SHARED:
        return "few shared hours"
    if not (s.time & s.rhythm & s.language & others).any():
        return "rhythm or language"
    return ""


def advise(p: PoolArrays, members: Sequence[int], *, allowed_degree: npt.NDArray[np.int64]
           ) -> dict[str, MemberAdvice]:
    """Advice for the given members (internal indices) of an encoded pool."""
    out: dict[str, MemberAdvice] = {}
    for i in members:
        seeker = p.seekers[i]
        if p.n == 1:
            out[seeker.id] = MemberAdvice(seeker.id, "alone")
            continue
        s = _sides(p, i)
        hint = _hint(s, i)
        if allowed_degree[i] > 0:
            out[seeker.id] = MemberAdvice(seeker.id, "taken", hint=hint)
            continue
        if not s.possible.any():
            out[seeker.id] = MemberAdvice(seeker.id, "no_fit", hint=hint)
            continue
        sharing = s.possible & s.time
        obstacles: tuple[Obstacle, ...] = ()
        if sharing.any():
            found: list[Obstacle] = []
            if (sharing & ~s.wishes).any():
                found.append("wishes")
            if (sharing & ~s.rhythm).any():
                found.append("rhythm")
            if (sharing & ~s.language).any():
                found.append("language")
            obstacles = tuple(found)
        change, opens = _best_change(p, i, s)
        out[seeker.id] = MemberAdvice(
            seeker.id, "ruled_out" if sharing.any() else "time", obstacles=obstacles,
            change=change, opens=opens, hint=hint,
        )
    return out


def _cost(change: Change) -> int:
    return change.minutes if change.kind == "time" else SETTING_MINUTES


def _best_change(p: PoolArrays, i: int, s: _Sides) -> tuple[Change | None, int]:
    options: list[tuple[Change, int]] = []
    base = s.possible & s.time & s.rhythm & s.language
    seeker = p.seekers[i]
    for kind, wish, drop in (
        ("wish_gender", seeker.partner_genders, s.wish_age & s.wish_language),
        ("wish_age", seeker.partner_age_brackets, s.wish_gender & s.wish_language),
        ("wish_language", seeker.partner_languages, s.wish_gender & s.wish_age),
    ):
        if wish is not None:
            options.append((Change(kind), int(np.count_nonzero(base & drop))))  # type: ignore[arg-type]
    others = s.possible & s.time & s.language & s.wishes
    for rhythm in CHOOSABLE_RHYTHMS:  # the rhythms /profile offers
        if rhythm != seeker.rhythm:
            ok = (((_RHYTHM_ACCEPTS[rhythm] & p.rhythm_bit) != 0)
                  & ((p.rhythm_accepts & _RHYTHM_BIT[rhythm]) != 0))
            options.append((Change("rhythm", value=rhythm), int(np.count_nonzero(others & ok))))
    if seeker.languages and p.settings.require_common_language:
        blocked = s.possible & s.time & s.rhythm & s.wishes & ~s.language
        if blocked.any():
            for bit, name in enumerate(p.lang_vocab):
                if name == ANY or name in seeker.languages:
                    continue
                word, shift = divmod(bit, 64)
                speaks = ((p.lang_req[word] >> np.uint64(shift)) & np.uint64(1)) == 1
                options.append((Change("language", value=name),
                                int(np.count_nonzero(blocked & speaks))))
    timed = _time_change(p, i, s.possible & s.rhythm & s.language & s.wishes & ~s.time)
    if timed is not None:
        options.append(timed)
    useful = [(c, k) for c, k in options if k > 0]
    if not useful:
        return None, 0
    return min(useful, key=lambda ck: (_cost(ck[0]), -ck[1], _KIND_ORDER[ck[0].kind]))


def _bits(p: PoolArrays, w: int, cols: npt.NDArray[np.intp]) -> npt.NDArray[np.uint8]:
    """(len(cols), SLOTS_PER_WEEK) 0/1 availability of members `cols` in week w."""
    words = np.ascontiguousarray(p.masks[w][:, cols].T).astype("<u8")
    return np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[:, :SLOTS_PER_WEEK]


@lru_cache(maxsize=256)
def _week_shift(zone: ZoneInfo, week0: datetime, week: datetime) -> npt.NDArray[np.intp]:
    """Per UTC slot s of week 0: the slot of the same local wall time in `week` (cached: many
    members share a zone)."""
    slot = timedelta(minutes=SLOT_MINUTES)
    days = (week - week0).days
    out = np.empty(SLOTS_PER_WEEK, dtype=np.intp)
    for s in range(SLOTS_PER_WEEK):
        local = (week0 + s * slot).astimezone(zone)
        later = (local.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=zone)
        out[s] = round((later.astimezone(UTC) - week).total_seconds() / 60 / SLOT_MINUTES)
    return out


def _local_windows(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[Window, ...]:
    """The UTC interval [start, end) as weekly windows in local time, split at midnight."""
    out = []
    a = start.astimezone(zone)
    b = end.astimezone(zone)
    while a < b:
        midnight = (a.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
                    + timedelta(days=1)).replace(tzinfo=zone)
        stop = min(b, midnight)
        first = a.hour * 60 + a.minute
        last = MINUTES_PER_DAY if stop == midnight else stop.hour * 60 + stop.minute
        if last > first:
            out.append(Window(a.weekday(), first, last))
        a = stop
    return normalize_windows(out)


def _mask_words(mask: int) -> npt.NDArray[np.uint64]:
    raw = mask.to_bytes(8 * WORDS_PER_WEEK, "little")
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


def _time_change(p: PoolArrays, i: int, waiting: Mask) -> tuple[Change, int] | None:
    """The shortest single window of added weekly time that would give at least one member in
    `waiting` (everything but time already fits) the minimum overlap in every week, placed
    where it opens the most; checked against the real availability encoder."""
    cols = np.flatnonzero(waiting)
    if len(cols) == 0 or p.min_slots == 0:
        return None
    seeker = p.seekers[i]
    zone = ZoneInfo(seeker.zone)
    weeks = p.weeks
    mine = [_bits(p, w, np.array([i]))[0].astype(bool) for w in range(len(weeks))]
    # Only members with at least the minimum time of their own can ever be opened.
    enough = np.ones(len(cols), dtype=bool)
    for w in range(len(weeks)):
        enough &= _bits(p, w, cols).sum(axis=1) >= p.min_slots
    cols = cols[enough]
    if len(cols) == 0:
        return None
    have, need, gain_prefix = [], [], []
    for w in range(len(weeks)):
        theirs = _bits(p, w, cols).astype(bool)
        have.append((theirs & mine[w]).sum(axis=1))
        need.append(p.min_slots - have[-1])
        prefix = np.zeros((len(cols), SLOTS_PER_WEEK + 1), dtype=np.int16)
        np.cumsum((theirs & ~mine[w]).view(np.uint8), axis=1, dtype=np.int16, out=prefix[:, 1:])
        gain_prefix.append(prefix)
    shifts = [np.arange(SLOTS_PER_WEEK)] + [
        _week_shift(zone, weeks[0], weeks[w]) for w in range(1, len(weeks))
    ]
    slot = timedelta(minutes=SLOT_MINUTES)
    # No window shorter than the smallest shortfall can open anyone: start there.
    shortest = max(1, int(np.max(np.stack(need), axis=0).min()))
    for length in range(shortest, min(p.min_slots + EXTRA_WINDOW_SLOTS, SLOTS_PER_WEEK) + 1):
        starts = np.arange(SLOTS_PER_WEEK - length + 1)
        opened = np.ones((len(cols), len(starts)), dtype=bool)
        for w in range(len(weeks)):
            at = np.clip(shifts[w][starts], 0, SLOTS_PER_WEEK - length)
            gain = gain_prefix[w][:, at + length] - gain_prefix[w][:, at]
            opened &= gain >= need[w][:, None]
        counts = opened.sum(axis=0)
        for s in np.argsort(-counts, kind="stable")[:8].tolist():
            if counts[s] == 0:
                break
            windows = _local_windows(zone, weeks[0] + s * slot, weeks[0] + (s + length) * slot)
            opens = _check(p, i, cols, windows)
            if opens:
                minutes = sum(w.end - w.start for w in windows)
                return Change("time", windows=windows, minutes=minutes), opens
    return None


def _check(p: PoolArrays, i: int, cols: npt.NDArray[np.intp], added: tuple[Window, ...]) -> int:
    """How many of `cols` reach the minimum overlap in every week once `added` is in i's
    availability, by the same encoder the round used."""
    seeker = p.seekers[i]
    windows = (*seeker.windows, *added)
    ok = np.ones(len(cols), dtype=bool)
    for w, week in enumerate(p.weeks):
        words = _mask_words(utc_slot_mask(windows, seeker.zone, week))
        shared = np.zeros(len(cols), dtype=np.int64)
        for q in range(WORDS_PER_WEEK):
            shared += np.bitwise_count(p.masks[w][q, cols] & words[q])
        ok &= shared >= p.min_slots
    return int(np.count_nonzero(ok))
