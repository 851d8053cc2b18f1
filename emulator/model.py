"""The emulated Discord world: users, guilds, roles, channels, threads and messages.

Objects here are both state and test handles: ``guild.create_forum(...)`` or ``alice.slash(...)``
mutate the world through :class:`~emulator.world.World`, which also tells the bot over the
gateway, exactly as Discord would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .mentions import Pings
from .permissions import Overwrite, Permission
from .snowflake import iso_from_snowflake
from .validation import FLAG_EPHEMERAL, FLAG_LOADING, INTERACTIVE_TYPES

if TYPE_CHECKING:
    from .interactions import Modal, Reply
    from .world import World

JSON = dict[str, Any]

TEXT = 0
DM = 1
CATEGORY = 4
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
FORUM = 15
THREAD_TYPES = frozenset({10, PUBLIC_THREAD, PRIVATE_THREAD})

FORUM_REQUIRE_TAG = 1 << 4


class User:
    """A Discord account: a simulated person or the bot itself."""

    def __init__(
        self, id: int, username: str, *, bot: bool = False, global_name: str | None = None
    ) -> None:
        self.id = id
        self.username = username
        self.global_name = global_name
        self.bot = bot

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> JSON:
        payload: JSON = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }
        if self.bot:
            payload["bot"] = True
        return payload

    def private_payload(self) -> JSON:
        """The account as its owner sees it (``GET /users/@me``, READY): with email etc."""
        payload = self.to_payload()
        payload.update({"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US"})
        return payload

    def __repr__(self) -> str:
        return f"<User {self.username} id={self.id}>"


class Role:
    """A guild role; ``@everyone`` has the guild's id."""

    def __init__(
        self,
        id: int,
        guild_id: int,
        name: str,
        *,
        permissions: int = 0,
        position: int = 0,
        mentionable: bool = False,
        managed_by: int | None = None,
    ) -> None:
        self.id = id
        self.guild_id = guild_id
        self.name = name
        self.permissions = int(permissions)
        self.position = position
        self.mentionable = mentionable
        self.managed_by = managed_by

    @property
    def mention(self) -> str:
        return "@everyone" if self.id == self.guild_id else f"<@&{self.id}>"

    def to_payload(self) -> JSON:
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed_by is not None,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.managed_by is not None:
            payload["tags"] = {"bot_id": str(self.managed_by)}
        return payload

    def __repr__(self) -> str:
        return f"<Role {self.name} id={self.id}>"


@dataclass
class ForumTag:
    id: int
    name: str
    moderated: bool = False
    emoji_name: str | None = None

    def to_payload(self) -> JSON:
        return {
            "id": str(self.id),
            "name": self.name,
            "moderated": self.moderated,
            "emoji_id": None,
            "emoji_name": self.emoji_name,
        }


