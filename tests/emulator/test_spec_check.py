"""The spec check itself: it catches what Discord's OpenAPI description forbids, its patches and
exceptions cover only what README.md lists, the emulator's objects are complete, and the plugin
fails a test on a mismatch unless ``PAIRBOT_SPEC_CHECK=0``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from emulator import Emulator
from emulator.spec import Exchange
from emulator.spec.checker import EXCEPTIONS, PATCHES, SpecChecker
from emulator.stored import stored_components, stored_embeds


@pytest.fixture(scope="module")
def checker() -> SpecChecker:
    return SpecChecker()


def exchange(method: str, path: str, status: int, response: Any, **kw: Any) -> Exchange:
    return Exchange(
        method,
        path,
        kw.get("query", {}),
        kw.get("body"),
        False,
        status,
        response,
    )


def test_a_user_without_flags_is_a_mismatch(checker: SpecChecker) -> None:
    emu_user: dict[str, Any] = {
        "id": "1",
        "username": "ada",
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "public_flags": 0,
        "primary_guild": None,
    }
    found = checker.check_exchange(exchange("GET", "/users/1", 200, emu_user))
    assert [(m.path, m.message) for m in found] == [("$", "'flags' is a required property")]
    assert checker.check_exchange(exchange("GET", "/users/1", 200, {**emu_user, "flags": 0})) == []


def test_status_codes_and_unknown_routes_are_checked(checker: SpecChecker) -> None:
    found = checker.check_exchange(
        exchange("POST", "/channels/1/threads", 200, {}, body={"name": "t", "type": 11})
    )
    assert [m.message for m in found] == ["status 200 not documented (2xx: 201)"]
    found = checker.check_exchange(exchange("GET", "/no/such/route", 200, {}))
    assert found[0].message == "no such operation in the spec"


def test_integer_snowflakes_pass_in_requests_only(checker: SpecChecker) -> None:
    dm = {"id": "5", "type": 1, "last_message_id": None, "flags": 0, "recipients": []}
    ok = exchange("POST", "/users/@me/channels", 200, dm, body={"recipient_id": 42})
    assert checker.check_exchange(ok) == []
    bad = exchange("POST", "/users/@me/channels", 200, {**dm, "id": 5})
    assert "$.id" in [m.path for m in checker.check_exchange(bad)]


def test_boolean_query_strings_are_read_as_discord_reads_them(checker: SpecChecker) -> None:
    path = "/interactions/1/tok/callback"
    assert (
        checker.check_exchange(
            exchange("POST", path, 204, None, query={"with_response": "1"}, body={"type": 6})
        )
        == []
    )
    found = checker.check_exchange(
        exchange("POST", path, 204, None, query={"with_response": "yes"}, body={"type": 6})
    )
    assert [m.path for m in found] == ["?with_response"]


def test_exceptions_cover_only_what_they_name(checker: SpecChecker) -> None:
    guild_channel: dict[str, Any] = {"id": "2", "type": 0, "name": "general", "position": 0}
    assert checker.check_dispatch("GUILD_CREATE", {"channels": [guild_channel]}) != []
    before = sum(checker.exceptions_used.values())
    # Only the GUILD_CREATE guild_id omission is excused; the same channel over REST is not.
    gc = [m for m in checker.check_dispatch("GUILD_CREATE", {"channels": [guild_channel]})]
    assert not any("guild_id" in m.message for m in gc)
    assert sum(checker.exceptions_used.values()) > before
    rest = checker.check_exchange(exchange("GET", "/channels/2", 200, guild_channel))
    assert any("'guild_id' is a required property" in m.message for m in rest)


def test_the_readme_lists_every_patch_and_exception() -> None:
    readme = (Path(__file__).parents[2] / "emulator" / "spec" / "README.md").read_text()
    for patch in PATCHES:
        assert patch.spec_path in readme
    for exception in EXCEPTIONS:
        assert exception.where in readme


def test_compiled_validators_are_cached_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAIRBOT_SPEC_CACHE", str(tmp_path))
    bad = {"id": "3", "type": 11, "name": "t"}
    first = SpecChecker().component("ThreadResponse", bad, "x")
    cached = list(tmp_path.glob("v_*.marshal"))
    assert len(cached) == 1
    assert SpecChecker().component("ThreadResponse", bad, "x") == first != []


def test_stored_components_get_ids_and_defaults() -> None:
    sent = [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "Yes", "custom_id": "y"}]},
        {"type": 1, "id": 2, "components": [{"type": 3, "custom_id": "s", "options": []}]},
    ]
    stored = stored_components(sent, iter(range(100, 200)).__next__)
    assert [stored[0]["id"], stored[0]["components"][0]["id"]] == [1, 3]
    assert [stored[1]["id"], stored[1]["components"][0]["id"]] == [2, 4]
    select = stored[1]["components"][0]
    assert (select["min_values"], select["max_values"]) == (1, 1)
    assert "id" not in sent[0]  # the bot's body is not changed
    assert stored_embeds([{"title": "t", "fields": [{"name": "a", "value": "b"}]}]) == [
        {"type": "rich", "title": "t", "fields": [{"name": "a", "value": "b", "inline": False}]}
    ]


async def test_emulator_routes_and_statuses_follow_discord(checker: SpecChecker) -> None:
    async with Emulator() as emu:
        guild = emu.create_guild("Spec Hall")
        headers = {"Authorization": f"Bot {emu.token}"}
        app = emu.application_id
        async with aiohttp.ClientSession() as http:
            url = f"{emu.api_url}/applications/{app}/guilds/{guild.id}/commands/permissions"
            async with http.get(url, headers=headers) as resp:
                assert (resp.status, await resp.json()) == (200, [])
            url = f"{emu.api_url}/guilds/{guild.id}/channels"
            async with http.post(url, headers=headers, json={"name": "new"}) as resp:
                assert resp.status == 201
                created = await resp.json()
            url = f"{emu.api_url}/channels/{created['id']}/threads"
            body = {"name": "a thread", "type": 11}
            async with http.post(url, headers=headers, json=body) as resp:
                assert resp.status == 201
                thread = await resp.json()
        assert checker.component("GuildChannelResponse", created, "x") == []
        assert checker.component("ThreadResponse", thread, "x") == []
        assert checker.component("GuildResponse", guild.to_payload(), "x") == []
        assert checker.component("UserResponse", emu.bot_user.to_payload(), "x") == []


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]


def _run_inner(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(
        "from emulator.spec import OBSERVERS, Exchange\n"
        "def test_sends_a_user_without_flags():\n"
        "    user = {'id': '1', 'username': 'a', 'avatar': None, 'discriminator': '0',\n"
        "            'public_flags': 0, 'global_name': None, 'primary_guild': None}\n"
        "    for observer in OBSERVERS:\n"
        "        observer.rest(Exchange('GET', '/users/1', {}, None, False, 200, user))\n"
    )
    env = {**os.environ, "PAIRBOT_SPEC_CHECK": mode}
    return subprocess.run(
        [*PYTEST, "-p", "emulator.spec.pytest_plugin", "test_inner.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_strict_fails_the_test_and_0_turns_the_check_off(tmp_path: Path) -> None:
    strict = _run_inner(tmp_path, "strict")
    assert strict.returncode == 1, strict.stdout
    assert "disagree with Discord's OpenAPI spec" in strict.stdout
    assert "'flags' is a required property" in strict.stdout
    off = _run_inner(tmp_path, "0")
    assert off.returncode == 0, off.stdout
