"""Replying to interactions: one place that knows whether an interaction was already answered,
and how errors become friendly, ephemeral messages."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import discord
from discord import app_commands
from discord.ui.view import ViewStore

from bot.access import AccessCache
from bot.errors import PairbotError
from bot.failures import unexpected_error_text

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()

EXPIRED = (
    "That button has expired, or it isn't meant for you. "
    "Run the command again (`/help` lists them) and use the newest message."
)


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
    if _out_of_range(error):
        # Only a forged or mangled id (a button's custom_id, a typed number) is this large.
        return EXPIRED, False
    return "", True


def _out_of_range(error: BaseException) -> bool:
    """An integer too large for the database column it was compared with: SQLite refuses it
    in Python (``OverflowError``), asyncpg as an out-of-range query argument."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OverflowError):
            return True
        text = str(current)
        if "out of int32 range" in text or "out of int64 range" in text:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


async def report_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Tell the member what went wrong; log unexpected errors with a short reference id."""
    text, unexpected = message_for(error)
    if unexpected:
        ref = secrets.token_hex(3)
        what = interaction.command.qualified_name if interaction.command else "component"
        log.error("unexpected error [ref %s] in %s", ref, what, exc_info=unwrap(error))
        text = unexpected_error_text(unwrap(error), ref)
    try:
        await send_ephemeral(interaction, text)
    except discord.HTTPException:
        log.warning("could not deliver an error message for interaction %s", interaction.id)


class PairTree(app_commands.CommandTree[Any]):
    """The command tree: every command error ends as a friendly ephemeral reply."""

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client, **options)
        guard_components(client)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Before every slash command: the community's access role (moderators always pass),
        and a member who runs a command again may be reachable by DM again."""
        if interaction.type is not discord.InteractionType.application_command:
            return True
        return await admitted(interaction, clear_dms_closed=True)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


async def admitted(
    interaction: discord.Interaction[Any], *, clear_dms_closed: bool = False
) -> bool:
    """The community's access role, for every interaction in a server (commands, buttons,
    selects, modals): members without it are told how to join, and the interaction goes no
    further. Moderators always pass. In DMs there is no server to ask, so it passes: every
    button there was sent to someone who came in through a checked interaction."""
    deps = getattr(interaction.client, "deps", None)
    access: AccessCache | None = getattr(interaction.client, "access", None)
    guild_id = interaction.guild_id
    if deps is None or access is None or guild_id is None:
        return True
    from bot.db import unit_of_work
    from bot.services import outbox

    roles = [r.id for r in getattr(interaction.user, "roles", [])]
    moderator = interaction.permissions.manage_guild or interaction.permissions.administrator
    access_role = await access.access_role(guild_id)
    user_id = interaction.user.id
    if clear_dms_closed and await access.dms_marked_closed(guild_id, user_id):
        async with unit_of_work(deps.sessions) as session:
            await outbox.clear_dms_closed(
                session, guild_id=guild_id, user_id=user_id, now=deps.clock.now()
            )
        access.cleared(guild_id, user_id)
    if await access.marked_left(guild_id, user_id):
        # Someone who left and came back: interacting here proves it (no intent needed).
        from bot.services import departures

        async with unit_of_work(deps.sessions) as session:
            await departures.member_returned(
                session, guild_id=guild_id, user_id=user_id, now=deps.clock.now()
            )
        access.returned(guild_id, user_id)
    if access_role is None or access_role in roles or moderator:
        return True
    await send_ephemeral(
        interaction,
        f"pairbot is open to members with the <@&{access_role}> role here. "
        "Ask a moderator if you'd like to join.",
    )
    return False


MAX_ID = 2**63 - 1  # Discord snowflakes and database row ids are signed 64-bit at most


def _names_impossible_id(custom_id: str) -> bool:
    """A number field of one of pairbot's own ids (``pairbot:...:<id>``) larger than any id can
    be: only a forged custom_id has one. (discord.py's own ids are random hex: not read.)"""
    if not custom_id.startswith("pairbot:"):
        return False
    return any(
        part.isdigit() and (len(part) > 19 or int(part) > MAX_ID) for part in custom_id.split(":")
    )


