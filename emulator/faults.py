"""Faults a test can ask for: 429s, 5xx, closed DMs, latency, and a real global rate limit."""

from __future__ import annotations

import hashlib
import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from .clock import EmulatorClock
from .model import Member, User

JSON = dict[str, Any]


class RoutePattern:
    """``"POST /channels/*/messages"``: optional method, ``*`` or ``{name}`` for one path segment,
    ``**`` for any rest. Paths are relative to ``/api/v10``."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        method, _, path = pattern.strip().partition(" ")
        if not path:
            method, path = "", method
        self.method = method.upper() or None
        regex = ""
        for part in re.split(r"(\*\*|\*|\{[^}]+\})", path.rstrip("/")):
            if part == "**":
                regex += ".*"
            elif part == "*" or (part.startswith("{") and part.endswith("}")):
                regex += "[^/]+"
            else:
                regex += re.escape(part)
        self.regex = re.compile(f"^{regex}/?$")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(self.regex.match(path))

    def __repr__(self) -> str:
        return f"RoutePattern({self.text!r})"


@dataclass
class FaultRule:
    """An injected failure, used up after ``times`` matching requests."""

    kind: str
    pattern: RoutePattern | None
    times: int
    status: int = 429
    retry_after: float = 0.05
    scope: str = "user"
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.times


@dataclass
class FaultAnswer:
    status: int
    body: JSON | str
    headers: dict[str, str]


@dataclass(frozen=True)
class RouteLimit:
    """``limit`` requests per ``per`` seconds on the routes matching ``pattern``, counted per
    major parameter (the channel, guild or webhook in the path) unless ``shared``."""

    pattern: str
    limit: int
    per: float
    shared: bool = False


#: Discord's limits the emulator enforces by default. Message posts are Discord's well-known
#: 5 per 5 s per channel (a DM is a channel); Discord publishes no numbers for opening DM
#: channels or creating threads, only that they are limited: these are the emulator's model
#: (DM opens 10 per 10 s for the whole bot, thread creates 5 per 5 s per parent channel).
DISCORD_ROUTE_LIMITS: tuple[RouteLimit, ...] = (
    RouteLimit("POST /channels/{channel_id}/messages", 5, 5.0),
    RouteLimit("POST /users/@me/channels", 10, 10.0, shared=True),
    RouteLimit("POST /channels/{channel_id}/threads", 5, 5.0),
    RouteLimit("POST /channels/{channel_id}/messages/{message_id}/threads", 5, 5.0),
)
#: Requests per second for the whole bot (interaction callbacks and webhooks exempt).
DISCORD_GLOBAL_LIMIT = 50


class Buckets:
    """Per-route rate-limit buckets, advertised in ``X-RateLimit-*`` headers and enforced.

    Keys are method + route + major parameters (channel, guild, webhook), as Discord's are.
    discord.py reads the headers and waits before a bucket runs dry, so a well-behaved client
    never sees these 429s. ``rules`` give Discord's limits for the routes that have them
    (:data:`DISCORD_ROUTE_LIMITS`); every other route gets ``limit`` per ``per`` (generous).
    Time is the emulator's clock.
    """

    def __init__(
        self,
        limit: int = 1000,
        per: float = 1.0,
        *,
        rules: tuple[RouteLimit, ...] = (),
        clock: EmulatorClock | None = None,
    ) -> None:
        self.limit = limit
        self.per = per
        self.rules = rules
        self.clock = clock or EmulatorClock()
        self._windows: dict[str, tuple[float, int]] = {}
        #: 429s because a bucket was empty.
        self.hits = 0

    def rule_for(self, route: str) -> RouteLimit | None:
        return next((r for r in self.rules if r.pattern == route), None)

    def take(self, route: str, major: str) -> tuple[bool, float, dict[str, str]]:
        """(allowed, seconds until reset, headers) for one request."""
        rule = self.rule_for(route)
        limit, per = (rule.limit, rule.per) if rule else (self.limit, self.per)
        if rule is not None and rule.shared:
            major = ""
        now = self.clock.now()
        key = f"{route}:{major}"
        reset_at, used = self._windows.get(key, (now + per, 0))
        if now >= reset_at:
            reset_at, used = now + per, 0
        allowed = used < limit
        if allowed:
            used += 1
            self._windows[key] = (reset_at, used)
        else:
            self.hits += 1
        reset_after = max(0.001, reset_at - now)
        headers = rate_limit_headers(limit, limit - used, reset_after, route, self.clock)
        return allowed, reset_after, headers


def rate_limit_headers(
    limit: int, remaining: int, reset_after: float, route: str, clock: EmulatorClock
) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": f"{clock.unix() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket_hash(route),
    }


class Faults:
    """Failure injection; every switch is off until a test turns it on."""

    def __init__(
        self,
        closed_dms: set[int],
        *,
        clock: EmulatorClock | None = None,
        discord_limits: bool = True,
    ) -> None:
        #: The emulator's clock: buckets, the global window and ``Retry-After`` count on it.
        self.clock = clock or EmulatorClock()
        #: Seconds added to every REST answer.
        self.latency = 0.0
        self.rules: list[FaultRule] = []
        self._closed_dms = closed_dms
        self._global_per_second: int | None = DISCORD_GLOBAL_LIMIT if discord_limits else None
        self._global_window = 1.0
        self._window: deque[float] = deque()
        #: 429s caused by exceeding :meth:`global_limit`.
        self.global_limit_hits = 0
        #: Every 429 answered: injected, global, or an empty route bucket.
        self.rate_limited = 0
        self._route_rules = DISCORD_ROUTE_LIMITS if discord_limits else ()
        self.buckets = Buckets(rules=self._route_rules, clock=self.clock)

    def rate_limit(
        self,
        route: str | None = None,
        *,
        times: int = 1,
        retry_after: float = 0.05,
        scope: str = "user",
    ) -> FaultRule:
        """Answer the next ``times`` matching requests with 429; ``route=None``: a global 429."""
        rule = FaultRule(
            "rate_limit",
            RoutePattern(route) if route else None,
            times,
            retry_after=retry_after,
            scope="global" if route is None else scope,
        )
        self.rules.append(rule)
        return rule

    def server_error(
        self, route: str | None = None, *, status: int = 500, times: int = 1
    ) -> FaultRule:
        """Answer the next ``times`` matching requests with a 5xx (discord.py retries those)."""
        rule = FaultRule(
            "server_error", RoutePattern(route) if route else None, times, status=status
        )
        self.rules.append(rule)
        return rule

    def close_dms(self, user: int | User | Member) -> None:
        """This person does not accept DMs: messages to their DM channel get 403 / 50007."""
        self._closed_dms.add(user if isinstance(user, int) else user.id)

    def open_dms(self, user: int | User | Member) -> None:
        self._closed_dms.discard(user if isinstance(user, int) else user.id)

    def global_limit(self, per_second: int | None = 50, *, window: float = 1.0) -> None:
        """Enforce the global limit (interaction endpoints exempt); None: off.

        ``per_second * window`` requests are allowed per sliding ``window``; a short window keeps
        a test fast while answering with the same kind of 429 (``global: true``).
        """
        self._global_per_second = per_second
        self._global_window = window
        self._window.clear()

    def route_limit(self, limit: int, per: float) -> None:
        """Buckets of ``limit`` requests per ``per`` seconds for every route without a Discord
        limit of its own (headers + 429s); the Discord limits stay as they are."""
        self.buckets = Buckets(limit, per, rules=self._route_rules, clock=self.clock)

    def discord_limits(self, on: bool = True) -> None:
        """Discord's real limits (the default) or none at all (``False``): 50 requests/s
        globally and :data:`DISCORD_ROUTE_LIMITS`."""
        self._route_rules = DISCORD_ROUTE_LIMITS if on else ()
        self.buckets = Buckets(
            self.buckets.limit, self.buckets.per, rules=self._route_rules, clock=self.clock
        )
        self.global_limit(DISCORD_GLOBAL_LIMIT if on else None)

    def lose_response(self, route: str, *, times: int = 1) -> FaultRule:
        """The next ``times`` matching requests are carried out (a message *is* created) but
        the connection drops before the answer: the client sees an error, not the result."""
        rule = FaultRule("lose_response", RoutePattern(route), times)
        self.rules.append(rule)
        return rule

    def response_lost(self, method: str, path: str) -> bool:
        """Used by the REST layer after a request was carried out."""
        for rule in self.rules:
            if rule.kind == "lose_response" and not rule.exhausted:
                assert rule.pattern is not None
                if rule.pattern.matches(method, path):
                    rule.hits += 1
                    return True
        return False

    def clear(self) -> None:
        self.rules.clear()
        self.latency = 0.0
        self._global_per_second = DISCORD_GLOBAL_LIMIT if self._route_rules else None

    # --- used by the REST layer --------------------------------------------------------------
    def check(
        self, method: str, path: str, *, bucket: str, exempt_from_global: bool
    ) -> FaultAnswer | None:
        for rule in self.rules:
            if rule.exhausted or rule.kind == "lose_response":
                continue
            if rule.pattern is not None and not rule.pattern.matches(method, path):
                continue
            if rule.pattern is None and exempt_from_global and rule.kind == "rate_limit":
                continue
            rule.hits += 1
            if rule.kind == "rate_limit":
                return self._too_many(rule.retry_after, scope=rule.scope, bucket=bucket)
            return self._server_error(rule.status)
        if self._global_per_second is not None and not exempt_from_global:
            now = self.clock.now()
            span = self._global_window
            while self._window and now - self._window[0] >= span:
                self._window.popleft()
            if len(self._window) >= max(1, round(self._global_per_second * span)):
                self.global_limit_hits += 1
                wait = max(0.001, span - (now - self._window[0]))
                return self._too_many(wait, scope="global", bucket=None)
            self._window.append(now)
        return None

    def take_bucket(self, route: str, major: str) -> tuple[FaultAnswer | None, dict[str, str]]:
        """Charge the route's bucket: a 429 answer when it is empty, and headers either way."""
        allowed, reset_after, headers = self.buckets.take(route, major)
        if allowed:
            return None, headers
        answer = self._too_many(
            reset_after, scope="user", bucket=route, limit=int(headers["X-RateLimit-Limit"])
        )
        return answer, headers

    def _too_many(
        self, retry_after: float, *, scope: str, bucket: str | None, limit: int = 5
    ) -> FaultAnswer:
        self.rate_limited += 1
        is_global = scope == "global"
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                rate_limit_headers(limit, 0, retry_after, bucket or "global", self.clock)
            )
        body: JSON = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        if is_global:
            body["code"] = 0
        return FaultAnswer(429, body, headers)

    @staticmethod
    def _server_error(status: int) -> FaultAnswer:
        if status == 500:
            return FaultAnswer(500, {"message": "500: Internal Server Error", "code": 0}, {})
        text = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}.get(
            status, "Server Error"
        )
        return FaultAnswer(status, f"<html><body><h1>{status} {text}</h1></body></html>", {})


def bucket_hash(route: str) -> str:
    """A stable per-route bucket id, like the opaque hashes Discord sends."""
    return hashlib.sha1(route.encode()).hexdigest()[:32]
