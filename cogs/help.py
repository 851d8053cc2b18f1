"""``/help``: what pairbot does, listing the commands this bot really has."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PairBot
from bot.interactions import send_ephemeral

INTRO = "**pairbot** finds you an accountability partner and keeps you both on track."


def command_lines(tree: app_commands.CommandTree[PairBot]) -> list[str]:
    lines = []
    for command in sorted(tree.walk_commands(), key=lambda c: c.qualified_name):
        if isinstance(command, app_commands.Command):
            lines.append(f"• `/{command.qualified_name}`: {command.description}")
    return lines


class Help(commands.Cog):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What pairbot does and how to start")
    async def help(self, interaction: discord.Interaction[PairBot]) -> None:
        await send_ephemeral(interaction, "\n".join([INTRO, *command_lines(self.bot.tree)]))


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Help(bot))
