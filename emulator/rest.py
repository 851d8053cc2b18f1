"""The REST API under ``/api/v10``: the routes a bot uses, with Discord's checks and error codes.

One catch-all aiohttp handler does what Discord's edge does for every request (auth, injected
faults, latency, recording) and then dispatches to a small route table, so an unknown route is a
404 *and* a recorded violation instead of a silent pass.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import spec
from .errors import ApiError, FormErrors, Violation
from .faults import FaultAnswer, Faults
from .model import (
    FORUM,
    FORUM_REQUIRE_TAG,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    TEXT,
    Channel,
    ForumTag,
    Guild,
    Message,
    opt_str,
)
from .permissions import Overwrite, Permission
from .snowflake import iso_now
from .validation import CHANNEL_NAME_MAX, FORUM_TAGS_MAX, TAGS_PER_THREAD_MAX, validate_commands

if TYPE_CHECKING:
    from .gateway import Gateway
    from .interactions import Actions, InteractionRecord
    from .world import Upload, World

JSON = dict[str, Any]
API_PREFIX = re.compile(r"^/api/v(9|10)(?=/)")
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)


@dataclass
class RequestRecord:
    """One REST request as the emulator saw it."""

    method: str
    path: str
    route: str
    query: dict[str, str]
    json: Any
    files: list[str]
    status: int
    time: float
    duration: float = 0.0
    #: When it arrived, on the emulator's clock (rate limits count on it).
    at: float = 0.0


@dataclass
class Ctx:
    """What a route handler gets."""

    request: web.Request
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    uploads: list[Upload]
    interaction: InteractionRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def json(self) -> JSON:
        if not isinstance(self.body, dict):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        return self.body

    def param_int(self, name: str, *, unknown: tuple[int, str]) -> int:
        raw = self.params[name]
        if not raw.isdigit():
            raise ApiError(404, unknown[0], unknown[1])
        return int(raw)


Handler = Callable[[Ctx], Awaitable[Any]]
NO_CONTENT = object()


@dataclass(frozen=True)
class Created:
    """A handler's answer that Discord sends as ``201 Created`` (new threads, channels,
    commands), not 200."""

    body: Any


@dataclass
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler
    auth: bool


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """JSON with ``Content-Type: application/json`` exactly (discord.py checks equality)."""
    out = dict(headers or {})
    out["Content-Type"] = "application/json"
    return web.Response(body=json.dumps(data).encode(), status=status, headers=out)


class Rest:
    """Route table and handlers; state lives in :class:`World`."""

    def __init__(
        self,
        world: World,
        actions: Actions,
        faults: Faults,
        gateway: Gateway,
        *,
        shard_count: int = 1,
    ) -> None:
        self.world = world
        self.actions = actions
        self.faults = faults
        self.gateway = gateway
        self.shard_count = shard_count
        self.requests: list[RequestRecord] = []
        self.invalid_requests = 0
        self.routes: list[Route] = []
        self._register()

    # --- table ------------------------------------------------------------------------------
    def add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        regex = "".join(
            f"(?P<{part[1:-1]}>[^/]+)" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        self.routes.append(Route(method, template, re.compile(f"^{regex}$"), handler, auth))

    def _register(self) -> None:
        a = self.add
        a("GET", "/users/@me", self.get_me)
        a("POST", "/users/@me/channels", self.create_dm)
        a("GET", "/users/{user_id}", self.get_user)
        a("GET", "/oauth2/applications/@me", self.get_application)
        a("GET", "/applications/@me", self.get_application)
        a("GET", "/gateway", self.get_gateway, auth=False)
        a("GET", "/gateway/bot", self.get_gateway_bot)
        # Before ``{command_id}``: the literal segment wins, as in Discord's router.
        a(
            "GET",
            "/applications/{app_id}/guilds/{guild_id}/commands/permissions",
            self.command_permissions,
        )
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            a("GET", f"{prefix}/commands", self.list_commands)
            a("PUT", f"{prefix}/commands", self.put_commands)
            a("POST", f"{prefix}/commands", self.upsert_command)
            a("GET", f"{prefix}/commands/{{command_id}}", self.get_command)
            a("PATCH", f"{prefix}/commands/{{command_id}}", self.edit_command)
            a("DELETE", f"{prefix}/commands/{{command_id}}", self.delete_command)
        a(
            "POST",
            "/interactions/{interaction_id}/{token}/callback",
            self.interaction_callback,
            auth=False,
        )
        a("POST", "/webhooks/{app_id}/{token}", self.execute_webhook, auth=False)
        for method in ("GET", "PATCH", "DELETE"):
            a(
                method,
                "/webhooks/{app_id}/{token}/messages/{message_id}",
                self.webhook_message,
                auth=False,
            )
        a("GET", "/channels/{channel_id}", self.get_channel)
        a("PATCH", "/channels/{channel_id}", self.edit_channel)
        a("DELETE", "/channels/{channel_id}", self.delete_channel)
        a("GET", "/channels/{channel_id}/messages", self.list_messages)
        a("POST", "/channels/{channel_id}/messages", self.create_message)
        a("GET", "/channels/{channel_id}/messages/pins", self.list_pins)
        a("PUT", "/channels/{channel_id}/messages/pins/{message_id}", self.pin)
        a("DELETE", "/channels/{channel_id}/messages/pins/{message_id}", self.unpin)
        a("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        a("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        a("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        a(
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.add_reaction,
        )
        a(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.remove_reaction,
        )
        a("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message)
        a("POST", "/channels/{channel_id}/typing", self.typing)
        a("POST", "/channels/{channel_id}/threads", self.create_thread)
        a("GET", "/channels/{channel_id}/threads/archived/public", self.archived_threads)
        a("GET", "/channels/{channel_id}/threads/archived/private", self.archived_threads)
        a("GET", "/channels/{channel_id}/thread-members", self.list_thread_members)
        a("GET", "/channels/{channel_id}/thread-members/{user_id}", self.get_thread_member)
        a("PUT", "/channels/{channel_id}/thread-members/{user_id}", self.add_thread_member)
        a("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self.remove_thread_member)
        a("GET", "/guilds/{guild_id}", self.get_guild)
        a("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        a("POST", "/guilds/{guild_id}/channels", self.create_guild_channel)
        a("GET", "/guilds/{guild_id}/threads/active", self.active_threads)
        a("GET", "/guilds/{guild_id}/members", self.list_members)
        a("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        a("GET", "/guilds/{guild_id}/roles", self.list_roles)
        a("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.add_role)
        a("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self.remove_role)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_exists_with_another_method)."""
        other = False
        for route in self.routes:
            m = route.regex.match(path)
            if m is None:
                continue
            if route.method == method:
                return route, m.groupdict(), False
            other = True
        return None, {}, other

    # --- the edge ---------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        raw_path = request.path
        path = API_PREFIX.sub("", raw_path)
        method = request.method
        body, uploads = await self._read_body(request)
        route, params, other_method = self.match(method, path)
        record = RequestRecord(
            method,
            path,
            route.template if route else path,
            dict(request.query),
            body,
            [u.filename for u in uploads],
            0,
            started,
            at=self.faults.clock.now(),
        )
        self.requests.append(record)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        response = await self._answer(request, record, route, params, other_method, body, uploads)
        if route is not None and self.faults.response_lost(method, path):
            # Carried out, but the client never hears: drop the connection before answering.
            record.status = 0
            if request.transport is not None:
                request.transport.close()
            self.world.notify()
            return web.Response(status=204)
        record.status = response.status
        record.duration = time.monotonic() - started
        if spec.OBSERVERS and route is not None:
            spec.observe_rest(record, bool(uploads), response.body, response.content_type)
        if response.status in (401, 403, 429):
            self.invalid_requests += 1
        self.world.notify()
        return response

    async def _answer(
        self,
        request: web.Request,
        record: RequestRecord,
        route: Route | None,
        params: dict[str, str],
        other_method: bool,
        body: Any,
        uploads: list[Upload],
    ) -> web.Response:
        method, path = record.method, record.path
        if route is None:
            status, text = (
                (405, "405: Method Not Allowed") if other_method else (404, "404: Not Found")
            )
            self.world.record_violation(
                Violation(method, path, status, 0, f"the emulator has no route {method} {path}")
            )
            return json_response({"message": text, "code": 0}, status=status)
        if route.auth and request.headers.get("Authorization") != f"Bot {self.world.token}":
            self.world.record_violation(
                Violation(method, path, 401, 0, "missing or wrong bot token")
            )
            return json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        exempt = route.template.startswith(("/interactions/", "/webhooks/"))
        fault = self.faults.check(
            method, path, bucket=f"{method} {route.template}", exempt_from_global=exempt
        )
        if fault is not None:
            if isinstance(fault.body, str):
                return web.Response(
                    text=fault.body,
                    status=fault.status,
                    headers=fault.headers,
                    content_type="text/html",
                )
            return json_response(fault.body, status=fault.status, headers=fault.headers)
        major = "+".join(
            params[k] for k in ("channel_id", "guild_id", "app_id", "token") if k in params
        )
        if route.template.endswith("/callback") and route.template.startswith("/interactions/"):
            # An interaction's callback has no rate limit bucket on Discord: no X-RateLimit-*
            # headers (a client that knows the routes, hikari, logs an error on seeing one).
            limited: FaultAnswer | None = None
            headers: dict[str, str] = {}
        else:
            limited, headers = self.faults.take_bucket(f"{method} {route.template}", major)
        if limited is not None:
            assert isinstance(limited.body, dict)
            return json_response(limited.body, status=429, headers=limited.headers)
        ctx = Ctx(request, method, path, params, dict(request.query), body, uploads)
        try:
            result = await route.handler(ctx)
        except ApiError as exc:
            if exc.violation:
                violation = Violation(
                    method,
                    path,
                    exc.status,
                    exc.code,
                    exc.message,
                    {"explanation": exc.explanation, "errors": exc.errors, "body": body},
                )
                self.world.record_violation(violation)
                self.actions.reject(ctx.interaction, violation)
            return json_response(exc.body(), status=exc.status, headers=headers)
        if result is NO_CONTENT:
            return web.Response(status=204, headers=headers)
        if isinstance(result, Created):
            return json_response(result.body, status=201, headers=headers)
        return json_response(result, headers=headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Upload]]:
        from .world import Upload

        if not request.can_read_body:
            return None, []
        content_type = request.content_type
        if content_type.startswith("multipart/"):
            body: Any = None
            uploads: list[Upload] = []
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                data = await part.read()
                if name == "payload_json":
                    body = json.loads(data.decode())
                    continue
                m = re.match(r"^files\[(\d+)\]$", name) or re.match(r"^file(\d*)$", name)
                if m is not None:
                    index = int(m.group(1) or 0)
                    uploads.append(Upload(index, part.filename or f"file{index}", bytes(data)))
            return body, uploads
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode(errors="replace"), []

    # --- lookups ----------------------------------------------------------------------------
    def _channel(self, ctx: Ctx, *, visible: bool = True) -> Channel:
        cid = ctx.param_int("channel_id", unknown=(10003, "Unknown Channel"))
        channel = self.world.channels.get(cid)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        if visible and not self.world.bot_can_see(channel):
            raise ApiError(403, 50001, "Missing Access")
        return channel

    def _message(self, ctx: Ctx, channel: Channel) -> Message:
        mid = ctx.param_int("message_id", unknown=(10008, "Unknown Message"))
        message = self.world.messages.get(mid)
        if (
            message is None
            or message.deleted
            or message.channel is not channel
            or message.visible_to is not None
        ):
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _guild(self, ctx: Ctx) -> Guild:
        gid = ctx.param_int("guild_id", unknown=(10004, "Unknown Guild"))
        guild = self.world.guilds.get(gid)
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _app(self, ctx: Ctx) -> None:
        if ctx.params.get("app_id") != str(self.world.application_id):
            raise ApiError(
                403, 50001, "Missing Access", explanation="not this bot's application id"
            )

    # --- users & app ------------------------------------------------------------------------
    async def get_me(self, ctx: Ctx) -> Any:
        return self.world.bot_user.private_payload()

    async def get_user(self, ctx: Ctx) -> Any:
        uid = ctx.param_int("user_id", unknown=(10013, "Unknown User"))
        user = self.world.users.get(uid)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user.to_payload()

    async def get_application(self, ctx: Ctx) -> Any:
        bot = self.world.bot_user
        return {
            "id": str(self.world.application_id),
            "name": bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": bot.to_payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.world.owner_user.to_payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "flags_new": "0",
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": len(self.world.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["bot", "applications.commands"],
        }

    async def get_gateway(self, ctx: Ctx) -> Any:
        return {"url": self.gateway.url}

    async def get_gateway_bot(self, ctx: Ctx) -> Any:
        return {
            "url": self.gateway.url,
            "shards": self.shard_count,
            "session_start_limit": self.gateway.session_start_limit(),
        }

    async def create_dm(self, ctx: Ctx) -> Any:
        raw = ctx.json.get("recipient_id")
        user = self.world.users.get(int(str(raw))) if str(raw).isdigit() else None
        if user is None or user.id == self.world.bot_user.id:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return self.world.dm_channel_for(user).to_payload()

    # --- commands ---------------------------------------------------------------------------
    def _scope(self, ctx: Ctx) -> int | None:
        self._app(ctx)
        if "guild_id" not in ctx.params:
            return None
        guild = self._guild(ctx)
        return guild.id

    def _stored_command(self, cmd: JSON, scope: int | None, existing: JSON | None) -> JSON:
        stored: JSON = {
            "id": existing["id"] if existing else str(self.world.snowflake()),
            "application_id": str(self.world.application_id),
            "version": str(self.world.snowflake()),
            "type": cmd.get("type", 1),
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            "options": cmd.get("options") or [],
            # Discord answers permissions as a string whatever the request sent.
            "default_member_permissions": opt_str(cmd.get("default_member_permissions")),
            "dm_permission": cmd.get("dm_permission", True),
            "nsfw": cmd.get("nsfw", False),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types") or [0],
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def list_commands(self, ctx: Ctx) -> Any:
        return list(self.world.commands.get(self._scope(ctx), {}).values())

    async def put_commands(self, ctx: Ctx) -> Any:
        scope = self._scope(ctx)
        errors = FormErrors()
        validate_commands(ctx.body, errors)
        errors.raise_if_any()
        old = self.world.commands.get(scope, {})
        new: dict[tuple[str, int], JSON] = {}
        for cmd in ctx.body:
            key = (cmd["name"], int(cmd.get("type", 1)))
            new[key] = self._stored_command(cmd, scope, old.get(key))
        self.world.commands[scope] = new
        return list(new.values())

    async def upsert_command(self, ctx: Ctx) -> Any:
        scope = self._scope(ctx)
        errors = FormErrors()
        validate_commands([ctx.json], errors)
        errors.raise_if_any()
        commands = self.world.commands.setdefault(scope, {})
        key = (ctx.json["name"], int(ctx.json.get("type", 1)))
        existing = commands.get(key)
        commands[key] = self._stored_command(ctx.json, scope, existing)
        return commands[key] if existing else Created(commands[key])

    def _find_command(self, ctx: Ctx) -> tuple[int | None, tuple[str, int], JSON]:
        scope = self._scope(ctx)
        for key, cmd in self.world.commands.get(scope, {}).items():
            if cmd["id"] == ctx.params["command_id"]:
                return scope, key, cmd
        raise ApiError(404, 10063, "Unknown application command")

    async def get_command(self, ctx: Ctx) -> Any:
        return self._find_command(ctx)[2]

    async def edit_command(self, ctx: Ctx) -> Any:
        scope, key, cmd = self._find_command(ctx)
        merged = {**cmd, **ctx.json}
        errors = FormErrors()
        validate_commands([merged], errors)
        errors.raise_if_any()
        del self.world.commands[scope][key]
        stored = self._stored_command(merged, scope, cmd)
        self.world.commands[scope][(stored["name"], int(stored["type"]))] = stored
        return stored

    async def delete_command(self, ctx: Ctx) -> Any:
        scope, key, _ = self._find_command(ctx)
        del self.world.commands[scope][key]
        return NO_CONTENT

    async def command_permissions(self, ctx: Ctx) -> Any:
        self._scope(ctx)
        return []

    # --- interactions -----------------------------------------------------------------------
    async def interaction_callback(self, ctx: Ctx) -> Any:
        record = self.actions.record_for_callback(ctx.params["interaction_id"], ctx.params["token"])
        ctx.interaction = record
        result = self.actions.callback(record, ctx.json, ctx.uploads)
        if ctx.query.get("with_response") in ("1", "true", "True"):
            return result
        return NO_CONTENT

    async def execute_webhook(self, ctx: Ctx) -> Any:
        record = self.actions.record_for_token(ctx.params["app_id"], ctx.params["token"])
        ctx.interaction = record
        message = self.actions.followup(record, ctx.json, ctx.uploads)
        if ctx.query.get("wait") in ("1", "true", "True"):
            return message.to_payload()
        return NO_CONTENT

    async def webhook_message(self, ctx: Ctx) -> Any:
        record = self.actions.record_for_token(ctx.params["app_id"], ctx.params["token"])
        ctx.interaction = record
        body = ctx.json if ctx.method == "PATCH" else None
        message = self.actions.webhook_message(
            record, ctx.method, ctx.params["message_id"], body, ctx.uploads
        )
        return NO_CONTENT if message is None else message.to_payload()

    # --- channels ---------------------------------------------------------------------------
    async def get_channel(self, ctx: Ctx) -> Any:
        return self._channel(ctx).to_payload()

    async def edit_channel(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        body = ctx.json
        if channel.is_dm:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        errors = FormErrors()
        if "name" in body:
            name = body["name"]
            if not isinstance(name, str) or not 1 <= len(name) <= CHANNEL_NAME_MAX:
                errors.add(
                    ("name",),
                    "BASE_TYPE_BAD_LENGTH",
                    f"Must be between 1 and {CHANNEL_NAME_MAX} in length.",
                )
        if channel.is_thread:
            self._edit_thread(channel, body, errors)
        else:
            self._edit_guild_channel(channel, body, errors)
        self.world.channel_updated(channel)
        return channel.to_payload()

    def _edit_thread(self, thread: Channel, body: JSON, errors: FormErrors) -> None:
        perms = self.world.bot_permissions(thread)
        manage = bool(perms & Permission.MANAGE_THREADS)
        owner = thread.owner_id == self.world.bot_user.id
        if thread.archived and body.get("archived") is not False:
            raise ApiError(400, 50083, "Thread is archived")
        if thread.locked and not manage:
            raise ApiError(403, 50013, "Missing Permissions", explanation="the thread is locked")
        owner_fields = {"name", "archived", "auto_archive_duration", "applied_tags", "flags"}
        if not manage and not (owner and set(body) <= owner_fields):
            raise ApiError(403, 50013, "Missing Permissions", explanation="needs MANAGE_THREADS")
        if "applied_tags" in body:
            parent = thread.parent
            tags = [int(t) for t in body["applied_tags"] or []]
            if len(tags) > TAGS_PER_THREAD_MAX:
                errors.add(
                    ("applied_tags",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {TAGS_PER_THREAD_MAX} or fewer in length.",
                )
            self._check_tags(parent, tags, errors, manage=manage)
        if (
            "auto_archive_duration" in body
            and body["auto_archive_duration"] not in ARCHIVE_DURATIONS
        ):
            errors.add(
                ("auto_archive_duration",),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {ARCHIVE_DURATIONS}.",
            )
        errors.raise_if_any()
        if "name" in body:
            thread.name = body["name"]
        if "applied_tags" in body:
            thread.applied_tags = [int(t) for t in body["applied_tags"] or []]
        if "auto_archive_duration" in body:
            thread.auto_archive_duration = int(body["auto_archive_duration"])
        if "invitable" in body and thread.type == PRIVATE_THREAD:
            thread.invitable = bool(body["invitable"])
        if "locked" in body:
            thread.locked = bool(body["locked"])
        if "rate_limit_per_user" in body:
            thread.rate_limit_per_user = int(body["rate_limit_per_user"] or 0)
        if "flags" in body and body["flags"] is not None:
            thread.flags = int(body["flags"])
        if "archived" in body and bool(body["archived"]) != thread.archived:
            thread.archived = bool(body["archived"])
            thread.archive_timestamp = iso_now()

    def _check_tags(
        self, forum: Channel | None, tags: list[int], errors: FormErrors, *, manage: bool
    ) -> None:
        available = {t.id: t for t in (forum.available_tags if forum else [])}
        for i, tag_id in enumerate(tags):
            tag = available.get(tag_id)
            if tag is None:
                errors.add(
                    ("applied_tags", i), "FORUM_TAG_UNKNOWN", f"Unknown tag {tag_id} for this forum"
                )
            elif tag.moderated and not manage:
                errors.add(
                    ("applied_tags", i), "FORUM_TAG_MODERATED", "Only moderators can apply this tag"
                )

    def _edit_guild_channel(self, channel: Channel, body: JSON, errors: FormErrors) -> None:
        self.world.require_bot_permission(channel, Permission.MANAGE_CHANNELS)
        new_tags: list[ForumTag] | None = None
        if "available_tags" in body:
            if not channel.is_forum:
                errors.add(
                    ("available_tags",), "CHANNEL_TYPE_INVALID", "Only forum channels have tags"
                )
            raw = body["available_tags"] or []
            if len(raw) > FORUM_TAGS_MAX:
                errors.add(
                    ("available_tags",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {FORUM_TAGS_MAX} or fewer in length.",
                )
            existing = {t.id: t for t in channel.available_tags}
            new_tags = []
            names: set[str] = set()
            for i, tag in enumerate(raw):
                name = tag.get("name")
                if not isinstance(name, str) or not 1 <= len(name) <= 20:
                    errors.add(
                        ("available_tags", i, "name"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 20 in length.",
                    )
                if name in names:
                    errors.add(
                        ("available_tags", i, "name"),
                        "TAG_NAME_DUPLICATED",
                        "Tag names must be unique",
                    )
                names.add(str(name))
                tag_id = (
                    int(tag["id"])
                    if tag.get("id") and int(tag["id"]) in existing
                    else self.world.snowflake()
                )
                new_tags.append(
                    ForumTag(
                        tag_id, str(name), bool(tag.get("moderated", False)), tag.get("emoji_name")
                    )
                )
        if (
            "topic" in body
            and body["topic"] is not None
            and len(body["topic"]) > (4096 if channel.is_forum else 1024)
        ):
            errors.add(("topic",), "BASE_TYPE_MAX_LENGTH", "Topic is too long.")
        errors.raise_if_any()
        if "name" in body:
            channel.name = body["name"]
        if "topic" in body:
            channel.topic = body["topic"]
        if new_tags is not None:
            channel.available_tags = new_tags
        if "flags" in body and body["flags"] is not None:
            channel.flags = int(body["flags"])
        if "position" in body and body["position"] is not None:
            channel.position = int(body["position"])
        if "nsfw" in body:
            channel.nsfw = bool(body["nsfw"])
        if "rate_limit_per_user" in body:
            channel.rate_limit_per_user = int(body["rate_limit_per_user"] or 0)
        if "permission_overwrites" in body:
            channel.overwrites = [
                Overwrite(
                    int(o["id"]), int(o["type"]), int(o.get("allow") or 0), int(o.get("deny") or 0)
                )
                for o in body["permission_overwrites"] or []
            ]

    async def delete_channel(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        if channel.is_dm:
            return channel.to_payload()
        assert channel.guild is not None
        needed = Permission.MANAGE_THREADS if channel.is_thread else Permission.MANAGE_CHANNELS
        if not (channel.is_thread and channel.owner_id == self.world.bot_user.id):
            self.world.require_bot_permission(channel, needed)
        payload = channel.to_payload()
        del self.world.channels[channel.id]
        if channel.is_thread:
            data = {
                "id": str(channel.id),
                "guild_id": str(channel.guild.id),
                "parent_id": str(channel.parent_id),
                "type": channel.type,
            }
            self.world.dispatch("THREAD_DELETE", data, guild_id=channel.guild.id, intent=1)
        else:
            self.world.dispatch("CHANNEL_DELETE", payload, guild_id=channel.guild.id, intent=1)
        return payload

    async def list_messages(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        self.world.require_bot_permission(channel, Permission.READ_MESSAGE_HISTORY)
        limit = int(ctx.query.get("limit", 50))
        if not 1 <= limit <= 100:
            errors = FormErrors()
            errors.add(("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
            errors.raise_if_any()
        messages = channel.messages
        if "before" in ctx.query:
            messages = [m for m in messages if m.id < int(ctx.query["before"])]
        if "after" in ctx.query:
            messages = [m for m in messages if m.id > int(ctx.query["after"])]
            return [m.to_payload() for m in reversed(messages[:limit])]
        if "around" in ctx.query:
            around = int(ctx.query["around"])
            older = [m for m in messages if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in messages if m.id > around][: limit - len(older)]
            messages = older + newer
        return [m.to_payload() for m in reversed(messages[-limit:])]

    def _check_can_send(self, channel: Channel, body: JSON, uploads: list[Upload]) -> None:
        world = self.world
        if channel.is_dm:
            recipient = channel.recipients[0]
            if recipient.id in world.closed_dms:
                raise ApiError(403, 50007, "Cannot send messages to this user", violation=False)
            if not any(recipient.id in g.members for g in world.guilds.values()):
                raise ApiError(
                    403,
                    50007,
                    "Cannot send messages to this user",
                    violation=False,
                    explanation="the bot shares no server with this user",
                )
            return
        if channel.is_forum or channel.type not in (TEXT, 5, PUBLIC_THREAD, PRIVATE_THREAD, 10):
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        needed = (
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        )
        world.require_bot_permission(channel, needed)
        if uploads:
            world.require_bot_permission(channel, Permission.ATTACH_FILES)
        if channel.is_thread and channel.archived:
            if channel.locked and not world.bot_permissions(channel) & Permission.MANAGE_THREADS:
                raise ApiError(400, 160005, "Thread is locked")
            channel.archived = False
            channel.archive_timestamp = iso_now()
            world.channel_updated(channel)
        if body.get("embeds") and not world.bot_permissions(channel) & Permission.EMBED_LINKS:
            body["embeds"] = []

    async def create_message(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        body = ctx.json
        world = self.world
        world.check_message_body(body, ctx.uploads, creating=True)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = world.nonce_hit(channel, world.bot_user, str(nonce))
            if earlier is not None:
                return earlier.to_payload()
        self._check_can_send(channel, body, ctx.uploads)
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id") and ref.get("fail_if_not_exists", True):
            referenced = world.messages.get(int(ref["message_id"]))
            if referenced is None or referenced.deleted:
                errors = FormErrors()
                errors.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                errors.raise_if_any()
        message = world.create_message(
            channel,
            world.bot_user,
            body,
            ctx.uploads,
            type=19 if isinstance(ref, dict) and ref.get("message_id") else 0,
        )
        world.remember_nonce(message)
        return message.to_payload()

    async def get_message(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        self.world.require_bot_permission(channel, Permission.READ_MESSAGE_HISTORY)
        return self._message(ctx, channel).to_payload()

    async def edit_message(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        body = ctx.json
        if message.author.id != self.world.bot_user.id:
            allowed = (
                set(body) <= {"flags"}
                and self.world.bot_permissions(channel) & Permission.MANAGE_MESSAGES
            )
            if not allowed:
                raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self.world.check_message_body(body, ctx.uploads, creating=False, existing=message)
        if channel.is_thread and channel.archived:
            raise ApiError(400, 50083, "Thread is archived")
        return self.world.edit_message(message, body, ctx.uploads).to_payload()

    async def delete_message(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        if message.author.id != self.world.bot_user.id:
            self.world.require_bot_permission(channel, Permission.MANAGE_MESSAGES)
        self.world.delete_message(message)
        return NO_CONTENT

    async def list_pins(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        pins = [m for m in channel.messages if m.pinned]
        return {
            "items": [{"pinned_at": iso_now(), "message": m.to_payload()} for m in reversed(pins)],
            "has_more": False,
        }

    async def pin(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        if not self.world.bot_permissions(channel) & (
            Permission.MANAGE_MESSAGES | Permission.PIN_MESSAGES
        ):
            raise ApiError(403, 50013, "Missing Permissions")
        message.pinned = True
        self.world.notify()
        return NO_CONTENT

    async def unpin(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        message.pinned = False
        self.world.notify()
        return NO_CONTENT

    async def add_reaction(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        self.world.require_bot_permission(channel, Permission.ADD_REACTIONS)
        message.reactions.setdefault(ctx.params["emoji"], set()).add(self.world.bot_user.id)
        self.world.notify()
        return NO_CONTENT

    async def remove_reaction(self, ctx: Ctx) -> Any:
        channel = self._channel(ctx)
        message = self._message(ctx, channel)
        message.reactions.get(ctx.params["emoji"], set()).discard(self.world.bot_user.id)
        self.world.notify()
        return NO_CONTENT

    async def typing(self, ctx: Ctx) -> Any:
        self._channel(ctx)
        return NO_CONTENT

    # --- threads ------------------------------------------------------------------------------
    def _thread_name(self, body: JSON, errors: FormErrors) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= CHANNEL_NAME_MAX:
            errors.add(
                ("name",),
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {CHANNEL_NAME_MAX} in length.",
            )
            return ""
        return name

    def _archive_duration(self, body: JSON, errors: FormErrors) -> int:
        value = body.get("auto_archive_duration") or 1440
        if value not in ARCHIVE_DURATIONS:
            errors.add(
                ("auto_archive_duration",),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {ARCHIVE_DURATIONS}.",
            )
        return int(value)

    async def create_thread(self, ctx: Ctx) -> Any:
        parent = self._channel(ctx)
        body = ctx.json
        world = self.world
        if parent.is_forum:
            return self._create_forum_post(parent, body, ctx.uploads)
        if parent.type not in (TEXT, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        errors = FormErrors()
        name = self._thread_name(body, errors)
        duration = self._archive_duration(body, errors)
        kind = int(body.get("type") or PRIVATE_THREAD)
        if kind not in (PUBLIC_THREAD, PRIVATE_THREAD, 10):
            errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of (10, 11, 12).")
        errors.raise_if_any()
        world.require_bot_permission(
            parent,
            Permission.CREATE_PRIVATE_THREADS
            if kind == PRIVATE_THREAD
            else Permission.CREATE_PUBLIC_THREADS,
        )
        thread = world.create_thread(
            parent,
            name=name,
            type=kind,
            owner=world.bot_user,
            invitable=bool(body.get("invitable", True)),
            auto_archive_duration=duration,
        )
        if body.get("rate_limit_per_user"):
            thread.rate_limit_per_user = int(body["rate_limit_per_user"])
        return Created(thread.to_payload())

    def _create_forum_post(self, forum: Channel, body: JSON, uploads: list[Upload]) -> Any:
        world = self.world
        world.require_bot_permission(forum, Permission.SEND_MESSAGES)
        errors = FormErrors()
        name = self._thread_name(body, errors)
        duration = self._archive_duration(body, errors)
        message = body.get("message")
        if not isinstance(message, dict):
            errors.add(("message",), "BASE_TYPE_REQUIRED", "This field is required")
        tags = [int(t) for t in body.get("applied_tags") or []]
        if len(tags) > TAGS_PER_THREAD_MAX:
            errors.add(
                ("applied_tags",),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {TAGS_PER_THREAD_MAX} or fewer in length.",
            )
        self._check_tags(
            forum,
            tags,
            errors,
            manage=bool(world.bot_permissions(forum) & Permission.MANAGE_THREADS),
        )
        errors.raise_if_any()
        assert isinstance(message, dict)
        if forum.flags & FORUM_REQUIRE_TAG and not tags:
            raise ApiError(400, 40067, "A tag is required to create a forum post in this channel")
        try:
            world.check_message_body(message, uploads, creating=True)
        except ApiError as exc:
            if exc.errors is not None:
                exc.errors = {"message": exc.errors}
            raise
        if uploads:
            world.require_bot_permission(forum, Permission.ATTACH_FILES)
        thread = world.create_thread(
            forum,
            name=name,
            type=PUBLIC_THREAD,
            owner=world.bot_user,
            auto_archive_duration=duration,
            applied_tags=tags,
        )
        starter = world.create_message(
            thread, world.bot_user, message, uploads, message_id=thread.id
        )
        payload = thread.to_payload()
        payload["message"] = starter.to_payload()
        return Created(payload)

    async def thread_from_message(self, ctx: Ctx) -> Any:
        parent = self._channel(ctx)
        message = self._message(ctx, parent)
        if parent.type not in (TEXT, 5):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        errors = FormErrors()
        name = self._thread_name(ctx.json, errors)
        duration = self._archive_duration(ctx.json, errors)
        errors.raise_if_any()
        self.world.require_bot_permission(parent, Permission.CREATE_PUBLIC_THREADS)
        if any(t.id == message.id for t in parent.threads):
            raise ApiError(400, 160004, "A thread has already been created for this message")
        thread = self.world.create_thread(
            parent,
            name=name,
            type=PUBLIC_THREAD,
            owner=self.world.bot_user,
            auto_archive_duration=duration,
            thread_id=message.id,
        )
        return Created(thread.to_payload())

    async def archived_threads(self, ctx: Ctx) -> Any:
        parent = self._channel(ctx)
        private = ctx.path.endswith("/private")
        threads = [
            t for t in parent.threads if t.archived and (t.type == PRIVATE_THREAD) == private
        ]
        return {
            "threads": [t.to_payload() for t in threads],
            "members": [
                t.thread_members[self.world.bot_user.id].to_payload(t.id)
                for t in threads
                if self.world.bot_user.id in t.thread_members
            ],
            "has_more": False,
        }

    def _thread(self, ctx: Ctx) -> Channel:
        thread = self._channel(ctx)
        if not thread.is_thread:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return thread

    def _thread_user_id(self, ctx: Ctx) -> int:
        raw = ctx.params["user_id"]
        if raw == "@me":
            return self.world.bot_user.id
        if not raw.isdigit():
            raise ApiError(404, 10013, "Unknown User")
        return int(raw)

    async def list_thread_members(self, ctx: Ctx) -> Any:
        thread = self._thread(ctx)
        return [m.to_payload(thread.id) for m in thread.thread_members.values()]

    async def get_thread_member(self, ctx: Ctx) -> Any:
        thread = self._thread(ctx)
        member = thread.thread_members.get(self._thread_user_id(ctx))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return member.to_payload(thread.id)

    async def add_thread_member(self, ctx: Ctx) -> Any:
        thread = self._thread(ctx)
        world = self.world
        user_id = self._thread_user_id(ctx)
        assert thread.guild is not None
        if user_id not in thread.guild.members:
            # Someone who left the server: a bot without the members intent can't know until
            # Discord says so, so asking is not a mistake; a made-up id is.
            raise ApiError(404, 10007, "Unknown Member", violation=user_id not in world.users)
        if thread.archived:
            raise ApiError(400, 50083, "Thread is archived")
        world.require_bot_permission(thread, Permission.SEND_MESSAGES_IN_THREADS)
        bot_id = world.bot_user.id
        if thread.type == PRIVATE_THREAD and user_id != bot_id:
            manage = bool(world.bot_permissions(thread) & Permission.MANAGE_THREADS)
            if bot_id not in thread.thread_members and not manage:
                raise ApiError(403, 50001, "Missing Access")
            if not thread.invitable and thread.owner_id != bot_id and not manage:
                raise ApiError(403, 50013, "Missing Permissions")
        world.add_thread_member(thread, world.users[user_id])
        return NO_CONTENT

    async def remove_thread_member(self, ctx: Ctx) -> Any:
        thread = self._thread(ctx)
        world = self.world
        user_id = self._thread_user_id(ctx)
        if thread.archived:
            raise ApiError(400, 50083, "Thread is archived")
        if user_id != world.bot_user.id:
            manage = bool(world.bot_permissions(thread) & Permission.MANAGE_THREADS)
            if not manage and not (
                thread.type == PRIVATE_THREAD and thread.owner_id == world.bot_user.id
            ):
                raise ApiError(403, 50013, "Missing Permissions")
        if user_id not in thread.thread_members:
            raise ApiError(404, 10007, "Unknown Member")
        world.remove_thread_member(thread, user_id)
        return NO_CONTENT

    # --- guilds -------------------------------------------------------------------------------
    async def get_guild(self, ctx: Ctx) -> Any:
        guild = self._guild(ctx)
        payload = guild.to_payload()
        if ctx.query.get("with_counts") in ("1", "true", "True"):
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0
        return payload

    async def guild_channels(self, ctx: Ctx) -> Any:
        return [c.to_payload() for c in self._guild(ctx).channels]

    async def create_guild_channel(self, ctx: Ctx) -> Any:
        guild = self._guild(ctx)
        body = ctx.json
        perms = self.world.permissions(guild, self.world.bot_user.id)
        if not perms & Permission.MANAGE_CHANNELS:
            raise ApiError(403, 50013, "Missing Permissions")
        errors = FormErrors()
        name = self._thread_name(body, errors)
        kind = int(body.get("type") or 0)
        if kind not in (TEXT, 4, 5, FORUM):
            errors.add(
                ("type",), "BASE_TYPE_CHOICES", "The emulator supports types 0, 4, 5 and 15."
            )
        errors.raise_if_any()
        channel = self.world.create_channel(
            guild,
            kind,
            name,
            topic=body.get("topic"),
            tags=[t["name"] for t in body.get("available_tags") or []],
        )
        if body.get("permission_overwrites"):
            channel.overwrites = [
                Overwrite(
                    int(o["id"]), int(o["type"]), int(o.get("allow") or 0), int(o.get("deny") or 0)
                )
                for o in body["permission_overwrites"]
            ]
        return Created(channel.to_payload())

    async def active_threads(self, ctx: Ctx) -> Any:
        guild = self._guild(ctx)
        threads = [t for t in guild.threads if not t.archived and self.world.bot_can_see(t)]
        bot_id = self.world.bot_user.id
        return {
            "threads": [t.to_payload() for t in threads],
            "members": [
                t.thread_members[bot_id].to_payload(t.id)
                for t in threads
                if bot_id in t.thread_members
            ],
        }

    async def list_members(self, ctx: Ctx) -> Any:
        guild = self._guild(ctx)
        limit = int(ctx.query.get("limit", 1))
        after = int(ctx.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)
        return [m.to_payload() for m in members[:limit]]

    async def get_member(self, ctx: Ctx) -> Any:
        guild = self._guild(ctx)
        uid = ctx.param_int("user_id", unknown=(10013, "Unknown User"))
        member = guild.members.get(uid)
        if member is None:
            # Asking whether someone is still a member is how a bot without the members
            # intent learns of a departure: no mistake, unless the id never existed.
            raise ApiError(404, 10007, "Unknown Member", violation=uid not in self.world.users)
        return member.to_payload()

    async def list_roles(self, ctx: Ctx) -> Any:
        return [r.to_payload() for r in self._guild(ctx).roles.values()]

    def _role_target(self, ctx: Ctx) -> tuple[Guild, Any, Any]:
        guild = self._guild(ctx)
        member = guild.members.get(ctx.param_int("user_id", unknown=(10013, "Unknown User")))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        role = guild.roles.get(ctx.param_int("role_id", unknown=(10011, "Unknown Role")))
        if role is None:
            raise ApiError(404, 10011, "Unknown Role")
        bot_member = guild.me
        if not self.world.permissions(guild, bot_member.id) & Permission.MANAGE_ROLES:
            raise ApiError(403, 50013, "Missing Permissions")
        top = max((r.position for r in bot_member.roles), default=0)
        if role.position >= top and guild.owner_id != bot_member.id:
            raise ApiError(
                403,
                50013,
                "Missing Permissions",
                explanation="role is above the bot's highest role",
            )
        return guild, member, role

    async def add_role(self, ctx: Ctx) -> Any:
        _, member, role = self._role_target(ctx)
        self.world.add_member_role(member, role)
        return NO_CONTENT

    async def remove_role(self, ctx: Ctx) -> Any:
        _, member, role = self._role_target(ctx)
        self.world.remove_member_role(member, role)
        return NO_CONTENT
