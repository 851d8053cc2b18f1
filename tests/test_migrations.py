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
