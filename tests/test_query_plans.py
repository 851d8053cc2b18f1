"""Every hot query can be served by an index (issue 13), checked with the database's own planner
on whichever database the suite runs against: SQLite's ``EXPLAIN QUERY PLAN``, PostgreSQL's
``EXPLAIN (FORMAT JSON)`` with ``enable_seqscan = off`` inside the transaction (the test tables
are tiny, so the question is whether an index *can* serve the query, not whether the planner
would pick it for ten rows).

The statements are the real ones: the service function runs while every statement it sends is
captured, then each captured statement is explained with its own parameters. Queries living in
files this change did not touch (goals, partnerships, matching, pool) are written here as
equivalent statements; each names where its original is.

A query fails when it scans a large table in full, or when none of the indexes meant for it
serves it when only those are left (every other index of the large tables is dropped inside the
rolled-back transaction; ``key LIKE 'prefix%'`` was served by the state index alone: every pending
row, 0.6–1.1 s a call at 928k rows)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, delete, event, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.domain import goals as g
from bot.services import goals, matching, outbox, pool, posts, profiles
from models import (
    Block,
    Goal,
    GuildSettings,
    Member,
    OutboxItem,
    Partnership,
    PartnershipMember,
    RoundStanding,
)
from tests.conftest import START

LARGE = {
    "outbox",
    "goals",
    "members",
    "partnerships",
    "partnership_members",
    "checkins",
    "blocks",
    "round_standings",
}
LIVE_PARTNERSHIP = ("proposed", "trial", "active")  # bot/services/partnerships.py LIVE

Run = Callable[[AsyncSession], Awaitable[Any]]


@dataclass
class Plan:
    """What the planner said about one statement."""

    statement: str
    full_scans: list[str] = field(default_factory=list)
    indexes: set[str] = field(default_factory=set)
    text: str = ""


@asynccontextmanager
async def capturing(engine: AsyncEngine) -> AsyncIterator[list[tuple[str, Any]]]:
    """Every SELECT/UPDATE/DELETE sent while the block runs, with its driver parameters."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if re.match(r"\s*(SELECT|UPDATE|DELETE)\b", statement, re.IGNORECASE):
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


def _pg_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


async def leading_columns(session: AsyncSession) -> dict[str, str]:
    """PostgreSQL: each index's first column (a condition on a later column alone walks the
    whole index)."""
    rows: Any = await (await session.connection()).exec_driver_sql(
        "SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    )
    return {str(row[0]): str(row[1]) for row in rows.all()}


async def explain(
    session: AsyncSession, statement: str, parameters: Any, leading: dict[str, str]
) -> Plan:
    conn = await session.connection()
    plan = Plan(statement)
    if conn.dialect.name == "sqlite":
        rows = (await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)).all()
        details = [str(row[-1]) for row in rows]
        plan.text = "\n".join(details)
        for detail in details:
            scan = re.match(r"SCAN (\w+)", detail)
            if scan and scan.group(1) in LARGE:
                plan.full_scans.append(detail)
            used = re.search(r"USING (?:COVERING )?INDEX (\w+)", detail)
            if used:
                plan.indexes.add(used.group(1))
            if re.search(r"USING (?:INTEGER )?PRIMARY KEY", detail):
                plan.indexes.add("primary key")
        return plan
    await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
    document = result.scalar_one()
    tree = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    plan.text = json.dumps(tree, indent=1)
    for node in _pg_nodes(tree):
        kind, table = node.get("Node Type"), node.get("Relation Name")
        if kind == "Seq Scan" and table in LARGE:
            plan.full_scans.append(f"Seq Scan on {table}")
        if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            first = leading.get(str(node.get("Index Name")), "")
            cond = str(node.get("Index Cond", ""))
            if (table in LARGE or table is None) and not re.search(rf"\b{first}\b", cond):
                plan.full_scans.append(
                    f"{kind} using {node.get('Index Name')} without a condition on its first "
                    f"column {first} (the whole index)"
                )
        if "Index Name" in node:
            name = str(node["Index Name"])
            plan.indexes.add("primary key" if name.startswith("pk_") else name)
    return plan


