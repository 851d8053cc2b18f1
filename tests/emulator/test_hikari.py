"""A second client library, hikari, against the emulator: it logs in over REST, connects to the
gateway with zlib-stream transport compression and binary frames, sees READY and GUILD_CREATE,
registers a command and answers a member's interaction. What discord.py happens to tolerate is
not enough for it, so this keeps the emulator honest about the protocol."""

from __future__ import annotations

import asyncio
import logging

import hikari
import pytest

from emulator import Emulator, Guild


async def test_hikari_logs_in_sees_its_guild_and_answers_an_interaction(
    emu: Emulator, guild: Guild, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hikari")
    bot = hikari.GatewayBot(
        emu.token,
        rest_url=emu.api_url,  # hikari finds the gateway through GET /gateway/bot
        banner=None,
        logs=None,
        intents=hikari.Intents.ALL_UNPRIVILEGED,
    )
    available: list[hikari.GuildAvailableEvent] = []

    async def guild_available(event: hikari.GuildAvailableEvent) -> None:
        available.append(event)

    bot.subscribe(hikari.GuildAvailableEvent, guild_available)

    async def answer(event: hikari.InteractionCreateEvent) -> None:
        interaction = event.interaction
        if isinstance(interaction, hikari.CommandInteraction):
            name = next(o.value for o in interaction.options or [] if o.name == "name")
            await interaction.create_initial_response(
                hikari.ResponseType.MESSAGE_CREATE,
                f"Hello {name}, from {interaction.command_name}",
                flags=hikari.MessageFlag.EPHEMERAL,
            )

    bot.subscribe(hikari.InteractionCreateEvent, answer)
    alice = guild.add_member("alice")
    await asyncio.wait_for(bot.start(check_for_updates=False), 10)
    try:
        me = bot.get_me()
        assert me is not None and me.id == emu.bot_user.id  # READY's user
        await emu.wait_for(lambda: available)  # GUILD_CREATE
        assert available[0].guild.name == "Study Hall"
        cached = bot.cache.get_guild(guild.id)
        assert cached is not None and cached.get_channel(guild.default_channel.id) is not None

        application = await bot.rest.fetch_application()
        assert application.id == emu.application_id == me.id
        command = bot.rest.slash_command_builder("greet", "Say hello").add_option(
            hikari.CommandOption(
                type=hikari.OptionType.STRING, name="name", description="Who", is_required=True
            )
        )
        await bot.rest.set_application_commands(application.id, [command], guild.id)

        reply = await alice.slash("greet", name="Bea")
        assert reply.content == "Hello Bea, from greet"
        assert reply.ephemeral
    finally:
        await bot.close()
    transport = emu.gateway.history[0]
    assert transport.compressed and transport.binary_frames > 0 and transport.text_frames == 0
    assert emu.gateway.identify_count == 1
    # Nothing hikari found odd (it logs an error on, say, a rate limit bucket where Discord
    # has none, as on an interaction's callback).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []

