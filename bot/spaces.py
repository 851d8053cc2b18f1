"""A pair's private space on Discord: a private thread in the community's pairs channel with both
members added, or, when that isn't possible, a DM to each with the other's public profile.

Discord glue (may import discord). What the space shows comes ready-made from
``bot.services.partnerships.proposal_card``: public data only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import discord

from bot.services.partnerships import ProposalCard
from bot.services.ports import MemberGone, Permanent, Transient, nonce_for

if TYPE_CHECKING:
    from bot.app import PairBot

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week without messages before Discord hides it
UNKNOWN_MEMBER = 10007
DMS_CLOSED = 50007


@dataclass(frozen=True)
class Space:
    """Where a proposal landed: a thread, or the DMs of ``reached`` members (maybe not all)."""

    thread_id: int | None
    reached: tuple[int, ...]


def _pair_channel(bot: PairBot, channel_id: int | None) -> discord.TextChannel | None:
    """The pairs channel, when the bot may open private threads there."""
    if channel_id is None:
        return None
    channel = bot.get_channel(channel_id)
    if not isinstance(channel, discord.TextChannel):
        log.warning("pairs channel %s is not a text channel the bot can see", channel_id)
        return None
    perms = channel.permissions_for(channel.guild.me)
    if not (perms.view_channel and perms.create_private_threads and perms.send_messages_in_threads):
        log.warning("no permission to open private threads in channel %s", channel_id)
        return None
    return channel


def _pings(user_ids: Sequence[int]) -> discord.AllowedMentions:
    """Ping the pair, in their own thread, and nobody else."""
    return discord.AllowedMentions(
        everyone=False,
        roles=False,
        replied_user=False,
        users=[discord.Object(id=u) for u in user_ids],
    )


async def unpaced() -> None:
    return None


def send_pace(bot: PairBot) -> Callable[[], Awaitable[None]]:
    """The dispatcher's send pacing (:class:`bot.dispatch.Pacer` or ``SharedPacer``), for outbox
    work that calls Discord itself (spaces, forum posts): one budget with the deliveries."""
    pacer = getattr(bot.dispatcher.messenger, "pacer", None)
    return pacer.wait if pacer is not None else unpaced


async def open_space(
    bot: PairBot,
    card: ProposalCard,
    view: discord.ui.View | None,
    *,
    pace: Callable[[], Awaitable[None]] = unpaced,
    still_member: Callable[[int, int], Awaitable[bool | None]] | None = None,
) -> Space:
    """Open the proposal's private thread and post it there with ``view`` (Accept / Decline,
    or none for a pair that has both chosen already); fall back to DMs. Retrying is safe: the
    proposal message carries a deterministic nonce. ``pace`` is awaited before each request
    (the dispatcher's send pacing, so spaces and deliveries share one budget).

    Raises :class:`MemberGone` when one of the pair has left the server (10007 when added to
    the thread, or a DM refused with 50007 and ``still_member`` saying no): the half-made
    thread is removed and nothing more is sent."""
    buttons = view if view is not None else discord.utils.MISSING
    channel = _pair_channel(bot, card.pair_channel_id)
    if channel is not None:
        thread: discord.Thread | None = None
        try:
            await pace()
            thread = await channel.create_thread(
                name=card.thread_name,
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=THREAD_ARCHIVE_MINUTES,
            )
            for user_id in card.user_ids:
                await pace()
                try:
                    await thread.add_user(discord.Object(id=user_id))
                except discord.NotFound as exc:
                    if exc.code != UNKNOWN_MEMBER:
                        raise
                    await _remove(thread)
                    raise MemberGone(user_id) from exc
            await pace()
            await thread.send(
                card.thread_text,
                view=buttons,
                allowed_mentions=_pings(card.user_ids),
                nonce=nonce_for(f"proposal:{card.partnership_id}"),
            )
            return Space(thread.id, card.user_ids)
        except discord.HTTPException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise Transient(f"discord http {exc.status}") from exc
            log.warning(
                "private thread for partnership %s not possible (http %s); using DMs",
                card.partnership_id,
                exc.status,
            )
            if thread is not None:
                await _remove(thread)
    reached = []
    for user_id in card.user_ids:
        try:
            user = bot.get_user(user_id) or await bot.fetch_user(user_id)
            await pace()
            await user.send(
                card.dm_texts[user_id],
                view=buttons,
                allowed_mentions=discord.AllowedMentions.none(),
                nonce=nonce_for(f"proposal:{card.partnership_id}:{user_id}"),
            )
            reached.append(user_id)
        except discord.Forbidden as exc:
            if await _gone(still_member, card.guild_id, user_id, exc):
                raise MemberGone(user_id) from exc
            log.warning("partnership %s: a member's DMs are closed", card.partnership_id)
        except discord.HTTPException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise Transient(f"discord http {exc.status}") from exc
            raise Permanent(f"proposal dm rejected (http {exc.status})") from exc
    return Space(None, tuple(reached))


async def _gone(
    still_member: Callable[[int, int], Awaitable[bool | None]] | None,
    guild_id: int,
    user_id: int,
    refused: discord.Forbidden,
) -> bool:
    """A DM refused with 50007 is closed DMs, or someone who shares no server with the bot."""
    if refused.code != DMS_CLOSED or still_member is None:
        return False
    return await still_member(guild_id, user_id) is False


async def _remove(thread: discord.Thread) -> None:
    try:
        await thread.delete()
    except discord.HTTPException:
        log.warning("could not remove the half-made thread %s", thread.id)


async def close_space(bot: PairBot, *, thread_id: int, text: str, key: str) -> None:
    """Say goodbye in the pair's thread (which reopens it if Discord archived it for quiet),
    then archive and lock it (only archive if the bot may not lock). Safe to repeat: the message
    has a nonce, and a closed thread is left alone."""
    channel = bot.get_channel(thread_id)
    try:
        if channel is None:
            channel = await bot.fetch_channel(thread_id)
    except (discord.NotFound, discord.Forbidden):
        log.info("thread %s is gone; nothing to close", thread_id)
        return
    except discord.HTTPException as exc:
        raise Transient(f"discord http {exc.status}") from exc
    if not isinstance(channel, discord.Thread):
        return
    thread = channel
    if thread.archived and thread.locked:
        return  # closed already
    try:
        await thread.send(
            text, allowed_mentions=discord.AllowedMentions.none(), nonce=nonce_for(key)
        )
        if thread.permissions_for(thread.guild.me).manage_threads:
            await thread.edit(archived=True, locked=True)
        else:
            await thread.edit(archived=True)
    except discord.Forbidden:
        log.warning("could not close thread %s (missing permissions)", thread_id)
    except discord.NotFound:
        log.info("thread %s vanished while closing", thread_id)
    except discord.HTTPException as exc:
        if exc.status == 429 or exc.status >= 500:
            raise Transient(f"discord http {exc.status}") from exc
        log.warning("could not close thread %s (http %s)", thread_id, exc.status)
