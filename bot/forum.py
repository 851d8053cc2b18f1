"""The partner-seeking forum on Discord: opening, updating and closing a member's post.

Discord glue (may import discord). It reads the member's public state through services, so a
post is always rebuilt from what is stored: calling it twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.db import unit_of_work
from bot.domain.posts import forum_post, ts
from bot.services import pool
from bot.spaces import unpaced

if TYPE_CHECKING:
    from bot.app import PairBot

log = logging.getLogger(__name__)

MAX_FORUM_TAGS = 20
MAX_POST_TAGS = 5


async def _tags_for(
    forum: discord.ForumChannel,
    wanted: tuple[str, ...],
    *,
    pace: Callable[[], Awaitable[None]] = unpaced,
) -> list[discord.ForumTag]:
    """The forum's tags for ``wanted``, creating missing ones when the bot may."""
    by_name = {tag.name.lower(): tag for tag in forum.available_tags}
    missing = [name for name in wanted if name.lower() not in by_name]
    room = MAX_FORUM_TAGS - len(forum.available_tags)
    if missing and room > 0 and forum.permissions_for(forum.guild.me).manage_channels:
        tags = [*forum.available_tags]
        tags += [discord.ForumTag(name=name[:20]) for name in missing[:room]]
        try:
            await pace()
            forum = await forum.edit(available_tags=tags)
            by_name = {tag.name.lower(): tag for tag in forum.available_tags}
        except discord.HTTPException:
            log.warning("could not add tags to forum %s", forum.id)
    return [by_name[n.lower()] for n in wanted if n.lower() in by_name][:MAX_POST_TAGS]


@dataclass(frozen=True)
class Synced:
    """What :func:`sync_post` did: the post's link (None when closed or impossible), and when
    the post must be rendered again because the first time it lists will have passed."""

    link: str | None
    refresh_at: datetime | None = None


_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(guild_id: int, user_id: int) -> asyncio.Lock:
    """One sync at a time per member in this process: a command's own sync and the outbox's
    must not both create the post."""
    lock = _locks.get((guild_id, user_id))
    if lock is None:
        lock = _locks[(guild_id, user_id)] = asyncio.Lock()
    return lock


async def sync_post(
    bot: PairBot,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    view: discord.ui.View,
    pace: Callable[[], Awaitable[None]] = unpaced,
) -> Synced:
    """Bring the member's forum post in line with their profile and pool status. ``view``
    carries the post's "Request partnership" button. Nothing is edited when the post already
    shows exactly this (a repeated or late run costs one read). ``pace`` is awaited before
    each request to Discord (the outbox passes the dispatcher's send pacing: a round's
    thousands of post syncs stay within the one budget)."""
    async with _lock(guild_id, user_id):
        return await _sync_post(
            bot, guild_id=guild_id, user_id=user_id, now=now, view=view, pace=pace
        )


async def _sync_post(
    bot: PairBot,
    *,
    guild_id: int,
    user_id: int,
    now: datetime,
    view: discord.ui.View,
    pace: Callable[[], Awaitable[None]],
) -> Synced:
    async with unit_of_work(bot.deps.sessions) as session:
        state = await pool.post_state(session, guild_id=guild_id, user_id=user_id)
    if state is None or state.forum_channel_id is None:
        return Synced(None)
    forum = bot.get_channel(state.forum_channel_id)
    if not isinstance(forum, discord.ForumChannel):
        log.warning(
            "forum channel %s of guild %s is not available", state.forum_channel_id, guild_id
        )
        return Synced(None)
    thread = await _existing_thread(bot, state.forum_post_id, pace=pace)
    if state.pool_status == "idle":
        if thread is not None and not (thread.archived and thread.locked):
            await pace()
            await thread.edit(archived=True, locked=True)
        return Synced(None)
    post = forum_post(state.profile, display_name=state.display_name, now=now)
    body = post.body
    if state.pool_status == "paused":
        until = f" until {ts(state.paused_until, 'D')}" if state.paused_until else ""
        body = f"⏸️ *Taking a break{until}.*\n\n" + body
    tags = await _tags_for(forum, post.tags, pace=pace)
    starter: discord.Message | None = None
    if thread is not None:
        try:
            await pace()
            starter = await thread.fetch_message(thread.id)
        except discord.NotFound:
            log.info("forum post %s lost its first message; opening a new post", thread.id)
            thread = None
    if thread is None or starter is None:
        await pace()
        created = await forum.create_thread(
            name=post.title,
            content=body,
            applied_tags=tags,
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        async with unit_of_work(bot.deps.sessions) as session:
            await pool.set_forum_post(session, member_id=state.member_id, post_id=created.thread.id)
        return Synced(created.thread.jump_url, post.refresh_at)
    same = (
        thread.name == post.title
        and {t.id for t in thread.applied_tags} == {t.id for t in tags}
        and not thread.archived
        and not thread.locked
        and starter.content == body
        and bool(starter.components)
    )
    if not same:
        await pace()
        await thread.edit(name=post.title, applied_tags=tags, archived=False, locked=False)
        await pace()
        await starter.edit(content=body, view=view, allowed_mentions=discord.AllowedMentions.none())
    return Synced(thread.jump_url, post.refresh_at)


async def _existing_thread(
    bot: PairBot, thread_id: int | None, *, pace: Callable[[], Awaitable[None]] = unpaced
) -> discord.Thread | None:
    if thread_id is None:
        return None
    channel = bot.get_channel(thread_id)
    if isinstance(channel, discord.Thread):
        return channel
    try:
        await pace()
        fetched = await bot.fetch_channel(thread_id)
    except (discord.NotFound, discord.Forbidden):
        return None
    return fetched if isinstance(fetched, discord.Thread) else None


REMOVED_POST = "*This member has left the partner search.*"


async def delete_post(bot: PairBot, *, thread_id: int) -> None:
    """Delete a member's forum post (their words go with it). Without the Manage Threads
    permission the bot can't delete it: its own starter message is blanked and the post closed
    instead. Safe to repeat; a post that is gone already is fine."""
    thread = await _existing_thread(bot, thread_id)
    if thread is None:
        return
    try:
        await thread.delete()
        return
    except discord.Forbidden:
        log.warning("no permission to delete forum post %s; blanking it instead", thread_id)
    starter = await thread.fetch_message(thread.id)
    await starter.edit(
        content=REMOVED_POST, view=None, allowed_mentions=discord.AllowedMentions.none()
    )
    locked = thread.permissions_for(thread.guild.me).manage_threads
    await thread.edit(name="Removed", archived=True, locked=locked)
