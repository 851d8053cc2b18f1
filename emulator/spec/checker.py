"""Check REST exchanges and gateway dispatches against Discord's OpenAPI description.

:class:`SpecChecker` matches a request to its operation in the vendored ``openapi.json`` (method +
path template, the most literal template winning, as Discord's router does), then validates the
request body and query the bot sent, the status code, and the response body the emulator
returned, with one compiled ``jsonschema`` validator per schema (built on first use, then reused).
Gateway dispatches are validated against the REST object schemas where they carry the same
objects (see :data:`DISPATCH_SCHEMAS`); the gateway-only envelope around them is not in the spec.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import marshal
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
from fastjsonschema import JsonSchemaValueException
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from . import Exchange

SPEC_PATH = Path(__file__).with_name("openapi.json")
SPEC_URI = "urn:discord-api-spec"
#: A schema name meaning "the channel schema its ``type`` calls for" (see :func:`channel_schema`).
CHANNEL = "<channel>"
JSON = dict[str, Any]


@dataclass(frozen=True)
class Mismatch:
    """One place where an exchange disagrees with the spec."""

    where: str  # "POST /channels/{channel_id}/messages 200 response", "gateway MESSAGE_CREATE"
    path: str  # JSON path inside the checked object, "$.components[0].id"
    message: str

    def __str__(self) -> str:
        return f"{self.where} at {self.path}: {self.message}"


@dataclass(frozen=True)
class SpecException:
    """A mismatch the suite accepts because the spec, not the emulator, is wrong.

    ``where`` and ``path`` are ``fnmatch`` patterns over :class:`Mismatch` fields; ``message``
    a substring of its message.
    """

    where: str
    path: str
    message: str
    reason: str

    def covers(self, mismatch: Mismatch) -> bool:
        return (
            fnmatch.fnmatchcase(mismatch.where, self.where)
            and fnmatch.fnmatchcase(mismatch.path, self.path)
            and self.message in mismatch.message
        )


@dataclass(frozen=True)
class SchemaPatch:
    """A correction to one schema of the vendored spec, where the spec is narrower than what
    Discord sends or accepts. ``pointer`` is the schema's path under ``components/schemas``;
    ``requests_only`` limits it to what the bot sends."""

    pointer: tuple[str, ...]
    schema: JSON
    reason: str
    requests_only: bool = False

    @property
    def spec_path(self) -> str:
        return "#/components/schemas/" + "/".join(self.pointer)


_STRING_ERROR = {
    "type": "object",
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["code", "message"],
}

#: Corrections to the spec (each listed, with its reason, in README.md). Keep this short.
PATCHES: tuple[SchemaPatch, ...] = (
    SchemaPatch(
        ("SnowflakeType",),
        {"anyOf": [{"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}, {"type": "integer"}]},
        "Discord accepts a snowflake sent as a JSON integer (discord.py sends ints for "
        "allowed_mentions.users, recipient_id and attachments[].id); it always answers strings",
        requests_only=True,
    ),
    SchemaPatch(
        ("ChannelTypes",),
        {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16]},
        "the enum lacks 16 (GUILD_MEDIA), a channel type in Discord's channel docs; discord.py "
        "adds it to channel_types of every forum-channel option",
    ),
    SchemaPatch(
        ("InnerErrors", "properties", "_errors", "items"),
        _STRING_ERROR,
        "a field error's code is a string (BASE_TYPE_MAX_LENGTH), as in Discord's error docs; "
        "the spec reuses the top-level Error whose code is an integer",
    ),
    SchemaPatch(
        ("InteractionCallbackResponse", "properties", "resource"),
        {
            "oneOf": [
                {"$ref": "#/components/schemas/CreateMessageInteractionCallbackResponse"},
                {"$ref": "#/components/schemas/LaunchActivityInteractionCallbackResponse"},
                {"$ref": "#/components/schemas/UpdateMessageInteractionCallbackResponse"},
                {
                    "type": "object",
                    "properties": {"type": {"type": "integer", "enum": [1, 5, 6, 8, 9, 10]}},
                    "required": ["type"],
                },
            ]
        },
        "Discord's docs give every callback a resource with its type (message only for 4 and 7);"
        " the spec lists resources for 4, 7 and 12 only",
    ),
)

#: Mismatches the suite accepts because the emulator deliberately does as Discord does where the
#: spec says otherwise (each listed, with its reason, in README.md). Keep this short.
EXCEPTIONS: tuple[SpecException, ...] = (
    SpecException(
        "gateway GUILD_CREATE",
        "$.channels[[]*[]]",
        "'guild_id' is a required property",
        "Discord leaves guild_id out of the channels inside GUILD_CREATE (the gateway is not in "
        "the spec; its channels are checked against the REST channel schema)",
    ),
    SpecException(
        "POST /channels/{channel_id}/threads request",
        "?use_nested_fields",
        "query parameter not in the spec",
        "discord.py sends use_nested_fields=1 when it creates a forum post; Discord accepts it",
    ),
    SpecException(
        "* 429 response",
        "$",
        "'code' is a required property",
        "a per-route 429 body has no code, as in Discord's rate-limit docs (only the global "
        "limit's has code 0)",
    ),
)


def _patched(components: JSON, *, requests: bool) -> JSON:
    out = copy.deepcopy(components)
    for patch in PATCHES:
        if patch.requests_only and not requests:
            continue
        node = out["schemas"]
        for part in patch.pointer[:-1]:
            node = node[part]
        node[patch.pointer[-1]] = copy.deepcopy(patch.schema)
    return out


@cache
def load_spec() -> JSON:
    """The vendored spec, unchanged (patches apply to copies of its components)."""
    with SPEC_PATH.open(encoding="utf-8") as f:
        spec: JSON = json.load(f)
    return spec


@cache
def spec_digest() -> str:
    """Names this spec, these patches and this ``fastjsonschema``: the compiled-code cache key."""
    h = hashlib.sha256(SPEC_PATH.read_bytes())
    h.update(repr(PATCHES).encode())
    h.update(fastjsonschema.VERSION.encode())
    h.update(sys.version.encode())  # marshal's format is Python's own
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where compiled validators are kept between runs: ``PAIRBOT_SPEC_CACHE`` or a folder in the
    system's temporary directory."""
    raw = os.environ.get("PAIRBOT_SPEC_CACHE")
    path = Path(raw) if raw else Path(tempfile.gettempdir()) / "pairbot-spec-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:  # a read-only cache only costs the next run the compile time
        tmp.unlink(missing_ok=True)


