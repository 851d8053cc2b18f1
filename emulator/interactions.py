"""Simulated people using the bot: realistic INTERACTION_CREATE payloads and the bot's answers.

A person's action (slash command, autocomplete, button, select, modal submit) becomes an
interaction dispatched over the gateway. The bot answers on REST (callback, followups, edits of
``@original``); this module checks those answers against Discord's rules and hands the person
what Discord would have shown them, as a :class:`Reply`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import (
    AnswerRejectedError,
    ApiError,
    FormErrors,
    NoAnswerError,
    ScenarioError,
    Violation,
)
from .mentions import Pings
from .model import Attachment, Channel, Guild, Member, Message, Role, User
from .permissions import ALL_PERMISSIONS, DM_PERMISSIONS, Permission
from .validation import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    SELECT_TYPES,
    TEXT_INPUT,
    validate_choices,
    validate_modal,
)

if TYPE_CHECKING:
    from .world import Upload, World

JSON = dict[str, Any]

APPLICATION_COMMAND, COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = (
    4,
    5,
    6,
    7,
    8,
    9,
)

ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    APPLICATION_COMMAND: frozenset({MESSAGE, DEFERRED_MESSAGE, MODAL}),
    COMPONENT: frozenset({MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, MODAL}),
    AUTOCOMPLETE: frozenset({AUTOCOMPLETE_RESULT}),
    MODAL_SUBMIT: frozenset({MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE}),
}

SCALAR_CHECKS: dict[int, tuple[Callable[[Any], bool], str]] = {
    4: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    5: (lambda v: isinstance(v, bool), "True/False"),
    10: (lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number"),
}

OPTION_TYPES = {
    1: "subcommand",
    2: "group",
    3: "string",
    4: "integer",
    5: "boolean",
    6: "user",
    7: "channel",
    8: "role",
    9: "mentionable",
    10: "number",
    11: "attachment",
}


@dataclass(eq=False)
class InteractionRecord:
    """One interaction's lifecycle: who did what where, and how the bot answered."""

    id: int
    token: str
    type: int
    user: User
    member: Member | None
    guild: Guild | None
    channel: Channel
    name: str
    created: float
    deadline: float
    token_expires: float
    source_message: Message | None = None
    #: For a modal submit: the interaction that opened the modal.
    triggering: InteractionRecord | None = None
    focused_type: int | None = None
    response_type: int | None = None
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    modal: Modal | None = None
    choices: list[JSON] | None = None
    updates: int = 0
    last_touched: Message | None = None
    error: Violation | None = None
    late: bool = False
    #: When (loop time) the first response (callback) was accepted: what Discord's deadline is
    #: about. ``None`` until then.
    answered_at: float | None = None

    def metadata(self) -> JSON:
        meta: JSON = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.to_payload(),
            "authorizing_integration_owners": {"0": str(self.guild.id) if self.guild else "0"},
        }
        if self.type == APPLICATION_COMMAND:
            meta["name"] = self.name
        if self.original is not None:
            meta["original_response_message_id"] = str(self.original.id)
        if self.source_message is not None and self.type == COMPONENT:
            meta["interacted_message_id"] = str(self.source_message.id)
        if self.triggering is not None:
            meta["triggering_interaction_metadata"] = self.triggering.metadata()
        return meta


@dataclass
class ModalField:
    """A text input (or select) in a modal, flattened from rows or labels."""

    custom_id: str
    label: str
    type: int
    required: bool
    min_length: int | None
    max_length: int | None
    value: str | None
    placeholder: str | None
    options: list[JSON]


class Modal:
    """A modal the bot opened; hand it to ``member.submit``."""

    def __init__(self, data: JSON, opened_by: InteractionRecord) -> None:
        self.data = data
        self.custom_id: str = data["custom_id"]
        self.title: str = data.get("title", "")
        self.components: list[JSON] = data.get("components", [])
        self.opened_by = opened_by
        self.submitted = False

    @property
    def fields(self) -> list[ModalField]:
        result: list[ModalField] = []
        for top in self.components:
            if top.get("type") == 1:
                inners = [(c, c.get("label") or "") for c in top.get("components", [])]
            elif top.get("type") == 18:
                inners = [(top.get("component") or {}, top.get("label") or "")]
            else:
                continue
            for inner, label in inners:
                if "custom_id" not in inner:
                    continue
                result.append(
                    ModalField(
                        custom_id=inner["custom_id"],
                        label=label,
                        type=int(inner.get("type", TEXT_INPUT)),
                        required=bool(inner.get("required", True)),
                        min_length=inner.get("min_length"),
                        max_length=inner.get("max_length"),
                        value=inner.get("value"),
                        placeholder=inner.get("placeholder"),
                        options=list(inner.get("options") or []),
                    )
                )
        return result

    @property
    def labels(self) -> list[str]:
        return [f.label for f in self.fields]

    def __repr__(self) -> str:
        return f"<Modal {self.title!r} custom_id={self.custom_id!r} fields={self.labels}>"


