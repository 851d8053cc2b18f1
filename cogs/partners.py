"""``/partner``: joining the pool, the forum post, and requests between members."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import PairBot
from bot.db import unit_of_work
from bot.forum import sync_post
from bot.interactions import report_error, send_ephemeral, thinking, update_message
from bot.services import departures, pool, posts, upkeep
from bot.services.outbox import DueWork
from bot.services.ports import Permanent, Transient
from bot.services.posts import POST_SYNC
from bot.services.profiles import find_member
from bot.spaces import send_pace

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]


def _bot(interaction: Interaction) -> PairBot:
    assert isinstance(interaction.client, PairBot)
    return interaction.client


class RequestButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"pairbot:request:(?P<author>\d+)",
):
    """ "Request partnership" on a forum post; works after restarts (the id names the author)."""

    def __init__(self, author_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Request partnership",
                style=discord.ButtonStyle.primary,
                custom_id=f"pairbot:request:{author_id}",
            )
        )
        self.author_id = author_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RequestButton:
        return cls(int(match["author"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            await request_pressed(interaction, self.author_id)
        except Exception as error:
            await report_error(interaction, error)


class DecisionButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"pairbot:req:(?P<verb>accept|decline):(?P<id>\d+)",
):
    """Accept / Decline on a partnership request sent to a post's author."""

    def __init__(self, verb: str, request_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=verb.capitalize(),
                style=discord.ButtonStyle.success
                if verb == "accept"
                else discord.ButtonStyle.secondary,
                custom_id=f"pairbot:req:{verb}:{request_id}",
            )
        )
        self.verb, self.request_id = verb, request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DecisionButton:
        return cls(match["verb"], int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        try:
            await decision_pressed(interaction, self.request_id, accept=self.verb == "accept")
        except Exception as error:
            await report_error(interaction, error)


def post_view(author_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RequestButton(author_id))
    return view


async def request_pressed(interaction: Interaction, author_user_id: int) -> None:
    bot = _bot(interaction)
    assert interaction.guild_id is not None
    await thinking(interaction)
    async with unit_of_work(bot.deps.sessions) as session:
        await pool.request_partnership(
            session,
            guild_id=interaction.guild_id,
            requester_user_id=interaction.user.id,
            author_user_id=author_user_id,
            now=bot.deps.clock.now(),
        )
    bot.deps.ticker.kick()  # the request card goes out through the outbox
    await send_ephemeral(
        interaction,
        f"Request sent to <@{author_user_id}>. I'll tell you by DM when they answer. 🤞",
    )


async def decision_pressed(interaction: Interaction, request_id: int, *, accept: bool) -> None:
    bot = _bot(interaction)
    now = bot.deps.clock.now()
    async with unit_of_work(bot.deps.sessions) as session:
        guild_id = interaction.guild_id or await pool.request_guild(session, request_id=request_id)
        request, _ = await pool.decide_request(
            session,
            guild_id=guild_id,
            request_id=request_id,
            author_user_id=interaction.user.id,
            accept=accept,
            now=now,
        )
        requester_user = await pool.user_id_of(session, member_id=request.requester_id)
    text = (
        f"You accepted <@{requester_user}>'s request. 🎉 I'll open a private space for you two."
        if accept
        else "You declined the request. They'll be told kindly, without any reason."
    )
    await update_message(interaction, content=text, view=None)
    bot.deps.ticker.kick()
    if accept:
        for user_id in (interaction.user.id, requester_user):
            await _sync(bot, guild_id, user_id, now)


async def _sync(bot: PairBot, guild_id: int, user_id: int, now: datetime) -> str | None:
    """Update the member's forum post now, for the member waiting on it. The change already put
    a ``post_sync`` row in the outbox, so a Discord failure here is only logged: the row
    retries."""
    try:
        synced = await sync_post(
            bot, guild_id=guild_id, user_id=user_id, now=now, view=post_view(user_id)
        )
    except discord.HTTPException:
        log.warning("forum post of member %s in guild %s not updated yet", user_id, guild_id)
        return None
    return synced.link


@app_commands.guild_only()
class Partners(commands.GroupCog, group_name="partner", group_description="Find a partner"):
    def __init__(self, bot: PairBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(RequestButton, DecisionButton)
        self.bot.deps.ticker.add_handler("pool-upkeep", self.upkeep)
        self.bot.dispatcher.register(POST_SYNC.kind, self._post_sync)

    # With the optional members intent (``members_intent``) Discord announces departures and
    # arrivals; without it these never fire and departures are found out on delivery.
    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        async with unit_of_work(self.bot.deps.sessions) as session:
            await departures.member_left(
                session,
                guild_id=payload.guild_id,
                user_id=payload.user.id,
                now=self.bot.deps.clock.now(),
            )
        self.bot.access.departed(payload.guild_id, payload.user.id)

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        async with unit_of_work(self.bot.deps.sessions) as session:
            back = await departures.member_returned(
                session, guild_id=member.guild.id, user_id=member.id, now=self.bot.deps.clock.now()
            )
        if back:
            self.bot.access.returned(member.guild.id, member.id)

    async def upkeep(self) -> None:
        """Every tick, before the dispatcher: end pauses that are due (their posts follow through
        the outbox, in the same tick)."""
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            if not await upkeep.take_turn(session, "pool-upkeep"):
                return  # another process is doing it
            await pool.resume_due_pauses(session, now=now)
            await pool.stale_posts(session, now=now)

    async def _post_sync(self, session: Any, work: DueWork) -> None:
        """Outbox work: bring one member's forum post up to date, and plan its next refresh.
        Safe to repeat: the post is rebuilt from the database and left alone when unchanged."""
        assert work.guild_id is not None and work.user_id is not None
        now = self.bot.deps.clock.now()
        try:
            synced = await sync_post(
                self.bot,
                guild_id=work.guild_id,
                user_id=work.user_id,
                now=now,
                view=post_view(work.user_id),
                pace=send_pace(self.bot),
            )
        except discord.Forbidden as exc:
            raise Permanent(f"forum post refused (http {exc.status})") from exc
        except discord.HTTPException as exc:
            raise Transient(f"discord http {exc.status}") from exc
        if synced.link is not None and synced.refresh_at is not None:
            await posts.queue_post_refresh(
                session,
                member_id=int(work.payload["member_id"]),
                guild_id=work.guild_id,
                user_id=work.user_id,
                at=synced.refresh_at,
                now=now,
            )

    @app_commands.command(name="find", description="Join the pool and get a post in the forum")
    async def find(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            await pool.join_pool(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                now=now,
                display_name=interaction.user.display_name,
            )
        link = await _sync(self.bot, interaction.guild_id, interaction.user.id, now)
        where = f" Your post: {link}" if link else ""
        await send_ephemeral(
            interaction,
            "You're in the pool! 🎯 The next matching round will look for a partner for you, "
            f"and others can request you from the forum.{where}",
        )

    @app_commands.command(name="pause", description="Take a break from matching")
    @app_commands.describe(until="A date (2026-12-24) or a length (10d, 3w); empty for no end")
    async def pause(self, interaction: Interaction, until: str | None = None) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            member = await find_member(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id
            )
            zone = member.timezone if member else None
            end = pool.pause_end(until, zone=zone, now=now) if until else None
            await pool.pause(
                session,
                guild_id=interaction.guild_id,
                user_id=interaction.user.id,
                until=end,
                now=now,
            )
        await _sync(self.bot, interaction.guild_id, interaction.user.id, now)
        text = (
            f"Paused until <t:{int(end.timestamp())}:F>; I'll put you back in the pool then."
            if end
            else "Paused. Run `/partner find` when you're ready again."
        )
        await send_ephemeral(interaction, text)

    @app_commands.command(name="leave", description="Leave the pool and close your post")
    async def leave(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        await thinking(interaction)
        now = self.bot.deps.clock.now()
        async with unit_of_work(self.bot.deps.sessions) as session:
            await pool.leave(
                session, guild_id=interaction.guild_id, user_id=interaction.user.id, now=now
            )
        await _sync(self.bot, interaction.guild_id, interaction.user.id, now)
        await send_ephemeral(
            interaction,
            "You've left the pool and your post is closed. Come back any time with "
            "`/partner find`. 👋",
        )


async def setup(bot: PairBot) -> None:
    await bot.add_cog(Partners(bot))
