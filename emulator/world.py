"""The in-memory Discord: every change goes through here so the bot hears of it on the gateway."""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .clock import EmulatorClock
from .errors import ApiError, EmulatorError, FormErrors, Violation
from .mentions import compute_pings, mentioned_ids
from .model import (
    DM,
    PRIVATE_THREAD,
    TEXT,
    Attachment,
    Channel,
    ForumTag,
    Guild,
    Member,
    Message,
    Role,
    ThreadMember,
    User,
)
from .permissions import (
    ALL_PERMISSIONS,
    DEFAULT_BOT,
    DEFAULT_EVERYONE,
    Permission,
    apply_overwrites,
    base_permissions,
)
from .snowflake import SnowflakeFactory, bot_token, iso_now
from .stored import stored_components, stored_embeds
from .validation import (
    FLAG_COMPONENTS_V2,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    validate_message,
)

if TYPE_CHECKING:
    from .gateway import Gateway
    from .interactions import Actions

JSON = dict[str, Any]
T = TypeVar("T")

INTENT_GUILDS = 1 << 0
INTENT_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DM_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

#: How often :meth:`World.wait_for` re-checks a predicate nothing in the emulator announced.
POLL_INTERVAL = 0.005

#: Flags a bot may set when creating a message (others are ignored by Discord).
SENDABLE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2


@dataclass
class Upload:
    """A file part of a multipart request (``files[n]``)."""

    index: int
    filename: str
    data: bytes