def _strip_formats(node: Any) -> Any:
    """The schema without ``format`` keywords: ``jsonschema`` does not assert formats by
    default, and both validators must agree on what is valid."""
    if isinstance(node, dict):
        return {
            k: _strip_formats(v)
            for k, v in node.items()
            if not (k == "format" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip_formats(v) for v in node]
    return node


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    literal_segments: int
    spec: JSON

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_path(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """For a failed ``oneOf``/``anyOf``, the errors of the branch the instance most likely meant
    (a branch whose ``type`` discriminator fails is a poor guess), else the error itself."""
    if not error.context or error.validator not in ("oneOf", "anyOf"):
        yield error
        return
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)

    def cost(errors: list[ValidationError]) -> int:
        score = 0
        for e in errors:
            rel = list(e.relative_path)
            if not rel and e.validator in ("type", "const", "enum"):
                score += 10_000  # wrong kind of thing altogether (e.g. null vs object)
            elif rel == ["type"] and e.validator in ("const", "enum", "allOf", "$ref"):
                score += 1_000  # the discriminator says it is another branch
            else:
                score += 1
        return score

    best = min(branches.values(), key=cost)
    for sub in best:
        yield from _leaf_errors(sub)


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return error.message
    if error.validator == "type":
        return f"{_short(error.instance)} is not of type {error.validator_value!r}"
    if error.validator in ("oneOf", "anyOf"):
        return f"{_short(error.instance)} matches {error.validator} branches ambiguously or not"
    return f"{error.validator} {_short(error.validator_value, 80)}: {_short(error.instance)}"


class _Side:
    """The spec's components as requests or as responses see them (patches differ), with one
    compiled validator per schema key, built on first use."""

    def __init__(self, spec: JSON, *, requests: bool) -> None:
        self.digest = f"{spec_digest()} requests={requests}"
        self.components = _patched(spec["components"], requests=requests)
        self._stripped = _strip_formats(self.components)
        self._patched_spec = {**spec, "components": self.components}
        self._registry: Registry[Any] | None = None
        self.fast: dict[str, Callable[[Any], Any]] = {}
        self._full: dict[str, Draft202012Validator] = {}
        self.schemas: dict[str, JSON] = {}

    def compiled(self, key: str, schema: JSON) -> Callable[[Any], Any]:
        fast = self.fast.get(key)
        if fast is None:
            self.schemas[key] = schema
            fast = self._load_or_compile(key, schema)
            self.fast[key] = fast
        return fast

    def _load_or_compile(self, key: str, schema: JSON) -> Callable[[Any], Any]:
        """The compiled validator, from the on-disk cache when an earlier run made it: the code
        ``fastjsonschema`` generates for a large schema takes a second or more to build and to
        byte-compile, so the cache keeps the byte code (``marshal``) of the generated module."""
        text = json.dumps(schema, sort_keys=True)
        digest = hashlib.sha256(f"{self.digest}\n{key}\n{text}".encode()).hexdigest()[:32]
        path = cache_dir() / f"v_{digest}.marshal"
        try:
            code = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            source = fastjsonschema.compile_to_code(
                {"components": self._stripped, **_strip_formats(schema)}
            )
            code = compile(source, f"<spec validator {key}>", "exec")
            _write_atomically(path, marshal.dumps(code))
        namespace: dict[str, Any] = {}
        exec(code, namespace)
        validate: Callable[[Any], Any] = namespace["validate"]
        return validate

    def explain(self, key: str, instance: Any, where: str) -> list[Mismatch]:
        validator = self._full.get(key)
        if validator is None:
            if self._registry is None:
                resource = Resource.from_contents(
                    self._patched_spec, default_specification=DRAFT202012
                )
                self._registry = Registry().with_resource(SPEC_URI, resource)
            text = json.dumps(self.schemas[key])
            rebased = json.loads(text.replace('"#/components/', f'"{SPEC_URI}#/components/'))
            validator = Draft202012Validator(rebased, registry=self._registry)
            self._full[key] = validator
        return [
            Mismatch(where, _json_path(leaf), _message(leaf))
            for error in validator.iter_errors(instance)
            for leaf in _leaf_errors(error)
        ]


class SpecChecker:
    """Validates exchanges; keeps counts (and the time it took) for the session summary.

    Each schema is compiled once (``fastjsonschema``) and looked up by a short key (the operation
    and part, or the component name), so the hot path is one dict lookup and one compiled
    function call; only an invalid instance pays for ``jsonschema``'s full error list.
    """

    def __init__(self, exceptions: Iterable[SpecException] = EXCEPTIONS) -> None:
        spec = load_spec()
        self._spec = spec
        self._request = _Side(spec, requests=True)
        self._response = _Side(spec, requests=False)
        self.exceptions = tuple(exceptions)
        self._operations: dict[str, list[Operation]] = {}
        self._responses = spec["components"].get("responses", {})
        for template, item in spec["paths"].items():
            regex = "".join(
                "[^/]+" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{[^}]+\})", template)
            )
            literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
            for method, op in item.items():
                if method in ("parameters", "summary", "description", "servers"):
                    continue
                shared = item.get("parameters", [])
                merged = {**op, "parameters": [*shared, *op.get("parameters", [])]}
                self._operations.setdefault(method.upper(), []).append(
                    Operation(method.upper(), template, re.compile(f"^{regex}$"), literal, merged)
                )
        for ops in self._operations.values():
            ops.sort(key=lambda o: -o.literal_segments)
        self._by_path: dict[tuple[str, str], Operation | None] = {}
        self.checked: Counter[str] = Counter()
        self.mismatches: Counter[str] = Counter()
        self.exceptions_used: Counter[SpecException] = Counter()
        #: CPU seconds spent checking (compiling included; this thread only), for the summary.
        self.seconds = 0.0

    # --- building blocks ----------------------------------------------------------------------
    def schema_at(self, *parts: str) -> JSON:
        """The spec object at a JSON pointer given as parts (``"paths", "/users/@me", ...``)."""
        node: Any = self._spec
        for part in parts:
            node = node[part]
        return dict(node)

    def validate(
        self,
        schema: JSON,
        instance: Any,
        where: str,
        *,
        key: str | None = None,
        request: bool = False,
    ) -> list[Mismatch]:
        """Mismatches of ``instance`` against ``schema`` (its ``$ref`` values point into the
        spec's components, patched as :data:`PATCHES` says for requests or responses). ``key``
        names the schema for the validator cache (default: the schema's JSON)."""
        side = self._request if request else self._response
        key = self._key(schema, key)
        try:
            side.compiled(key, schema)(instance)
        except JsonSchemaValueException as exc:
            found = side.explain(key, instance, where)
            return found or [Mismatch(where, "$", exc.message)]
        return []

    def component(self, name: str, instance: Any, where: str) -> list[Mismatch]:
        """Mismatches of ``instance`` against the response schema ``components/schemas/name``."""
        return self.validate({"$ref": f"#/components/schemas/{name}"}, instance, where, key=name)

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self._operations.get(method, []):
            if op.regex.match(path):
                return op
        return None

    def _filter(self, found: list[Mismatch]) -> list[Mismatch]:
        if not found:
            return found
        kept = []
        for mismatch in found:
            exception = next((e for e in self.exceptions if e.covers(mismatch)), None)
            if exception is None:
                kept.append(mismatch)
            else:
                self.exceptions_used[exception] += 1
        self.mismatches["total"] += len(kept)
        return kept

    def warm(self, routes: Iterable[tuple[str, str]]) -> int:
        """Compile (or load from the cache) every validator these emulator routes and the checked
        dispatches use, so no check compiles in the middle of a test; returns how many."""
        started = time.thread_time()
        for name in {n for checks in DISPATCH_SCHEMAS.values() for _, n in checks} - {CHANNEL}:
            self._response.compiled(name, {"$ref": f"#/components/schemas/{name}"})
        for name in ("ThreadResponse", "PrivateChannelResponse", "GuildChannelResponse"):
            self._response.compiled(name, {"$ref": f"#/components/schemas/{name}"})
        for method, template in routes:
            op = self.operation(method, re.sub(r"\{[^}]+\}", "1", template))
            if op is None:
                continue
            body = op.spec.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                where = f"{op.name} request"
                self.validate_later(body["schema"], key=where, request=True)
            for status, response in op.spec.get("responses", {}).items():
                ref = response.get("$ref")
                if isinstance(ref, str):
                    response = self._responses[ref.rsplit("/", 1)[1]]
                content = response.get("content", {}).get("application/json")
                if content is not None:
                    self.validate_later(content["schema"], key=f"{op.name} {status} response")
        self.seconds += time.thread_time() - started
        return len(self._request.fast) + len(self._response.fast)

    def validate_later(self, schema: JSON, *, key: str, request: bool = False) -> None:
        """Compile the validator :meth:`validate` will use for this schema and key."""
        side = self._request if request else self._response
        side.compiled(self._key(schema, key), schema)

    @staticmethod
    def _key(schema: JSON, key: str | None) -> str:
        ref = schema.get("$ref") if len(schema) == 1 else None
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            return ref.rsplit("/", 1)[1]  # one validator per component, however it is reached
        return key or json.dumps(schema, sort_keys=True)

    # --- REST ---------------------------------------------------------------------------------
    def check_exchange(self, exchange: Exchange) -> list[Mismatch]:
        """Validate one REST exchange."""
        started = time.thread_time()
        try:
            return self._filter(self._check_exchange(exchange))
        finally:
            self.seconds += time.thread_time() - started

    def _check_exchange(self, ex: Exchange) -> list[Mismatch]:
        self.checked["rest"] += 1
        op = self.operation(ex.method, ex.path)
        if op is None:
            return [Mismatch(ex.name, "$", "no such operation in the spec")]
        found: list[Mismatch] = []
        if 200 <= ex.status < 300:  # a request the emulator refused need not be valid
            found += self._check_request(op, ex.query, ex.request_body, ex.multipart)
        found += self._check_response(op, ex.status, ex.response_body)
        return found

    def _check_request(
        self, op: Operation, query: dict[str, str], body: Any, multipart: bool
    ) -> list[Mismatch]:
        where = f"{op.name} request"
        found: list[Mismatch] = []
        if query:
            params = {p["name"]: p for p in op.spec["parameters"] if p.get("in") == "query"}
            for name, raw in query.items():
                param = params.get(name)
                if param is None:
                    found.append(Mismatch(where, f"?{name}", "query parameter not in the spec"))
                    continue
                found += self._check_query_value(op, name, raw, param, where)
        content = op.spec.get("requestBody", {}).get("content", {})
        if body is None:
            if op.spec.get("requestBody", {}).get("required") and not multipart:
                found.append(Mismatch(where, "$", "the request body is required"))
            return found
        kind = "application/json"
        if kind not in content:
            found.append(Mismatch(where, "$", "this operation takes no JSON body"))
            return found
        schema = content[kind]["schema"]
        found += self.validate(schema, body, where, key=where, request=True)
        return found

    def _check_query_value(
        self, op: Operation, name: str, raw: str, param: JSON, where: str
    ) -> list[Mismatch]:
        value: Any = raw
        kind = param.get("schema", {}).get("type")
        if kind == "integer" and re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        elif kind == "boolean" and raw.lower() in BOOLEAN_QUERY:
            # A query string is text: Discord reads true/false and 1/0 (discord.py sends 1/0).
            value = BOOLEAN_QUERY[raw.lower()]
        return [
            Mismatch(where, f"?{name}", m.message)
            for m in self.validate(
                param.get("schema", {}), value, where, key=f"{where} ?{name}", request=True
            )
        ]

    def _check_response(self, op: Operation, status: int, body: Any) -> list[Mismatch]:
        where = f"{op.name} {status} response"
        responses: JSON = op.spec.get("responses", {})
        key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
        if key not in responses:
            documented = ", ".join(k for k in responses if k[0] == "2") or "none"
            return [Mismatch(where, "$", f"status {status} not documented (2xx: {documented})")]
        response = responses[key]
        ref = response.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/responses/"):
            response = self._responses[ref.rsplit("/", 1)[1]]
        content = response.get("content", {})
        if "application/json" not in content:
            if body not in (None, b"", ""):
                return [Mismatch(where, "$", f"{status} has no body in the spec")]
            return []
        if body is None:
            return [Mismatch(where, "$", "the response body is missing")]
        schema = content["application/json"]["schema"]
        return self.validate(schema, body, where, key=f"{op.name} {key} response")

    # --- gateway ------------------------------------------------------------------------------
    def check_dispatch(self, event: str, data: Any) -> list[Mismatch]:
        """Validate the REST objects inside one gateway dispatch."""
        started = time.thread_time()
        try:
            return self._filter(self._check_dispatch(event, data))
        finally:
            self.seconds += time.thread_time() - started

    def _check_dispatch(self, event: str, data: Any) -> list[Mismatch]:
        self.checked["gateway"] += 1
        checks = DISPATCH_SCHEMAS.get(event)
        if checks is None:
            self.checked[f"gateway unchecked {event}"] += 1
            return []
        where = f"gateway {event}"
        found: list[Mismatch] = []
        for pointer, schema in checks:
            for path, value in _select(data, pointer):
                name = channel_schema(value) if schema == CHANNEL else schema
                found += [
                    Mismatch(where, path + m.path[1:], m.message)
                    for m in self.component(name, value, where)
                ]
        return found


