"""Regression (issue 13): nothing stopped two `pairbot run` processes on one SQLite file, and
both then answered every interaction (120 of 120 twice). The second process now refuses with
one line and status 2, while the first keeps serving; `pairbot migrate` refuses the same way.
Real processes against the emulator, as an operator starts them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from emulator import Emulator
from tests.system.procs import pairbot_env, reap, terminate


async def pairbot(
    env: dict[str, str], cwd: Path, *args: str, log: Path | None = None
) -> asyncio.subprocess.Process:
    if log is not None:  # a long-running process: its output goes to a file, not a pipe
        with log.open("wb") as out:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *args, cwd=cwd, env=env, stdout=out, stderr=out
            )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_a_second_pairbot_run_on_the_same_sqlite_file_refuses_with_one_line(
    tmp_path: Path,
) -> None:
    async with Emulator() as emu:
        guild = emu.create_guild("Study Hall")
        alice = guild.add_member("alice")
        data = tmp_path / "data"
        env = pairbot_env(emu, guild, data)
        log = tmp_path / "first.log"
        first = await pairbot(env, tmp_path, "run", log=log)
        try:
            await emu.wait_until_connected(timeout=60)
            second = await pairbot(env, tmp_path, "run")
            out, err = await asyncio.wait_for(second.communicate(), timeout=60)
            assert second.returncode == 2
            lines = err.decode().strip().splitlines()
            database = data / "pairbot.sqlite3"
            assert lines == [
                f"pairbot: another pairbot process is already using {database} (it holds "
                f"{database}.lock); stop it first, or give this one its own data_dir "
                "(several processes need PostgreSQL)"
            ]
            migrating = await pairbot(env, tmp_path, "migrate")
            _, err = await asyncio.wait_for(migrating.communicate(), timeout=60)
            assert migrating.returncode == 2
            assert err.decode().startswith("pairbot: another pairbot process is already using")

            # The first process is untouched and still the only one answering.
            reply = await alice.slash("help")
            assert reply.ephemeral and "/profile edit" in reply.content
            assert first.returncode is None
            assert await terminate(first) == 0, log.read_text()
        finally:
            await reap(first)

        # The lock goes with the process: a new one starts (and here just migrates) fine.
        again = await pairbot(env, tmp_path, "migrate")
        out, err = await asyncio.wait_for(again.communicate(), timeout=60)
        assert again.returncode == 0, err.decode()
        assert out.decode().strip() == "database is up to date"
