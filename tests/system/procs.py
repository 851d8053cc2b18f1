"""Starting `pairbot` as an operator does, for the system tests: this checkout's code, a clean
environment pointed at the emulator."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from emulator import Emulator, Guild

ROOT = Path(__file__).resolve().parents[2]


def pairbot_env(emu: Emulator, guild: Guild, data_dir: Path) -> dict[str, str]:
    """The environment of a `pairbot` process: no PAIRBOT_* from outside, a token and the
    emulator's addresses, commands synced to ``guild``, the database in ``data_dir``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PAIRBOT_")} | {
        # This checkout's code, not whichever one the venv has installed.
        "PYTHONPATH": str(ROOT),
        "PAIRBOT_TOKEN": emu.token,
        "PAIRBOT_DATA_DIR": str(data_dir),
        "PAIRBOT_API_BASE_URL": emu.api_url,
        "PAIRBOT_GATEWAY_URL": emu.gateway_url,
        "PAIRBOT_DEV_GUILD_ID": str(guild.id),
    }


async def terminate(proc: asyncio.subprocess.Process, timeout: float = 30) -> int:  # noqa: ASYNC109
    """SIGTERM, as systemd stops a service, and the exit status."""
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), timeout=timeout)


async def reap(proc: asyncio.subprocess.Process) -> None:
    """Make sure a process a test started is gone (a failed test must not leave it running)."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()
