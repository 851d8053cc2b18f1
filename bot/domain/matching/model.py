"""What matching works on: seekers, a community's settings, and what a round returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Literal

from bot.domain.availability import Window

Rhythm = Literal["weekly", "biweekly", "flexible"]
Medium = Literal["text", "voice", "video"]
OddPolicy = Literal["trio", "carry_over"]
ReasonCode = Literal["no_overlap", "preferences", "odd_one_out", "no_one_else"]

RHYTHMS: tuple[Rhythm, ...] = ("weekly", "biweekly", "flexible")
MEDIUMS: tuple[Medium, ...] = ("text", "voice", "video")
ODD_POLICIES: tuple[OddPolicy, ...] = ("trio", "carry_over")
AGE_BRACKETS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")


@dataclass(frozen=True)
class PastPartner:
    """A former (or current, `ended=None`) partner; the repeat window counts from `ended`."""

    partner_id: str
    ended: date | None = None


@dataclass(frozen=True)
class Seeker:
    """One member in the pool. Fields marked private are used by hard rules only and never
    appear in an explanation or any message."""

    id: str
    zone: str
    windows: tuple[Window, ...]
    goal_areas: frozenset[str] = frozenset()
    rhythm: Rhythm = "weekly"
    medium: Medium = "video"
    languages: frozenset[str] = frozenset()
    gender: str | None = None
    """Private. None = not given; such a member only meets partners without a gender wish."""
    age_bracket: str | None = None
    """Private, one of AGE_BRACKETS or None."""
    partner_genders: frozenset[str] | None = None
    """Private wish: the partner's gender must be one of these (None = anyone)."""
    partner_age_brackets: frozenset[str] | None = None
    """Private wish: the partner's age bracket must be one of these (None = any age)."""
    partner_languages: frozenset[str] | None = None
    """Private wish: the partner must speak one of these (None = any)."""
    blocks: frozenset[str] = frozenset()
    """Private: ids this member never wants to be matched with (enforced both ways)."""
    past_partners: tuple[PastPartner, ...] = ()
    waiting_since: datetime | None = None
    """When the member joined the pool; the longest waiting get a lift."""
    carried_over: bool = False
    """Left over by the previous round (odd one out): matched with priority this round."""


MAX_WEIGHT = 100.0
"""Largest weight in points (every float weight is from 0 to this). Hard rules never depend on
weights (a forbidden pair is an edge that does not exist); the bounds keep every pair's integer
score (x SCALE) far inside 32 bits: at most about 2.7 million points."""
MAX_CAP = 10
"""Largest `goal_area_cap` / `language_cap`."""
MAX_CAP_DAYS = 3650
"""Largest `waiting_cap_days`."""
MAX_HALF_HOURS = 168.0
"""Largest `overlap_half_hours` (a week)."""


@dataclass(frozen=True)
class Weights:
    """Score weights in points. A pair's score is the sum of the terms below; overlap is the
    largest on purpose: a partnership without shared time does not survive."""

    overlap: float = 10.0
    """Points approached as weekly overlap grows (diminishing returns, see overlap_half_hours)."""
    overlap_half_hours: float = 3.0
    """Hours of weekly overlap earning half of `overlap`; twice as many earn three quarters."""
    goal_area: float = 2.0
    """Per shared goal area, up to `goal_area_cap` areas."""
    goal_area_cap: int = 3
    same_rhythm: float = 1.0
    """Both chose exactly the same rhythm (flexible + weekly is allowed, but earns nothing)."""
    same_medium: float = 1.5
    """Both prefer the same medium (text / voice / video)."""
    language: float = 1.0
    """Per shared language, up to `language_cap` languages."""
    language_cap: int = 2
    waiting: float = 2.0
    """Per member, in proportion to days waited up to `waiting_cap_days`: fairness for the
    longest waiting, decisive when someone has to be left over."""
    waiting_cap_days: int = 28
    carried_over: float = 3.0
    """Per member left over by the previous round, so they are not left over twice."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_cap"):
                high: float = MAX_CAP
            elif f.name.endswith("_days"):
                high = MAX_CAP_DAYS
            elif f.name == "overlap_half_hours":
                high = MAX_HALF_HOURS
            else:
                high = MAX_WEIGHT
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or not 0 <= value <= high):
                raise ValueError(f"weight {f.name} must be a number from 0 to {high:g}")
            if f.name.endswith(("_cap", "_days")) and not isinstance(value, int):
                raise ValueError(f"weight {f.name} must be a whole number")


@dataclass(frozen=True)
class CommunitySettings:
    """A community's matching policy (set by moderators in /admin setup)."""

    weights: Weights = field(default_factory=Weights)
    min_overlap_minutes: int = 60
    """A pair needs at least this much shared time in EACH of the coming weeks considered."""
    overlap_weeks: int = 2
    """How many coming weeks the overlap is checked over (so a DST switch counts)."""
    repeat_window_days: int = 90
    """Former partners are not matched again until this many days after their partnership ended."""
    odd_policy: OddPolicy = "trio"
    require_common_language: bool = True
    """Members who both list languages must share one (a pair that cannot talk is no pair)."""
    k: int = 24
    """Large pools: each member's k best candidates are kept (union over both ends)."""
    exact_max_members: int = 300
    """Pools up to this size are solved exactly on every allowed pair."""

    def __post_init__(self) -> None:
        if self.min_overlap_minutes < 0:
            raise ValueError("min_overlap_minutes must be >= 0")
        if self.overlap_weeks < 1:
            raise ValueError("overlap_weeks must be >= 1")
        if self.repeat_window_days < 0:
            raise ValueError("repeat_window_days must be >= 0")
        if self.odd_policy not in ODD_POLICIES:
            raise ValueError(f"odd_policy must be one of {ODD_POLICIES}")
        if self.k < 1:
            raise ValueError("k must be >= 1")


