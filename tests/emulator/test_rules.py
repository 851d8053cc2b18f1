"""Discord's limits, mention rules and permission arithmetic, checked without a bot."""

from __future__ import annotations

from collections.abc import Callable

import discord
import pytest

from emulator import Emulator, Guild, Permission
from emulator.errors import ApiError, FormErrors
from emulator.faults import RoutePattern
from emulator.mentions import compute_pings
from emulator.validation import (
    validate_choices,
    validate_commands,
    validate_components,
    validate_message,
    validate_modal,
)

from .conftest import make_bot, running


def errors_of(check: Callable[..., None], payload: object, *path: str) -> str:
    """Run a validator and return Discord's field errors as one line."""
    errors = FormErrors()
    if path:
        check(payload, errors, path)
    else:
        check(payload, errors)
    return errors.summary()


def test_message_limits() -> None:
    ok = {"content": "x" * 2000, "embeds": [{"description": "d" * 4096}] + [{"title": "t"}] * 9}
    assert errors_of(validate_message, ok) == ""
    assert "content: Must be 2000 or fewer" in errors_of(validate_message, {"content": "x" * 2001})
    assert "embeds: Must be 10 or fewer" in errors_of(
        validate_message, {"embeds": [{"title": "t"}] * 11}
    )
    big = {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}
    assert "Embed size exceeds maximum size of 6000" in errors_of(validate_message, big)
    fields = {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}
    assert "embeds.0.fields: Must be 25 or fewer" in errors_of(validate_message, fields)
    assert "title: Must be 256" in errors_of(validate_message, {"embeds": [{"title": "t" * 257}]})
    both = {"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}}
    assert "mutually exclusive" in errors_of(validate_message, both)


def test_component_limits() -> None:
    def row(*children: dict[str, object]) -> dict[str, object]:
        return {"type": 1, "components": list(children)}

    def button(custom_id: str) -> dict[str, object]:
        return {"type": 2, "style": 1, "label": "b", "custom_id": custom_id}

    assert errors_of(validate_components, [row(button("a"))], "components") == ""
    assert "Must be 5 or fewer" in errors_of(
        validate_components, [row(button(str(i))) for i in range(6)], "components"
    )
    assert "Must be 5 or fewer" in errors_of(
        validate_components, [row(*(button(str(i)) for i in range(6)))], "components"
    )
    assert "between 1 and 100" in errors_of(validate_components, [row(button("x" * 101))], "c")
    assert "duplicated" in errors_of(validate_components, [row(button("a"), button("a"))], "c")
    options = [{"label": str(i), "value": str(i)} for i in range(26)]
    select = {"type": 3, "custom_id": "s", "options": options}
    assert "options: Must be 25 or fewer" in errors_of(validate_components, [row(select)], "c")


def test_modal_choice_and_command_limits() -> None:
    text_input = {"type": 4, "custom_id": "t", "style": 2, "label": "Intro", "max_length": 4001}
    modal = {
        "custom_id": "m",
        "title": "Hi",
        "components": [{"type": 1, "components": [text_input]}],
    }
    assert "max_length" in errors_of(validate_modal, modal)
    choices = [{"name": str(i), "value": str(i)} for i in range(26)]
    assert "Must be 25 or fewer" in errors_of(validate_choices, choices)
    command = {
        "name": "Profile",
        "description": "x",
        "options": [{"name": f"o{i}", "description": "d", "type": 3} for i in range(26)],
    }
    summary = errors_of(validate_commands, [command])
    assert "0.name: Command name is invalid" in summary
    assert "0.options: Must be 25 or fewer" in summary
    with pytest.raises(ApiError):
        validate_commands({"not": "a list"}, FormErrors())


def test_pings() -> None:
    alice, role = 100_000_000_000_000_001, 100_000_000_000_000_002
    content = f"@everyone <@{alice}> <@&{role}>"
    kwargs = {"known_users": {alice}, "mentionable_roles": set(), "can_mention_everyone": True}
    assert not compute_pings(content, {"parse": []}, **kwargs)  # type: ignore[arg-type]
    loud = compute_pings(content, None, **kwargs)  # type: ignore[arg-type]
    assert loud.everyone and loud.users == {alice} and loud.roles == {role}
    weak = compute_pings(
        content, None, known_users={alice}, mentionable_roles=set(), can_mention_everyone=False
    )
    assert not weak.everyone and weak.roles == set() and weak.users == {alice}


def test_permission_bits_match_discord_py() -> None:
    for perm in Permission:
        assert perm.name is not None
        name = perm.name.lower().replace("manage_guild_expressions", "manage_expressions")
        assert getattr(discord.Permissions(perm.value), name), perm


def test_route_patterns() -> None:
    assert RoutePattern("POST /channels/*/messages").matches("POST", "/channels/1/messages")
    assert not RoutePattern("POST /channels/*/messages").matches("GET", "/channels/1/messages")
    assert RoutePattern("/channels/{channel_id}/**").matches("PATCH", "/channels/1/messages/2")
    assert not RoutePattern("/channels/*").matches("GET", "/channels/1/messages")


async def test_bad_command_definitions_and_injected_global_429s(
    emu: Emulator, guild: Guild
) -> None:
    emu.faults.latency = 0.01
    async with running(emu, make_bot(), guild) as bot:
        with pytest.raises(discord.HTTPException) as caught:
            await bot.http.bulk_upsert_global_commands(
                emu.application_id, [{"name": "Bad Name", "description": "", "type": 1}]
            )
        assert caught.value.code == 50035
        emu.faults.rate_limit(None, times=1, retry_after=0.01)
        await bot.fetch_user(guild.owner.id)
    assert emu.requests[-1].duration >= 0.01
    assert [r.status for r in emu.requests[-2:]] == [429, 200]
    assert [v.code for v in emu.violations] == [50035]
    emu.violations.clear()


async def test_commands_cannot_be_typed_into_a_forum(emu: Emulator, guild: Guild) -> None:
    from emulator import ScenarioError

    forum = guild.create_forum("find-a-partner")
    bot = make_bot()

    @bot.tree.command(description="hi")
    async def hi(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi")

    alice = guild.add_member("alice")
    async with running(emu, bot, guild):
        with pytest.raises(ScenarioError, match="no message box"):
            await alice.slash("hi", in_channel=forum)