class Reply:
    """What the person saw: a message (maybe ephemeral), an edit, a modal, or choices."""

    def __init__(
        self,
        kind: str,
        interaction: InteractionRecord,
        *,
        message: Message | None = None,
        modal: Modal | None = None,
        choices: list[JSON] | None = None,
    ) -> None:
        #: "message" (new message), "update" (the clicked message changed), "deferred" (only an
        #: acknowledgement), "modal" or "choices".
        self.kind = kind
        self.interaction = interaction
        self.message = message
        self.modal = modal
        self.choices = choices

    @property
    def content(self) -> str:
        return self.message.content if self.message else ""

    @property
    def embeds(self) -> list[JSON]:
        return self.message.embeds if self.message else []

    @property
    def embed(self) -> JSON | None:
        return self.embeds[0] if self.embeds else None

    @property
    def components(self) -> list[JSON]:
        return self.message.components if self.message else []

    @property
    def attachments(self) -> list[Attachment]:
        return self.message.attachments if self.message else []

    @property
    def ephemeral(self) -> bool:
        return bool(self.message and self.message.ephemeral)

    @property
    def text(self) -> str:
        """Content and embed text together, for ``in`` assertions."""
        return self.message.text if self.message else ""

    @property
    def buttons(self) -> list[JSON]:
        return self.message.buttons if self.message else []

    @property
    def button_labels(self) -> list[str]:
        return self.message.button_labels if self.message else []

    @property
    def followups(self) -> list[Message]:
        """Further messages the bot sent on this interaction's token (live list)."""
        return self.interaction.followups

    async def wait_followup(self, count: int = 1, *, timeout: float = 5.0) -> Message:  # noqa: ASYNC109
        """Wait for the ``count``-th followup message and return it."""
        world = self.interaction.channel.world
        return await world.wait_for(
            lambda: self.followups[count - 1] if len(self.followups) >= count else None,
            timeout=timeout,
            what=f"followup #{count}",
        )

    def __repr__(self) -> str:
        if self.kind == "modal":
            return f"<Reply modal {self.modal!r}>"
        if self.kind == "choices":
            return f"<Reply choices={self.choices!r}>"
        return f"<Reply {self.kind} ephemeral={self.ephemeral} text={self.text[:80]!r}>"


@dataclass
class _Context:
    user: User
    member: Member | None
    guild: Guild | None
    channel: Channel


