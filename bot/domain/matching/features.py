"""A pool encoded as numpy arrays, so hard rules and scores are computed for blocks of pairs at
once: availability as uint64 words (overlap is a popcount of an AND), goal areas, languages and
private attributes as bitsets over the pool's vocabulary, per-member points as integers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from bot.domain.availability import (
    SLOT_MINUTES,
    SLOTS_PER_WEEK,
    Window,
    _switch_day_span,
    _valid_week,
    _week_plan,
)
from bot.domain.matching.model import RHYTHMS, CommunitySettings, Seeker, Weights

SCALE = 1000
"""Scores are summed as integer points (score x SCALE): exact solvers want integer weights and
integer sums make every solver and the brute-force check agree to the last point."""
WORDS_PER_WEEK = (SLOTS_PER_WEEK + 63) // 64
ANY = "\x00any"

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]

_RHYTHM_BIT = {"weekly": 1, "biweekly": 2, "flexible": 4}
_RHYTHM_ACCEPTS = {"weekly": 1 | 4, "biweekly": 2 | 4, "flexible": 1 | 2 | 4}
_MEDIUM_CODE = {"text": 0, "voice": 1, "video": 2}


def _bitset(sets: Sequence[Iterable[str] | None], vocab: dict[str, int], words: int) -> U64:
    """Rows of bits over `vocab`; None means "anything" (all bits set)."""
    full = (1 << (64 * words)) - 1
    ints = []
    for items in sets:
        if items is None:
            ints.append(full)
            continue
        value = 0
        for item in items:
            value |= 1 << vocab[item]
        ints.append(value)
    out = np.empty((words, len(sets)), dtype=np.uint64)
    for q in range(words):
        out[q] = np.array([(v >> (64 * q)) & 0xFFFFFFFFFFFFFFFF for v in ints], dtype=np.uint64)
    return out


def _vocab(values: Iterable[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(sorted(set(values)))}


@lru_cache(maxsize=64)
def points_luts(weights: Weights) -> tuple[I32, I32, I32]:
    """Integer points for overlap (by slots), shared goal areas and shared languages (by count)."""
    half = max(weights.overlap_half_hours, 1e-9)
    hours = np.arange(SLOTS_PER_WEEK + 1) * SLOT_MINUTES / 60
    overlap = np.rint(SCALE * weights.overlap * (1 - np.exp2(-hours / half))).astype(np.int32)
    goals = np.array(
        [round(SCALE * weights.goal_area * min(c, weights.goal_area_cap)) for c in range(256)],
        dtype=np.int32,
    )
    langs = np.array(
        [round(SCALE * weights.language * min(c, weights.language_cap)) for c in range(256)],
        dtype=np.int32,
    )
    return overlap, goals, langs


_MINUTES_PER_SLOT_WEEK = SLOTS_PER_WEEK * SLOT_MINUTES


def _zone_plans(zones: Sequence[str], week: datetime
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], list[list[list[Any]]]]:
    """Per zone and local weekday, up to two local dates touching the UTC week: the minutes
    from the week start to their local midnight (`base`), and a state: 0 none, 1 plain day,
    2 a day the UTC offset changes (windows then take the careful path)."""
    base = np.zeros((len(zones), 7, 2), dtype=np.int64)
    state = np.zeros((len(zones), 7, 2), dtype=np.int8)
    raw: list[list[list[Any]]] = []
    for z, zone in enumerate(zones):
        tz = ZoneInfo(zone)
        plan = _week_plan(tz, _valid_week(week))
        raw.append([list(day) for day in plan])
        for d, entries in enumerate(plan):
            for k, (b, _) in enumerate(entries):
                if b is None:
                    state[z, d, k] = 2
                else:
                    state[z, d, k] = 1
                    base[z, d, k] = b
    return base, state, raw


@lru_cache(maxsize=1 << 16)
def _careful_span(zone: str, day: date, weekday: int, start: int, end: int, week: datetime
                  ) -> tuple[int, int]:
    """A window on a day the clocks change, in minutes from the week start (cached: members
    share zones and windows)."""
    return _switch_day_span(ZoneInfo(zone), day, Window(weekday, start, end), _valid_week(week))


def _slot_words(seekers: Sequence[Seeker], weeks: tuple[datetime, ...]) -> U64:
    """(weeks, WORDS_PER_WEEK, n) availability masks, equal bit for bit to `utc_slot_mask` for
    each member and week, computed for all members at once: every window placed on each local
    date touching the week (a table per zone), spans merged per member where they touch, then
    the quarter-hour slots (SLOT_MINUTES) fully inside a merged span set. (Hashing members'
    windows to share the work between alike members measured slower than doing it for
    everyone.)"""
    n = len(seekers)
    zones_v: dict[str, int] = {}
    member_zone = [zones_v.setdefault(s.zone, len(zones_v)) for s in seekers]
    flat = [
        (u, z, w.day, w.start, w.end)
        for u, z, s in zip(range(n), member_zone, seekers, strict=True)
        for w in s.windows
    ]
    n_keys = n
    table = np.array(flat, dtype=np.int64).reshape(-1, 5)
    wk = table[:, 0]
    wz = table[:, 1].astype(np.intp)
    wd = table[:, 2].astype(np.intp)
    ws_ = table[:, 3]
    we = table[:, 4]
    zone_names = list(zones_v)
    out = np.zeros((len(weeks), WORDS_PER_WEEK, n), dtype=np.uint64)
    for t, week in enumerate(weeks):
        base, state, raw = _zone_plans(zone_names, week)
        sk, ss, se = [], [], []
        careful: list[tuple[int, int, int]] = []
        for k in range(2):
            st = state[wz, wd, k]
            b = base[wz, wd, k]
            plain = (st == 1) & (b + we > 0) & (b + ws_ < _MINUTES_PER_SLOT_WEEK)
            sk.append(wk[plain])
            ss.append((b + ws_)[plain])
            se.append((b + we)[plain])
            switch = np.flatnonzero(st == 2)
            for x, z, d, a0, e0 in zip(switch.tolist(), wz[switch].tolist(),
                                       wd[switch].tolist(), ws_[switch].tolist(),
                                       we[switch].tolist(), strict=True):
                a, e = _careful_span(zone_names[z], raw[z][d][k][1], d, a0, e0, week)
                if e > a:
                    careful.append((int(wk[x]), a, e))
        extra = np.array(careful, dtype=np.int64).reshape(-1, 3)
        key = np.concatenate([*sk, extra[:, 0]])
        start = np.concatenate([*ss, extra[:, 1]])
        end = np.concatenate([*se, extra[:, 2]])
        if key.size == 0:  # nobody has a window this week (or nobody is in the pool)
            continue
        # Merge touching or overlapping spans per key: sorted by (key, start), a span opens a
        # new run when it starts after the running maximum end of its key's earlier spans.
        shift = 1 << 20  # minutes are within -3 days .. +10 days of the week start
        order = np.lexsort((start, key))
        key, start, end = key[order], start[order], end[order]
        run_max = np.maximum.accumulate(end + key * shift)
        opens = np.ones(len(key), dtype=bool)
        opens[1:] = (key[1:] != key[:-1]) | (start[1:] + key[1:] * shift > run_max[:-1])
        first_idx = np.flatnonzero(opens)
        last_idx = np.append(first_idx[1:] - 1, len(key) - 1).astype(np.intp)
        r_key = key[first_idx]
        r_start = start[first_idx]
        r_end = run_max[last_idx] - r_key * shift
        lo = np.maximum(-(-r_start // SLOT_MINUTES), 0)
        hi = np.minimum(r_end // SLOT_MINUTES, SLOTS_PER_WEEK)
        keep = hi > lo
        diff = np.zeros((n_keys, SLOTS_PER_WEEK + 1), dtype=np.int16)
        np.add.at(diff, (r_key[keep], lo[keep]), 1)
        np.add.at(diff, (r_key[keep], hi[keep]), -1)
        bits = np.cumsum(diff[:, :SLOTS_PER_WEEK], axis=1, dtype=np.int16) > 0
        packed = np.zeros((n_keys, 8 * WORDS_PER_WEEK), dtype=np.uint8)
        packed[:, : (SLOTS_PER_WEEK + 7) // 8] = np.packbits(bits, axis=1, bitorder="little")
        words = packed.view("<u8").astype(np.uint64)  # (keys, WORDS_PER_WEEK)
        out[t] = words.T
    return out


@dataclass
class PoolArrays:
    """Column-major features: `masks[w, q]` is word q of every member's week-w mask."""

    seekers: tuple[Seeker, ...]
    settings: CommunitySettings
    weeks: tuple[datetime, ...]
    masks: U64  # (weeks, WORDS_PER_WEEK, n)
    prefix: npt.NDArray[np.int16]
    """(weeks, SLOTS_PER_WEEK + 1, n): slots each member has before slot t. A member's overlap
    with everyone is then a few row differences, one per run of their availability."""
    runs: list[list[npt.NDArray[np.intp]]]
    """Per week, per member: (runs, 2) array of [first slot, end slot) of their availability."""
    n_stable: int
    """Members [0, n_stable) have the same mask in every week."""
    goals: U64  # (gw, n)
    langs: U64  # (lw, n)
    langs_any: U64  # langs plus the ANY bit
    lang_req: U64  # (lw, n): all ones for members without languages
    pref_lang: U64  # (lw, n)
    gender: U64  # (xw, n)
    pref_gender: U64
    age: U64
    pref_age: U64
    rhythm_bit: npt.NDArray[np.uint8]
    rhythm_accepts: npt.NDArray[np.uint8]
    rhythm: npt.NDArray[np.int8]
    medium: npt.NDArray[np.int8]
    member_points: I32
    forbidden: dict[int, I64]
    """Per member, partners excluded by blocks or the repeat window (both directions)."""
    forbidden_keys: I64
    """The same pairs once, as sorted keys i * n + j (both directions): built once per round,
    so checking any batch of pairs is one binary search whatever the number of blocks."""
    min_slots: int
    overlap_lut: I32
    goal_lut: I32
    lang_lut: I32
    same_rhythm_pts: int
    same_medium_pts: int
    goal_vocab: list[str]
    lang_vocab: list[str]
    cls: npt.NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    """Per member, its class: members alike in every rule and bonus except time and goals."""
    cls_points: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.int32)
    )
    """Class x class: NOT_ALLOWED (-1) when a preference, rhythm or language rule fails, else
    the rhythm and language points."""

    @property
    def n(self) -> int:
        return len(self.seekers)

    def week_masks(self, i: int) -> list[int]:
        """Member i's mask per week as Python ints, for explanations."""
        return [int.from_bytes(self.masks[w, :, i].astype("<u8").tobytes(), "little")
                for w in range(self.masks.shape[0])]


