"""Operators can see it (issue 13): a real `pairbot run` with ``metrics_enabled`` serves
``/healthz`` and Prometheus ``/metrics`` on loopback, with tick lengths, the outbox backlog,
deliveries and Discord requests in it; with JSON logs asked for, every line is a JSON object."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.db import create_engine, create_sessionmaker, unit_of_work
from bot.migrate import upgrade
from bot.services import outbox
from bot.services.ports import OutgoingMessage
from emulator import Emulator
from tests.system.procs import pairbot_env, reap, terminate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_pairbot_run_serves_healthz_and_metrics_on_loopback(tmp_path: Path) -> None:
    async with Emulator() as emu:
        guild = emu.create_guild("Study Hall")
        room = guild.create_text_channel("general")
        port = free_port()
        env = pairbot_env(emu, guild, tmp_path / "data") | {
            "PAIRBOT_METRICS_ENABLED": "true",
            "PAIRBOT_METRICS_PORT": str(port),
            "PAIRBOT_TICK_SECONDS": "1",
            "PAIRBOT_LOG_FORMAT": "json",
        }
        # A delivery waiting in the database before the bot starts.
        url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'pairbot.sqlite3'}"
        engine = create_engine(url)
        await upgrade(engine)
        now = datetime.now(UTC) - timedelta(minutes=1)
        async with unit_of_work(create_sessionmaker(engine)) as session:
            await outbox.enqueue(
                session, key="notice:hello:1", kind="notice", due_at=now, now=now,
                guild_id=guild.id, channel_id=room.id,
                payload=outbox.delivery_payload(OutgoingMessage(content="hello, community")),
            )  # fmt: skip
        await engine.dispose()

        log = tmp_path / "run.log"
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=out, stderr=out
            )
        try:
            await emu.wait_until_connected(timeout=60)
            await emu.wait_for(
                lambda: any(m.content == "hello, community" for m in room.messages) or None,
                timeout=30,
            )
            async with aiohttp.ClientSession() as http:
                health: dict[str, object] = {}
                for _ in range(200):  # until a tick has finished since the delivery
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
                        if response.status == 200:
                            break
                    await asyncio.sleep(0.1)
                assert health["status"] == "ok", health
                assert health["discord_connected"] is True
                found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
                for _ in range(100):  # the outcome is counted once its commit is done
                    async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                        assert response.status == 200
                        found = samples(await response.text())
                    if found.get(("pairbot_deliveries_total", (("outcome", "sent"),))):
                        break
                    await asyncio.sleep(0.1)
            assert found[("pairbot_deliveries_total", (("outcome", "sent"),))] == 1.0
            assert found[("pairbot_tick_seconds_count", (("handler", "dispatch"),))] >= 1
            assert found[("pairbot_tick_seconds_count", (("handler", "all"),))] >= 1
            assert found[("pairbot_outbox_due_rows", ())] == 0.0
            assert found[("pairbot_outbox_oldest_due_age_seconds", ())] == 0.0
            ok_posts = ("pairbot_discord_requests_total", (("method", "POST"), ("status", "2xx")))
            posts = found[ok_posts]
            assert posts >= 1  # the delivery (and whatever else was posted)
            assert ("pairbot_discord_429_total", ()) in found
            assert ("pairbot_deadlines_missed_total", ()) not in found  # labelled, none yet

            # Loopback only: nothing listens on the machine's other addresses.
            other = socket.gethostbyname(socket.gethostname())
            if not other.startswith("127."):
                with socket.socket() as probe:
                    probe.settimeout(2)
                    assert probe.connect_ex((other, port)) != 0
            code = await terminate(proc)
        finally:
            await reap(proc)
        lines = log.read_text().splitlines()
        assert code == 0, "\n".join(lines[-20:])
        entries = [json.loads(line) for line in lines]  # every line is one JSON object
        assert {"ts", "level", "logger", "message"} <= set(entries[0])
        assert any(e["message"] == "pairbot stopped cleanly" for e in entries)
        assert emu.token not in log.read_text()
