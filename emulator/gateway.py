"""The gateway websocket: HELLO, IDENTIFY/READY, GUILD_CREATE, heartbeats, RESUME and replays.

Each bot session keeps a numbered buffer of the dispatches meant for it. A connection's writer
sends whatever the client has not seen yet, so live delivery and replay after a RESUME are the
same mechanism and nothing is lost or doubled across a dropped socket.

The transport is Discord's: ``?v=10&encoding=json&compress=zlib-stream`` (one zlib context per
connection, every payload flushed with ``Z_SYNC_FLUSH`` and sent as a binary frame; without
``compress`` payloads are text frames), client payloads as text *or* binary frames, a heartbeat
deadline (a client silent for longer than the interval plus a grace is closed with 4009, as is
one that does not answer a server-requested op 1), 120 commands per 60 s (4008), and the close
codes of Discord's table (4000–4014), see :class:`Close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from . import spec

if TYPE_CHECKING:
    from .model import Guild
    from .world import World

log = logging.getLogger(__name__)

JSON = dict[str, Any]

(
    DISPATCH,
    HEARTBEAT,
    IDENTIFY,
    PRESENCE,
    VOICE,
    RESUME,
    RECONNECT,
    REQUEST_MEMBERS,
    INVALID_SESSION,
    HELLO,
    ACK,
) = (
    0,
    1,
    2,
    3,
    4,
    6,
    7,
    8,
    9,
    10,
    11,
)

INTENT_MEMBERS = 1 << 1
INTENT_PRESENCES = 1 << 8
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_MEMBERS | INTENT_PRESENCES | INTENT_MESSAGE_CONTENT

#: Every intent bit Discord defines (GUILDS = 1 << 0 … DIRECT_MESSAGE_POLLS = 1 << 25).
KNOWN_INTENTS = (1 << 26) - 1

#: Dispatches kept per session for RESUME (Discord keeps a few minutes' worth).
REPLAY_BUFFER = 10_000

#: Discord closes a session with 4011 ("Sharding required") past this many guilds per shard.
MAX_GUILDS_PER_SHARD = 2_500


def shard_for(guild_id: int, shard_count: int) -> int:
    """Which shard carries a guild's events and interactions (Discord's rule); DMs go to 0."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Identified:
    """One accepted IDENTIFY: when (the loop's clock) and for which shard."""

    at: float
    shard_id: int
    shard_count: int
    session_id: str


#: Gateway API versions Discord still serves.
API_VERSIONS = frozenset({"9", "10"})

#: Discord: "120 gateway events per connection every 60 seconds".
COMMANDS_PER_MINUTE = 120
COMMAND_WINDOW = 60.0


class Close(IntEnum):
    """Discord's gateway close codes (developers/docs/topics/opcodes-and-status-codes)."""

    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


CLOSE_REASONS: dict[Close, bytes] = {
    Close.UNKNOWN_ERROR: b"Unknown error.",
    Close.UNKNOWN_OPCODE: b"Unknown opcode.",
    Close.DECODE_ERROR: b"Error while decoding payload.",
    Close.NOT_AUTHENTICATED: b"Not authenticated.",
    Close.AUTHENTICATION_FAILED: b"Authentication failed.",
    Close.ALREADY_AUTHENTICATED: b"Already authenticated.",
    Close.INVALID_SEQ: b"Invalid seq.",
    Close.RATE_LIMITED: b"Rate limited.",
    Close.SESSION_TIMED_OUT: b"Session timed out.",
    Close.INVALID_SHARD: b"Invalid shard.",
    Close.SHARDING_REQUIRED: b"Sharding required.",
    Close.INVALID_API_VERSION: b"Invalid API version.",
    Close.INVALID_INTENTS: b"Invalid intent(s).",
    Close.DISALLOWED_INTENTS: b"Disallowed intent(s).",
}

#: Closes after which the session is gone (Discord: "reconnect and start a new session", or the
#: connection may not reconnect at all); the others leave it resumable.
ENDS_SESSION = frozenset(
    {
        Close.AUTHENTICATION_FAILED,
        Close.INVALID_SEQ,
        Close.SESSION_TIMED_OUT,
        Close.INVALID_SHARD,
        Close.SHARDING_REQUIRED,
        Close.INVALID_API_VERSION,
        Close.INVALID_INTENTS,
        Close.DISALLOWED_INTENTS,
    }
)