@dataclass(frozen=True)
class WeekOverlap:
    """Shared time of a group in one concrete UTC week."""

    week_start: datetime
    minutes: int
    intervals: tuple[tuple[datetime, datetime], ...]
    """UTC [start, end) intervals, in order."""


@dataclass(frozen=True)
class GroupExplanation:
    """Why these members were grouped. Only shared, public facts: never a private field or wish;
    `preferences_satisfied` is the only trace of those."""

    weekly_overlap_minutes: int
    """Time the whole group shares, in the tightest of the weeks considered."""
    weeks: tuple[WeekOverlap, ...]
    shared_goal_areas: tuple[str, ...]
    shared_languages: tuple[str, ...]
    rhythm: Rhythm | None
    """The rhythm everyone chose, when it is the same (flexible members adapt)."""
    medium: Medium | None
    preferences_satisfied: bool = True


@dataclass(frozen=True)
class Group:
    """A proposed pair, or a trio under the trio policy."""

    members: tuple[str, ...]
    score: float
    """Sum of the pair scores inside the group."""
    explanation: GroupExplanation


@dataclass(frozen=True)
class Unmatched:
    """A member left without a partner this round, with the honest reason."""

    member_id: str
    reason: ReasonCode
    priority: bool
    """True when the member should be matched first next round (carried over)."""


Situation = Literal["alone", "no_fit", "taken", "time", "ruled_out"]
"""Why a member left without a partner is waiting, from the member's own side:
alone: nobody else is in the pool; no_fit: no change of theirs can open a partner in this pool;
taken: partners fitting them exist but were paired with others; time: of the members they could
be paired with, none shares enough time; ruled_out: some share enough time, but the member's own
settings (partner wishes, rhythm, languages) rule them out."""

Obstacle = Literal["wishes", "rhythm", "language"]
ChangeKind = Literal["time", "rhythm", "language", "wish_gender", "wish_age", "wish_language"]


@dataclass(frozen=True)
class Change:
    """One change of a member's own profile that would open partners for them."""

    kind: ChangeKind
    windows: tuple[Window, ...] = ()
    """For `time`: the local windows to add to the member's availability."""
    value: str | None = None
    """For `rhythm`: the rhythm to choose; for `language`: the language to add."""
    minutes: int = 0
    """For `time`: minutes added per week."""


@dataclass(frozen=True)
class MemberAdvice:
    """What a member left without a partner may be told: computed from the same hard rules as
    the round, from their own side only. A block, a past partner inside the repeat window or
    another member's private wish is never an obstacle named here, nor a reason for a change:
    members excluded that way are simply not counted."""

    member_id: str
    situation: Situation
    obstacles: tuple[Obstacle, ...] = ()
    """For `ruled_out`: which of the member's own settings rule out those who share time."""
    change: Change | None = None
    """The smallest change of their own that would open at least one partner."""
    opens: int = 0
    """How many members in the pool would fit them after `change`."""
    hint: str = ""
    """A hint for moderators from public fields only (availability, rhythm, languages)."""


@dataclass(frozen=True)
class MatchTotals:
    members: int
    matched: int
    groups: int
    trios: int
    unmatched: int
    total_score: float
    allowed_pairs: int
    """Pairs allowed by the hard rules (exact in every mode)."""
    candidate_pairs: int
    """Pairs the solver saw (all allowed pairs in exact mode, the sparse graph otherwise)."""
    solver: str
    max_cardinality: bool | None
    """True when the number of pairs is proven the maximum under the hard rules: in exact mode
    by the blossom solver on every allowed pair; in sparse mode by augmenting-path searches on
    the full allowed graph (Berge's theorem). Always True now; None is kept for old readers."""


@dataclass(frozen=True)
class MatchResult:
    groups: tuple[Group, ...]
    unmatched: tuple[Unmatched, ...]
    totals: MatchTotals
    weeks: tuple[datetime, ...]
    timing: dict[str, float] = field(default_factory=dict)
    """Seconds per phase (a monotonic performance counter, never the wall clock)."""
    advice: dict[str, MemberAdvice] = field(default_factory=dict)
    """Per unmatched member (when asked for with ``advise=True``): their side of the story."""