BOOLEAN_QUERY = {"true": True, "false": False, "1": True, "0": False}


def _select(data: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """Values at ``"$"``, ``"$.member"``, ``"$.members[*]"``, ``"$.resolved.users{*}"``
    (``{*}``: every value of an object); absent keys select nothing."""
    current: list[tuple[str, Any]] = [("$", data)]
    for part in re.findall(r"\.([^.\[{]+)|(\[\*\])|(\{\*\})", pointer):
        key, every_item, every_value = part
        nxt: list[tuple[str, Any]] = []
        for path, value in current:
            if key and isinstance(value, dict) and value.get(key) is not None:
                nxt.append((f"{path}.{key}", value[key]))
            elif every_item and isinstance(value, list):
                nxt += [(f"{path}[{i}]", v) for i, v in enumerate(value)]
            elif every_value and isinstance(value, dict):
                nxt += [(f"{path}.{k}", v) for k, v in value.items()]
        current = nxt
    yield from current


_MESSAGE = [("$", "MessageResponse")]
_CHANNEL = [("$", CHANNEL)]

#: For each dispatch, (selector, component schema) pairs for the REST objects inside it.
DISPATCH_SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "READY": [("$.user", "UserPIIResponse")],
    "GUILD_CREATE": [
        ("$", "GuildResponse"),
        ("$.members[*]", "GuildMemberResponse"),
        ("$.channels[*]", CHANNEL),
        ("$.threads[*]", "ThreadResponse"),
    ],
    "GUILD_UPDATE": [("$", "GuildResponse")],
    "GUILD_ROLE_CREATE": [("$.role", "GuildRoleResponse")],
    "GUILD_ROLE_UPDATE": [("$.role", "GuildRoleResponse")],
    "GUILD_MEMBER_ADD": [("$", "GuildMemberResponse")],
    "GUILD_MEMBERS_CHUNK": [("$.members[*]", "GuildMemberResponse")],
    "MESSAGE_CREATE": _MESSAGE,
    "MESSAGE_UPDATE": _MESSAGE,
    "CHANNEL_CREATE": _CHANNEL,
    "CHANNEL_UPDATE": _CHANNEL,
    "CHANNEL_DELETE": _CHANNEL,
    "THREAD_CREATE": [("$", "ThreadResponse")],
    "THREAD_UPDATE": [("$", "ThreadResponse")],
    "THREAD_LIST_SYNC": [("$.threads[*]", "ThreadResponse")],
    "THREAD_MEMBER_UPDATE": [("$", "ThreadMemberResponse")],
    "INTERACTION_CREATE": [
        ("$.user", "UserResponse"),
        ("$.member.user", "UserResponse"),
        ("$.message", "MessageResponse"),
        ("$.data.resolved.users{*}", "UserResponse"),
        ("$.data.resolved.roles{*}", "GuildRoleResponse"),
        ("$.data.resolved.attachments{*}", "MessageAttachmentResponse"),
    ],
}


def channel_schema(channel: Any) -> str:
    kind = channel.get("type") if isinstance(channel, dict) else None
    if kind in (10, 11, 12):
        return "ThreadResponse"
    if kind == 1:
        return "PrivateChannelResponse"
    return "GuildChannelResponse"
