"""The community simulator as the test that guards everything: seeded communities from every
kind of zone live through weeks with the real bot, the real discord.py client and the emulator,
and every invariant of those weeks must hold for every member.

Hypothesis chooses the community (its seed and size) and how restless and responsive people
are; each example is a whole community, so the budget is a few examples (a larger run is
``python -m bench.bench_simulate``).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.db import create_engine
from bot.simulation import Outcome, community, simulate
from bot.simulation.invariants import Problem
from tests.dbutil import TEST_DATABASE_URL, on_postgres, truncate_all


def _run(template: str, **kwargs: object) -> Outcome:
    """One simulation on a fresh copy of the suite's migrated database."""

    async def go(url: str) -> Outcome:
        if on_postgres():
            engine = create_engine(url)
            await truncate_all(engine)
            await engine.dispose()
        return await simulate(database_url=url, **kwargs)  # type: ignore[arg-type]

    if on_postgres():
        assert TEST_DATABASE_URL
        return asyncio.run(go(TEST_DATABASE_URL))
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "sim.sqlite3"
        shutil.copy(template, target)
        return asyncio.run(go(f"sqlite+aiosqlite:///{target}"))


def _explain(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems[:30])


def test_a_month_in_a_world_spread_community_keeps_every_invariant(
    migrated_template: str,
) -> None:
    outcome = _run(migrated_template, members=24, weeks=4, seed=12)
    assert not outcome.problems, _explain(outcome.problems)
    # The month really happened: members met, were asked about their goals, answered.
    assert outcome.counts["meetings checked"] >= 10
    assert outcome.counts["check-in done"] + outcome.counts["check-in partly"] >= 10
    assert outcome.counts["goal add"] >= 20


@settings(
    max_examples=3,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    size=st.integers(min_value=6, max_value=16),
    restless=st.sampled_from((0.0, 0.05, 0.15)),
    answers=st.sampled_from((0.5, 0.8, 1.0)),
)
def test_any_community_keeps_every_invariant(
    migrated_template: str, seed: int, size: int, restless: float, answers: float
) -> None:
    people = [
        replace(p, restless=restless, answers=min(p.answers, answers))
        for p in community(size, seed)
    ]
    outcome = _run(migrated_template, members=size, weeks=3, seed=seed, people=people)
    assert not outcome.problems, _explain(outcome.problems)
