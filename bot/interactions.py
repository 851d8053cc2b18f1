"""Replying to interactions: one place that knows whether an interaction was already answered,
and how errors become friendly, ephemeral messages.

**Acknowledge first** (issue 13). Discord fails an interaction whose first response comes more
than 3 s after it was created, so every interaction goes through :func:`acknowledge` before
anything else touches the database:

1. an interaction already older than :data:`MAX_AGE` (its snowflake against ``Deps.wall_clock``)
   is dropped unanswered, since any answer would come too late, and counted
   (``pairbot_deadlines_missed_total{why="dropped"}``);
2. it is deferred (ephemeral "thinking" for commands, modal submits and most buttons; a silent
   update for the buttons that edit their own message, :data:`UPDATE_COMPONENTS`), and only then
3. the access check runs, from :class:`bot.access.AccessCache`; clearing a member's closed-DMs
   mark is a write, done in the background after the defer.

A modal must be the first response, so the commands and components that open one
(:data:`MODAL_FIRST`, :data:`MODAL_COMPONENTS`) cannot defer: their reads (the access check and
whatever fills the form) are bounded by :data:`MODAL_READ_SECONDS` (:func:`read_before_modal`),
and a read that takes longer is answered with :data:`STORAGE_SLOW` instead of missing the
deadline. Autocomplete is bounded by :data:`AUTOCOMPLETE_SECONDS` and answers no choices when the
database is slow or away. Every reply after the defer is a followup or an edit of the original
(:func:`send_ephemeral`, :func:`update_message`), and records the final-answer latency.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.ui.view import ViewStore

from bot.access import AccessCache
from bot.errors import PairbotError
from bot.failures import STORAGE_SLOW, unexpected_error_text

log = logging.getLogger(__name__)

T = TypeVar("T")

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
    _answered(interaction)
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(content, ephemeral=True, **kwargs)
        _responded(interaction)


async def update_message(interaction: discord.Interaction[Any], **fields: Any) -> None:
    """Change the message whose button was pressed: an edit of the original response once the
    press was deferred (:data:`UPDATE_COMPONENTS`), else the update itself."""
    fields.setdefault("allowed_mentions", NO_PINGS)
    _answered(interaction)
    if interaction.response.is_done():
        await interaction.edit_original_response(**fields)
    else:
        await interaction.response.edit_message(**fields)
        _responded(interaction)


async def thinking(interaction: discord.Interaction[Any]) -> None:
    """Defer privately unless the interaction was already acknowledged (as :func:`acknowledge`
    does for every interaction that may defer)."""
    if not interaction.response.is_done():
        await interaction.response.defer(ephemeral=True, thinking=True)
        _responded(interaction)


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


MAX_AGE = 2.5
"""Seconds after its creation past which an interaction is dropped unanswered: the defer would
reach Discord after its 3 s deadline anyway, and the work would only delay the others."""

MODAL_READ_SECONDS = 1.5
"""How long the reads before a modal (access check, the form's current values) may take."""

AUTOCOMPLETE_SECONDS = 2.0
"""How long autocomplete may take before it answers with no choices."""


class FirstResponse(StrEnum):
    THINKING = "thinking"  # deferred, ephemeral "thinking…"; the answer is a followup
    UPDATE = "update"  # deferred update of the pressed message; the answer edits it
    MODAL = "modal"  # a modal is the first response: bounded reads, no defer


def _always(_options: frozenset[str]) -> bool:
    return True


def _no_options(options: frozenset[str]) -> bool:
    return not options


MODAL_FIRST: dict[str, Callable[[frozenset[str]], bool]] = {
    "pair end": _always,
    "report": _always,
    "profile edit": _no_options,  # with no options it opens the intro & goals form
}
"""Slash commands whose first response is a modal, by qualified name: each decides from the
options the member gave. Every other command is deferred first (a command that opens a modal
must be listed here; ``tests/e2e/test_acknowledge_first.py`` checks every command)."""

MODAL_COMPONENTS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"pairbot:g:ci:\d+:note",  # Add a note (the note form)
        r"pairbot:g:fb:\d+",  # Give feedback (the feedback form)
        r"pairbot:g:reason:\d+",  # a missed goal's reason (then "what would help?")
        r"pairbot:prop:decline:\d+",  # Decline a proposal (the private reason form)
        r"pairbot:profile:edit-text",  # Edit intro & goals
    )
)
"""Buttons and selects (by ``custom_id``) whose first response is a modal."""

UPDATE_COMPONENTS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        r"pairbot:req:(accept|decline):\d+",  # a request card: the answer replaces it
        r"pairbot:confirm:[a-z-]+",  # private confirm / cancel buttons (OwnedView)
    )
)
"""Buttons whose answer edits their own message: deferred as an update."""


def component_first(custom_id: str) -> FirstResponse:
    if any(p.fullmatch(custom_id) for p in MODAL_COMPONENTS):
        return FirstResponse.MODAL
    if any(p.fullmatch(custom_id) for p in UPDATE_COMPONENTS):
        return FirstResponse.UPDATE
    return FirstResponse.THINKING