@dataclass
class Attachment:
    """An uploaded file; ``data`` holds the bytes so a test can check a PNG chart, say."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def to_payload(self) -> JSON:
        payload: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            payload["description"] = self.description
        return payload


@dataclass
class ThreadMember:
    user_id: int
    joined_at: str

    def to_payload(self, thread_id: int) -> JSON:
        return {
            "id": str(thread_id),
            "user_id": str(self.user_id),
            "join_timestamp": self.joined_at,
            "flags": 0,
        }


def walk_components(components: Sequence[JSON]) -> Iterator[JSON]:
    """Every component in a classic or components-v2 tree, depth first."""
    for c in components:
        yield c
        if isinstance(c.get("components"), list):
            yield from walk_components(c["components"])
        if isinstance(c.get("component"), dict):
            yield from walk_components([c["component"]])
        if isinstance(c.get("accessory"), dict):
            yield from walk_components([c["accessory"]])


@dataclass(eq=False)
class Message:
    """A message as Discord stores it, plus what the emulator learned (``pings``, ``nonce``)."""

    id: int
    channel: Channel
    author: User
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    nonce: str | None = None
    pings: Pings = field(default_factory=Pings)
    allowed_mentions: JSON | None = None
    mentioned_users: list[User] = field(default_factory=list)
    mentioned_roles: list[int] = field(default_factory=list)
    reference: JSON | None = None
    interaction_metadata: JSON | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    #: For ephemeral messages: who can see it.
    visible_to: int | None = None
    edited_at: str | None = None
    deleted: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)
    pinned: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        """A deferred "Bot is thinking..." placeholder not yet edited."""
        return bool(self.flags & FLAG_LOADING)

    @property
    def guild(self) -> Guild | None:
        return self.channel.guild

    @property
    def created_at(self) -> str:
        return iso_from_snowflake(self.id)

    @property
    def text(self) -> str:
        """Content plus every embed's visible text, for ``"words" in message.text`` assertions."""
        parts = [self.content]
        for e in self.embeds:
            parts.append((e.get("author") or {}).get("name") or "")
            parts.append(e.get("title") or "")
            parts.append(e.get("description") or "")
            for f in e.get("fields") or []:
                parts.append(f"{f.get('name', '')}\n{f.get('value', '')}")
            parts.append((e.get("footer") or {}).get("text") or "")
        for c in walk_components(self.components):
            if c.get("type") == 10:
                parts.append(c.get("content") or "")
        return "\n".join(p for p in parts if p)

    def interactive_components(self) -> list[JSON]:
        """Buttons and selects on the message, in display order."""
        return [c for c in walk_components(self.components) if c.get("type") in INTERACTIVE_TYPES]

    @property
    def buttons(self) -> list[JSON]:
        return [c for c in self.interactive_components() if c.get("type") == 2]

    @property
    def button_labels(self) -> list[str]:
        return [str(c.get("label") or "") for c in self.buttons]

    def to_payload(self) -> JSON:
        channel = self.channel
        payload: JSON = {
            "id": str(self.id),
            "channel_id": str(channel.id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": self.created_at,
            "edited_timestamp": self.edited_at,
            "tts": self.tts,
            "mention_everyone": self.pings.everyone,
            "mentions": [u.to_payload() for u in self.mentioned_users],
            "mention_roles": [str(r) for r in self.mentioned_roles],
            "attachments": [a.to_payload() for a in self.attachments],
            "embeds": self.embeds,
            "pinned": self.pinned,
            "type": self.type,
            "flags": self.flags,
            "components": self.components,
        }
        if self.reactions:
            payload["reactions"] = [
                {
                    "emoji": {"id": None, "name": emoji},
                    "count": len(users),
                    "me": False,
                    "count_details": {"burst": 0, "normal": len(users)},
                    "burst_colors": [],
                    "me_burst": False,
                    "burst_me": False,
                    "burst_count": 0,
                }
                for emoji, users in self.reactions.items()
            ]
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        if channel.guild is not None:
            payload["guild_id"] = str(channel.guild.id)
            member = channel.guild.members.get(self.author.id)
            if member is not None and self.webhook_id is None:
                payload["member"] = member.to_payload(with_user=False)
        if self.webhook_id is not None:
            payload["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            payload["interaction_metadata"] = self.interaction_metadata
        if self.reference is not None:
            payload["message_reference"] = self.reference
        if channel.is_thread:
            payload["position"] = (
                max(0, channel.messages.index(self)) if self in channel.messages else 0
            )
        return payload

    def __repr__(self) -> str:
        where = self.channel.name or "DM"
        return f"<Message id={self.id} in {where} by {self.author.username}: {self.content[:40]!r}>"


class Channel:
    """Any channel: guild text (0), forum (15), public/private thread (11/12), or DM (1)."""

    def __init__(
        self,
        world: World,
        id: int,
        type: int,
        name: str | None,
        *,
        guild: Guild | None = None,
        parent_id: int | None = None,
        position: int = 0,
        topic: str | None = None,
        owner_id: int | None = None,
    ) -> None:
        self.world = world
        self.id = id
        self.type = type
        self.name = name
        self.guild = guild
        self.parent_id = parent_id
        self.position = position
        self.topic = topic
        self.flags = 0
        self.nsfw = False
        self.rate_limit_per_user = 0
        self.overwrites: list[Overwrite] = []
        self.available_tags: list[ForumTag] = []
        # threads
        self.owner_id = owner_id
        self.applied_tags: list[int] = []
        self.archived = False
        self.locked = False
        self.invitable = True
        self.auto_archive_duration = 1440
        self.archive_timestamp = iso_from_snowflake(id)
        self.thread_members: dict[int, ThreadMember] = {}
        self.total_message_sent = 0
        # DMs
        self.recipients: list[User] = []
        #: Non-ephemeral, non-deleted messages are listed by :attr:`messages`.
        self._messages: list[Message] = []

    # --- reading -----------------------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        return [m for m in self._messages if not m.deleted]

    @property
    def last_message(self) -> Message | None:
        msgs = self.messages
        return msgs[-1] if msgs else None

    @property
    def last_message_id(self) -> int | None:
        return self._messages[-1].id if self._messages else None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_forum(self) -> bool:
        return self.type == FORUM

    @property
    def is_dm(self) -> bool:
        return self.type == DM

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    @property
    def parent(self) -> Channel | None:
        return self.world.channels.get(self.parent_id) if self.parent_id is not None else None

    @property
    def threads(self) -> list[Channel]:
        """Threads (forum posts) under this channel, oldest first."""
        return [c for c in self.world.channels.values() if c.parent_id == self.id and c.is_thread]

    @property
    def starter_message(self) -> Message | None:
        """For a forum post: the opening message (its id equals the thread's)."""
        return self.world.messages.get(self.id)

    @property
    def tag_names(self) -> list[str]:
        """Names of the tags applied to this forum post."""
        parent = self.parent
        tags = {t.id: t.name for t in (parent.available_tags if parent else [])}
        return [tags.get(t, str(t)) for t in self.applied_tags]

    def tag(self, name: str) -> ForumTag:
        for t in self.available_tags:
            if t.name == name:
                return t
        raise KeyError(
            f"forum {self.name!r} has no tag {name!r}; "
            f"it has {[t.name for t in self.available_tags]}"
        )

    @property
    def member_ids(self) -> list[int]:
        """Members of a thread, or recipients of a DM."""
        if self.is_dm:
            return [u.id for u in self.recipients]
        return list(self.thread_members)

    # --- changing (as a moderator would, in Discord's UI) -------------------------------------
    def set_permissions(self, target: Role | Member, *, allow: int = 0, deny: int = 0) -> None:
        """Add a permission overwrite, e.g. hide a channel from @everyone."""
        kind = 0 if isinstance(target, Role) else 1
        self.overwrites = [o for o in self.overwrites if not (o.id == target.id and o.type == kind)]
        self.overwrites.append(Overwrite(target.id, kind, int(allow), int(deny)))
        self.world.channel_updated(self)

    def add_tags(self, *names: str, require_tag: bool | None = None) -> list[ForumTag]:
        """Create forum tags (as a moderator would); returns them."""
        created = [ForumTag(self.world.snowflake(), n) for n in names]
        self.available_tags.extend(created)
        if require_tag is not None:
            self.flags = (
                (self.flags | FORUM_REQUIRE_TAG)
                if require_tag
                else (self.flags & ~FORUM_REQUIRE_TAG)
            )
        self.world.channel_updated(self)
        return created

    # --- payloads -----------------------------------------------------------------------------
    def to_payload(self) -> JSON:
        if self.is_dm:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": opt_str(self.last_message_id),
                "recipients": [u.to_payload() for u in self.recipients],
                "flags": 0,
            }
        assert self.guild is not None
        payload: JSON = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild.id),
            "name": self.name,
            "parent_id": opt_str(self.parent_id),
            "last_message_id": opt_str(self.last_message_id),
            "rate_limit_per_user": self.rate_limit_per_user,
            "flags": self.flags,
            "nsfw": self.nsfw,
        }
        if self.is_thread:
            payload.update(
                {
                    "owner_id": opt_str(self.owner_id),
                    "message_count": len(
                        [m for m in self._messages if not m.deleted and m.id != self.id]
                    ),
                    "member_count": min(len(self.thread_members), 50),
                    "total_message_sent": self.total_message_sent,
                    "applied_tags": [str(t) for t in self.applied_tags],
                    "thread_metadata": {
                        "archived": self.archived,
                        "auto_archive_duration": self.auto_archive_duration,
                        "archive_timestamp": self.archive_timestamp,
                        "locked": self.locked,
                        "invitable": self.invitable,
                        "create_timestamp": iso_from_snowflake(self.id),
                    },
                }
            )
            bot_id = self.world.bot_user.id
            if bot_id in self.thread_members:
                payload["member"] = self.thread_members[bot_id].to_payload(self.id)
            return payload
        payload.update(
            {
                "position": self.position,
                "permission_overwrites": [o.to_payload() for o in self.overwrites],
                "topic": self.topic,
            }
        )
        if self.is_forum:
            payload.update(
                {
                    "available_tags": [t.to_payload() for t in self.available_tags],
                    "default_reaction_emoji": None,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                    "default_thread_rate_limit_per_user": 0,
                    "default_auto_archive_duration": 1440,
                }
            )
        else:
            payload["default_auto_archive_duration"] = 1440
        return payload

    def __repr__(self) -> str:
        return f"<Channel {self.name!r} type={self.type} id={self.id}>"


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


