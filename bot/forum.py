"""The partner-seeking forum on Discord: opening, updating and closing a member's post.

Discord glue (may import discord). It reads the member's public state through services, so a
post is always rebuilt from what is stored: calling it twice is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.db import unit_of_work
from bot.domain.posts import forum_post, ts
from bot.services import pool

if TYPE_CHECKING:
    from bot.app import PairBot

log = logging.getLogger(__name__)

MAX_FORUM_TAGS = 20
MAX_POST_TAGS = 5


async def _tags_for(forum: discord.ForumChannel, wanted: tuple[str, ...]) -> list[discord.ForumTag]:
    """The forum's tags for ``wanted``, creating missing ones when the bot may."""
    by_name = {tag.name.lower(): tag for tag in forum.available_tags}
    missing = [name for name in wanted if name.lower() not in by_name]
    room = MAX_FORUM_TAGS - len(forum.available_tags)
    if missing and room > 0 and forum.permissions_for(forum.guild.me).manage_channels:
        tags = [*forum.available_tags]
        tags += [discord.ForumTag(name=name[:20]) for name in missing[:room]]
        try:
            forum = await forum.edit(available_tags=tags)
            by_name = {tag.name.lower(): tag for tag in forum.available_tags}
        except discord.HTTPException:
            log.warning("could not add tags to forum %s", forum.id)
    return [by_name[n.lower()] for n in wanted if n.lower() in by_name][:MAX_POST_TAGS]


async def sync_post(
    bot: PairBot, *, guild_id: int, user_id: int, now: datetime, view: discord.ui.View
) -> str | None:
    """Bring the member's forum post in line with their pool status; return its link.
    ``view`` carries the post's "Request partnership" button."""
    async with unit_of_work(bot.deps.sessions) as session:
        state = await pool.post_state(session, guild_id=guild_id, user_id=user_id)
    if state is None or state.forum_channel_id is None:
        return None
    forum = bot.get_channel(state.forum_channel_id)
    if not isinstance(forum, discord.ForumChannel):
        log.warning(
            "forum channel %s of guild %s is not available", state.forum_channel_id, guild_id
        )
        return None
    thread = await _existing_thread(bot, state.forum_post_id)
    if state.pool_status == "idle":
        if thread is not None and not (thread.archived and thread.locked):
            await thread.edit(archived=True, locked=True)
        return None
    post = forum_post(state.profile, display_name=state.display_name, now=now)
    body = post.body
    if state.pool_status == "paused":
        until = f" until {ts(state.paused_until, 'D')}" if state.paused_until else ""
        body = f"⏸️ *Taking a break{until}.*\n\n" + body
    tags = await _tags_for(forum, post.tags)
    if thread is None:
        created = await forum.create_thread(
            name=post.title,
            content=body,
            applied_tags=tags,
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        async with unit_of_work(bot.deps.sessions) as session:
            await pool.set_forum_post(session, member_id=state.member_id, post_id=created.thread.id)
        return created.thread.jump_url
    await thread.edit(name=post.title, applied_tags=tags, archived=False, locked=False)
    starter = await thread.fetch_message(thread.id)
    await starter.edit(content=body, view=view, allowed_mentions=discord.AllowedMentions.none())
    return thread.jump_url


async def _existing_thread(bot: PairBot, thread_id: int | None) -> discord.Thread | None:
    if thread_id is None:
        return None
    channel = bot.get_channel(thread_id)
    if isinstance(channel, discord.Thread):
        return channel
    try:
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