class GuardedViewStore(ViewStore):
    """discord.py's store of buttons, selects and modals, with two rules in front of it:

    - every component and modal interaction passes :func:`admitted` first, as slash commands do
      in :meth:`PairTree.interaction_check`;
    - an interaction nothing would handle (a stale view after a restart or a timeout, a forged
      ``custom_id``) is answered with :data:`EXPIRED` instead of being left unanswered, which
      Discord shows as "The application did not respond".

    discord.py creates the store once per connection (``ConnectionState``) and only replaces it
    on an explicit ``Client.clear()``; :func:`guard_components` installs this one in its place
    while it is still empty."""

    def dispatch_view(
        self, component_type: int, custom_id: str, interaction: discord.Interaction[Any]
    ) -> None:
        handled = partial(self.handles_component, component_type, custom_id, interaction)
        forward = partial(super().dispatch_view, component_type, custom_id, interaction)
        self._guard(interaction, custom_id, handled, forward)

    forms: list[tuple[re.Pattern[str], FormRoute]]

    def dispatch_modal(
        self,
        custom_id: str,
        interaction: discord.Interaction[Any],
        components: Any,
        resolved: Any,
    ) -> None:
        route = next(
            (r for pattern, r in getattr(self, "forms", ()) if pattern.fullmatch(custom_id)), None
        )

        def handled() -> bool:
            if _names_impossible_id(custom_id):
                return False
            return route is not None or custom_id in self._modals

        def forward() -> None:
            if custom_id in self._modals or route is None:
                super(GuardedViewStore, self).dispatch_modal(
                    custom_id, interaction, components, resolved
                )
            else:
                self.add_task(asyncio.create_task(route(interaction)))

        self._guard(interaction, custom_id, handled, forward)

    def handles_component(
        self, component_type: int, custom_id: str, interaction: discord.Interaction[Any]
    ) -> bool:
        if _names_impossible_id(custom_id):
            return False
        if interaction.message is not None and any(
            pattern.fullmatch(custom_id) for pattern in self._dynamic_items
        ):
            return True
        key = (component_type, custom_id)
        message_id = interaction.message.id if interaction.message is not None else None
        item = self._views.get(message_id, {}).get(key) or self._views.get(None, {}).get(key)
        return item is not None and item.view is not None and not item.view.is_finished()

    def _guard(
        self,
        interaction: discord.Interaction[Any],
        custom_id: str,
        handled: Callable[[], bool],
        forward: Callable[[], None],
    ) -> None:
        async def run() -> None:
            try:
                if not await admitted(interaction):
                    return
                if not await _settles(handled):
                    log.info("no handler for %r; answered as expired", custom_id[:100])
                    await send_ephemeral(interaction, EXPIRED)
                    return
            except Exception as error:
                await report_error(interaction, error)
                return
            forward()  # decided and handed over with no await between: the store can't change

        self.add_task(asyncio.create_task(run()))


HANDLER_GRACE = 1.0
"""Seconds an interaction may wait for its handler to appear: discord.py registers a reply's
view only once the HTTP answer to that reply has arrived, which can come just after a quick
press of its button arrives on the gateway."""


async def _settles(handled: Callable[[], bool]) -> bool:
    loop = asyncio.get_running_loop()
    give_up = loop.time() + HANDLER_GRACE
    while not handled():
        if loop.time() >= give_up:
            return False
        await asyncio.sleep(0.02)
    return True


def guard_components(client: Any) -> GuardedViewStore:
    """Put a :class:`GuardedViewStore` in the client's connection (before any view is added)."""
    state = client._connection
    if not isinstance(state._view_store, GuardedViewStore):
        state._view_store = GuardedViewStore(state)
    store: GuardedViewStore = state._view_store
    return store


FormRoute = Callable[[discord.Interaction[Any]], Awaitable[None]]


def add_form_route(client: Any, patterns: Iterable[re.Pattern[str]], route: FormRoute) -> None:
    """Modal submissions whose ``custom_id`` fullmatches one of ``patterns`` go to ``route``
    (after the access check), for forms discord.py keeps no state for, so that a form open
    across a restart is still received."""
    store = guard_components(client)
    if not hasattr(store, "forms"):
        store.forms = []
    store.forms += [(pattern, route) for pattern in patterns]


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