@dataclass
class Session:
    """A gateway session: survives dropped sockets until the bot closes it or it is invalidated."""

    id: str
    shard_id: int
    shard_count: int
    intents: int
    seq: int = 0
    #: Numbered frames not yet trimmed; ``frames[i]`` has sequence ``first_seq + i``.
    frames: list[str] = field(default_factory=list)
    first_seq: int = 1
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    connection: Connection | None = None

    def handles(self, guild_id: int | None) -> bool:
        if guild_id is None:
            return self.shard_id == 0
        return shard_for(guild_id, self.shard_count) == self.shard_id

    def push(self, event: str, data: JSON) -> None:
        self.seq += 1
        frame = json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data})
        self.frames.append(frame)
        if spec.OBSERVERS:
            spec.observe_dispatch(event, frame)
        if len(self.frames) > 2 * REPLAY_BUFFER:
            drop = len(self.frames) - REPLAY_BUFFER
            del self.frames[:drop]
            self.first_seq += drop
        wake, self.wake = self.wake, asyncio.Event()
        wake.set()

    def pending_after(self, seq: int) -> list[tuple[int, str]]:
        """Frames numbered above ``seq``, with their numbers."""
        start = max(0, seq + 1 - self.first_seq)
        return [(self.first_seq + i, f) for i, f in enumerate(self.frames[start:], start)]

    def can_replay_from(self, seq: int) -> bool:
        return seq + 1 >= self.first_seq


