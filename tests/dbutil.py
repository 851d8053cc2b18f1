"""Test databases: a temporary SQLite file by default, PostgreSQL when
``PAIRBOT_TEST_DATABASE_URL`` names one."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

import models
from bot.db import create_engine

TEST_DATABASE_URL = os.environ.get("PAIRBOT_TEST_DATABASE_URL")


def on_postgres() -> bool:
    return bool(TEST_DATABASE_URL) and make_url(TEST_DATABASE_URL or "").get_backend_name() == (
        "postgresql"
    )


@asynccontextmanager
async def scratch_database(tmp_dir: str) -> AsyncIterator[str]:
    """A brand-new empty database for tests that must start from nothing (migrations), on
    whichever backend the suite runs against; dropped afterwards."""
    if not on_postgres():
        yield f"sqlite+aiosqlite:///{tmp_dir}/scratch-{secrets.token_hex(4)}.sqlite3"
        return
    base = make_url(TEST_DATABASE_URL or "")
    name = f"pairbot_scratch_{secrets.token_hex(4)}"
    admin = create_engine(base.render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def truncate_all(engine: AsyncEngine) -> None:
    """Empty every table (PostgreSQL isolation between tests; the schema stays)."""
    names = ", ".join(f'"{t.name}"' for t in models.Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def drop_everything(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