class Actions:
    """Drives interactions for simulated people and answers the bot's interaction REST calls."""

    def __init__(
        self,
        world: World,
        *,
        deadline: float = 3.0,
        reply_timeout: float = 10.0,
        token_lifetime: float = 900.0,
    ) -> None:
        self.world = world
        self.deadline = deadline
        self.reply_timeout = reply_timeout
        self.token_lifetime = token_lifetime
        self.by_id: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}

    # === the person's side =====================================================================
    def _context(self, actor: Member, channel: Channel | None, in_dm: bool) -> _Context:
        if in_dm or (channel is not None and channel.is_dm):
            dm = self.world.dm_channel_for(actor.user)
            if channel is not None and channel is not dm:
                raise ScenarioError(f"{actor.name} is not a recipient of that DM channel")
            return _Context(actor.user, None, None, dm)
        if not actor.in_guild:
            raise ScenarioError(
                f"{actor.name} has left {actor.guild.name!r}: its commands and buttons are gone"
            )
        channel = channel or actor.guild.default_channel
        if channel.is_forum or channel.type == 4:
            raise ScenarioError(f"#{channel.name} has no message box; use one of its threads")
        if channel.guild is not actor.guild:
            raise ScenarioError(
                f"{channel!r} is not in {actor.guild.name!r}, where {actor.name} is"
            )
        if not actor.can_see(channel):
            raise ScenarioError(f"{actor.name} cannot see #{channel.name}")
        return _Context(actor.user, actor, actor.guild, channel)

    def _check_connected(self, guild: Guild | None) -> None:
        gateway = self.world.gateway
        if gateway is None or not gateway.has_session_for(guild.id if guild else None):
            raise ScenarioError("the bot is not connected to the emulator's gateway (no session)")

    def _new_record(self, kind: int, ctx: _Context, name: str) -> InteractionRecord:
        loop = asyncio.get_running_loop()
        now = loop.time()
        record = InteractionRecord(
            id=self.world.snowflake(),
            token=secrets.token_urlsafe(60),
            type=kind,
            user=ctx.user,
            member=ctx.member,
            guild=ctx.guild,
            channel=ctx.channel,
            name=name,
            created=now,
            deadline=now + self.deadline,
            token_expires=now + self.token_lifetime,
        )
        self.by_id[record.id] = record
        self.by_token[record.token] = record
        return record

    def _payload(self, record: InteractionRecord, data: JSON) -> JSON:
        channel_payload = record.channel.to_payload()
        payload: JSON = {
            "id": str(record.id),
            "application_id": str(self.world.application_id),
            "type": record.type,
            "data": data,
            "channel_id": str(record.channel.id),
            "channel": channel_payload,
            "token": record.token,
            "version": 1,
            "locale": record.member.locale if record.member else "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(record.guild.id) if record.guild else "0"},
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if record.guild is not None and record.member is not None:
            perms = record.member.permissions(record.channel)
            channel_payload["permissions"] = str(perms)
            payload.update(
                {
                    "guild_id": str(record.guild.id),
                    "guild": {
                        "id": str(record.guild.id),
                        "locale": record.guild.locale,
                        "features": [],
                    },
                    "guild_locale": record.guild.locale,
                    "member": record.member.to_payload(channel=record.channel, permissions=True),
                    "app_permissions": str(self.world.bot_permissions(record.channel)),
                    "context": 0,
                }
            )
        else:
            payload.update(
                {
                    "user": record.user.to_payload(),
                    "app_permissions": str(DM_PERMISSIONS),
                    "context": 1,
                }
            )
        if record.source_message is not None:
            payload["message"] = record.source_message.to_payload()
        return payload

    async def _run(self, record: InteractionRecord, data: JSON, *, follow: bool = True) -> Reply:
        self._check_connected(record.guild)
        self.world.dispatch(
            "INTERACTION_CREATE",
            self._payload(record, data),
            guild_id=record.guild.id if record.guild else None,
        )
        return await self._await_answer(record, follow=follow)

    async def _await_answer(self, record: InteractionRecord, *, follow: bool) -> Reply:
        what = self._describe(record)
        loop = asyncio.get_running_loop()
        try:
            await self.world.wait_for(
                lambda: record.response_type is not None or record.error is not None,
                timeout=max(0.0, record.deadline - loop.time()),
                what=what,
            )
        except TimeoutError:
            raise NoAnswerError(
                f"the bot did not answer {what} within {self.deadline:g}s "
                "(Discord shows 'The application did not respond')"
            ) from None
        if record.error is not None:
            raise AnswerRejectedError(record.error)
        kind = record.response_type
        if kind == MESSAGE:
            return Reply("message", record, message=record.original)
        if kind == UPDATE_MESSAGE:
            return Reply("update", record, message=record.source_message)
        if kind == MODAL:
            return Reply("modal", record, modal=record.modal)
        if kind == AUTOCOMPLETE_RESULT:
            return Reply("choices", record, choices=record.choices)
        if kind == DEFERRED_UPDATE and not follow:
            return Reply("deferred", record, message=record.source_message)
        try:
            await self.world.wait_for(
                lambda: record.updates > 0 or record.error is not None,
                timeout=self.reply_timeout,
                what=f"followup to {what}",
            )
        except TimeoutError:
            raise NoAnswerError(
                f"the bot deferred {what} but sent nothing within {self.reply_timeout:g}s"
                + (" (Discord keeps showing 'thinking...')" if kind == DEFERRED_MESSAGE else "")
            ) from None
        if record.error is not None and record.updates == 0:
            raise AnswerRejectedError(record.error)
        if kind == DEFERRED_MESSAGE:
            if record.original is not None and not record.original.deleted:
                return Reply("message", record, message=record.original)
            return Reply(
                "message", record, message=record.followups[0] if record.followups else None
            )
        touched = record.last_touched
        if touched is record.source_message:
            return Reply("update", record, message=touched)
        return Reply("message", record, message=touched)

    @staticmethod
    def _describe(record: InteractionRecord) -> str:
        kinds = {
            APPLICATION_COMMAND: "/",
            AUTOCOMPLETE: "autocomplete for /",
            COMPONENT: "component ",
            MODAL_SUBMIT: "modal ",
        }
        return f"{record.user.username}'s {kinds.get(record.type, '')}{record.name}"

    # --- slash commands ---------------------------------------------------------------------
    def _command(self, ctx: _Context, actor: Member, path: str) -> tuple[JSON, list[str]]:
        tokens = path.strip().lstrip("/").split()
        if not tokens:
            raise ScenarioError("empty command")
        cmd = self.world.find_command(tokens[0], ctx.guild)
        if cmd is None:
            scopes = [
                *(self.world.commands.get(ctx.guild.id, {}) if ctx.guild else {}),
                *self.world.commands.get(None, {}),
            ]
            known = sorted({name for name, kind in scopes if kind == 1})
            raise ScenarioError(
                f"/{tokens[0]} is not synced {'here' if ctx.guild else 'for DMs'}; synced: {known}"
            )
        if ctx.guild is None:
            contexts = cmd.get("contexts")
            if (
                cmd.get("guild_id")
                or cmd.get("dm_permission") is False
                or (contexts is not None and 1 not in contexts)
            ):
                raise ScenarioError(f"/{tokens[0]} cannot be used in DMs")
        elif ctx.member is not None:
            self._check_command_permissions(cmd, ctx)
        return cmd, tokens[1:]

    def _check_command_permissions(self, cmd: JSON, ctx: _Context) -> None:
        assert ctx.member is not None and ctx.guild is not None
        raw = cmd.get("default_member_permissions")
        if raw is None:
            return
        required = int(raw)
        perms = ctx.member.permissions(ctx.channel)
        if perms == ALL_PERMISSIONS or perms & Permission.ADMINISTRATOR:
            return
        if required and perms & required == required:
            return
        allowed = ctx.guild.command_overrides.get(cmd["name"], set())
        ids = {ctx.member.id, ctx.guild.id, *(r.id for r in ctx.member.roles)}
        if allowed & ids:
            return
        names = [p.name for p in Permission if required & p] or ["ADMINISTRATOR"]
        raise ScenarioError(
            f"{ctx.member.name} cannot see /{cmd['name']}: "
            f"it needs {'+'.join(str(n) for n in names)} "
            "(use guild.allow_command to model a server admin's override)"
        )

    def _walk(self, cmd: JSON, sub_path: Sequence[str]) -> tuple[JSON, list[JSON], list[JSON]]:
        """Returns (data, leaf option definitions, the list the leaf's option values go in)."""
        data: JSON = {"id": str(cmd["id"]), "name": cmd["name"], "type": 1}
        if cmd.get("guild_id"):
            data["guild_id"] = str(cmd["guild_id"])
        node = cmd
        holder = data
        shown = cmd["name"]
        for token in sub_path:
            children = [o for o in node.get("options") or [] if o.get("type") in (1, 2)]
            match = next((o for o in children if o["name"] == token), None)
            if match is None:
                raise ScenarioError(
                    f"/{shown} has no subcommand {token!r}; it has {[o['name'] for o in children]}"
                )
            entry: JSON = {"name": token, "type": match["type"], "options": []}
            holder["options"] = [entry]
            holder = entry
            node = match
            shown = f"{shown} {token}"
        leaf_defs = list(node.get("options") or [])
        if any(o.get("type") in (1, 2) for o in leaf_defs):
            raise ScenarioError(f"/{shown} needs a subcommand: {[o['name'] for o in leaf_defs]}")
        values: list[JSON] = []
        holder["options"] = values
        return data, leaf_defs, values

    async def slash(
        self,
        actor: Member,
        command: str,
        *,
        in_channel: Channel | None,
        in_dm: bool,
        options: Mapping[str, Any],
    ) -> Reply:
        ctx = self._context(actor, in_channel, in_dm)
        cmd, sub_path = self._command(ctx, actor, command)
        data, defs, values = self._walk(cmd, sub_path)
        resolved: JSON = {}
        by_name = {d["name"]: d for d in defs}
        unknown = set(options) - set(by_name)
        if unknown:
            raise ScenarioError(
                f"/{command} has no option(s) {sorted(unknown)}; it has {sorted(by_name)}"
            )
        for d in defs:
            if d["name"] not in options or options[d["name"]] is None:
                if d.get("required"):
                    raise ScenarioError(f"/{command} needs option {d['name']!r}")
                continue
            values.append(self._option_value(ctx, command, d, options[d["name"]], resolved))
        if resolved:
            data["resolved"] = resolved
        record = self._new_record(APPLICATION_COMMAND, ctx, command.strip().lstrip("/"))
        return await self._run(record, data)

    async def autocomplete(
        self,
        actor: Member,
        command: str,
        option: str,
        typed: str,
        *,
        in_channel: Channel | None,
        in_dm: bool,
        options: Mapping[str, Any],
    ) -> list[JSON]:
        ctx = self._context(actor, in_channel, in_dm)
        cmd, sub_path = self._command(ctx, actor, command)
        data, defs, values = self._walk(cmd, sub_path)
        by_name = {d["name"]: d for d in defs}
        focused = by_name.get(option)
        if focused is None:
            raise ScenarioError(f"/{command} has no option {option!r}; it has {sorted(by_name)}")
        if not focused.get("autocomplete"):
            raise ScenarioError(f"option {option!r} of /{command} is not an autocomplete option")
        unknown = set(options) - set(by_name)
        if unknown:
            raise ScenarioError(f"/{command} has no option(s) {sorted(unknown)}")
        for d in defs:
            if d["name"] == option:
                values.append({"name": option, "type": d["type"], "value": typed, "focused": True})
            elif options.get(d["name"]) is not None:
                entry = self._option_value(ctx, command, d, options[d["name"]], {})
                values.append(entry)
        record = self._new_record(AUTOCOMPLETE, ctx, command.strip().lstrip("/"))
        record.focused_type = int(focused["type"])
        reply = await self._run(record, data)
        return list(reply.choices or [])

    def _option_value(
        self, ctx: _Context, command: str, d: JSON, value: Any, resolved: JSON
    ) -> JSON:
        kind = int(d["type"])
        name = d["name"]
        where = f"option {name!r} of /{command}"
        entry: JSON = {"name": name, "type": kind}
        if kind == 3:
            if not isinstance(value, str):
                raise ScenarioError(f"{where} takes a string, got {value!r}")
            if d.get("min_length") is not None and len(value) < d["min_length"]:
                raise ScenarioError(f"{where} needs at least {d['min_length']} characters")
            if d.get("max_length") is not None and len(value) > d["max_length"]:
                raise ScenarioError(f"{where} takes at most {d['max_length']} characters")
            if len(value) > 6000:
                raise ScenarioError(f"{where}: Discord's client refuses more than 6000 characters")
        elif kind in SCALAR_CHECKS and not SCALAR_CHECKS[kind][0](value):
            raise ScenarioError(f"{where} takes {SCALAR_CHECKS[kind][1]}, got {value!r}")
        if kind in (4, 10):
            if d.get("min_value") is not None and value < d["min_value"]:
                raise ScenarioError(f"{where} must be >= {d['min_value']}")
            if d.get("max_value") is not None and value > d["max_value"]:
                raise ScenarioError(f"{where} must be <= {d['max_value']}")
        if kind in (3, 4, 10) and d.get("choices"):
            allowed = [c["value"] for c in d["choices"]]
            if value not in allowed:
                by_label = {c["name"]: c["value"] for c in d["choices"]}
                if value in by_label:
                    value = by_label[value]
                else:
                    raise ScenarioError(f"{where} must be one of {allowed}, got {value!r}")
        if kind in (3, 4, 5, 10):
            entry["value"] = value
            return entry
        if kind == 11:
            filename, content = (
                value if isinstance(value, tuple) else (getattr(value, "filename", "file"), value)
            )
            att_id = self.world.snowflake()
            data = bytes(content.data if isinstance(content, Attachment) else content)
            att = Attachment(
                att_id,
                str(filename),
                data,
                None,
                f"{self.world.base_url}/attachments/{ctx.channel.id}/{att_id}/{filename}",
            )
            resolved.setdefault("attachments", {})[str(att_id)] = att.to_payload()
            entry["value"] = str(att_id)
            return entry
        entry["value"] = str(
            self._resolve_entity(ctx, where, kind, value, resolved, d.get("channel_types"))
        )
        return entry

    def _resolve_entity(
        self,
        ctx: _Context,
        where: str,
        kind: int,
        value: Any,
        resolved: JSON,
        channel_types: Sequence[int] | None = None,
    ) -> int:
        """Adds users/members/roles/channels to ``resolved`` as Discord does; returns the id."""
        if isinstance(value, Member | User) and kind in (6, 9):
            user = value.user if isinstance(value, Member) else value
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            if ctx.guild is not None and user.id in ctx.guild.members:
                member = ctx.guild.members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = member.to_payload(
                    with_user=False, channel=ctx.channel, permissions=True
                )
            return user.id
        if isinstance(value, Role) and kind in (8, 9):
            if ctx.guild is None or value.id not in ctx.guild.roles:
                raise ScenarioError(f"{where}: role {value.name!r} is not in this guild")
            resolved.setdefault("roles", {})[str(value.id)] = value.to_payload()
            return value.id
        if isinstance(value, Channel) and kind == 7:
            if ctx.guild is None or value.guild is not ctx.guild:
                raise ScenarioError(f"{where}: {value!r} is not in this guild")
            if channel_types and value.type not in channel_types:
                raise ScenarioError(
                    f"{where} accepts channel types {list(channel_types)}, got {value.type}"
                )
            entry: JSON = {
                "id": str(value.id),
                "name": value.name,
                "type": value.type,
                "permissions": str(ctx.member.permissions(value) if ctx.member else 0),
            }
            if value.is_thread:
                entry["parent_id"] = str(value.parent_id)
                entry["thread_metadata"] = value.to_payload()["thread_metadata"]
            elif value.parent_id is not None:
                entry["parent_id"] = str(value.parent_id)
            resolved.setdefault("channels", {})[str(value.id)] = entry
            return value.id
        raise ScenarioError(f"{where} takes a {OPTION_TYPES.get(kind, kind)}, got {value!r}")

    # --- components ---------------------------------------------------------------------------
    def _component_context(
        self, actor: Member, target: Message | Reply
    ) -> tuple[_Context, Message]:
        message = target.message if isinstance(target, Reply) else target
        if message is None:
            raise ScenarioError("that reply has no message to interact with")
        live = self.world.messages.get(message.id)
        if live is None or live.deleted:
            raise ScenarioError(f"message {message.id} no longer exists")
        if live.visible_to is not None and live.visible_to != actor.id:
            raise ScenarioError(f"{actor.name} cannot see that ephemeral message")
        ctx = self._context(actor, live.channel, live.channel.is_dm)
        return ctx, live

    async def press(
        self,
        actor: Member,
        target: Message | Reply,
        *,
        label: str | None,
        custom_id: str | None,
        follow: bool,
    ) -> Reply:
        ctx, message = self._component_context(actor, target)
        buttons = message.buttons
        matches = [
            b
            for b in buttons
            if (custom_id is not None and b.get("custom_id") == custom_id)
            or (custom_id is None and label is not None and b.get("label") == label)
        ]
        wanted = repr(custom_id) if custom_id is not None else repr(label)
        if label is None and custom_id is None:
            if len(buttons) != 1:
                raise ScenarioError(
                    f"say which button to press; the message has {message.button_labels}"
                )
            matches = buttons
        if not matches:
            raise ScenarioError(
                f"no button {wanted} on the message; it has {message.button_labels}"
            )
        if len(matches) > 1:
            raise ScenarioError(f"{len(matches)} buttons match {wanted}; press by custom_id")
        button = matches[0]
        if button.get("disabled"):
            raise ScenarioError(f"button {wanted} is disabled")
        if button.get("style") == 5 or "custom_id" not in button:
            raise ScenarioError(
                f"button {wanted} is a link (or premium) button; pressing it sends no interaction"
            )
        record = self._new_record(COMPONENT, ctx, str(button.get("label") or button["custom_id"]))
        record.source_message = message
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._run(record, data, follow=follow)

    async def choose(
        self,
        actor: Member,
        target: Message | Reply,
        values: Sequence[Any],
        *,
        custom_id: str | None,
        placeholder: str | None,
        follow: bool,
    ) -> Reply:
        ctx, message = self._component_context(actor, target)
        selects = [c for c in message.interactive_components() if c.get("type") in SELECT_TYPES]
        if custom_id is not None:
            selects = [s for s in selects if s.get("custom_id") == custom_id]
        elif placeholder is not None:
            selects = [s for s in selects if s.get("placeholder") == placeholder]
        if len(selects) != 1:
            raise ScenarioError(f"expected one matching select menu, found {len(selects)}")
        select = selects[0]
        if select.get("disabled"):
            raise ScenarioError("that select menu is disabled")
        low, high = int(select.get("min_values", 1)), int(select.get("max_values", 1))
        if not low <= len(values) <= high:
            raise ScenarioError(f"the select takes {low}..{high} values, got {len(values)}")
        kind = int(select["type"])
        data: JSON = {"custom_id": select["custom_id"], "component_type": kind}
        if kind == 3:
            options = select.get("options") or []
            by_label = {o["label"]: o["value"] for o in options}
            allowed = [o["value"] for o in options]
            picked: list[str] = []
            for v in values:
                if v in allowed:
                    picked.append(v)
                elif v in by_label:
                    picked.append(by_label[v])
                else:
                    raise ScenarioError(f"{v!r} is not an option; options are {allowed}")
            data["values"] = picked
        else:
            resolved: JSON = {}
            entity_kind = {5: 6, 6: 8, 7: 9, 8: 7}[kind]
            data["values"] = [
                str(
                    self._resolve_entity(
                        ctx, "select", entity_kind, v, resolved, select.get("channel_types")
                    )
                )
                for v in values
            ]
            data["resolved"] = resolved
        record = self._new_record(
            COMPONENT, ctx, str(select.get("placeholder") or select["custom_id"])
        )
        record.source_message = message
        return await self._run(record, data, follow=follow)

    # --- modals ---------------------------------------------------------------------------------
    async def submit(
        self, actor: Member, target: Modal | Reply, values: Mapping[str, Any], *, follow: bool
    ) -> Reply:
        modal = target.modal if isinstance(target, Reply) else target
        if modal is None:
            raise ScenarioError("the bot did not open a modal here")
        opener = modal.opened_by
        if opener.user.id != actor.id:
            raise ScenarioError(
                f"that modal was opened for {opener.user.username}, not {actor.name}"
            )
        if modal.submitted:
            raise ScenarioError("that modal was already submitted")
        fields = modal.fields
        known = {f.custom_id for f in fields} | {f.label for f in fields}
        unknown = set(values) - known
        if unknown:
            raise ScenarioError(
                f"the modal has no field(s) {sorted(unknown)}; fields: {[f.label for f in fields]}"
            )
        answers: dict[str, Any] = {}
        for f in fields:
            value = values.get(f.custom_id, values.get(f.label))
            if f.type == TEXT_INPUT:
                text = (f.value or "") if value is None else str(value)
                if f.required and not text:
                    raise ScenarioError(f"field {f.label!r} is required")
                if text and f.min_length is not None and len(text) < f.min_length:
                    raise ScenarioError(
                        f"field {f.label!r} needs at least {f.min_length} characters"
                    )
                limit = min(f.max_length or 4000, 4000)
                if len(text) > limit:
                    raise ScenarioError(f"field {f.label!r} takes at most {limit} characters")
                answers[f.custom_id] = text
            else:
                picked = list(value or [])
                if f.required and not picked:
                    raise ScenarioError(f"field {f.label!r} is required")
                answers[f.custom_id] = [str(v) for v in picked]
        components: list[JSON] = []
        for top in modal.components:
            if top.get("type") == 1:
                components.append(
                    {
                        "type": 1,
                        "components": [
                            self._submitted(c, answers)
                            for c in top.get("components", [])
                            if "custom_id" in c
                        ],
                    }
                )
            elif top.get("type") == 18:
                inner = top.get("component") or {}
                if "custom_id" in inner:
                    components.append(
                        {
                            "type": 18,
                            "id": top.get("id", 0),
                            "component": self._submitted(inner, answers),
                        }
                    )
            elif top.get("type") == 10:
                components.append({"type": 10, "id": top.get("id", 0)})
        modal.submitted = True
        ctx = _Context(opener.user, opener.member, opener.guild, opener.channel)
        record = self._new_record(MODAL_SUBMIT, ctx, modal.title or modal.custom_id)
        record.source_message = opener.source_message
        record.triggering = opener
        data = {"custom_id": modal.custom_id, "components": components}
        return await self._run(record, data, follow=follow)

    @staticmethod
    def _submitted(component: JSON, answers: Mapping[str, Any]) -> JSON:
        value = answers.get(component["custom_id"])
        out: JSON = {
            "type": component.get("type", TEXT_INPUT),
            "id": component.get("id", 0),
            "custom_id": component["custom_id"],
        }
        if isinstance(value, list):
            out["values"] = value
        else:
            out["value"] = value or ""
        return out

    # --- plain messages ---------------------------------------------------------------------------
    async def say(self, actor: Member, channel: Channel, content: str) -> Message:
        if channel.is_dm:
            if actor.user not in channel.recipients:
                raise ScenarioError(f"{actor.name} is not in that DM")
        else:
            if channel.guild is not actor.guild or not actor.can_see(channel):
                raise ScenarioError(f"{actor.name} cannot see #{channel.name}")
            needed = (
                Permission.SEND_MESSAGES_IN_THREADS
                if channel.is_thread
                else Permission.SEND_MESSAGES
            )
            if not actor.has_permission(needed, channel) or channel.is_forum:
                raise ScenarioError(f"{actor.name} cannot post in #{channel.name}")
        if len(content) > 2000 or not content:
            raise ScenarioError("Discord's client only sends 1..2000 characters")
        return self.world.create_message(channel, actor.user, {"content": content})

    # === the bot's side (REST) ====================================================
    def record_for_token(self, application_id: str, token: str) -> InteractionRecord:
        record = self.by_token.get(token)
        if record is None or application_id != str(self.world.application_id):
            raise ApiError(404, 10015, "Unknown Webhook")
        if asyncio.get_running_loop().time() > record.token_expires:
            raise ApiError(
                401,
                50027,
                "Invalid Webhook Token",
                explanation="interaction tokens last 15 minutes",
            )
        return record

    def reject(self, record: InteractionRecord | None, violation: Violation) -> None:
        """A callback or followup Discord refused: the waiting person gets the reason."""
        if record is not None and record.error is None:
            record.error = violation
            self.world.notify()

    def record_for_callback(self, interaction_id: str, token: str) -> InteractionRecord:
        record = self.by_id.get(int(interaction_id)) if interaction_id.isdigit() else None
        if record is None or record.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        return record

    def callback(self, record: InteractionRecord, body: JSON, uploads: Sequence[Upload]) -> JSON:
        now = asyncio.get_running_loop().time()
        if record.response_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if now > record.deadline:
            record.late = True
            raise ApiError(
                404,
                10062,
                "Unknown interaction",
                explanation=f"initial response {now - record.created:.2f}s after the interaction; "
                f"the limit is {self.deadline:g}s",
            )
        kind = body.get("type")
        data = body.get("data") or {}
        if kind not in ALLOWED_CALLBACKS[record.type] or (
            # A modal opened by a slash command has no message to update; a plain
            # acknowledgement (type 6) still closes it.
            kind == UPDATE_MESSAGE and record.source_message is None
        ):
            errors = FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Callback type {kind} is not valid for interaction type {record.type}",
            )
            errors.raise_if_any()
        world = self.world
        resource: JSON = {"type": kind}
        if kind == MESSAGE:
            world.check_message_body(data, uploads, creating=True)
            record.original = self._create_response_message(record, data, uploads)
            resource["message"] = record.original.to_payload()
        elif kind == DEFERRED_MESSAGE:
            ephemeral = int(data.get("flags") or 0) & FLAG_EPHEMERAL
            record.original = world.create_message(
                record.channel,
                world.bot_user,
                {"content": ""},
                type=self._message_type(record),
                webhook_id=world.application_id,
                interaction_metadata=record.metadata(),
                ephemeral_for=record.user.id if ephemeral else None,
                extra_flags=FLAG_LOADING | ephemeral,
            )
        elif kind == UPDATE_MESSAGE:
            assert record.source_message is not None
            world.check_message_body(data, uploads, creating=False, existing=record.source_message)
            world.edit_message(record.source_message, data, uploads)
            record.original = record.source_message
            resource["message"] = record.source_message.to_payload()
        elif kind == DEFERRED_UPDATE:
            record.original = record.source_message
        elif kind == AUTOCOMPLETE_RESULT:
            errors = FormErrors()
            choices = data.get("choices")
            validate_choices(choices, errors)
            for i, choice in enumerate(choices or []):
                value = choice.get("value")
                if record.focused_type == 3 and not isinstance(value, str):
                    errors.add(
                        ("data", "choices", i, "value"), "BASE_TYPE_STRING", "Must be a string."
                    )
                if record.focused_type == 4 and (
                    not isinstance(value, int) or isinstance(value, bool)
                ):
                    errors.add(
                        ("data", "choices", i, "value"), "NUMBER_TYPE_COERCE", "Value is not int."
                    )
                if record.focused_type == 10 and not isinstance(value, int | float):
                    errors.add(
                        ("data", "choices", i, "value"),
                        "NUMBER_TYPE_COERCE",
                        "Value is not a number.",
                    )
            errors.raise_if_any()
            record.choices = list(choices or [])
        elif kind == MODAL:
            errors = FormErrors()
            validate_modal(data, errors)
            errors.raise_if_any()
            record.modal = Modal(data, record)
        record.response_type = int(str(kind))
        record.answered_at = now
        world.notify()
        interaction: JSON = {"id": str(record.id), "type": record.type}
        if record.original is not None and kind in (MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE):
            interaction.update(
                {
                    "response_message_id": str(record.original.id),
                    "response_message_loading": kind == DEFERRED_MESSAGE,
                    "response_message_ephemeral": record.original.ephemeral,
                }
            )
        return {"interaction": interaction, "resource": resource}

    @staticmethod
    def _message_type(record: InteractionRecord) -> int:
        return 20 if record.type == APPLICATION_COMMAND else 0

    def _create_response_message(
        self, record: InteractionRecord, body: JSON, uploads: Sequence[Upload]
    ) -> Message:
        ephemeral = int(body.get("flags") or 0) & FLAG_EPHEMERAL
        message = self.world.create_message(
            record.channel,
            self.world.bot_user,
            body,
            uploads,
            type=self._message_type(record),
            webhook_id=self.world.application_id,
            interaction_metadata=record.metadata(),
            ephemeral_for=record.user.id if ephemeral else None,
            extra_flags=ephemeral,
        )
        if ephemeral:
            message.pings = Pings()
        return message

    def followup(self, record: InteractionRecord, body: JSON, uploads: Sequence[Upload]) -> Message:
        if record.response_type is None or record.response_type in (AUTOCOMPLETE_RESULT, MODAL):
            raise ApiError(
                404,
                10015,
                "Unknown Webhook",
                explanation="followups need an acknowledged interaction with a message response",
            )
        self.world.check_message_body(body, uploads, creating=True)
        original = record.original
        if (
            record.response_type == DEFERRED_MESSAGE
            and original is not None
            and original.loading
            and not original.deleted
        ):
            # Discord turns the first followup after a "thinking" deferral into the response.
            original.flags &= ~FLAG_LOADING
            edit: JSON = {
                k: body[k]
                for k in ("content", "embeds", "components", "attachments", "allowed_mentions")
                if k in body
            }
            message = self.world.edit_message(original, edit, uploads)
            message.edited_at = None
        else:
            message = self._create_response_message(record, body, uploads)
            record.followups.append(message)
        record.updates += 1
        record.last_touched = message
        self.world.notify()
        return message

    def webhook_message(
        self,
        record: InteractionRecord,
        method: str,
        message_id: str,
        body: JSON | None,
        uploads: Sequence[Upload],
    ) -> Message | None:
        if message_id == "@original":
            target = record.original
        else:
            target = next(
                (m for m in [record.original, *record.followups] if m and str(m.id) == message_id),
                None,
            )
        if target is None or target.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        if method == "GET":
            return target
        if method == "DELETE":
            self.world.delete_message(target)
            record.updates += 1
            record.last_touched = target
            self.world.notify()
            return None
        body = body or {}
        self.world.check_message_body(body, uploads, creating=False, existing=target)
        target.flags &= ~FLAG_LOADING
        self.world.edit_message(target, body, uploads)
        record.updates += 1
        record.last_touched = target
        self.world.notify()
        return target