class Connection:
    """One websocket; owns a writer task that drains its session's buffer in order."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool, now: float) -> None:
        self.ws = ws
        self.session: Session | None = None
        #: Set when the emulator closed the socket (a drop), so the session stays resumable.
        self.closed_by_server = False
        #: The close code the emulator sent, if it closed the socket.
        self.close_code: int | None = None
        self.sent_upto = 0
        self.writer: asyncio.Task[None] | None = None
        self.compressed = compress
        #: One zlib context for the whole connection, as Discord's ``zlib-stream``.
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        #: Gateway-clock time of HELLO or of the last heartbeat; the deadline counts from here.
        self.last_heartbeat = now
        #: Gateway-clock time of an unanswered server op 1, if any.
        self.heartbeat_requested_at: float | None = None
        self.heartbeats = 0
        #: Frames the client sent, by websocket frame type.
        self.text_frames = 0
        self.binary_frames = 0
        #: Gateway-clock times of the commands in the current 60 s window (4008 beyond 120).
        self.commands: deque[float] = deque()

    async def send_text(self, text: str) -> None:
        async with self._lock:
            if self.ws.closed:
                return
            if self._compressor is not None:
                data = self._compressor.compress(text.encode()) + self._compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(text)

    async def close(self, code: int, message: bytes) -> None:
        self.closed_by_server = True
        if self.close_code is None:
            self.close_code = code
        await self.ws.close(code=code, message=message)

    async def send_op(self, op: int, data: Any) -> None:
        await self.send_text(json.dumps({"op": op, "d": data, "s": None, "t": None}))

    def attach(self, session: Session, sent_upto: int) -> None:
        self.session = session
        self.sent_upto = sent_upto
        session.connection = self
        self.writer = asyncio.create_task(
            self._write(session), name=f"emulator-gateway-writer-{session.id}"
        )

    async def _write(self, session: Session) -> None:
        try:
            while not self.ws.closed:
                wake = session.wake
                for seq, text in session.pending_after(self.sent_upto):
                    await self.send_text(text)
                    self.sent_upto = seq
                if not session.pending_after(self.sent_upto):
                    await wake.wait()
        except (ConnectionResetError, RuntimeError):
            log.debug("gateway writer for %s stopped: socket gone", session.id)


class Gateway:
    """Serves ``ws://.../gateway``; the emulator's source of READY, GUILD_CREATE and dispatches."""

    def __init__(
        self,
        world: World,
        *,
        heartbeat_interval_ms: int = 41_250,
        heartbeat_grace: float = 5.0,
        compress: bool = True,
        allowed_intents: int = PRIVILEGED_INTENTS,
        max_concurrency: int = 1,
        session_start_total: int = 1000,
        max_guilds_per_shard: int = MAX_GUILDS_PER_SHARD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``compress``: honour ``?compress=zlib-stream`` (Discord always does; ``False`` sends
        plain text frames whatever the client asks, for reading traffic). ``clock`` is the clock
        heartbeat deadlines and the command limit run on: it must be the one the client heartbeats
        on (real time for discord.py and hikari), not a simulation's fake clock."""
        self.world = world
        #: What ``GET /gateway/bot`` tells the bot: IDENTIFYs allowed per 5 s per bucket
        #: (``shard_id % max_concurrency``), and session starts a day, counted down by IDENTIFY.
        self.max_concurrency = max_concurrency
        self.session_start_total = session_start_total
        #: Every accepted IDENTIFY, in order (tests check which shards came and when).
        self.identified: list[Identified] = []
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeat_grace = heartbeat_grace
        self.compress = compress
        self.allowed_intents = allowed_intents
        self.max_guilds_per_shard = max_guilds_per_shard
        self.clock = clock
        self._reaper: asyncio.Task[None] | None = None
        #: Close codes the emulator sent, in order, for assertions.
        self.closes: list[int] = []
        #: Every connection ever accepted, in order (for transport assertions).
        self.history: list[Connection] = []
        self.url = "ws://127.0.0.1/gateway"
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identify_count = 0
        self.resume_count = 0
        #: Every op the bot sent (op, d) except heartbeats, for assertions.
        self.received: list[JSON] = []

    @property
    def resume_url(self) -> str:
        return self.url.rstrip("/") + "/resume"

    # --- state for tests ------------------------------------------------------------------------
    def connected(self) -> bool:
        """A bot session exists and has a live socket."""
        return any(
            s.connection is not None and not s.connection.ws.closed for s in self.sessions.values()
        )

    def has_session_for(self, guild_id: int | None) -> bool:
        return any(s.handles(guild_id) for s in self.sessions.values())

    def session_start_limit(self) -> JSON:
        """``session_start_limit`` of ``GET /gateway/bot``: each IDENTIFY uses one start."""
        return {
            "total": self.session_start_total,
            "remaining": max(0, self.session_start_total - self.identify_count),
            "reset_after": 86_400_000,
            "max_concurrency": self.max_concurrency,
        }

    def shards_connected(self) -> dict[int, int]:
        """Live sessions by shard id (a shard identified twice counts twice)."""
        live: dict[int, int] = {}
        for s in self.sessions.values():
            if s.connection is not None and not s.connection.ws.closed:
                live[s.shard_id] = live.get(s.shard_id, 0) + 1
        return live

    # --- outgoing ------------------------------------------------------------------------------
    def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        intent: int | None = None,
        strip_content: bool = False,
    ) -> None:
        for session in list(self.sessions.values()):
            if not session.handles(guild_id):
                continue
            if intent is not None and not session.intents & intent:
                continue
            payload = data
            if strip_content and not session.intents & INTENT_MESSAGE_CONTENT:
                payload = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            session.push(event, payload)

    def guild_created(self, guild: Guild) -> None:
        """A guild the bot joined after READY."""
        for session in self.sessions.values():
            if session.handles(guild.id):
                session.push("GUILD_CREATE", self._guild_payload(guild, session))

    def _guild_payload(self, guild: Guild, session: Session) -> JSON:
        return guild.to_payload(
            for_gateway=True, with_members=bool(session.intents & INTENT_PRESENCES)
        )

    async def drop(self, *, code: int = 4000) -> None:
        """Close every bot socket as a network drop would; sessions stay resumable."""
        for conn in list(self.connections):
            await conn.close(code=code, message=b"emulator dropped the connection")

    async def request_reconnect(self) -> None:
        """Op 7: the bot should reconnect and resume."""
        for conn in list(self.connections):
            await conn.send_op(RECONNECT, None)

    async def kick(self, code: int) -> None:
        """Close every bot socket with one of Discord's close codes, with Discord's consequence
        (the codes in :data:`ENDS_SESSION` end the session, the others leave it resumable)."""
        for conn in list(self.connections):
            await self._close(conn, Close(code))

    async def request_heartbeat(self) -> None:
        """Op 1 from the server: every client must heartbeat at once (within the grace)."""
        now = self.clock()
        for conn in list(self.connections):
            conn.heartbeat_requested_at = now
            await conn.send_op(HEARTBEAT, conn.session.seq if conn.session else None)

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Op 9; unless ``resumable`` the sessions are forgotten and the bot must IDENTIFY again."""
        for conn in list(self.connections):
            await conn.send_op(INVALID_SESSION, resumable)
            if not resumable:
                self._detach(conn)
        if not resumable:
            self.sessions.clear()

    async def reap_zombies(self) -> int:
        """Close (4009, session ended) every socket past its heartbeat deadline: silent for more
        than the interval plus the grace, or not answering an op 1 within the grace. Runs on its
        own every so often; tests with a fake ``clock`` call it after moving the clock."""
        now = self.clock()
        interval = self.heartbeat_interval_ms / 1000
        reaped = 0
        for conn in list(self.connections):
            if conn.ws.closed:
                continue
            asked = conn.heartbeat_requested_at
            late = now - conn.last_heartbeat > interval + self.heartbeat_grace
            if late or (asked is not None and now - asked > self.heartbeat_grace):
                log.info("gateway: closing a zombie connection (no heartbeat in time)")
                await self._close(conn, Close.SESSION_TIMED_OUT)
                reaped += 1
        return reaped

    async def _reap_forever(self) -> None:
        period = min(1.0, self.heartbeat_interval_ms / 4000)
        while True:
            await asyncio.sleep(period)
            await self.reap_zombies()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        for conn in list(self.connections):
            if conn.writer is not None:
                conn.writer.cancel()
            await conn.close(code=1001, message=b"emulator stopping")
        self.connections.clear()
        self.sessions.clear()

    # --- the websocket handler -------------------------------------------------------------------
    def _refuse(self, request: web.Request) -> str | None:
        """Why the upgrade request is refused (Discord answers these with HTTP 400), or None."""
        encoding = request.query.get("encoding", "json")
        if encoding != "json":
            return f"encoding={encoding!r} is not supported by the emulator (use json)"
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            return f"compress={compress!r} is not supported by the emulator (use zlib-stream)"
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse(request)
        if refused is not None:
            return web.json_response({"message": refused, "code": 0}, status=400)
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = self.compress and request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, compress=compress, now=self.clock())
        self.connections.add(conn)
        self.history.append(conn)
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_forever(), name="emulator-gateway-reaper")
        try:
            version = request.query.get("v")
            if version is not None and version not in API_VERSIONS:
                await self._close(conn, Close.INVALID_API_VERSION)
                return ws
            await conn.send_op(
                HELLO, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["emulator"]}
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    conn.text_frames += 1
                elif msg.type == WSMsgType.BINARY:
                    conn.binary_frames += 1
                else:
                    continue
                try:
                    frame = json.loads(msg.data)
                    if not isinstance(frame, dict):
                        raise ValueError("a gateway payload is an object")
                except ValueError:  # UnicodeDecodeError is one too
                    await self._close(conn, Close.DECODE_ERROR)
                    break
                await self._on_frame(conn, frame)
                if conn.close_code is not None:
                    break
        finally:
            self.connections.discard(conn)
            if conn.writer is not None:
                conn.writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await conn.writer
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if not conn.closed_by_server and ws.close_code in (1000, 1001):
                    # A clean close by the bot ends its session (Discord cannot resume it either).
                    self.sessions.pop(session.id, None)
            self.world.notify()
        return ws

    async def _close(self, conn: Connection, code: Close) -> None:
        """Close with one of Discord's codes; the ones in :data:`ENDS_SESSION` end the session."""
        self.closes.append(int(code))
        if code in ENDS_SESSION and conn.session is not None:
            self.sessions.pop(conn.session.id, None)
        await conn.close(code=int(code), message=CLOSE_REASONS[code])

    def _detach(self, conn: Connection) -> None:
        session, conn.session = conn.session, None
        if conn.writer is not None:
            conn.writer.cancel()
            conn.writer = None
        if session is not None and session.connection is conn:
            session.connection = None

    def _over_command_limit(self, conn: Connection) -> bool:
        now = self.clock()
        conn.commands.append(now)
        while conn.commands and now - conn.commands[0] >= COMMAND_WINDOW:
            conn.commands.popleft()
        return len(conn.commands) > COMMANDS_PER_MINUTE

    async def _on_frame(self, conn: Connection, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if self._over_command_limit(conn):
            await self._close(conn, Close.RATE_LIMITED)
            return
        if op == HEARTBEAT:
            if data is not None and not isinstance(data, int):
                await self._close(conn, Close.DECODE_ERROR)
                return
            conn.last_heartbeat = self.clock()
            conn.heartbeat_requested_at = None
            conn.heartbeats += 1
            await conn.send_op(ACK, None)
            return
        self.received.append({"op": op, "d": data})
        if op == IDENTIFY:
            await self._identify(conn, data if isinstance(data, dict) else {})
        elif op == RESUME:
            await self._resume(conn, data if isinstance(data, dict) else {})
        elif op not in (PRESENCE, VOICE, REQUEST_MEMBERS):
            await self._close(conn, Close.UNKNOWN_OPCODE)
        elif conn.session is None:
            await self._close(conn, Close.NOT_AUTHENTICATED)
        elif op == REQUEST_MEMBERS:
            self._request_members(conn, data or {})

    async def _identify(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            await self._close(conn, Close.ALREADY_AUTHENTICATED)
            return
        if data.get("token") != self.world.token:
            await self._close(conn, Close.AUTHENTICATION_FAILED)
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~KNOWN_INTENTS:
            await self._close(conn, Close.INVALID_INTENTS)
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_intents:
            await self._close(conn, Close.DISALLOWED_INTENTS)
            return
        shard = data.get("shard") or [0, 1]
        try:
            shard_id, shard_count = (int(part) for part in shard)
        except (TypeError, ValueError):
            shard_id, shard_count = -1, 0
        if not 0 <= shard_id < shard_count:
            await self._close(conn, Close.INVALID_SHARD)
            return
        session = Session(secrets.token_hex(16), shard_id, shard_count, int(intents))
        guilds = [g for g in self.world.guilds.values() if session.handles(g.id)]
        if len(guilds) > self.max_guilds_per_shard:
            await self._close(conn, Close.SHARDING_REQUIRED)
            return
        self.identify_count += 1
        self.sessions[session.id] = session
        self.identified.append(
            Identified(asyncio.get_running_loop().time(), shard_id, shard_count, session.id)
        )
        user = self.world.bot_user.private_payload()
        ready: JSON = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(self.world.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "user_settings": {},
        }
        if data.get("shard") is not None:
            ready["shard"] = [shard_id, shard_count]
        session.push("READY", ready)
        for guild in guilds:
            session.push("GUILD_CREATE", self._guild_payload(guild, session))
        conn.attach(session, 0)
        self.world.notify()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            await self._close(conn, Close.ALREADY_AUTHENTICATED)
            return
        if data.get("token") != self.world.token:
            await self._close(conn, Close.AUTHENTICATION_FAILED)
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if session is None:
            await conn.send_op(INVALID_SESSION, False)
            return
        if not isinstance(seq, int) or seq > session.seq:
            # A sequence the session never sent: Discord closes and the session is gone.
            self.sessions.pop(session.id, None)
            await self._close(conn, Close.INVALID_SEQ)
            return
        if not session.can_replay_from(seq):
            self.sessions.pop(session.id, None)
            await conn.send_op(INVALID_SESSION, False)
            return
        old = session.connection
        if old is not None and old is not conn:
            if old.writer is not None:
                old.writer.cancel()
            await old.close(code=4000, message=b"Session resumed elsewhere.")
        self.resume_count += 1
        session.push("RESUMED", {"_trace": ["emulator"]})
        conn.attach(session, seq)
        self.world.notify()

    def _request_members(self, conn: Connection, data: JSON) -> None:
        session = conn.session
        guild = self.world.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.id in wanted) and m.user.username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.id for m in members}],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.push("GUILD_MEMBERS_CHUNK", chunk)
