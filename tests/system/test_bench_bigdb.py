"""The latency benchmark's parts still work (so the bench doesn't rot): ``bench.bigdb`` builds a
small community on the real schema, and a real ``pairbot run`` on it, pointed at an emulator
built with the database's ids, answers a member who has goals there."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import func, select

from bench.bench_latency import ROOT, pick_members, set_forums
from bench.bigdb import USER_BASE, build, guild_ids
from bot.db import create_engine
from emulator import Emulator
from emulator.model import User
from models import Goal, OutboxItem
from tests.system.procs import reap, terminate


async def test_bigdb_builds_and_the_bot_answers_on_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'big.sqlite3'}"
    built = await build(url, 200)
    assert built.rows["members"] == 200
    engine = create_engine(url)
    async with engine.connect() as conn:
        goals = await conn.scalar(select(func.count()).select_from(Goal))
        rows = await conn.execute(select(OutboxItem.state, func.count()).group_by(OutboxItem.state))
        states = {state: count for state, count in rows.all()}
    await engine.dispose()
    assert goals is not None and 600 <= goals <= 1000  # about 4 a member
    assert states["sent"] > states["pending"] > 0
    chosen = await pick_members(url, 1)
    gid = guild_ids()[0]
    async with Emulator() as emu:
        guild = emu.create_guild("community", guild_id=gid)
        await set_forums(url, {gid: guild.create_forum("find-a-partner").id})
        user = User(USER_BASE + chosen[gid][0], "driver")
        emu.world.users[user.id] = user
        member = guild.add_member(user)
        config = tmp_path / "config.toml"
        config.write_text(
            f'token = "{emu.token}"\napi_base_url = "{emu.api_url}"\n'
            f'gateway_url = "{emu.gateway_url}"\ndatabase_url = "{url}"\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAIRBOT_")}
        env |= {"PYTHONPATH": str(ROOT), "PAIRBOT_CONFIG": str(config)}
        log = tmp_path / "run.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=out, stderr=out
            )
        try:
            await emu.wait_for(lambda: len(emu.commands()) > 0, timeout=60)
            await emu.wait_until_connected(timeout=60)
            reply = await member.slash("goal list")
            assert reply.ephemeral and "Goals" in reply.text, reply.text
            assert "(reference `" not in reply.text
            code = await terminate(proc)
        finally:
            await reap(proc)
        assert code == 0, log.read_text()[-2000:]
