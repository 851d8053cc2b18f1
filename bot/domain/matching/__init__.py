"""Matchmaking: hard rules, scores, an optimal max-cardinality matching and explanations.

Pure: no I/O. The rounds (Discord, database) and the offline `pairbot match` both call
:func:`match_pool`.
"""

from bot.domain.matching.engine import allowed_pairs, match_pool
from bot.domain.matching.explain import render_group, render_waiting
from bot.domain.matching.features import SCALE
from bot.domain.matching.model import (
    AGE_BRACKETS,
    MEDIUMS,
    ODD_POLICIES,
    RHYTHMS,
    CommunitySettings,
    Group,
    GroupExplanation,
    MatchResult,
    MatchTotals,
    Medium,
    OddPolicy,
    PastPartner,
    ReasonCode,
    Rhythm,
    Seeker,
    Unmatched,
    WeekOverlap,
    Weights,
)

__all__ = [
    "AGE_BRACKETS",
    "MEDIUMS",
    "ODD_POLICIES",
    "RHYTHMS",
    "SCALE",
    "CommunitySettings",
    "Group",
    "GroupExplanation",
    "MatchResult",
    "MatchTotals",
    "Medium",
    "OddPolicy",
    "PastPartner",
    "ReasonCode",
    "Rhythm",
    "Seeker",
    "Unmatched",
    "WeekOverlap",
    "Weights",
    "allowed_pairs",
    "match_pool",
    "render_group",
    "render_waiting",
]