class Guild:
    """A server. ``emu.create_guild`` makes one with @everyone, an owner and a #general channel."""

    def __init__(self, world: World, id: int, name: str) -> None:
        self.world = world
        self.id = id
        self.name = name
        self.owner_id = 0
        self.roles: dict[int, Role] = {}
        self.members: dict[int, Member] = {}
        self.locale = "en-US"
        #: Per-command overrides made in Server Settings > Integrations: name -> allowed ids.
        self.command_overrides: dict[str, set[int]] = {}

    # --- reading -----------------------------------------------------------------------------
    @property
    def everyone(self) -> Role:
        return self.roles[self.id]

    @property
    def owner(self) -> Member:
        return self.members[self.owner_id]

    @property
    def me(self) -> Member:
        """The bot's own membership."""
        return self.members[self.world.bot_user.id]

    @property
    def channels(self) -> list[Channel]:
        """Guild channels (not threads), by position."""
        chans = [c for c in self.world.channels.values() if c.guild is self and not c.is_thread]
        return sorted(chans, key=lambda c: (c.position, c.id))

    @property
    def threads(self) -> list[Channel]:
        """Every thread and forum post in the guild, archived ones included."""
        return [c for c in self.world.channels.values() if c.guild is self and c.is_thread]

    @property
    def default_channel(self) -> Channel:
        """Where slash commands are typed unless a test says otherwise (#general)."""
        for c in self.channels:
            if c.type == TEXT:
                return c
        raise LookupError("the guild has no text channel")

    def channel(self, name: str) -> Channel:
        for c in [*self.channels, *self.threads]:
            if c.name == name:
                return c
        raise KeyError(f"no channel named {name!r} in {self.name!r}")

    def role(self, name: str) -> Role:
        for r in self.roles.values():
            if r.name == name:
                return r
        raise KeyError(f"no role named {name!r} in {self.name!r}")

    def member(self, name: str) -> Member:
        for m in self.members.values():
            if m.user.username == name:
                return m
        raise KeyError(f"no member named {name!r} in {self.name!r}")

    def permissions_for(self, user_id: int, channel: Channel | None = None) -> int:
        return self.world.permissions(self, user_id, channel)

    # --- changing (as a server admin would) ---------------------------------------------------
    def create_text_channel(self, name: str, *, topic: str | None = None) -> Channel:
        return self.world.create_channel(self, TEXT, name, topic=topic)

    def create_forum(
        self, name: str, tags: Sequence[str] = (), *, require_tag: bool = False
    ) -> Channel:
        """A forum channel (type 15) with these tags available."""
        forum = self.world.create_channel(self, FORUM, name, tags=tags)
        if require_tag:
            forum.flags |= FORUM_REQUIRE_TAG
        return forum

    def create_role(self, name: str, *, permissions: int = 0, mentionable: bool = False) -> Role:
        return self.world.create_role(self, name, permissions=permissions, mentionable=mentionable)

    def add_member(
        self,
        name: str | User,
        *,
        roles: Sequence[Role | str] = (),
        admin: bool = False,
        locale: str = "en-US",
        nick: str | None = None,
    ) -> Member:
        """A person joins; ``admin=True`` gives them a role with Administrator."""
        return self.world.add_member(self, name, roles=roles, admin=admin, locale=locale, nick=nick)

    def allow_command(self, command: str, *targets: Role | Member) -> None:
        """A server admin lets these roles/members use a command despite its default_permissions."""
        self.command_overrides.setdefault(command, set()).update(t.id for t in targets)

    def to_payload(self, *, for_gateway: bool = False, with_members: bool = False) -> JSON:
        bot_id = self.world.bot_user.id
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "home_header": None,
            "region": "deprecated",
            "widget_enabled": False,
            "widget_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_presences": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "incidents_data": None,
        }
        if for_gateway:
            members = self.members.values() if with_members else [self.members[bot_id]]
            visible_threads = [
                t for t in self.threads if not t.archived and self.world.bot_can_see(t)
            ]
            payload.update(
                {
                    "joined_at": self.members[bot_id].joined_at,
                    "large": len(self.members) > 250,
                    "unavailable": False,
                    "member_count": len(self.members),
                    "voice_states": [],
                    "members": [m.to_payload() for m in members],
                    "channels": [_without_guild_id(c.to_payload()) for c in self.channels],
                    "threads": [t.to_payload() for t in visible_threads],
                    "presences": [],
                    "stage_instances": [],
                    "guild_scheduled_events": [],
                    "soundboard_sounds": [],
                }
            )
        return payload

    def __repr__(self) -> str:
        return f"<Guild {self.name!r} id={self.id}>"


