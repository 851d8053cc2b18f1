"""A pool encoded as numpy arrays, so hard rules and scores are computed for blocks of pairs at
once: availability as uint64 words (overlap is a popcount of an AND), goal areas, languages and
private attributes as bitsets over the pool's vocabulary, per-member points as integers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.domain.availability import SLOT_MINUTES, SLOTS_PER_WEEK, utc_slot_mask
from bot.domain.matching.model import RHYTHMS, CommunitySettings, Seeker, Weights

SCALE = 1000
"""Scores are summed as integer points (score x SCALE): exact solvers want integer weights and
integer sums make every solver and the brute-force check agree to the last point."""
WORDS_PER_WEEK = (SLOTS_PER_WEEK + 63) // 64

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]

_RHYTHM_BIT = {"weekly": 1, "biweekly": 2, "flexible": 4}
_RHYTHM_ACCEPTS = {"weekly": 1 | 4, "biweekly": 2 | 4, "flexible": 1 | 2 | 4}
_MEDIUM_CODE = {"text": 0, "voice": 1, "video": 2}


def _bitset(sets: Sequence[Iterable[str] | None], vocab: dict[str, int], words: int) -> U64:
    """Rows of bits over `vocab`; None means "anything" (all bits set)."""
    out = np.zeros((words, len(sets)), dtype=np.uint64)
    for i, items in enumerate(sets):
        if items is None:
            out[:, i] = np.uint64(0xFFFFFFFFFFFFFFFF)
            continue
        for item in items:
            bit = vocab[item]
            out[bit // 64, i] |= np.uint64(1 << (bit % 64))
    return out


def _vocab(values: Iterable[str]) -> dict[str, int]:
    return {v: i for i, v in enumerate(sorted(set(values)))}


def _mask_words(mask: int) -> list[int]:
    return [(mask >> (64 * q)) & 0xFFFFFFFFFFFFFFFF for q in range(WORDS_PER_WEEK)]


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


@dataclass
class PoolArrays:
    """Column-major features: `masks[w, q]` is word q of every member's week-w mask."""

    seekers: tuple[Seeker, ...]
    settings: CommunitySettings
    weeks: tuple[datetime, ...]
    week_masks: list[list[int]]
    """Python-int masks per member and week, for explanations."""
    masks: U64  # (weeks, WORDS_PER_WEEK, n)
    n_stable: int
    """Members [0, n_stable) have the same mask in every week."""
    goals: U64  # (gw, n)
    langs: U64  # (lw, n)
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
    the rhythm, medium and language points."""

    @property
    def n(self) -> int:
        return len(self.seekers)


def encode(seekers: Sequence[Seeker], settings: CommunitySettings, weeks: Sequence[datetime],
           now: datetime) -> PoolArrays:
    """Encode a pool for the given concrete weeks; `now` dates the repeat window and waiting."""
    n = len(seekers)
    week_masks = [[utc_slot_mask(s.windows, s.zone, w) for w in weeks] for s in seekers]
    # Members whose mask changes between the weeks (a DST switch) go last, so the extra weeks'
    # overlap is computed only for pairs that involve one of them.
    order = sorted(range(n), key=lambda i: any(m != week_masks[i][0] for m in week_masks[i]))
    seekers = [seekers[i] for i in order]
    week_masks = [week_masks[i] for i in order]
    index = {s.id: i for i, s in enumerate(seekers)}
    masks = np.zeros((len(weeks), WORDS_PER_WEEK, n), dtype=np.uint64)
    for i, per_week in enumerate(week_masks):
        for w, mask in enumerate(per_week):
            masks[w, :, i] = _mask_words(mask)
    n_stable = sum(1 for per in week_masks if all(m == per[0] for m in per))

    goal_v = _vocab(g for s in seekers for g in s.goal_areas)
    lang_v = _vocab(
        [x for s in seekers for x in s.languages]
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
    arrays = PoolArrays(
        seekers=tuple(seekers),
        settings=settings,
        weeks=tuple(weeks),
        week_masks=week_masks,
        masks=masks,
        n_stable=n_stable,
        goals=_bitset([s.goal_areas for s in seekers], goal_v, words(goal_v)),
        langs=langs,
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
    """Group members by everything but time and goal areas, and rule on class pairs once: the
    per-pair work then is a popcount for time and goals and one table look-up."""
    n = p.n
    parts = [
        p.rhythm.astype(np.uint64)[None, :], p.medium.astype(np.uint64)[None, :],
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
    ok &= _intersects(p.pref_lang[:, r], p.langs[:, c])
    ok &= _intersects(p.pref_lang[:, c], p.langs[:, r])
    ok &= _intersects(p.lang_req[:, r], p.lang_req[:, c])
    pts = p.lang_lut[common_count(p.langs[:, r], p.langs[:, c])]
    pts += (p.rhythm[r] == p.rhythm[c]) * p.same_rhythm_pts
    pts += (p.medium[r] == p.medium[c]) * p.same_medium_pts
    pts[~ok] = -1
    p.cls = inverse.reshape(-1).astype(np.intp)
    p.cls_points = pts.astype(np.int32)


def decode_bits(bits: Sequence[Any], vocab: list[str]) -> tuple[str, ...]:
    """Names of the set bits of one member's (or one AND's) bitset words."""
    out = []
    for q, word in enumerate(bits):
        word = int(word)
        while word:
            low = word & -word
            out.append(vocab[64 * q + low.bit_length() - 1])
            word ^= low
    return tuple(out)
