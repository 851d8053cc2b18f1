"""Who a message would actually notify, given its text and ``allowed_mentions``.

Discord parses ``<@id>``, ``<@!id>``, ``<@&id>``, ``@everyone`` and ``@here`` in the content
(never in embeds). Without ``allowed_mentions`` everything parses; ``@everyone`` also needs the
author's MENTION_EVERYONE permission, and a role pings only if it is mentionable or the author
has that permission too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    """The notifications a message caused: users, roles, and whether @everyone/@here fired."""

    users: frozenset[int] = field(default_factory=frozenset)
    roles: frozenset[int] = field(default_factory=frozenset)
    everyone: bool = False

    def __bool__(self) -> bool:
        return bool(self.users or self.roles or self.everyone)

    def notifies(self, user_id: int, role_ids: Collection[int] = ()) -> bool:
        """Whether a member with these roles got a notification from the message."""
        return self.everyone or user_id in self.users or any(r in self.roles for r in role_ids)


def mentioned_ids(content: str) -> tuple[list[int], list[int], bool]:
    """Users, roles and @everyone/@here written in the content, in order, without duplicates."""
    users = list(dict.fromkeys(int(m) for m in USER_MENTION.findall(content)))
    roles = list(dict.fromkeys(int(m) for m in ROLE_MENTION.findall(content)))
    return users, roles, bool(EVERYONE_MENTION.search(content))


def compute_pings(
    content: str | None,
    allowed_mentions: dict[str, Any] | None,
    *,
    known_users: Collection[int],
    mentionable_roles: Collection[int],
    can_mention_everyone: bool,
    replied_user_id: int | None = None,
) -> Pings:
    """Apply Discord's rules; ``known_users`` are ids that exist (others ping nobody)."""
    users, roles, everyone = mentioned_ids(content or "")
    if allowed_mentions is None:
        parse: set[str] = {"users", "roles", "everyone"}
        allowed_users: set[int] = set()
        allowed_roles: set[int] = set()
        replied = True
    else:
        parse = set(allowed_mentions.get("parse") or [])
        allowed_users = {int(u) for u in allowed_mentions.get("users") or []}
        allowed_roles = {int(r) for r in allowed_mentions.get("roles") or []}
        replied = bool(allowed_mentions.get("replied_user", False))
    pinged_users = {
        u for u in users if u in known_users and ("users" in parse or u in allowed_users)
    }
    pinged_roles = {
        r
        for r in roles
        if ("roles" in parse or r in allowed_roles)
        and (can_mention_everyone or r in mentionable_roles)
    }
    if replied_user_id is not None and replied:
        pinged_users.add(replied_user_id)
    return Pings(
        users=frozenset(pinged_users),
        roles=frozenset(pinged_roles),
        everyone=everyone and "everyone" in parse and can_mention_everyone,
    )
