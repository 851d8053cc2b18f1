"""What Discord stores from a message body: the embeds and components it answers with.

A bot sends the short form (no ``id`` on components, no ``type`` on embeds, defaults left out);
Discord fills in what its responses always carry, so the emulator does the same before a message
is stored (and so answered over REST and the gateway):

- every component gets an ``id``, numbered depth first from 1 in the message where the bot gave
  none (ids the bot chose are kept and skipped);
- selects get ``min_values``/``max_values`` 1, text inputs ``min_length``/``max_length`` null,
  containers ``accent_color`` null and ``spoiler`` false, separators ``spacing`` 1 and
  ``divider`` true, thumbnails and gallery items ``description`` null and ``spoiler`` false,
  unfurled media an ``id`` and ``proxy_url``;
- embeds get ``type: "rich"`` and each field ``inline: false`` unless set.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .model import walk_components

JSON = dict[str, Any]

_SELECTS = frozenset({3, 5, 6, 7, 8})
_DEFAULTS: dict[int, JSON] = {
    4: {"min_length": None, "max_length": None},
    11: {"description": None, "spoiler": False},
    13: {"name": None, "size": None, "spoiler": False},
    14: {"spacing": 1, "divider": True},
    17: {"accent_color": None, "spoiler": False},
}


def stored_components(components: Sequence[Any], snowflake: Callable[[], int]) -> list[JSON]:
    """A copy of ``components`` as Discord answers them (see the module docstring)."""
    out: list[JSON] = copy.deepcopy([c for c in components if isinstance(c, dict)])
    every = list(walk_components(out))
    taken = {c["id"] for c in every if isinstance(c.get("id"), int)}
    next_id = 1
    for c in every:
        if not isinstance(c.get("id"), int):
            while next_id in taken:
                next_id += 1
            c["id"] = next_id
            taken.add(next_id)
        kind = c.get("type")
        if kind in _SELECTS:
            c.setdefault("min_values", 1)
            c.setdefault("max_values", 1)
        for key, value in _DEFAULTS.get(kind if isinstance(kind, int) else -1, {}).items():
            c.setdefault(key, value)
        for media in _media(c):
            media.setdefault("id", str(snowflake()))
            media.setdefault("proxy_url", media.get("url", ""))
        if kind == 12:
            for item in c.get("items") or []:
                if isinstance(item, dict):
                    item.setdefault("description", None)
                    item.setdefault("spoiler", False)
    return out


def _media(component: JSON) -> Iterator[JSON]:
    for key in ("media", "file"):
        media = component.get(key)
        if isinstance(media, dict):
            yield media
    for item in component.get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("media"), dict):
            yield item["media"]


def stored_embeds(embeds: Sequence[Any]) -> list[JSON]:
    """A copy of ``embeds`` as Discord answers them (see the module docstring)."""
    out: list[JSON] = []
    for embed in embeds:
        if not isinstance(embed, dict):
            continue
        stored = copy.deepcopy(embed)
        stored.setdefault("type", "rich")
        for f in stored.get("fields") or []:
            if isinstance(f, dict):
                f.setdefault("inline", False)
        out.append(stored)
    return out