def encode(seekers: Sequence[Seeker], settings: CommunitySettings, weeks: Sequence[datetime],
           now: datetime) -> PoolArrays:
    """Encode a pool for the given concrete weeks; `now` dates the repeat window and waiting."""
    n = len(seekers)
    masks = _slot_words(seekers, tuple(weeks))
    # Members whose mask changes between the weeks (a DST switch) go last, so the extra weeks'
    # overlap is computed only for pairs that involve one of them.
    changes = (masks != masks[:1]).any(axis=(0, 1))
    order = np.argsort(changes, kind="stable")
    seekers = [seekers[i] for i in order.tolist()]
    masks = np.ascontiguousarray(masks[:, :, order])
    index = {s.id: i for i, s in enumerate(seekers)}
    n_stable = n - int(changes.sum())
    bits = np.unpackbits(
        np.ascontiguousarray(masks.transpose(0, 2, 1)).view(np.uint8), axis=2, bitorder="little"
    )[:, :, :SLOTS_PER_WEEK]
    prefix = np.zeros((len(weeks), SLOTS_PER_WEEK + 1, n), dtype=np.int16)
    slots_first = np.ascontiguousarray(bits.transpose(0, 2, 1))
    for t in range(SLOTS_PER_WEEK):  # row by row: numpy's cumsum across rows is much slower
        np.add(prefix[:, t], slots_first[:, t], out=prefix[:, t + 1])
    runs = [_runs(bits[w]) for w in range(len(weeks))]

    goal_v = _vocab(g for s in seekers for g in s.goal_areas)
    # ANY is a bit every member has, so a missing language wish (all bits) always holds.
    lang_v = _vocab(
        [ANY]
        + [x for s in seekers for x in s.languages]
        + [x for s in seekers for x in (s.partner_languages or ())]
    )
    # "" stands for "not given", so a wish excludes members who did not say.
    gender_v = _vocab(
        [s.gender or "" for s in seekers] + [g for s in seekers for g in (s.partner_genders or ())]
    )
    age_v = _vocab(
        [s.age_bracket or "" for s in seekers]
        + [a for s in seekers for a in (s.partner_age_brackets or ())]
    )

    def words(v: dict[str, int]) -> int:
        return max(1, math.ceil(len(v) / 64))

    lw = words(lang_v)
    langs = _bitset([s.languages for s in seekers], lang_v, lw)
    langs_any = _bitset([[*s.languages, ANY] for s in seekers], lang_v, lw)
    lang_req = _bitset(
        [s.languages if (s.languages and settings.require_common_language) else None
         for s in seekers], lang_v, lw
    )

    weights = settings.weights
    today = now.date()
    member_points = np.zeros(n, dtype=np.int32)
    forbidden_sets: list[set[int]] = [set() for _ in range(n)]
    for i, s in enumerate(seekers):
        waited = 0.0
        if s.waiting_since is not None and weights.waiting_cap_days > 0:
            days = max((now - s.waiting_since).total_seconds() / 86400, 0.0)
            waited = min(days, weights.waiting_cap_days) / weights.waiting_cap_days
        member_points[i] = round(SCALE * weights.waiting * waited) + (
            round(SCALE * weights.carried_over) if s.carried_over else 0
        )
        for other in s.blocks:
            j = index.get(other)
            if j is not None and j != i:
                forbidden_sets[i].add(j)
                forbidden_sets[j].add(i)
        for past in s.past_partners:
            j = index.get(past.partner_id)
            if j is None or j == i:
                continue
            if past.ended is None or (today - past.ended).days < settings.repeat_window_days:
                forbidden_sets[i].add(j)
                forbidden_sets[j].add(i)

    overlap_lut, goal_lut, lang_lut = points_luts(weights)
    top = (int(overlap_lut.max()) + int(goal_lut.max()) + int(lang_lut.max())
           + 2 * SCALE * (weights.same_rhythm + weights.same_medium)
           + 2 * int(member_points.max(initial=0)))
    if top >= 1 << 30:  # cannot happen with Weights' bounds; a score must never wrap
        raise ValueError("weights too large: a pair's score would not fit in 32 bits")
    arrays = PoolArrays(
        seekers=tuple(seekers),
        settings=settings,
        weeks=tuple(weeks),
        masks=masks,
        prefix=prefix,
        runs=runs,
        n_stable=n_stable,
        goals=_bitset([s.goal_areas for s in seekers], goal_v, words(goal_v)),
        langs=langs,
        langs_any=langs_any,
        lang_req=lang_req,
        pref_lang=_bitset([s.partner_languages for s in seekers], lang_v, lw),
        gender=_bitset([[s.gender or ""] for s in seekers], gender_v, words(gender_v)),
        pref_gender=_bitset([s.partner_genders for s in seekers], gender_v, words(gender_v)),
        age=_bitset([[s.age_bracket or ""] for s in seekers], age_v, words(age_v)),
        pref_age=_bitset([s.partner_age_brackets for s in seekers], age_v, words(age_v)),
        rhythm_bit=np.array([_RHYTHM_BIT[s.rhythm] for s in seekers], dtype=np.uint8),
        rhythm_accepts=np.array([_RHYTHM_ACCEPTS[s.rhythm] for s in seekers], dtype=np.uint8),
        rhythm=np.array([RHYTHMS.index(s.rhythm) for s in seekers], dtype=np.int8),
        medium=np.array([_MEDIUM_CODE[s.medium] for s in seekers], dtype=np.int8),
        member_points=member_points,
        forbidden={i: np.array(sorted(f), dtype=np.int64) for i, f in enumerate(forbidden_sets)
                   if f},
        forbidden_keys=np.array(sorted(i * n + j for i, f in enumerate(forbidden_sets)
                                       for j in f), dtype=np.int64),
        min_slots=math.ceil(settings.min_overlap_minutes / SLOT_MINUTES),
        overlap_lut=overlap_lut,
        goal_lut=goal_lut,
        lang_lut=lang_lut,
        same_rhythm_pts=round(SCALE * weights.same_rhythm),
        same_medium_pts=round(SCALE * weights.same_medium),
        goal_vocab=list(goal_v),
        lang_vocab=list(lang_v),
    )
    _classify(arrays)
    return arrays


