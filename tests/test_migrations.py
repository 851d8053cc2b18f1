"""The migrations build the schema from nothing, tear it down, build it again, and agree with the
models, on whichever database the suite runs against."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

import models
from bot.db import create_engine
from bot.migrate import check, downgrade, upgrade
from tests.dbutil import scratch_database


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_and_models_agree(tmp_path: Path) -> None:
    expected = {t.name for t in models.Base.metadata.sorted_tables}
    async with scratch_database(str(tmp_path)) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            assert expected <= await table_names(url)
            await check(engine)  # raises if autogenerate would find a difference
            await downgrade(engine, "base")
            assert not (expected & await table_names(url))
            await upgrade(engine)
            assert expected <= await table_names(url)
            await check(engine)
        finally:
            await engine.dispose()


async def test_0004_fills_the_target_of_waiting_outbox_rows_as_enqueue_would(
    tmp_path: Path,
) -> None:
    """Issue 13: cancelling a target's rows became an equality lookup on ``outbox.target``;
    rows enqueued before the migration must be found by it just like new ones."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from bot.services.outbox import key_target

    keys = {
        "checkin:g7:2026-03-29T16:30Z": "pending",
        "meeting_reminder:p3m9:2026-03-29T16:30Z": "claimed",
        "match:41:thread": "pending",
        "request-declined:5": "pending",  # two parts: no target
        "plain": "pending",
        "notice:p1:x:y": "pending",
        "checkin:g8:2026-01-01T00:00Z": "sent",  # finished rows are left alone
    }
    at = datetime(2026, 3, 1, tzinfo=UTC)
    async with scratch_database(str(tmp_path)) as url:
        engine = create_engine(url)
        try:
            await upgrade(engine, "0003")
            async with engine.begin() as conn:
                for key, state in keys.items():
                    await conn.execute(
                        text(
                            "INSERT INTO outbox (key, kind, payload, due_at, next_attempt_at, "
                            "state, attempt, created_at) VALUES "
                            "(:key, 'notice', '{}', :at, :at, :state, 0, :at)"
                        ),
                        {"key": key, "at": at, "state": state},
                    )
            await upgrade(engine)
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT key, target FROM outbox"))).all()
            got: dict[str, str | None] = {row[0]: row[1] for row in rows}
        finally:
            await engine.dispose()
    expected = {k: (key_target(k) if s != "sent" else None) for k, s in keys.items()}
    assert got == expected
    assert got["checkin:g7:2026-03-29T16:30Z"] == "checkin:g7"
    assert got["notice:p1:x:y"] == "notice:p1"
