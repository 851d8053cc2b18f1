"""Discord's documented limits, checked the way Discord checks them (``50035 Invalid Form Body``).

Everything here is pure: a payload goes in, field errors are added to a :class:`FormErrors`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, FormErrors

Path = tuple[str | int, ...]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
ACTION_ROWS_MAX = 5
BUTTONS_PER_ROW_MAX = 5
SELECT_OPTIONS_MAX = 25
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
V2_COMPONENTS_MAX = 40
TEXT_INPUT_MAX = 4000
MODAL_TITLE_MAX = 45
MODAL_COMPONENTS_MAX = 5
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100
CHOICE_VALUE_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_DESCRIPTION_MAX = 100
NONCE_MAX = 25
TAGS_PER_THREAD_MAX = 5
FORUM_TAGS_MAX = 20
CHANNEL_NAME_MAX = 100

FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15

BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
USER_SELECT = 5
ROLE_SELECT = 6
MENTIONABLE_SELECT = 7
CHANNEL_SELECT = 8
SELECT_TYPES = frozenset(
    {STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT}
)
INTERACTIVE_TYPES = SELECT_TYPES | {BUTTON}

_NAME_RE = re.compile(r"^[-_\w]{1,32}$")


def _length(errors: FormErrors, path: Path, value: Any, maximum: int, *, minimum: int = 0) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return
    if minimum and len(value) < minimum:
        errors.add(
            path, "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {maximum} in length."
        )
    elif len(value) > maximum:
        if minimum:
            errors.add(
                path, "BASE_TYPE_BAD_LENGTH", f"Must be between {minimum} and {maximum} in length."
            )
        else:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")


def _count(
    errors: FormErrors, path: Path, items: Any, maximum: int, *, minimum: int = 0
) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return []
    if len(items) > maximum:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {maximum} or fewer in length.")
    elif len(items) < minimum:
        errors.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {minimum} or more in length.")
    return items


def validate_message(body: dict[str, Any], errors: FormErrors, path: Path = ()) -> None:
    """Content, embeds, components, allowed_mentions and nonce of a message create or edit."""
    flags = int(body.get("flags") or 0)
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    if v2 and (body.get("content") or body.get("embeds")):
        errors.add(
            (*path, "content"),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using "
            "MessageFlags.IS_COMPONENTS_V2",
        )
    _length(errors, (*path, "content"), body.get("content"), CONTENT_MAX)
    validate_embeds(body.get("embeds"), errors, (*path, "embeds"))
    validate_components(body.get("components"), errors, (*path, "components"), v2=v2)
    validate_allowed_mentions(body.get("allowed_mentions"), errors, (*path, "allowed_mentions"))
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, int) and not isinstance(nonce, bool):
            nonce = str(nonce)
        _length(errors, (*path, "nonce"), nonce, NONCE_MAX)


def embed_size(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6,000 total."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def validate_embeds(embeds: Any, errors: FormErrors, path: Path) -> None:
    items = _count(errors, path, embeds, EMBEDS_MAX)
    total = 0
    for i, embed in enumerate(items):
        if not isinstance(embed, dict):
            errors.add(
                (*path, i), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
            )
            continue
        p = (*path, i)
        _length(errors, (*p, "title"), embed.get("title"), EMBED_TITLE_MAX)
        _length(errors, (*p, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
        fields = _count(errors, (*p, "fields"), embed.get("fields"), EMBED_FIELDS_MAX)
        for j, f in enumerate(fields):
            if not f.get("name"):
                errors.add(
                    (*p, "fields", j, "name"), "BASE_TYPE_REQUIRED", "This field is required"
                )
            if not f.get("value"):
                errors.add(
                    (*p, "fields", j, "value"), "BASE_TYPE_REQUIRED", "This field is required"
                )
            _length(errors, (*p, "fields", j, "name"), f.get("name"), EMBED_FIELD_NAME_MAX)
            _length(errors, (*p, "fields", j, "value"), f.get("value"), EMBED_FIELD_VALUE_MAX)
        _length(
            errors,
            (*p, "footer", "text"),
            (embed.get("footer") or {}).get("text"),
            EMBED_FOOTER_MAX,
        )
        _length(
            errors,
            (*p, "author", "name"),
            (embed.get("author") or {}).get("name"),
            EMBED_AUTHOR_MAX,
        )
        total += embed_size(embed)
    if total > EMBED_TOTAL_MAX:
        errors.add(
            path, "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
        )


def validate_allowed_mentions(am: Any, errors: FormErrors, path: Path) -> None:
    if am is None:
        return
    if not isinstance(am, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    parse = am.get("parse") or []
    for kind in parse:
        if kind not in ("users", "roles", "everyone"):
            errors.add(
                (*path, "parse"),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            )
    for kind in ("users", "roles"):
        ids = am.get(kind)
        if ids and kind in parse:
            errors.add(
                (*path, "parse"),
                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            )
        _count(errors, (*path, kind), ids, 100)


def _check_custom_id(
    component: dict[str, Any], errors: FormErrors, path: Path, seen: set[str]
) -> None:
    custom_id = component.get("custom_id")
    if custom_id is None:
        errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
        return
    _length(errors, (*path, "custom_id"), custom_id, CUSTOM_ID_MAX, minimum=1)
    if custom_id in seen:
        errors.add(
            (*path, "custom_id"),
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    seen.add(custom_id)


BUTTON_URL_MAX = 512
URL_SCHEMES = ("http", "https", "discord")


def _well_formed_url(url: str) -> bool:
    """What Discord accepts on a link button: http(s) or discord:, with a host, no spaces."""
    parts = urlsplit(url)
    return (
        parts.scheme in URL_SCHEMES and bool(parts.netloc) and not any(ch.isspace() for ch in url)
    )


def _validate_button(c: dict[str, Any], errors: FormErrors, path: Path, seen: set[str]) -> None:
    style = c.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add(
            (*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, 3, 4, 5, 6)."
        )
    if style == 5:
        url = c.get("url")
        if not url:
            errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        elif not isinstance(url, str) or not _well_formed_url(url):
            errors.add((*path, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        elif len(url) > BUTTON_URL_MAX:
            errors.add(
                (*path, "url"),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {BUTTON_URL_MAX} or fewer in length.",
            )
        if c.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"),
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A link button cannot have a custom_id",
            )
    elif style != 6:
        _check_custom_id(c, errors, path, seen)
    _length(errors, (*path, "label"), c.get("label"), BUTTON_LABEL_MAX)
    if not c.get("label") and not c.get("emoji") and style != 6:
        errors.add(
            path,
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A button must have a label or an emoji",
        )


def _validate_select(c: dict[str, Any], errors: FormErrors, path: Path, seen: set[str]) -> None:
    _check_custom_id(c, errors, path, seen)
    _length(errors, (*path, "placeholder"), c.get("placeholder"), 150)
    min_values = c.get("min_values", 1)
    max_values = c.get("max_values", 1)
    if not 0 <= int(min_values) <= 25:
        errors.add(
            (*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be between 0 and 25."
        )
    if not 1 <= int(max_values) <= 25:
        errors.add(
            (*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be between 1 and 25."
        )
    if c.get("type") == STRING_SELECT:
        options = _count(
            errors, (*path, "options"), c.get("options"), SELECT_OPTIONS_MAX, minimum=1
        )
        if not options and c.get("options") is None:
            errors.add((*path, "options"), "BASE_TYPE_REQUIRED", "This field is required")
        values: set[str] = set()
        for i, opt in enumerate(options):
            _length(errors, (*path, "options", i, "label"), opt.get("label"), 100, minimum=1)
            _length(errors, (*path, "options", i, "value"), opt.get("value"), 100, minimum=1)
            _length(errors, (*path, "options", i, "description"), opt.get("description"), 100)
            if opt.get("value") in values:
                errors.add(
                    (*path, "options", i, "value"),
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Component option value cannot be duplicated",
                )
            values.add(opt.get("value"))
        if options and int(max_values) > len(options):
            errors.add(
                (*path, "max_values"),
                "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE",
                "max_values must be less than or equal to the number of options",
            )


def validate_components(
    components: Any, errors: FormErrors, path: Path, *, v2: bool = False
) -> None:
    """Action rows (classic) or the components-v2 tree, with custom_id rules."""
    seen: set[str] = set()
    if not v2:
        rows = _count(errors, path, components, ACTION_ROWS_MAX)
        for i, row in enumerate(rows):
            rp = (*path, i)
            if not isinstance(row, dict) or row.get("type") != 1:
                errors.add(
                    (*rp, "type"),
                    "UNION_TYPE_CHOICES",
                    'Value of field "type" must be one of (1,).',
                )
                continue
            children = _count(
                errors, (*rp, "components"), row.get("components"), BUTTONS_PER_ROW_MAX, minimum=1
            )
            selects = [c for c in children if c.get("type") in SELECT_TYPES]
            if selects and len(children) > 1:
                errors.add(
                    (*rp, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            for j, c in enumerate(children):
                cp = (*rp, "components", j)
                if c.get("type") == BUTTON:
                    _validate_button(c, errors, cp, seen)
                elif c.get("type") in SELECT_TYPES:
                    _validate_select(c, errors, cp, seen)
                else:
                    errors.add(
                        (*cp, "type"),
                        "UNION_TYPE_CHOICES",
                        'Value of field "type" is not a message component.',
                    )
        return
    counter = [0]

    def walk(items: list[Any], p: Path) -> None:
        for i, c in enumerate(items):
            if not isinstance(c, dict):
                continue
            counter[0] += 1
            cp = (*p, i)
            kind = c.get("type")
            if kind == BUTTON:
                _validate_button(c, errors, cp, seen)
            elif kind in SELECT_TYPES:
                _validate_select(c, errors, cp, seen)
            elif kind == 10:
                _length(errors, (*cp, "content"), c.get("content"), TEXT_INPUT_MAX, minimum=1)
            elif kind == TEXT_INPUT:
                errors.add(
                    (*cp, "type"), "UNION_TYPE_CHOICES", "Text inputs are only allowed in modals."
                )
            if isinstance(c.get("components"), list):
                walk(c["components"], (*cp, "components"))
            accessory = c.get("accessory")
            if isinstance(accessory, dict):
                walk([accessory], (*cp, "accessory"))

    walk(_count(errors, path, components, V2_COMPONENTS_MAX), path)
    if counter[0] > V2_COMPONENTS_MAX:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {V2_COMPONENTS_MAX} or fewer in length.")


def _validate_text_input(
    c: dict[str, Any], errors: FormErrors, path: Path, seen: set[str], *, needs_label: bool
) -> None:
    _check_custom_id(c, errors, path, seen)
    if c.get("style") not in (1, 2):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    if needs_label:
        _length(errors, (*path, "label"), c.get("label"), MODAL_TITLE_MAX, minimum=1)
        if c.get("label") is None:
            errors.add((*path, "label"), "BASE_TYPE_REQUIRED", "This field is required")
    for key in ("min_length", "max_length"):
        value = c.get(key)
        lowest = 0 if key == "min_length" else 1
        if value is not None and not lowest <= int(value) <= TEXT_INPUT_MAX:
            errors.add(
                (*path, key),
                "NUMBER_TYPE_MAX",
                f"int value should be between {lowest} and {TEXT_INPUT_MAX}.",
            )
    _length(errors, (*path, "value"), c.get("value"), TEXT_INPUT_MAX)
    _length(errors, (*path, "placeholder"), c.get("placeholder"), 100)


def validate_modal(data: dict[str, Any], errors: FormErrors, path: Path = ("data",)) -> None:
    """Modal callbacks: title, custom_id, up to five rows/labels of text inputs or selects."""
    seen: set[str] = set()
    _check_custom_id(data, errors, path, set())
    _length(errors, (*path, "title"), data.get("title"), MODAL_TITLE_MAX, minimum=1)
    items = _count(
        errors, (*path, "components"), data.get("components"), MODAL_COMPONENTS_MAX, minimum=1
    )
    for i, c in enumerate(items):
        cp = (*path, "components", i)
        kind = c.get("type")
        if kind == 1:
            children = c.get("components") or []
            if len(children) != 1:
                errors.add(
                    (*cp, "components"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 1 in length.",
                )
            for j, child in enumerate(children):
                if child.get("type") == TEXT_INPUT:
                    _validate_text_input(
                        child, errors, (*cp, "components", j), seen, needs_label=True
                    )
                else:
                    _validate_select(child, errors, (*cp, "components", j), seen)
        elif kind == 18:
            _length(errors, (*cp, "label"), c.get("label"), MODAL_TITLE_MAX, minimum=1)
            _length(errors, (*cp, "description"), c.get("description"), 100)
            inner = c.get("component") or {}
            if inner.get("type") == TEXT_INPUT:
                _validate_text_input(inner, errors, (*cp, "component"), seen, needs_label=False)
            elif inner.get("type") in SELECT_TYPES:
                _validate_select(inner, errors, (*cp, "component"), seen)
            elif "custom_id" in inner:
                _check_custom_id(inner, errors, (*cp, "component"), seen)
        elif kind == 10:
            _length(errors, (*cp, "content"), c.get("content"), TEXT_INPUT_MAX, minimum=1)
        else:
            errors.add(
                (*cp, "type"),
                "UNION_TYPE_CHOICES",
                'Value of field "type" is not allowed in a modal.',
            )


def validate_choices(choices: Any, errors: FormErrors, path: Path = ("data", "choices")) -> None:
    """Autocomplete results: at most 25, names 1-100, string values at most 100."""
    if choices is None:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    items = _count(errors, path, choices, CHOICES_MAX)
    for i, choice in enumerate(items):
        _length(errors, (*path, i, "name"), choice.get("name"), CHOICE_NAME_MAX, minimum=1)
        value = choice.get("value")
        if isinstance(value, str):
            _length(errors, (*path, i, "value"), value, CHOICE_VALUE_MAX)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.add((*path, i, "value"), "BASE_TYPE_REQUIRED", "This field is required")


def _validate_options(options: Any, errors: FormErrors, path: Path, *, depth: int) -> None:
    items = _count(errors, path, options, COMMAND_OPTIONS_MAX)
    names: set[str] = set()
    seen_optional = False
    for i, opt in enumerate(items):
        op = (*path, i)
        name = opt.get("name", "")
        kind = opt.get("type")
        if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.lower():
            errors.add((*op, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            errors.add(
                (*op, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option name already exists",
            )
        names.add(name)
        _length(
            errors, (*op, "description"), opt.get("description"), COMMAND_DESCRIPTION_MAX, minimum=1
        )
        if kind in (1, 2):
            if depth >= (2 if kind == 2 else 3):
                errors.add(
                    (*op, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command nesting is too deep",
                )
            children = opt.get("options") or []
            if kind == 2 and any(c.get("type") != 1 for c in children):
                errors.add(
                    (*op, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups may only contain sub-commands",
                )
            _validate_options(children, errors, (*op, "options"), depth=depth + 1)
            continue
        if kind not in range(3, 12):
            errors.add((*op, "type"), "BASE_TYPE_CHOICES", "Value must be one of (1, 2, ..., 11).")
        if opt.get("required"):
            if seen_optional:
                errors.add(
                    (*op, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        if opt.get("autocomplete") and opt.get("choices"):
            errors.add(
                (*op, "autocomplete"),
                "AUTOCOMPLETE_AND_CHOICES",
                "Autocomplete and choices cannot be used together",
            )
        validate_choices(opt.get("choices") or [], errors, (*op, "choices"))
    kinds = {o.get("type") for o in items}
    if kinds & {1, 2} and kinds - {1, 2}:
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands and sub-command groups cannot be mixed with other options",
        )


def validate_commands(commands: Any, errors: FormErrors) -> None:
    """A bulk overwrite: names, descriptions, option trees, and at most 100 slash commands."""
    if not isinstance(commands, list):
        raise ApiError(
            400,
            50035,
            "Invalid Form Body",
            errors={"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]},
        )
    _count(errors, (), [c for c in commands if c.get("type", 1) == 1], 100)
    seen: set[tuple[str, int]] = set()
    for i, cmd in enumerate(commands):
        kind = cmd.get("type", 1)
        name = cmd.get("name", "")
        if kind == 1:
            if not isinstance(name, str) or not _NAME_RE.match(name) or name != name.lower():
                errors.add(
                    (i, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
                )
            _length(
                errors,
                (i, "description"),
                cmd.get("description"),
                COMMAND_DESCRIPTION_MAX,
                minimum=1,
            )
            _validate_options(cmd.get("options") or [], errors, (i, "options"), depth=1)
        else:
            _length(errors, (i, "name"), name, 32, minimum=1)
        if (name, kind) in seen:
            errors.add(
                (i, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add((name, kind))
