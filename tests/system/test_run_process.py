"""``pairbot run`` as an operator starts it: a real process, a token, a fresh data directory. It
migrates its database, connects (here to the local emulator), syncs its commands, answers a
member, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from emulator import Emulator
from tests.system.procs import pairbot_env, reap, terminate


async def test_pairbot_run_migrates_connects_serves_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    async with Emulator() as emu:
        guild = emu.create_guild("Study Hall")
        alice = guild.add_member("alice")
        env = pairbot_env(emu, guild, tmp_path / "data")
        log = tmp_path / "run.log"
        started = time.monotonic()
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run",
                cwd=tmp_path, env=env, stdout=out, stderr=out,
            )  # fmt: skip
        try:
            await emu.wait_for(lambda: len(emu.commands(guild)) > 0, timeout=60)
            await emu.wait_until_connected(timeout=60)
            ready_after = time.monotonic() - started
            reply = await alice.slash("help")
            assert reply.ephemeral and "/profile edit" in reply.content
            code = await terminate(proc)
        finally:
            await reap(proc)
        text = log.read_text()
        assert code == 0, text
        assert (tmp_path / "data" / "pairbot.sqlite3").is_file()
        assert "pairbot stopped cleanly" in text
        assert emu.token not in text  # the token is never logged
        assert "Traceback" not in text
        print(f"pairbot run: connected and commands synced {ready_after:.2f} s after start")
