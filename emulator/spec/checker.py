"""Check REST exchanges and gateway dispatches against Discord's OpenAPI description.

:class:`SpecChecker` matches a request to its operation in the vendored ``openapi.json`` (method +
path template, the most literal template winning, as Discord's router does), then validates the
request body and query the bot sent, the status code, and the response body the emulator
returned, with one compiled ``jsonschema`` validator per schema (built on first use, then reused).
Gateway dispatches are validated against the REST object schemas where they carry the same
objects (see :data:`DISPATCH_SCHEMAS`); the gateway-only envelope around them is not in the spec.
"""

from __future__ import annotations

import fnmatch
import json
import re
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


#: Where the vendored spec is wrong about what Discord sends or accepts. Keep this short, and give
#: each a reason a reader can check against Discord's documentation.
EXCEPTIONS: tuple[SpecException, ...] = ()


@cache
def load_spec() -> JSON:
    with SPEC_PATH.open(encoding="utf-8") as f:
        spec: JSON = json.load(f)
    return spec


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


class SpecChecker:
    """Validates exchanges; keeps counts for the session summary."""

    def __init__(self, exceptions: Iterable[SpecException] = EXCEPTIONS) -> None:
        spec = load_spec()
        self._spec = spec
        self._stripped_components = _strip_formats(spec["components"])
        self._fast: dict[str, Callable[[Any], Any]] = {}
        self._full: dict[str, Draft202012Validator] = {}
        self.exceptions = tuple(exceptions)
        self._registry: Registry[Any] = Registry().with_resource(
            SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
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
        self.checked: Counter[str] = Counter()
        self.mismatches: Counter[str] = Counter()
        self.exceptions_used: Counter[SpecException] = Counter()

    # --- building blocks ----------------------------------------------------------------------
    def schema_at(self, *parts: str) -> JSON:
        """The spec object at a JSON pointer given as parts (``"paths", "/users/@me", ...``)."""
        node: Any = self._spec
        for part in parts:
            node = node[part]
        return dict(node)

    def validate(self, schema: JSON, instance: Any, where: str) -> list[Mismatch]:
        """Mismatches of ``instance`` against ``schema`` (its ``$ref`` values point into the
        spec's components). A compiled ``fastjsonschema`` function answers the common case,
        valid, quickly; only an invalid instance pays for ``jsonschema``'s full error list."""
        key = json.dumps(schema, sort_keys=True)
        fast = self._fast.get(key)
        if fast is None:
            stripped = _strip_formats(schema)
            fast = fastjsonschema.compile({"components": self._stripped_components, **stripped})
            self._fast[key] = fast
        try:
            fast(instance)
        except JsonSchemaValueException as exc:
            found = self._explain(key, instance, where)
            return found or [
                Mismatch(where, (exc.name or "data").replace("data", "$", 1), exc.message)
            ]
        return []

    def _explain(self, key: str, instance: Any, where: str) -> list[Mismatch]:
        validator = self._full.get(key)
        if validator is None:
            rebased = json.loads(key.replace('"#/components/', f'"{SPEC_URI}#/components/'))
            validator = Draft202012Validator(rebased, registry=self._registry)
            self._full[key] = validator
        return [
            Mismatch(where, _json_path(leaf), _message(leaf))
            for error in validator.iter_errors(instance)
            for leaf in _leaf_errors(error)
        ]

    def operation(self, method: str, path: str) -> Operation | None:
        for op in self._operations.get(method, []):
            if op.regex.match(path):
                return op
        return None

    def _filter(self, found: list[Mismatch]) -> list[Mismatch]:
        kept = []
        for mismatch in found:
            exception = next((e for e in self.exceptions if e.covers(mismatch)), None)
            if exception is None:
                kept.append(mismatch)
            else:
                self.exceptions_used[exception] += 1
        self.mismatches["total"] += len(kept)
        return kept

    # --- REST ---------------------------------------------------------------------------------
    def check_exchange(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str],
        request_body: Any,
        multipart: bool,
        status: int,
        response_body: Any,
    ) -> list[Mismatch]:
        """Validate one REST exchange (``path`` without ``/api/v10``)."""
        self.checked["rest"] += 1
        op = self.operation(method, path)
        if op is None:
            missing = Mismatch(f"{method} {path}", "$", "no such operation in the spec")
            return self._filter([missing])
        found: list[Mismatch] = []
        if 200 <= status < 300:  # a request the emulator refused need not be valid
            found += self._check_request(op, query, request_body, multipart)
        found += self._check_response(op, status, response_body)
        return self._filter(found)

    def _check_request(
        self, op: Operation, query: dict[str, str], body: Any, multipart: bool
    ) -> list[Mismatch]:
        where = f"{op.name} request"
        found: list[Mismatch] = []
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
        schema = self.schema_at(
            "paths", op.template, op.method.lower(), "requestBody", "content", kind, "schema"
        )
        found += self.validate(schema, body, where)
        return found

    def _check_query_value(
        self, op: Operation, name: str, raw: str, param: JSON, where: str
    ) -> list[Mismatch]:
        value: Any = raw
        kind = param.get("schema", {}).get("type")
        if kind == "integer" and re.fullmatch(r"-?\d+", raw):
            value = int(raw)
        elif kind == "boolean" and raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        return [
            Mismatch(where, f"?{name}", m.message)
            for m in self.validate(param.get("schema", {}), value, where)
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
        return self.validate(content["application/json"]["schema"], body, where)

    # --- gateway ------------------------------------------------------------------------------
    def check_dispatch(self, event: str, data: Any) -> list[Mismatch]:
        """Validate the REST objects inside one gateway dispatch."""
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
                    for m in self.validate({"$ref": f"#/components/schemas/{name}"}, value, where)
                ]
        return self._filter(found)


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
