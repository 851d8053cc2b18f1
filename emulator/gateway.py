"""The gateway websocket: HELLO, IDENTIFY/READY, GUILD_CREATE, heartbeats, RESUME and replays.

Each bot session keeps a numbered buffer of the dispatches meant for it. A connection's writer
sends whatever the client has not seen yet, so live delivery and replay after a RESUME are the
same mechanism and nothing is lost or doubled across a dropped socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
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

#: Dispatches kept per session for RESUME (Discord keeps a few minutes' worth).
REPLAY_BUFFER = 10_000


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
        return (guild_id >> 22) % self.shard_count == self.shard_id

    def push(self, event: str, data: JSON) -> None:
        if spec.OBSERVERS:
            spec.observe_dispatch(event, data)
        self.seq += 1
        self.frames.append(json.dumps({"op": DISPATCH, "t": event, "s": self.seq, "d": data}))
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

    def __init__(self, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.ws = ws
        self.session: Session | None = None
        #: Set when the emulator closed the socket (a drop), so the session stays resumable.
        self.closed_by_server = False
        self.sent_upto = 0
        self.writer: asyncio.Task[None] | None = None
        self._compressor = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()

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
        compress: bool = False,
        allowed_intents: int = PRIVILEGED_INTENTS,
    ) -> None:
        self.world = world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compress = compress
        self.allowed_intents = allowed_intents
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

    async def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Op 9; unless ``resumable`` the sessions are forgotten and the bot must IDENTIFY again."""
        for conn in list(self.connections):
            await conn.send_op(INVALID_SESSION, resumable)
        if not resumable:
            self.sessions.clear()

    async def close(self) -> None:
        for conn in list(self.connections):
            if conn.writer is not None:
                conn.writer.cancel()
            await conn.close(code=1001, message=b"emulator stopping")
        self.connections.clear()
        self.sessions.clear()

    # --- the websocket handler -------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        compress = self.compress and request.query.get("compress") == "zlib-stream"
        conn = Connection(ws, compress=compress)
        self.connections.add(conn)
        try:
            await conn.send_op(
                HELLO, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["emulator"]}
            )
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    await conn.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_frame(conn, frame)
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

    async def _on_frame(self, conn: Connection, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            await conn.send_op(ACK, None)
            return
        self.received.append({"op": op, "d": data})
        if op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op == REQUEST_MEMBERS:
            self._request_members(conn, data or {})
        elif op in (PRESENCE, VOICE):
            return
        else:
            await conn.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            await conn.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.world.token:
            await conn.close(code=4004, message=b"Authentication failed.")
            return
        intents = data.get("intents")
        if intents is None:
            await conn.close(code=4013, message=b"Invalid intent(s).")
            return
        if int(intents) & PRIVILEGED_INTENTS & ~self.allowed_intents:
            await conn.close(code=4014, message=b"Disallowed intent(s).")
            return
        shard = data.get("shard") or [0, 1]
        shard_id, shard_count = int(shard[0]), int(shard[1])
        if not 0 <= shard_id < shard_count:
            await conn.close(code=4010, message=b"Invalid shard.")
            return
        self.identify_count += 1
        session = Session(secrets.token_hex(16), shard_id, shard_count, int(intents))
        self.sessions[session.id] = session
        guilds = [g for g in self.world.guilds.values() if session.handles(g.id)]
        user = self.world.bot_user.to_payload()
        user.update({"verified": True, "mfa_enabled": False, "flags": 0, "email": None})
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
        session = self.sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        if data.get("token") != self.world.token:
            await conn.close(code=4004, message=b"Authentication failed.")
            return
        if session is None or not session.can_replay_from(seq):
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
