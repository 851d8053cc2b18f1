"""Replying to interactions: one place that knows whether an interaction was already answered,
and how errors become friendly, ephemeral messages."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.errors import PairbotError

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()


async def send_ephemeral(
    interaction: discord.Interaction[Any], content: str, **kwargs: Any
) -> None:
    """Answer privately, as a first response or as a followup if one was already sent."""
    kwargs.setdefault("allowed_mentions", NO_PINGS)
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)


def unwrap(error: BaseException) -> BaseException:
    """The error a command or view actually raised, without discord.py's wrappers."""
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        if error.__cause__ is None:
            break
        error = error.__cause__
    original = getattr(error, "original", None)
    return original if isinstance(original, BaseException) else error


def message_for(error: BaseException) -> tuple[str, bool]:
    """What to tell the member about ``error``, and whether it was unexpected (to be logged)."""
    error = unwrap(error)
    if isinstance(error, PairbotError):
        return error.user_message, False
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s.", False
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command only works inside a server.", False
    if isinstance(error, app_commands.CheckFailure):
        return "Sorry, you can't use that command here.", False
    return "", True


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Tell the member what went wrong; log unexpected errors with a short reference id."""
    text, unexpected = message_for(error)
    if unexpected:
        ref = secrets.token_hex(3)
        what = interaction.command.qualified_name if interaction.command else "component"
        log.error("unexpected error [ref %s] in %s", ref, what, exc_info=unwrap(error))
        text = (
            f"Something went wrong on my side (reference `{ref}`). Nothing you entered was lost; "
            "please try again in a moment."
        )
    try:
        await send_ephemeral(interaction, text)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id)


class PairTree(app_commands.CommandTree[Any]):
    """The command tree: every command error ends as a friendly ephemeral reply."""

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Before every slash command: the community's access role (moderators always pass),
        and a member who runs a command again may be reachable by DM again."""
        deps = getattr(interaction.client, "deps", None)
        if (
            deps is None
            or interaction.guild_id is None
            or interaction.type is not discord.InteractionType.application_command
        ):
            return True
        from bot.db import unit_of_work
        from bot.services import guilds, outbox

        roles = [r.id for r in getattr(interaction.user, "roles", [])]
        moderator = interaction.permissions.manage_guild or interaction.permissions.administrator
        async with unit_of_work(deps.sessions) as session:
            now = deps.clock.now()
            settings = await guilds.get_settings(session, guild_id=interaction.guild_id, now=now)
            access_role = settings.access_role_id
            await outbox.clear_dms_closed(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
        if access_role is None or access_role in roles or moderator:
            return True
        await send_ephemeral(
            interaction,
            f"pairbot is open to members with the <@&{access_role}> role here. "
            "Ask a moderator if you'd like to join.",
        )
        return False

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


class BaseView(discord.ui.View):
    """A view whose errors reach the member the same way command errors do."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        await report_error(interaction, error)


class BaseModal(discord.ui.Modal):
    async def on_error(  # type: ignore[override]  # discord.py's Modal narrows BaseView's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)
