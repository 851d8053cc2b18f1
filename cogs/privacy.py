"""``/privacy``: a member's own copy of everything pairbot stores about them, or its deletion."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import forum
from bot.app import PairBot
from bot.db import unit_of_work
from bot.interactions import NO_PINGS, BaseView, send_ephemeral
from bot.services import privacy
from bot.services.outbox import DueWork
from bot.services.ports import Transient

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

NOTHING_STORED = "I don't have anything stored about you in this server. 🙂"
DELETE_WARNING = (
    "Delete everything pairbot stores about you in this server? Your profile, private details "
    "and wishes, goals, check-ins, reflections and requests go, and so does your forum post. "
    "If you have a partner, your partnership ends and they're told kindly, never why. "
    "This can't be undone. (Want a copy first? `/privacy export`.)"
)


def _bot(interaction: Interaction) -> PairBot:
    assert isinstance(interaction.client, PairBot)
    return interaction.client


class DeleteConfirm(BaseView):
    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=300)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: Interaction) -> bool:
        return interaction.user.id == self.owner_id

    @discord.ui.button(label="Delete everything", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        bot = _bot(interaction)
        assert interaction.guild_id is not None
        self.stop()
        await interaction.response.defer()
        async with unit_of_work(bot.deps.sessions) as session:
            done = await privacy.delete_member(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=bot.deps.clock.now(),
            )
        if not done.found:
            text = NOTHING_STORED
        else:
            text = "Done: everything pairbot stored about you here is deleted."
            if done.ended_partnership:
                text += " Your partnership has ended; your partner was told kindly."
            # The same words whether or not a row was kept: which records point at someone
            # (a block, a report) is not theirs to learn.
            text += (
                " Where other members' own records include you (a partnership you shared), "
                "your Discord ID and your part of that history (dates, \"did you meet?\" "
                "answers) stay, so theirs stays true. Take care! 👋"
            )
        await interaction.edit_original_response(content=text, view=None, allowed_mentions=NO_PINGS)
        bot.deps.ticker.kick()  # the partner's notice, the space and the post go via the outbox

    @discord.ui.button(label="Keep my data", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: Interaction, button: discord.ui.Button[Any]) -> None:
        self.stop()
        await interaction.response.edit_message(content="Okay, nothing was deleted.", view=None)


@app_commands.guild_only()
class Privacy(commands.GroupCog, group_name="privacy", group_description="Your data"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.dispatcher.register(privacy.POST_DELETE.kind, self._delete_post)

    async def _delete_post(self, session: Any, work: DueWork) -> None:
        """Outbox work: delete a forum post whose author deleted their data (safe to repeat:
        a post that is gone already is fine)."""
        thread_id = int(work.payload["thread_id"])
        try:
            await forum.delete_post(self.bot, thread_id=thread_id)
        except discord.NotFound:
            return  # gone meanwhile
        except discord.Forbidden:
            log.warning("forum post %s could not be removed (missing permissions)", thread_id)
        except discord.HTTPException as exc:
            raise Transient(f"discord http {exc.status}") from exc

    @app_commands.command(name="export", description="A file with everything stored about you")
    async def export(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with unit_of_work(self.bot.deps.sessions) as session:
            data = await privacy.export_member(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=self.bot.deps.clock.now(),
            )
        if data is None:
            await interaction.followup.send(NOTHING_STORED, ephemeral=True)
            return
        raw = json.dumps(data, indent=2, ensure_ascii=False).encode()
        await interaction.followup.send(
            "Here's everything pairbot stores about you in this server. Only you can see this.",
            file=discord.File(io.BytesIO(raw), filename="pairbot-my-data.json"),
            ephemeral=True,
        )

    @app_commands.command(name="delete", description="Delete everything stored about you")
    async def delete(self, interaction: Interaction) -> None:
        await send_ephemeral(interaction, DELETE_WARNING, view=DeleteConfirm(interaction.user.id))


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Privacy(bot))
