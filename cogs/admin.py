"""``/admin ...``: moderators' commands. Every subcommand of this cog is refused by
:meth:`Admin.interaction_check` unless the member really is a moderator (Manage Server, or the
community's moderator role): ``default_permissions`` is only a hint a server admin can change.

To add a subcommand, add an ``@app_commands.command`` method to :class:`Admin`; the check applies
to it (and to any subgroup) without further work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Deps, PairBot
from bot.db import unit_of_work
from bot.errors import PairbotError
from bot.interactions import send_ephemeral
from bot.services import guilds, outbox
from bot.services.outbox import ScheduleEntry
from bot.services.ports import CONTENT_LIMIT

log = logging.getLogger(__name__)

ROLE_LOOKUP_TIMEOUT = 2.0  # seconds: the check must leave time to answer within Discord's 3 s
FAILURE_WINDOW = timedelta(days=7)
SHOWN = 10


class DatabaseSlow(PairbotError, app_commands.CheckFailure):
    """Raised by the check itself, so the tree's error handler answers the member."""

    user_message = "I couldn't check your moderator role just now. Please try again in a moment."


def has_manage_server(interaction: discord.Interaction[Any]) -> bool:
    """Discord computes the member's permissions server-side and sends them with the interaction."""
    permissions = interaction.permissions
    return permissions.administrator or permissions.manage_guild


async def is_moderator(interaction: discord.Interaction[Any], *, deps: Deps) -> bool:
    """Manage Server, or the role the community named as its moderators in ``/admin setup``."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        return False
    if has_manage_server(interaction):
        return True
    try:
        async with asyncio.timeout(ROLE_LOOKUP_TIMEOUT):
            async with unit_of_work(deps.sessions) as session:
                settings = await guilds.get_settings(
                    session, guild_id=interaction.guild_id, now=deps.clock.now()
                )
                role_id = settings.moderator_role_id
    except TimeoutError:
        raise DatabaseSlow from None
    return role_id is not None and interaction.user.get_role(role_id) is not None


def stamp(moment: datetime) -> str:
    """A time every moderator reads in their own zone: Discord renders these client-side."""
    unix = int(moment.timestamp())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


def target(entry: ScheduleEntry) -> str:
    if entry.user_id is not None:
        return f"<@{entry.user_id}>"
    if entry.channel_id is not None:
        return f"<#{entry.channel_id}>"
    return "the community"


def due_line(entry: ScheduleEntry) -> str:
    line = f"• `{entry.kind}` → {target(entry)} · {stamp(entry.due_at)}"
    if entry.state == "claimed":
        line += " · sending now"
    elif entry.attempt:
        line += f" · retry {entry.attempt + 1} {stamp(entry.next_attempt_at)}"
    return line


def failure_line(entry: ScheduleEntry) -> str:
    when = entry.finished_at or entry.due_at
    return (
        f"• `{entry.kind}` → {target(entry)} · {entry.state} {stamp(when)}: {entry.reason or '-'}"
    )


def render_schedule(
    *,
    due: Sequence[ScheduleEntry],
    failures: Sequence[ScheduleEntry],
    counts: dict[str, int],
) -> str:
    """The ``/admin schedule`` reply: kinds, targets and times only, never message text."""
    waiting = counts.get("pending", 0) + counts.get("claimed", 0)
    summary = " · ".join(f"{state} {n}" for state, n in sorted(counts.items())) or "nothing yet"
    lines = [f"**Scheduled work** ({summary})", "", f"**Due next** ({waiting} waiting)"]
    lines += [due_line(e) for e in due] or ["• nothing is waiting"]
    if waiting > len(due):
        lines.append(f"• …and {waiting - len(due)} more")
    lines += ["", "**Failed or expired in the last 7 days**"]
    lines += [failure_line(e) for e in failures] or ["• nothing failed"]
    text = "\n".join(lines)
    while len(text) > CONTENT_LIMIT and len(lines) > 3:
        lines.pop(-1)
        text = "\n".join([*lines, "• …"])
    return text


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Admin(commands.GroupCog, group_name="admin", group_description="Moderator tools"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        return await is_moderator(interaction, deps=self.bot.deps)

    @app_commands.command(name="schedule", description="What is due next and what failed lately")
    async def schedule(self, interaction: discord.Interaction[PairBot]) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            due = await outbox.due_next(session, guild_id=interaction.guild_id, limit=SHOWN)
            failures = await outbox.recent_failures(
                session, guild_id=interaction.guild_id, since=now - FAILURE_WINDOW, limit=SHOWN
            )
            counts = await outbox.state_counts(session, guild_id=interaction.guild_id)
        await send_ephemeral(
            interaction, render_schedule(due=due, failures=failures, counts=counts)
        )


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Admin(bot))