def given_options(data: Any) -> frozenset[str]:
    """The names of the options a member filled in, below any subcommand or group."""
    names: set[str] = set()
    for option in (data or {}).get("options") or ():
        if option.get("type") in (1, 2):
            names |= given_options(option)
        else:
            names.add(str(option.get("name")))
    return frozenset(names)


def command_first(interaction: discord.Interaction[Any]) -> FirstResponse:
    command = interaction.command
    rule = MODAL_FIRST.get(command.qualified_name) if command is not None else None
    if rule is not None and rule(given_options(interaction.data)):
        return FirstResponse.MODAL
    return FirstResponse.THINKING


class PairTree(app_commands.CommandTree[Any]):
    """The command tree: every command is acknowledged first (:func:`acknowledge`), every
    command error ends as a friendly ephemeral reply, and autocomplete is bounded."""

    def __init__(self, client: Any, **options: Any) -> None:
        super().__init__(client, **options)
        guard_components(client)

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Before every slash command: too old is dropped, then the defer (or, for a modal,
        bounded reads), then the community's access role (moderators always pass); a member
        who runs a command again may be reachable by DM again."""
        if interaction.type is not discord.InteractionType.application_command:
            return True
        command = interaction.command
        name = command.qualified_name if command is not None else "command"
        try:
            return await acknowledge(interaction, name=name, first=command_first(interaction))
        except Exception as error:
            await report_error(interaction, error)
            return False

    async def _call(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is not discord.InteractionType.autocomplete:
            await super()._call(interaction)
            return
        try:
            async with asyncio.timeout(AUTOCOMPLETE_SECONDS):
                await super()._call(interaction)
        except TimeoutError:
            log.info("autocomplete over %.1f s: answered with no choices", AUTOCOMPLETE_SECONDS)
        if not interaction.response.is_done():  # slow, or failed (discord.py logged it)
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException:
                log.info("could not answer autocomplete for interaction %s", interaction.id)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


NAME = "pairbot_name"
READ_BY = "pairbot_read_by"
RESPONDED = "pairbot_responded"
ANSWERED = "pairbot_answered"


def _wall_now(interaction: discord.Interaction[Any]) -> datetime:
    deps = getattr(interaction.client, "deps", None)
    wall = getattr(deps, "wall_clock", None)
    return wall.now() if wall is not None else datetime.now(UTC)


def _metrics(interaction: discord.Interaction[Any]) -> Any:
    return getattr(getattr(interaction.client, "deps", None), "metrics", None)


def _label(interaction: discord.Interaction[Any]) -> str:
    return str(interaction.extras.get(NAME) or "interaction")


def _once(interaction: discord.Interaction[Any], flag: str, measure: str) -> None:
    """Record ``measure`` (a :class:`bot.metrics.Metrics` method) once per interaction."""
    if interaction.extras.get(flag):
        return
    interaction.extras[flag] = True
    metrics = _metrics(interaction)
    if metrics is not None:
        getattr(metrics, measure)(
            _label(interaction), interaction.created_at, _wall_now(interaction)
        )


def _responded(interaction: discord.Interaction[Any]) -> None:
    """The first response went out: its latency."""
    _once(interaction, RESPONDED, "first_response")


def _answered(interaction: discord.Interaction[Any]) -> None:
    """The member's answer (after the defer, or as the first response) is being sent now."""
    _once(interaction, ANSWERED, "final_answer")


CURRENT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "pairbot_interaction", default=None
)
"""The id of the interaction being handled, set by :func:`acknowledge` and inherited by every
task it starts (the handler, background work): for log lines and for tests that attribute
database statements to interactions."""


def too_old(interaction: discord.Interaction[Any]) -> bool:
    age = (_wall_now(interaction) - interaction.created_at).total_seconds()
    return age > MAX_AGE


async def acknowledge(
    interaction: discord.Interaction[Any], *, name: str, first: FirstResponse
) -> bool:
    """The start of every interaction (see the module docstring). ``True``: go on and handle
    it; ``False``: it was dropped as too old, or already answered (the access role)."""
    interaction.extras[NAME] = name
    CURRENT.set(interaction.id)
    if too_old(interaction):
        log.warning("dropped interaction %s (%s): already past the deadline", interaction.id, name)
        metrics = _metrics(interaction)
        if metrics is not None:
            metrics.dropped_too_old(name)
        return False
    if first is FirstResponse.MODAL:
        loop = asyncio.get_running_loop()
        interaction.extras[READ_BY] = loop.time() + MODAL_READ_SECONDS
        return await read_before_modal(interaction, admitted(interaction))
    if first is FirstResponse.UPDATE:
        await interaction.response.defer()
        _responded(interaction)
    else:
        await thinking(interaction)
    return await admitted(interaction, clear_dms_closed=True)


class StorageSlow(PairbotError):
    """A read before a modal took too long: the member is told so as the first response."""

    user_message = STORAGE_SLOW