class World:
    """State of the emulated Discord plus the hooks that announce changes."""

    def __init__(self, *, bot_name: str = "pairbot", token: str | None = None) -> None:
        self.ids = SnowflakeFactory()
        self.bot_user = User(self.snowflake(), bot_name, bot=True)
        #: Discord's shape: base64(bot user id).timestamp.hmac; the app id is the bot's user id.
        self.token = token or bot_token(self.bot_user.id)
        self.application_id = self.bot_user.id
        self.owner_user = User(self.snowflake(), "app-owner")
        self.users: dict[int, User] = {
            self.bot_user.id: self.bot_user,
            self.owner_user.id: self.owner_user,
        }
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.dm_channels: dict[int, Channel] = {}
        #: (``guild_id`` or None) -> name -> command as Discord stores it (with ids).
        self.commands: dict[int | None, dict[tuple[str, int], JSON]] = {}
        self.closed_dms: set[int] = set()
        self.violations: list[Violation] = []
        self.base_url = "http://127.0.0.1"
        #: (channel id, author id, nonce) -> (message id, monotonic time) for enforce_nonce.
        self.nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        #: Seconds a nonce de-duplicates for ("the past few minutes"), on :attr:`clock`.
        self.nonce_window = 300.0
        self.clock = EmulatorClock()
        #: Bytes of files one message may carry (Discord's default for a server: 10 MiB).
        self.upload_limit = 10 * 1024 * 1024
        self.gateway: Gateway | None = None
        self.actions: Actions
        #: Called with ("create" | "edit" | "delete", message) for every stored message change;
        #: lets a simulation stamp messages with its own clock and follow who saw what.
        self.message_listeners: list[Callable[[str, Message], None]] = []
        self._changed = asyncio.Event()

    # --- plumbing ----------------------------------------------------------------------------
    def snowflake(self) -> int:
        return self.ids.next()

    def notify(self) -> None:
        """Wake everything waiting in :meth:`wait_for`."""
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "condition",
    ) -> T:
        """Wait until ``predicate()`` is truthy; returns its value.

        Re-checked on every change in the emulator, and every few milliseconds for predicates
        that look at the bot's own state (its cache, its database).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._changed
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            try:
                await asyncio.wait_for(event.wait(), min(remaining, POLL_INTERVAL))
            except TimeoutError:
                continue

    def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        intent: int | None = None,
        strip_content: bool = False,
    ) -> None:
        if self.gateway is not None:
            self.gateway.dispatch(
                event, data, guild_id=guild_id, intent=intent, strip_content=strip_content
            )
        self.notify()

    def record_violation(self, violation: Violation) -> None:
        self.violations.append(violation)
        self.notify()

    # --- users, guilds, roles, members --------------------------------------------------------
    def create_user(self, username: str, *, bot: bool = False) -> User:
        user = User(self.snowflake(), username, bot=bot)
        self.users[user.id] = user
        return user

    def create_guild(
        self,
        name: str,
        *,
        owner: str = "owner",
        bot_permissions: int = DEFAULT_BOT,
        everyone_permissions: int = DEFAULT_EVERYONE,
        shard: tuple[int, int] | None = None,
        guild_id: int | None = None,
    ) -> Guild:
        """A guild the bot is in. ``shard=(shard_id, shard_count)`` picks its id so that this
        shard carries it (a guild's shard follows from its id, as on Discord); ``guild_id``
        fixes it."""
        if guild_id is None:
            guild_id = self.ids.next_on_shard(*shard) if shard is not None else self.snowflake()
        guild = Guild(self, guild_id, name)
        guild.roles[guild.id] = Role(
            guild.id, guild.id, "@everyone", permissions=everyone_permissions
        )
        bot_role = Role(
            self.snowflake(),
            guild.id,
            self.bot_user.username,
            permissions=int(bot_permissions),
            position=1,
            managed_by=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        self.guilds[guild.id] = guild
        owner_member = self._new_member(guild, self.create_user(owner))
        guild.owner_id = owner_member.id
        bot_member = self._new_member(guild, self.bot_user)
        bot_member.roles.append(bot_role)
        general = Channel(self, self.snowflake(), TEXT, "general", guild=guild, position=0)
        self.channels[general.id] = general
        if self.gateway is not None:
            self.gateway.guild_created(guild)
        self.notify()
        return guild

    def _new_member(self, guild: Guild, user: User, *, locale: str = "en-US") -> Member:
        member = Member(self, guild, user, joined_at=iso_now(), locale=locale)
        guild.members[user.id] = member
        return member

    def _resolve_role(self, guild: Guild, role: Role | str) -> Role:
        return role if isinstance(role, Role) else guild.role(role)

    def create_role(
        self, guild: Guild, name: str, *, permissions: int = 0, mentionable: bool = False
    ) -> Role:
        role = Role(
            self.snowflake(),
            guild.id,
            name,
            permissions=int(permissions),
            position=len(guild.roles),
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        self.dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": role.to_payload()},
            guild_id=guild.id,
            intent=INTENT_GUILDS,
        )
        return role

    def add_member(
        self,
        guild: Guild,
        name: str | User,
        *,
        roles: Sequence[Role | str] = (),
        admin: bool = False,
        locale: str = "en-US",
        nick: str | None = None,
    ) -> Member:
        user = name if isinstance(name, User) else self.create_user(name)
        if user.id in guild.members:
            raise EmulatorError(f"{user.username} is already in {guild.name}")
        member = self._new_member(guild, user, locale=locale)
        member.nick = nick
        member.roles = [self._resolve_role(guild, r) for r in roles]
        if admin:
            try:
                admin_role = guild.role("Admin")
            except KeyError:
                admin_role = self.create_role(guild, "Admin", permissions=Permission.ADMINISTRATOR)
            member.roles.append(admin_role)
        data = member.to_payload()
        data["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild.id, intent=INTENT_MEMBERS)
        return member

    def remove_member(self, member: Member) -> None:
        """The person leaves the server: gone from it and its threads. Discord tells only bots
        with the (privileged) members intent; the rest learn it from 10007 Unknown Member and
        50007 when they try to reach the person."""
        guild = member.guild
        if guild.members.pop(member.id, None) is None:
            raise EmulatorError(f"{member.name} is not in {guild.name}")
        for thread in guild.threads:
            if member.id in thread.thread_members:
                self.remove_thread_member(thread, member.id)
        data: JSON = {"guild_id": str(guild.id), "user": member.user.to_payload()}
        self.dispatch("GUILD_MEMBER_REMOVE", data, guild_id=guild.id, intent=INTENT_MEMBERS)
        self.notify()

    def rejoin_member(self, member: Member) -> Member:
        """Someone who left joins again (the same handle, so a test keeps using it). As on
        Discord, they come back as a new member: no roles, no nickname, a new ``joined_at``;
        the threads they were in do not take them back. Announced as GUILD_MEMBER_ADD, again
        only to bots with the members intent."""
        guild = member.guild
        if member.id in guild.members:
            raise EmulatorError(f"{member.name} is already in {guild.name}")
        member.roles = []
        member.nick = None
        member.joined_at = iso_now()
        guild.members[member.id] = member
        data = member.to_payload()
        data["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_ADD", data, guild_id=guild.id, intent=INTENT_MEMBERS)
        return member

    def _member_updated(self, member: Member) -> None:
        data = member.to_payload()
        data["guild_id"] = str(member.guild.id)
        self.dispatch("GUILD_MEMBER_UPDATE", data, guild_id=member.guild.id, intent=INTENT_MEMBERS)

    def add_member_role(self, member: Member, role: Role | str) -> None:
        resolved = self._resolve_role(member.guild, role)
        if resolved not in member.roles:
            member.roles.append(resolved)
            self._member_updated(member)

    def remove_member_role(self, member: Member, role: Role | str) -> None:
        resolved = self._resolve_role(member.guild, role)
        if resolved in member.roles:
            member.roles.remove(resolved)
            self._member_updated(member)

    # --- permissions -------------------------------------------------------------------------
    def permissions(self, guild: Guild, user_id: int, channel: Channel | None = None) -> int:
        member = guild.members.get(user_id)
        if member is None:
            return 0
        base = base_permissions(
            is_owner=guild.owner_id == user_id,
            everyone=guild.everyone.permissions,
            role_permissions=[r.permissions for r in member.roles],
        )
        if channel is None:
            return base
        target = channel.parent if channel.is_thread and channel.parent is not None else channel
        perms = apply_overwrites(
            base,
            guild_id=guild.id,
            member_id=user_id,
            role_ids=[r.id for r in member.roles],
            overwrites=target.overwrites,
        )
        if (
            channel.type == PRIVATE_THREAD
            and user_id not in channel.thread_members
            and not (perms & Permission.MANAGE_THREADS)
        ):
            return 0
        return perms

    def bot_permissions(self, channel: Channel) -> int:
        if channel.guild is None:
            return ALL_PERMISSIONS
        return self.permissions(channel.guild, self.bot_user.id, channel)

    def bot_can_see(self, channel: Channel) -> bool:
        if channel.is_dm:
            return True
        return bool(self.bot_permissions(channel) & Permission.VIEW_CHANNEL)

    def require_bot_permission(self, channel: Channel, perm: Permission) -> None:
        if channel.is_dm:
            return
        perms = self.bot_permissions(channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if not perms & perm:
            raise ApiError(403, 50013, "Missing Permissions", explanation=f"bot lacks {perm.name}")

    # --- channels ----------------------------------------------------------------------------
    def create_channel(
        self,
        guild: Guild,
        type: int,
        name: str,
        *,
        topic: str | None = None,
        tags: Sequence[str] = (),
    ) -> Channel:
        channel = Channel(
            self,
            self.snowflake(),
            type,
            name,
            guild=guild,
            position=len(guild.channels),
            topic=topic,
        )
        channel.available_tags = [ForumTag(self.snowflake(), t) for t in tags]
        self.channels[channel.id] = channel
        self.dispatch(
            "CHANNEL_CREATE", channel.to_payload(), guild_id=guild.id, intent=INTENT_GUILDS
        )
        return channel

    def channel_updated(self, channel: Channel) -> None:
        if channel.is_dm:
            self.notify()
            return
        assert channel.guild is not None
        if channel.is_thread:
            if self.bot_can_see(channel):
                self.dispatch(
                    "THREAD_UPDATE",
                    channel.to_payload(),
                    guild_id=channel.guild.id,
                    intent=INTENT_GUILDS,
                )
            else:
                self.notify()
        else:
            self.dispatch(
                "CHANNEL_UPDATE",
                channel.to_payload(),
                guild_id=channel.guild.id,
                intent=INTENT_GUILDS,
            )

    def existing_dm_channel(self, user_id: int) -> Channel | None:
        return self.dm_channels.get(user_id)

    def dm_channel_for(self, user: User) -> Channel:
        """The one DM channel between the bot and this user (Discord reuses it)."""
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(self, self.snowflake(), DM, None)
            channel.recipients = [user]
            self.channels[channel.id] = channel
            self.dm_channels[user.id] = channel
        return channel

    def create_thread(
        self,
        parent: Channel,
        *,
        name: str,
        type: int,
        owner: User,
        invitable: bool = True,
        auto_archive_duration: int = 1440,
        applied_tags: Sequence[int] = (),
        thread_id: int | None = None,
    ) -> Channel:
        assert parent.guild is not None
        thread = Channel(
            self,
            thread_id or self.snowflake(),
            type,
            name,
            guild=parent.guild,
            parent_id=parent.id,
            owner_id=owner.id,
        )
        thread.invitable = invitable
        thread.auto_archive_duration = auto_archive_duration
        thread.applied_tags = list(applied_tags)
        thread.thread_members[owner.id] = ThreadMember(owner.id, iso_now())
        self.channels[thread.id] = thread
        if self.bot_can_see(thread):
            data = thread.to_payload()
            data["newly_created"] = True
            self.dispatch("THREAD_CREATE", data, guild_id=parent.guild.id, intent=INTENT_GUILDS)
        return thread

    def add_thread_member(self, thread: Channel, user: User) -> None:
        assert thread.guild is not None
        if user.id in thread.thread_members:
            return
        was_visible = self.bot_can_see(thread)
        member = ThreadMember(user.id, iso_now())
        thread.thread_members[user.id] = member
        if user.id == self.bot_user.id and not was_visible:
            self.dispatch(
                "THREAD_CREATE", thread.to_payload(), guild_id=thread.guild.id, intent=INTENT_GUILDS
            )
        data: JSON = {
            "id": str(thread.id),
            "guild_id": str(thread.guild.id),
            "member_count": len(thread.thread_members),
            "added_members": [member.to_payload(thread.id)],
        }
        intent = INTENT_GUILDS if user.id == self.bot_user.id else INTENT_MEMBERS
        self.dispatch("THREAD_MEMBERS_UPDATE", data, guild_id=thread.guild.id, intent=intent)

    def remove_thread_member(self, thread: Channel, user_id: int) -> None:
        assert thread.guild is not None
        if thread.thread_members.pop(user_id, None) is None:
            return
        data: JSON = {
            "id": str(thread.id),
            "guild_id": str(thread.guild.id),
            "member_count": len(thread.thread_members),
            "removed_member_ids": [str(user_id)],
        }
        intent = INTENT_GUILDS if user_id == self.bot_user.id else INTENT_MEMBERS
        self.dispatch("THREAD_MEMBERS_UPDATE", data, guild_id=thread.guild.id, intent=intent)

    # --- messages ----------------------------------------------------------------------------
    def check_message_body(
        self,
        body: JSON,
        uploads: Sequence[Upload],
        *,
        creating: bool,
        existing: Message | None = None,
    ) -> None:
        """Limits, then "Cannot send an empty message" (50006) for a create or the edited result."""
        total = sum(len(u.data) for u in uploads)
        if total > self.upload_limit:
            raise ApiError(
                413,
                40005,
                "Request entity too large",
                explanation=f"{total} bytes of files; the limit is {self.upload_limit}",
            )
        errors = FormErrors()
        validate_message(body, errors)
        errors.raise_if_any()
        if creating:
            has_content = (
                bool(body.get("content"))
                or bool(body.get("embeds"))
                or bool(body.get("components"))
            )
            has_content = (
                has_content
                or bool(uploads)
                or bool(body.get("sticker_ids"))
                or bool(body.get("poll"))
            )
            if not has_content:
                raise ApiError(400, 50006, "Cannot send an empty message")
        elif existing is not None:
            content = body.get("content", existing.content)
            embeds = body.get("embeds", existing.embeds)
            components = body.get("components", existing.components)
            if not (
                content
                or embeds
                or components
                or uploads
                or existing.attachments
                or "attachments" in body
            ):
                raise ApiError(400, 50006, "Cannot send an empty message")

    def _attachments(
        self,
        channel: Channel,
        body: JSON,
        uploads: Sequence[Upload],
        existing: Sequence[Attachment] = (),
    ) -> list[Attachment] | None:
        """New attachment list: entries refer to uploads by index or keep existing ids."""
        by_index = {u.index: u for u in uploads}
        entries = body.get("attachments")
        if entries is None:
            if not uploads:
                return None
            entries = [{"id": u.index} for u in uploads]
        keep = {a.id: a for a in existing}
        result: list[Attachment] = []
        for entry in entries:
            raw_id = int(entry.get("id", -1))
            if raw_id in keep:
                result.append(keep[raw_id])
                continue
            upload = by_index.get(raw_id)
            if upload is None:
                raise ApiError(
                    400,
                    50035,
                    "Invalid Form Body",
                    explanation=f"attachment {raw_id} has no file part",
                    errors={
                        "attachments": {
                            str(raw_id): {
                                "_errors": [
                                    {
                                        "code": "ATTACHMENT_NOT_FOUND",
                                        "message": "Attachment data not found",
                                    }
                                ]
                            }
                        }
                    },
                )
            filename = str(entry.get("filename") or upload.filename)
            att_id = self.snowflake()
            result.append(
                Attachment(
                    id=att_id,
                    filename=filename,
                    data=upload.data,
                    content_type=mimetypes.guess_type(filename)[0],
                    url=f"{self.base_url}/attachments/{channel.id}/{att_id}/{filename}",
                    description=entry.get("description"),
                )
            )
        return result

    def _compute_pings(
        self, channel: Channel, author: User, body: JSON, content: str, *, webhook: bool = False
    ) -> Any:
        guild = channel.guild
        allowed = body.get("allowed_mentions")
        if allowed is None and webhook:
            # Interaction responses and webhook messages without allowed_mentions ping users
            # only: never roles, @everyone or @here.
            allowed = {"parse": ["users"]}
        replied: int | None = None
        ref = body.get("message_reference")
        if isinstance(ref, dict) and ref.get("message_id"):
            referenced = self.messages.get(int(ref["message_id"]))
            if referenced is not None and referenced.author.id != author.id:
                replied = referenced.author.id
        if guild is None:
            known = {u.id for u in channel.recipients} | {self.bot_user.id}
            return compute_pings(
                content,
                allowed,
                known_users=known,
                mentionable_roles=(),
                can_mention_everyone=False,
                replied_user_id=replied,
            )
        perms = self.permissions(guild, author.id, channel)
        return compute_pings(
            content,
            allowed,
            known_users=set(guild.members),
            mentionable_roles={r.id for r in guild.roles.values() if r.mentionable},
            can_mention_everyone=bool(perms & Permission.MENTION_EVERYONE),
            replied_user_id=replied,
        )

    def create_message(
        self,
        channel: Channel,
        author: User,
        body: JSON,
        uploads: Sequence[Upload] = (),
        *,
        message_id: int | None = None,
        type: int = 0,
        webhook_id: int | None = None,
        interaction_metadata: JSON | None = None,
        ephemeral_for: int | None = None,
        extra_flags: int = 0,
        dispatch: bool = True,
    ) -> Message:
        """Store a (validated) message, compute its pings, and tell the bot."""
        content = body.get("content") or ""
        users, roles, _ = mentioned_ids(content)
        message = Message(
            id=message_id or self.snowflake(),
            channel=channel,
            author=author,
            content=content,
            embeds=stored_embeds(body.get("embeds") or []),
            components=stored_components(body.get("components") or [], self.snowflake),
            attachments=self._attachments(channel, body, uploads) or [],
            flags=(int(body.get("flags") or 0) & SENDABLE_FLAGS) | extra_flags,
            type=type,
            tts=bool(body.get("tts")),
            nonce=str(body["nonce"]) if body.get("nonce") is not None else None,
            allowed_mentions=body.get("allowed_mentions"),
            mentioned_users=[self.users[u] for u in users if u in self.users],
            mentioned_roles=[
                r for r in roles if channel.guild is not None and r in channel.guild.roles
            ],
            reference=body.get("message_reference"),
            interaction_metadata=interaction_metadata,
            webhook_id=webhook_id,
            application_id=self.application_id if webhook_id is not None else None,
            visible_to=ephemeral_for,
        )
        message.pings = self._compute_pings(
            channel, author, body, content, webhook=webhook_id is not None
        )
        self.messages[message.id] = message
        self._tell_listeners("create", message)
        if ephemeral_for is None:
            channel._messages.append(message)
            channel.total_message_sent += 1
            if dispatch:
                self._dispatch_message("MESSAGE_CREATE", message)
        self.notify()
        return message

    def _dispatch_message(self, event: str, message: Message) -> None:
        channel = message.channel
        if channel.is_dm:
            self.dispatch(event, message.to_payload(), intent=INTENT_DM_MESSAGES)
            return
        if not self.bot_can_see(channel):
            self.notify()
            return
        assert channel.guild is not None
        exempt = message.author.id == self.bot_user.id or self.bot_user.id in message.pings.users
        self.dispatch(
            event,
            message.to_payload(),
            guild_id=channel.guild.id,
            intent=INTENT_GUILD_MESSAGES,
            strip_content=not exempt,
        )

    def edit_message(self, message: Message, body: JSON, uploads: Sequence[Upload] = ()) -> Message:
        """Apply a PATCH: fields present replace; ``attachments`` lists the files to keep."""
        if "content" in body:
            message.content = body["content"] or ""
            users, _, _ = mentioned_ids(message.content)
            message.mentioned_users = [self.users[u] for u in users if u in self.users]
        if "embeds" in body:
            message.embeds = stored_embeds(body["embeds"] or [])
        if "components" in body:
            message.components = stored_components(body["components"] or [], self.snowflake)
        if "flags" in body and body["flags"] is not None:
            keep = message.flags & ~SENDABLE_FLAGS
            message.flags = keep | (int(body["flags"]) & SENDABLE_FLAGS)
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        attachments = self._attachments(message.channel, body, uploads, message.attachments)
        if attachments is not None:
            message.attachments = attachments
        message.edited_at = iso_now()
        self._tell_listeners("edit", message)
        if message.visible_to is None:
            self._dispatch_message("MESSAGE_UPDATE", message)
        self.notify()
        return message

    def _tell_listeners(self, change: str, message: Message) -> None:
        for listener in self.message_listeners:
            listener(change, message)

    def delete_message(self, message: Message) -> None:
        message.deleted = True
        self._tell_listeners("delete", message)
        if message.visible_to is None:
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel.id)}
            if message.channel.guild is not None:
                data["guild_id"] = str(message.channel.guild.id)
                self.dispatch(
                    "MESSAGE_DELETE",
                    data,
                    guild_id=message.channel.guild.id,
                    intent=INTENT_GUILD_MESSAGES,
                )
            else:
                self.dispatch("MESSAGE_DELETE", data, intent=INTENT_DM_MESSAGES)
        self.notify()

    def nonce_hit(self, channel: Channel, author: User, nonce: str) -> Message | None:
        """The earlier message with this nonce in this channel, if still inside the window."""
        entry = self.nonces.get((channel.id, author.id, nonce))
        if entry is None:
            return None
        message_id, at = entry
        if self.clock.now() - at > self.nonce_window:
            return None
        return self.messages.get(message_id)

    def remember_nonce(self, message: Message) -> None:
        if message.nonce is not None:
            self.nonces[(message.channel.id, message.author.id, message.nonce)] = (
                message.id,
                self.clock.now(),
            )

    # --- commands ----------------------------------------------------------------------------
    def find_command(self, name: str, guild: Guild | None) -> JSON | None:
        """A chat-input command as a member in ``guild`` (or a DM) would find it."""
        if guild is not None:
            cmd = self.commands.get(guild.id, {}).get((name, 1))
            if cmd is not None:
                return cmd
        return self.commands.get(None, {}).get((name, 1))