async def drop_indexes_except(session: AsyncSession, keep: set[str]) -> None:
    """Inside the (rolled back) transaction, drop every index of the large tables but primary
    keys, UNIQUE constraints and ``keep``: what is left is all the planner may use, so a query
    passes only if the indexes meant for it serve it (with every index present, a planner
    without statistics picks any index that matches a column)."""
    conn = await session.connection()
    listed: Any
    if conn.dialect.name == "sqlite":
        listed = await conn.exec_driver_sql(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    else:
        listed = await conn.exec_driver_sql(
            "SELECT i.indexname, i.tablename FROM pg_indexes i WHERE i.schemaname = 'public' "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    for row in listed.all():
        name, table = str(row[0]), str(row[1])
        if table in LARGE and name not in keep:
            await conn.exec_driver_sql(f'DROP INDEX "{name}"')


async def plans_of(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    run: Run,
    keep: set[str],
) -> list[Plan]:
    async with capturing(engine) as seen, sessions() as session, session.begin():
        await run(session)
        await session.rollback()
    assert seen, "the query sent nothing to explain"
    plans = []
    async with sessions() as session, session.begin():
        await drop_indexes_except(session, keep)
        leading = {} if engine.dialect.name == "sqlite" else await leading_columns(session)
        for statement, parameters in seen:
            plans.append(await explain(session, statement, parameters, leading))
        await session.rollback()
    return plans


# SQLite names a UNIQUE constraint's index itself.
UNIQUE_MEMBER = {"uq_members_guild_id_user_id", "sqlite_autoindex_members_1"}
NOW = START


@dataclass(frozen=True)
class ChunkMember:
    """A member as posts.queue_post_syncs takes it (no ORM object)."""

    id: int
    guild_id: int
    user_id: int


def hot_queries() -> dict[str, tuple[Run, set[str]]]:
    """name -> (what runs the query, the indexes meant to serve it: one must be used)."""

    async def claim(s: AsyncSession) -> Any:
        return await outbox.claim(
            s, now=NOW, worker="w", limit=100, lease=timedelta(minutes=2),
            kinds=sorted(outbox.delivery_kinds()),
        )  # fmt: skip

    chunk = [3, 5, 8, 13]  # a round chunk's member ids
    snapshot = matching.PoolSnapshot(
        guild_id=1,
        settings=GuildSettings(guild_id=1),
        seekers=[],
        user_ids={},
        spells={str(m): None for m in chunk},
    )
    moved = [ChunkMember(id=m, guild_id=1, user_id=100 + m) for m in chunk]

    return {
        # bot/services/matching.py load_pool: the pool's blocks, either way round.
        "blocks of the pool (matching.load_pool, equivalent)": (
            lambda s: s.execute(
                select(Block.blocker_id, Block.blocked_id).where(
                    Block.blocker_id.in_(chunk) | Block.blocked_id.in_(chunk)
                )
            ),
            {
                "uq_blocks_blocker_id_blocked_id",
                "sqlite_autoindex_blocks_1",
                "ix_blocks_blocked_id",
            },
        ),
        # bot/services/matching.py load_pool: the pool's past partnerships.
        "ended partnerships of the pool (matching.load_pool, equivalent)": (
            lambda s: s.execute(
                select(Partnership.id)
                .join(PartnershipMember)
                .where(PartnershipMember.member_id.in_(chunk), Partnership.state == "ended")
            ),
            {"ix_partnership_members_member_id"},
        ),
        "a round chunk's re-check of its members (matching._free_members)": (
            lambda s: matching._free_members(s, snapshot, chunk),
            {"ix_partnership_members_member_id"},
        ),
        "blocks within a round chunk (matching._blocked_pairs)": (
            lambda s: matching._blocked_pairs(s, chunk),
            {"uq_blocks_blocker_id_blocked_id", "sqlite_autoindex_blocks_1"},
        ),
        "post syncs already waiting for a chunk (posts.queue_post_syncs)": (
            lambda s: posts.queue_post_syncs(s, members=moved, now=NOW),
            {"ix_outbox_target_state"},
        ),
        # bot/services/partnerships.py propose_round: the chunk's members leave the pool.
        "a round chunk's members leave the pool (partnerships.propose_round, equivalent)": (
            lambda s: s.execute(
                update(Member).where(Member.id.in_(chunk)).values(pool_status="idle")
            ),
            {"primary key"},
        ),
        # bot/services/matching.py write_round: the matched members' standings go.
        "standings of a chunk's matched members (matching.write_round, equivalent)": (
            lambda s: s.execute(delete(RoundStanding).where(RoundStanding.member_id.in_(chunk))),
            {"primary key"},
        ),
        "the goals sweep's chunk, every tick (goals.sweep_chunk)": (
            lambda s: goals.sweep_chunk(s, now=NOW),
            {"ix_goals_reviewed_at_member_id"},
        ),
        "members whose post is stale, every tick (pool.stale_posts)": (
            lambda s: pool.stale_posts(s, now=NOW),
            {"ix_members_forum_post_stale"},
        ),
        "claim due outbox rows (outbox.claim)": (
            claim,
            {"ix_outbox_state_next_attempt_at"},
        ),
        "next due time (outbox.next_due_at)": (
            lambda s: outbox.next_due_at(s, after=NOW),
            {"ix_outbox_state_next_attempt_at"},
        ),
        "outbox backlog for the metrics (outbox.due_backlog)": (
            lambda s: outbox.due_backlog(s, now=NOW),
            {"ix_outbox_state_next_attempt_at"},
        ),
        "cancel pending by target (outbox.cancel_pending)": (
            lambda s: outbox.cancel_pending(s, kind="meeting_reminder", target="p42"),
            {"ix_outbox_target_state"},
        ),
        "stale pending rows, every tick (outbox.expire_stale)": (
            lambda s: outbox.expire_stale(s, now=NOW),
            {"ix_outbox_state_expires_at"},
        ),
        "a member's rows (outbox.forget_member)": (
            lambda s: outbox.forget_member(s, user_id=7, guild_id=1),
            {"ix_outbox_user_id_state"},
        ),
        # bot/services/privacy.py (the export): a member's pending rows.
        "pending rows for a member (privacy export, equivalent)": (
            lambda s: s.execute(
                select(OutboxItem.kind, OutboxItem.due_at)
                .where(
                    OutboxItem.guild_id == 1,
                    OutboxItem.user_id == 7,
                    OutboxItem.state == "pending",
                )
                .order_by(OutboxItem.due_at)
            ),
            {"ix_outbox_user_id_state"},
        ),
        "members by guild and user id (profiles.find_member)": (
            lambda s: profiles.find_member(s, guild_id=1, user_id=7),
            UNIQUE_MEMBER,
        ),
        # bot/services/goals.py, the live goals of a member (e.g. the limit on /goal add).
        "goals by member and status (goals.py, equivalent)": (
            lambda s: s.execute(
                select(Goal.id).where(Goal.member_id == 5, Goal.status.in_(g.LIVE_STATUSES))
            ),
            {"ix_goals_member_id_status"},
        ),
        # bot/services/insights.py and the upkeep by community.
        "goals by guild and status (equivalent)": (
            lambda s: s.execute(
                select(Goal.id).where(Goal.guild_id == 1, Goal.status.in_(g.LIVE_STATUSES))
            ),
            {"ix_goals_guild_id_status"},
        ),
        # bot/services/goals.py schedule_upcoming: the upkeep's members with live goals.
        "goals by status across communities (goals.schedule_upcoming, equivalent)": (
            lambda s: s.execute(
                select(Goal.member_id)
                .where(
                    or_(
                        Goal.status.in_(g.LIVE_STATUSES),
                        and_(Goal.status == "missed", Goal.updated_at >= NOW),
                    )
                )
                .distinct()
            ),
            {"ix_goals_status_updated_at"},
        ),
        # bot/services/partnerships.py _live_for.
        "live partnership of a member (partnerships.py, equivalent)": (
            lambda s: s.execute(
                select(Partnership)
                .join(PartnershipMember)
                .where(
                    PartnershipMember.member_id == 5,
                    Partnership.state.in_(LIVE_PARTNERSHIP),
                )
                .order_by(Partnership.id.desc())
                .limit(1)
            ),
            {"ix_partnership_members_member_id"},
        ),
        # bot/services/matching.py: a round's seekers (minus members already in a pair).
        "pool members by guild and status (matching.py, equivalent)": (
            lambda s: s.execute(
                select(Member.id)
                .where(
                    Member.guild_id == 1,
                    Member.pool_status == "seeking",
                    Member.id.not_in(
                        select(PartnershipMember.member_id)
                        .join(Partnership)
                        .where(
                            Partnership.guild_id == 1,
                            Partnership.state.in_(LIVE_PARTNERSHIP),
                        )
                    ),
                )
                .order_by(Member.id)
            ),
            {"ix_members_guild_id_pool_status"},
        ),
        # bot/services/pool.py resume_due_pauses, every tick.
        "paused members whose pause ended (pool.py, equivalent)": (
            lambda s: s.execute(
                select(Member.id).where(
                    Member.pool_status == "paused",
                    Member.paused_until.is_not(None),
                    Member.paused_until <= NOW,
                )
            ),
            {"ix_members_pool_status_paused_until"},
        ),
    }


# Indexes a query's other parts need (its subquery), kept alongside the ones meant for it.
SUPPORTING = {
    "pool members by guild and status (matching.py, equivalent)": {"ix_partnerships_guild_state"},
}


@pytest.mark.parametrize("name", list(hot_queries()))
async def test_each_hot_query_is_served_by_its_index_on_this_database(
    name: str, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    run, meant = hot_queries()[name]
    plans = await plans_of(sessions, engine, run, keep=meant | SUPPORTING.get(name, set()))
    report = "\n\n".join(f"{p.statement}\n{p.text}" for p in plans)
    assert [scan for p in plans for scan in p.full_scans] == [], report
    used = set().union(*(p.indexes for p in plans))
    assert used & meant, f"none of {sorted(meant)} was used (used {sorted(used)}):\n{report}"


async def test_the_check_fails_on_a_full_scan_and_on_the_old_prefix_cancel(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The checker is not vacuous: a query no index serves is reported as a full scan, and so is
    the old ``key LIKE 'prefix%'`` cancellation, which the target index cannot serve."""
    unindexed = await plans_of(
        sessions,
        engine,
        lambda s: s.execute(select(OutboxItem.id).where(OutboxItem.attempt == 3)),
        keep=set(),
    )
    assert unindexed[0].full_scans
    old_cancel = await plans_of(
        sessions,
        engine,
        lambda s: s.execute(
            delete(OutboxItem).where(
                OutboxItem.state == "pending",
                OutboxItem.kind == "meeting_reminder",
                OutboxItem.key.startswith("meeting_reminder:p42:", autoescape=True),
            )
        ),
        keep={"ix_outbox_target_state"},
    )
    assert old_cancel[0].full_scans, old_cancel[0].text