async def read_before_modal(interaction: discord.Interaction[Any], read: Awaitable[T]) -> T:
    """Await ``read`` (the database work a modal needs) within what is left of the
    interaction's :data:`MODAL_READ_SECONDS`; :class:`StorageSlow` when it takes longer."""
    loop = asyncio.get_running_loop()
    read_by = interaction.extras.get(READ_BY)
    if read_by is None:
        read_by = interaction.extras[READ_BY] = loop.time() + MODAL_READ_SECONDS
    try:
        return await asyncio.wait_for(read, timeout=max(0.05, float(read_by) - loop.time()))
    except TimeoutError:
        raise StorageSlow from None


_BACKGROUND: set[asyncio.Task[None]] = set()


def in_background(work: Coroutine[Any, Any, None], what: str) -> None:
    """Run ``work`` after the reply, without holding it up; failures are logged (it is retried
    the next time the member comes by)."""

    async def run() -> None:
        try:
            await work
        except Exception:
            log.warning("background %s failed; it is tried again next time", what, exc_info=True)

    task = asyncio.get_running_loop().create_task(run())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def background_settled() -> None:
    """Wait for the work :func:`in_background` started (the scheduler's tick and tests: a mark
    written after a reply is seen by what runs next)."""
    while _BACKGROUND:
        await asyncio.gather(*list(_BACKGROUND), return_exceptions=True)


async def admitted(
    interaction: discord.Interaction[Any], *, clear_dms_closed: bool = False
) -> bool:
    """The community's access role, for every interaction in a server (commands, buttons,
    selects, modals): members without it are told how to join, and the interaction goes no
    further. Moderators always pass. In DMs there is no server to ask, so it passes: every
    button there was sent to someone who came in through a checked interaction. Read from the
    cache; the closed-DMs mark is cleared in the background (call only after the defer)."""
    deps = getattr(interaction.client, "deps", None)
    access: AccessCache | None = getattr(interaction.client, "access", None)
    guild_id = interaction.guild_id
    if deps is None or access is None or guild_id is None:
        return True
    roles = [r.id for r in getattr(interaction.user, "roles", [])]
    moderator = interaction.permissions.manage_guild or interaction.permissions.administrator
    access_role = await access.access_role(guild_id)
    user_id = interaction.user.id
    if clear_dms_closed and await access.dms_marked_closed(guild_id, user_id):
        access.cleared(guild_id, user_id)
        from bot.services import outbox

        in_background(
            _write_mark(
                deps,
                lambda session: outbox.clear_dms_closed(
                    session, guild_id=guild_id, user_id=user_id, now=deps.clock.now()
                ),
                undo=lambda: access.marked_closed(guild_id, user_id),
            ),
            "clearing a closed-DMs mark",
        )
    if await access.marked_left(guild_id, user_id):
        # Someone who left and came back: interacting here proves it (no intent needed). Like
        # the closed-DMs mark, written after the first response, off the reply's path.
        access.returned(guild_id, user_id)
        from bot.services import departures

        in_background(
            _write_mark(
                deps,
                lambda session: departures.member_returned(
                    session, guild_id=guild_id, user_id=user_id, now=deps.clock.now()
                ),
                undo=lambda: access.departed(guild_id, user_id),
            ),
            "marking a return",
        )
    if access_role is None or access_role in roles or moderator:
        return True
    await send_ephemeral(
        interaction,
        f"pairbot is open to members with the <@&{access_role}> role here. "
        "Ask a moderator if you'd like to join.",
    )
    return False


async def _write_mark(
    deps: Any, write: Callable[[Any], Awaitable[object]], *, undo: Callable[[], None]
) -> None:
    """One mark written in its own transaction; if that fails, the cache is put back (still
    marked), so the next interaction tries again."""
    from bot.db import unit_of_work

    try:
        async with unit_of_work(deps.sessions) as session:
            await write(session)
    except Exception:
        undo()
        raise


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

    - every component and modal interaction passes :func:`acknowledge` first (too old is
      dropped, then the defer, then the access check), as slash commands do in
      :meth:`PairTree.interaction_check`;
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
        self._guard(interaction, custom_id, handled, forward, first=component_first(custom_id))

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

        self._guard(interaction, custom_id, handled, forward, first=FirstResponse.THINKING)

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
        *,
        first: FirstResponse,
    ) -> None:
        name = "modal" if interaction.type is discord.InteractionType.modal_submit else "component"

        async def run() -> None:
            try:
                if not await acknowledge(interaction, name=name, first=first):
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


NOT_YOURS = (
    "Those buttons belong to the member who ran the command, so I left them as they are. "
    "Run it yourself if you need to."
)


class OwnedView(BaseView):
    """Private confirm / cancel buttons for the member who ran the command. Anyone else who
    presses one is told so (not left in silence); their ``custom_id`` starts with
    ``pairbot:confirm:`` so that the press is deferred as an update (:data:`UPDATE_COMPONENTS`)."""

    def __init__(self, owner_id: int, *, timeout: float | None = 300) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        if interaction.user.id == self.owner_id:
            return True
        await send_ephemeral(interaction, NOT_YOURS)
        return False


class BaseModal(discord.ui.Modal):
    async def on_error(  # type: ignore[override]  # discord.py's Modal narrows BaseView's
        self, interaction: discord.Interaction[Any], error: Exception, /
    ) -> None:
        await report_error(interaction, error)