def _intersects(a: U64, b: U64) -> Bool:
    """Bitsets share a bit (a, b shaped (words, ...) and broadcastable)."""
    out: Bool = (a[0] & b[0]) != 0
    for q in range(1, a.shape[0]):
        out |= (a[q] & b[q]) != 0
    return out


def common_count(a: U64, b: U64) -> npt.NDArray[np.uint8]:
    """How many bits two bitsets share."""
    out = np.bitwise_count(a[0] & b[0])
    for q in range(1, a.shape[0]):
        out += np.bitwise_count(a[q] & b[q])
    return out


def _classify(p: PoolArrays) -> None:
    """Group members by everything but time, goal areas and medium, and rule on class pairs
    once: the per-pair work then is a popcount for time and goals and two table look-ups."""
    n = p.n
    parts = [
        p.rhythm.astype(np.uint64)[None, :],
        p.langs, p.lang_req, p.pref_lang, p.gender, p.pref_gender, p.age, p.pref_age,
    ]
    keys = np.concatenate(parts, axis=0).T if n else np.zeros((0, 1), dtype=np.uint64)
    _, reps, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    r = reps[:, None]
    c = reps[None, :]
    ok = (p.rhythm_accepts[r] & p.rhythm_bit[c]) != 0
    ok &= _intersects(p.pref_gender[:, r], p.gender[:, c])
    ok &= _intersects(p.pref_gender[:, c], p.gender[:, r])
    ok &= _intersects(p.pref_age[:, r], p.age[:, c])
    ok &= _intersects(p.pref_age[:, c], p.age[:, r])
    ok &= _intersects(p.pref_lang[:, r], p.langs_any[:, c])
    ok &= _intersects(p.pref_lang[:, c], p.langs_any[:, r])
    ok &= _intersects(p.lang_req[:, r], p.lang_req[:, c])
    pts = p.lang_lut[common_count(p.langs[:, r], p.langs[:, c])]
    pts += (p.rhythm[r] == p.rhythm[c]) * p.same_rhythm_pts
    pts[~ok] = -1
    p.cls = inverse.reshape(-1).astype(np.intp)
    p.cls_points = pts.astype(np.int32)


def _runs(bits: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.intp]]:
    """Per member (row of 0/1 slots), its runs of ones as a (runs, 2) array [start, end)."""
    n = bits.shape[0]
    padded = np.zeros((n, bits.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = bits
    member, slot = np.nonzero(np.diff(padded, axis=1))
    edges = slot.reshape(-1, 2)  # starts and ends alternate within each member
    counts = np.bincount(member[::2], minlength=n)
    return np.split(edges.astype(np.intp), np.cumsum(counts)[:-1])