def _without_guild_id(payload: JSON) -> JSON:
    payload.pop("guild_id", None)
    return payload


class Member:
    """A person in a guild, and the handle a test drives the bot with.

    Every action returns what this person would see; see :mod:`emulator.interactions`.
    """

    def __init__(
        self, world: World, guild: Guild, user: User, *, joined_at: str, locale: str = "en-US"
    ) -> None:
        self.world = world
        self.guild = guild
        self.user = user
        self.nick: str | None = None
        self.roles: list[Role] = []
        self.joined_at = joined_at
        self.locale = locale

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.username

    @property
    def mention(self) -> str:
        return self.user.mention

    @property
    def display_name(self) -> str:
        return self.nick or self.user.global_name or self.user.username

    def permissions(self, channel: Channel | None = None) -> int:
        """Effective permissions (guild-wide, or in a channel after overwrites)."""
        return self.guild.permissions_for(self.id, channel)

    def has_permission(self, perm: Permission, channel: Channel | None = None) -> bool:
        return bool(self.permissions(channel) & perm)

    def add_role(self, role: Role | str) -> None:
        self.world.add_member_role(self, role)

    def remove_role(self, role: Role | str) -> None:
        self.world.remove_member_role(self, role)

    @property
    def in_guild(self) -> bool:
        """Whether the person is (still) a member: False after :meth:`leave`."""
        return self.guild.members.get(self.id) is self

    def leave(self) -> None:
        """Leave the server (see :meth:`World.remove_member`)."""
        self.world.remove_member(self)

    def rejoin(self) -> None:
        """Join the server again after :meth:`leave` (see :meth:`World.rejoin_member`)."""
        self.world.rejoin_member(self)

    def to_payload(
        self, *, with_user: bool = True, channel: Channel | None = None, permissions: bool = False
    ) -> JSON:
        payload: JSON = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user.to_payload()
        if permissions:
            payload["permissions"] = str(self.permissions(channel))
        return payload

    # --- what the person does -------------------------------------------------------------
    async def slash(
        self,
        command: str,
        /,
        *,
        in_channel: Channel | None = None,
        in_dm: bool = False,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Run ``/command [group] [sub]`` with typed options; returns the bot's answer.

        Options go as keyword arguments (or ``options=`` when a name clashes with these
        parameters). Users, channels and roles are passed as emulator objects.
        """
        return await self.world.actions.slash(
            self, command, in_channel=in_channel, in_dm=in_dm, options={**(options or {}), **kwargs}
        )

    async def autocomplete(
        self,
        command: str,
        option: str,
        typed: str,
        /,
        *,
        in_channel: Channel | None = None,
        in_dm: bool = False,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[JSON]:
        """Type into an autocomplete option; returns the ``{name, value}`` choices shown."""
        return await self.world.actions.autocomplete(
            self,
            command,
            option,
            typed,
            in_channel=in_channel,
            in_dm=in_dm,
            options={**(options or {}), **kwargs},
        )

    async def press(
        self,
        target: Message | Reply,
        /,
        label: str | None = None,
        *,
        custom_id: str | None = None,
        follow: bool = True,
    ) -> Reply:
        """Press a button (by label or custom_id) on a message this person can see.

        ``follow=False`` returns right after a deferred update instead of waiting for the edit.
        """
        return await self.world.actions.press(
            self, target, label=label, custom_id=custom_id, follow=follow
        )

    async def choose(
        self,
        target: Message | Reply,
        values: Sequence[Any],
        /,
        *,
        custom_id: str | None = None,
        placeholder: str | None = None,
        follow: bool = True,
    ) -> Reply:
        """Pick values in a select menu (strings, or members/roles/channels for entity selects)."""
        return await self.world.actions.choose(
            self, target, values, custom_id=custom_id, placeholder=placeholder, follow=follow
        )

    async def submit(
        self, modal: Modal | Reply, values: Mapping[str, Any], /, *, follow: bool = True
    ) -> Reply:
        """Fill in and submit a modal; fields by custom_id or by label."""
        return await self.world.actions.submit(self, modal, values, follow=follow)

    async def say(self, channel: Channel, content: str) -> Message:
        """Post a plain message in a channel or thread (dispatched to the bot as MESSAGE_CREATE)."""
        return await self.world.actions.say(self, channel, content)

    async def say_in_dm(self, content: str) -> Message:
        """Write to the bot in DMs."""
        return await self.world.actions.say(self, self.dm_channel, content)

    # --- what the person sees ---------------------------------------------------------------
    @property
    def dm_channel(self) -> Channel:
        """This person's DM channel with the bot (created on first use, like Discord's)."""
        return self.world.dm_channel_for(self.user)

    def dms(self) -> list[Message]:
        """Messages the bot sent this person in DMs, oldest first."""
        channel = self.world.existing_dm_channel(self.user.id)
        if channel is None:
            return []
        return [m for m in channel.messages if m.author.id == self.world.bot_user.id]

    def last_dm(self) -> Message | None:
        dms = self.dms()
        return dms[-1] if dms else None

    async def wait_for_dm(
        self,
        matching: str | None = None,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Message:
        """Wait for this person's ``count``-th DM from the bot (containing ``matching``)."""

        def found() -> Message | None:
            dms = [m for m in self.dms() if matching is None or matching in m.text]
            return dms[count - 1] if len(dms) >= count else None

        return await self.world.wait_for(found, timeout=timeout, what=f"DM #{count} to {self.name}")

    def ephemerals(self) -> list[Message]:
        """Ephemeral messages only this person saw, oldest first."""
        return [
            m for m in self.world.messages.values() if m.visible_to == self.id and not m.deleted
        ]

    def can_see(self, channel: Channel) -> bool:
        return bool(self.permissions(channel) & Permission.VIEW_CHANNEL)

    def pinged_by(self, message: Message) -> bool:
        """Whether this person got a notification from the message."""
        return message.pings.notifies(self.id, [r.id for r in self.roles])

    def __repr__(self) -> str:
        return f"<Member {self.name} id={self.id} guild={self.guild.name!r}>"
