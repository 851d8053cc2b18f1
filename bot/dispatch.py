"""The dispatcher: the tick handler that turns due outbox rows into Discord messages and feature
work, and the discord.py side of sending (:class:`DiscordMessenger`).

Each tick: leases that ran out go back to pending, stale rows expire, then due rows are claimed
in bounded batches and handled: delivery kinds are sent here (DMs fall back to the pair's thread
when closed), other kinds go to the handler a feature registered with :meth:`Dispatcher.register`.
Each delivery's outcome is written as soon as its send completes (group-committed with the others
that finished meanwhile), so a crash leaves unrecorded only the sends in flight at that moment;
their rows' leases run out and they are sent again with the same nonce, which Discord answers
with the first message while inside its de-duplication window. A send whose answer was lost
while the process lives is retried after a backoff that may outlast that window: the retry
first looks for the message's receipt (its MESSAGE_CREATE, which carries the nonce; see
:meth:`Dispatcher.saw_own_message`) and records that message instead of sending again.
"""

from __future__ import annotations

import asyncio
import logging
import time as time_module
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn, cast

import aiohttp
import discord
from discord.http import handle_message_parameters
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db import read_only, unit_of_work
from bot.services import departures, outbox, send_budget
from bot.services.outbox import DueWork, Outcome
from bot.services.ports import (
    DmClosed,
    Messenger,
    OutgoingMessage,
    Permanent,
    Sent,
    Transient,
    nonce_for,
)

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, DueWork], Awaitable[None]]
"""Feature work for one due row. It runs inside the unit of work that also marks the row done,
so its database changes and the row's completion commit together (or not at all). Handlers
should do database work and enqueue deliveries rather than talk to Discord themselves; if they
must, the work has to be safe to repeat (a crash before the commit repeats it)."""

DISCORD_DMS_CLOSED = 50007
DISCORD_UNKNOWN_MEMBER = 10007
DISCORD_UNKNOWN_USER = 10013

Membership = Callable[[int, int], Awaitable[bool | None]]
"""Whether ``(guild_id, user_id)`` is still a member of the server: ``None`` when it could not
be told (Discord failed). A REST member lookup, which needs no privileged intent."""


class LeaseLost(Exception):
    """The row was no longer this claim's when the handler finished: roll its work back."""


@dataclass
class TickReport:
    """What one :meth:`Dispatcher.run_once` did (counts only: nothing private)."""

    released: int = 0
    expired: int = 0
    batches: int = 0
    claimed: int = 0
    states: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int]) -> None:
        for state, n in counts.items():
            self.states[state] = self.states.get(state, 0) + n


class Dispatcher:
    """Claims due rows and routes them by kind. Create one per process; it holds no state of
    record, only its worker id and the handlers features registered."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        messenger: Messenger,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=120),
        max_in_flight: int = 10,
        max_attempts: int = outbox.MAX_ATTEMPTS,
        worker: str | None = None,
        on_dms_closed: Callable[[int, int], None] | None = None,
        membership: Membership | None = None,
        on_departed: Callable[[int, int], None] | None = None,
        on_outcomes: Callable[[dict[str, int]], None] | None = None,
        heartbeat: timedelta | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        shards: tuple[int, list[int]] | None = None,
    ) -> None:
        self.sessions = sessions
        # ``(shard_count, shard ids)`` of a process running only some of the bot's shards: it
        # claims only their guilds' work (it cannot see the other guilds' channels).
        self.shards = shards
        self.on_dms_closed = on_dms_closed
        # Asked when a DM can't be delivered (50007, or DMs known closed): someone who left
        # the server gets nothing more, in DMs or in the pair's thread (see services.departures).
        self.membership = membership
        self.on_departed = on_departed
        self.clock = clock
        self.messenger = messenger
        self.batch_size = batch_size
        self.lease = lease
        self.max_in_flight = max_in_flight
        self.max_attempts = max_attempts
        self.worker = worker or outbox.worker_id()
        # Told the counts by state each time delivery outcomes are committed (metrics).
        self.on_outcomes = on_outcomes
        self._handlers: dict[str, Handler] = {}
        # The heartbeat: while a batch is being worked on, the leases of its rows not yet
        # finished are renewed every ``heartbeat`` (a third of the lease by default), so that a
        # long handler (a big round) is never taken over by another process while it runs.
        self.heartbeat = heartbeat or lease / 3
        self._sleep = sleep
        self._held: dict[int, DueWork] = {}
        self.renewals = 0
        # Receipts: nonce -> the message, from the gateway's MESSAGE_CREATE of our own sends
        # (see saw_own_message). Bounded; only needed until a lost answer's retry comes round.
        self._receipts: OrderedDict[str, Sent] = OrderedDict()
        #: Retries answered from a receipt instead of sending again.
        self.receipts_used = 0

    RECEIPTS_KEPT = 50_000

    def saw_own_message(self, *, nonce: str | None, message_id: int, channel_id: int) -> None:
        """The gateway delivered a message the bot sent (MESSAGE_CREATE carries its nonce).

        This is how duplicate protection holds past Discord's nonce window: when a send's answer
        is lost (a dropped connection, a timeout) the row is retried after a backoff that can be
        longer than the few minutes Discord de-duplicates nonces for; the message was created
        all the same, and its MESSAGE_CREATE told us so. A retry first looks for its nonce here
        and records the earlier message instead of sending again."""
        if nonce is None or not nonce.startswith("pb"):
            return
        self._receipts[nonce] = Sent(message_id=message_id, channel_id=channel_id)
        self._receipts.move_to_end(nonce)
        while len(self._receipts) > self.RECEIPTS_KEPT:
            self._receipts.popitem(last=False)

    def _receipt(self, work: DueWork, via: str, nonce: str) -> Outcome | None:
        sent = self._receipts.get(nonce)
        if sent is None:
            return None
        self.receipts_used += 1
        log.info("outbox row %s: already delivered (receipt %s); not sending again", work.id, via)
        return Outcome(work, "sent", sent=sent, via=via)

    def register(self, kind: str, handler: Handler) -> None:
        """Route rows of ``kind`` (declared with ``outbox.register_kind``, not a delivery kind)
        to ``handler``. Until a handler is registered such rows stay pending, visibly."""
        if outbox.kind_rule(kind).delivery:
            raise ValueError(f"{kind} is a delivery kind: the dispatcher sends it itself")
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[str]:
        return outbox.delivery_kinds() | frozenset(self._handlers)

    async def run_once(self) -> TickReport:
        """One tick: expire stale rows, then (releasing expired leases before each claim) claim
        and handle batches until nothing is due."""
        report = TickReport()
        async with read_only(self.sessions) as session:
            if not await outbox.work_waiting(session, now=self.clock.now()):
                return report
        async with unit_of_work(self.sessions) as session:
            report.expired = await outbox.expire_stale(session, now=self.clock.now())
        while True:
            async with unit_of_work(self.sessions) as session:
                now = self.clock.now()
                # Also between batches: a long tick must not keep a dead worker's rows waiting.
                report.released += await outbox.release_expired_leases(
                    session, now=now, max_attempts=self.max_attempts
                )
                batch = await outbox.claim(
                    session,
                    now=now,
                    worker=self.worker,
                    limit=self.batch_size,
                    lease=self.lease,
                    kinds=self.kinds,
                    shards=self.shards,
                )
                dm_targets = {
                    (w.guild_id, w.user_id)
                    for w in batch
                    if w.user_id is not None and w.guild_id is not None
                }
                closed = await outbox.closed_dm_users(session, members=dm_targets)
                departed = await outbox.departed_users(session, members=dm_targets)
            if not batch:
                break
            report.batches += 1
            report.claimed += len(batch)
            self._held = {w.id: w for w in batch}
            beating = asyncio.create_task(self._beat(), name="outbox-heartbeat")
            try:
                deliveries = [w for w in batch if w.kind not in self._handlers]
                if deliveries:
                    report.add(await self._deliver(deliveries, closed, departed))
                for work in batch:
                    if work.kind in self._handlers:
                        report.add({await self._run_handler(work): 1})
                        self._held.pop(work.id, None)
            finally:
                beating.cancel()
                await asyncio.gather(beating, return_exceptions=True)
                self._held = {}
            if len(batch) < self.batch_size:
                break
        if report.claimed or report.expired or report.released:
            log.info(
                "dispatch tick: %d claimed in %d batches, %s, %d expired, %d released",
                report.claimed,
                report.batches,
                report.states,
                report.expired,
                report.released,
            )
        return report

    async def renew_held(self) -> int:
        """One heartbeat: extend the leases of this worker's unfinished claims to now + lease.
        A row no longer this claim's is dropped from the held set (its outcome will be lost and
        rolled back, as before). Returns how many leases were renewed."""
        works = list(self._held.values())
        if not works:
            return 0
        async with unit_of_work(self.sessions) as session:
            held = await outbox.renew_leases(
                session, works=works, now=self.clock.now(), lease=self.lease
            )
        for work in works:
            if work.id not in held:
                self._held.pop(work.id, None)
        self.renewals += 1
        return len(held)

    async def _beat(self) -> None:
        while True:
            await self._sleep(self.heartbeat.total_seconds())
            try:
                await self.renew_held()
            except Exception:  # the next beat tries again; the lease still has two thirds left
                log.warning("outbox heartbeat failed; trying again", exc_info=True)

    # ----------------------------------------------------------------------- deliveries

    async def _deliver(
        self,
        batch: Sequence[DueWork],
        closed: set[tuple[int, int]],
        departed: set[tuple[int, int]] | None = None,
    ) -> dict[str, int]:
        """Send the batch, ``max_in_flight`` at a time, and record each outcome as soon as its
        send completes (see :class:`_Recorder`): a crash leaves unrecorded only the sends that
        were in flight, never a whole batch."""
        gate = asyncio.Semaphore(self.max_in_flight)
        recorder = _Recorder(self)
        gone = departed if departed is not None else set()
        checked: dict[tuple[int, int], bool] = {}  # one member lookup per member and batch

        async def one(work: DueWork) -> None:
            async with gate:  # the slot is held until the outcome is committed
                newly = _Newly()
                try:
                    outcome = await self._deliver_one(work, closed, newly, gone, checked)
                except Exception as exc:  # a bug must not lose the batch's other outcomes
                    log.exception("delivery %s crashed; it will be retried", work.id)
                    outcome = Outcome(work, "retry", reason=f"error: {type(exc).__name__}")
                closed.update(newly.closed)
                gone.update(newly.departed)
                await recorder.record(outcome, newly)
                self._held.pop(work.id, None)

        tasks = [asyncio.ensure_future(one(w)) for w in batch]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # The outcomes could not be written (the database is failing) or the process is
            # going down: stop sending. What was sent and not recorded goes out again after
            # its lease, with the same nonce.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await recorder.drain()
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise cast(BaseException, task.exception())
        return recorder.counts

    async def _deliver_one(
        self,
        work: DueWork,
        closed: set[tuple[int, int]],
        newly: _Newly,
        departed: set[tuple[int, int]],
        checked: dict[tuple[int, int], bool] | None = None,
    ) -> Outcome:
        if work.user_id is None:
            assert work.channel_id is not None
            receipt = self._receipt(work, "channel", nonce_for(work.key))
            if receipt is not None:
                return receipt
            return await self._attempt(
                work,
                "channel",
                self.messenger.send_to_channel(
                    channel_id=work.channel_id,
                    message=work.message.fitted(),
                    nonce=nonce_for(work.key),
                ),
            )
        member = (work.guild_id or 0, work.user_id)
        if member in departed:
            return Outcome(work, "expired", reason=outbox.MEMBER_LEFT)
        for via, nonce in (
            ("dm", nonce_for(work.key)),
            ("fallback", nonce_for(work.key, fallback=True)),
        ):
            receipt = self._receipt(work, via, nonce)
            if receipt is not None:
                return receipt
        if member not in closed:
            try:
                sent = await self.messenger.send_dm(
                    user_id=work.user_id, message=work.message.fitted(), nonce=nonce_for(work.key)
                )
                return Outcome(work, "sent", sent=sent, via="dm")
            except DmClosed:
                if await self._has_left(member, checked):
                    newly.departed.add(member)
                    return Outcome(work, "expired", reason=outbox.MEMBER_LEFT)
                if work.guild_id is not None:
                    newly.closed.add(member)
            except Transient as exc:
                return Outcome(work, "retry", reason=exc.reason, retry_after=exc.retry_after)
            except Permanent as exc:
                return Outcome(work, "failed", reason=exc.reason)
        elif await self._has_left(member, checked):
            # DMs known closed: before pinging them in the pair's thread, make sure they're here.
            newly.departed.add(member)
            return Outcome(work, "expired", reason=outbox.MEMBER_LEFT)
        fallback = work.fallback_channel_id
        if fallback is None:
            return Outcome(work, "failed", reason="dms closed and no fallback channel")
        return await self._attempt(
            work,
            "fallback",
            self.messenger.send_to_channel(
                channel_id=fallback,
                message=work.fallback_message.fitted(),
                nonce=nonce_for(work.key, fallback=True),
            ),
        )

    async def _has_left(
        self, member: tuple[int, int], checked: dict[tuple[int, int], bool] | None
    ) -> bool:
        guild_id, user_id = member
        if self.membership is None or not guild_id:
            return False
        if checked is not None and member in checked:
            return checked[member]
        try:
            left = await self.membership(guild_id, user_id) is False
        except Exception:  # unknown: treat them as present, as before
            log.warning("could not check a member's presence; assuming they are here")
            left = False
        if checked is not None:
            checked[member] = left
        return left

    @staticmethod
    async def _attempt(work: DueWork, via: str, sending: Awaitable[Sent]) -> Outcome:
        try:
            sent = await sending
        except Transient as exc:
            return Outcome(work, "retry", reason=exc.reason, retry_after=exc.retry_after)
        except (Permanent, DmClosed) as exc:
            reason = exc.reason if isinstance(exc, Permanent) else "dms closed"
            return Outcome(work, "failed", reason=reason)
        return Outcome(work, "sent", sent=sent, via=via)

    # ----------------------------------------------------------------------- feature work

    async def _run_handler(self, work: DueWork) -> str:
        handler = self._handlers[work.kind]
        try:
            async with unit_of_work(self.sessions) as session:
                await handler(session, work)
                if not await outbox.mark_done(session, work=work, now=self.clock.now()):
                    raise LeaseLost
            return "done"
        except LeaseLost:
            log.warning(
                "outbox row %s: claim lost before its handler finished; rolled back", work.id
            )
            return "lost"
        except Permanent as exc:
            reason, retry_after, permanent = exc.reason, None, True
        except Transient as exc:
            reason, retry_after, permanent = exc.reason, exc.retry_after, False
        except Exception as exc:
            log.exception("handler for %s (row %s) failed; it will be retried", work.kind, work.id)
            reason, retry_after, permanent = f"error: {type(exc).__name__}", None, False
        async with unit_of_work(self.sessions) as session:
            now = self.clock.now()
            if permanent:
                ok = await outbox.mark_failed(session, work=work, reason=reason, now=now)
                return "failed" if ok else "lost"
            state = await outbox.retry_later(
                session,
                work=work,
                reason=reason,
                now=now,
                retry_after=retry_after,
                max_attempts=self.max_attempts,
            )
            return state or "lost"


@dataclass
class _Newly:
    """What one delivery learnt about its recipient: DMs closed, or gone from the server."""

    closed: set[tuple[int, int]] = field(default_factory=set)
    departed: set[tuple[int, int]] = field(default_factory=set)


class _Recorder:
    """Writes delivery outcomes as they complete, group-committed: whatever outcomes finished
    while the previous commit ran are written together in the next short transaction. A
    delivery waits for its own commit before giving up its in-flight slot, so a completed send
    stays unrecorded only for the length of one commit, and at most ``max_in_flight`` sends can
    be unrecorded when the process dies (only those Discord's nonce can still de-duplicate).

    Why not one batch at the end: a crash then forgot up to a whole batch of sends, resent
    after the restart; past Discord's nonce window those were real duplicates (issue 13)."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self._dispatcher = dispatcher
        self._queue: list[tuple[Outcome, _Newly, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.counts: dict[str, int] = {}
        self.commits = 0

    async def record(self, outcome: Outcome, newly: _Newly) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((outcome, newly, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def drain(self) -> None:
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    async def _write(self) -> None:
        dispatcher = self._dispatcher
        while self._queue:
            taken, self._queue = self._queue, []
            try:
                async with unit_of_work(dispatcher.sessions) as session:
                    now = dispatcher.clock.now()
                    closed = sorted({m for _, newly, _ in taken for m in newly.closed})
                    for guild_id, user_id in closed:
                        await outbox.mark_dms_closed(
                            session, guild_id=guild_id, user_id=user_id, now=now
                        )
                    gone = sorted({m for _, newly, _ in taken for m in newly.departed})
                    for guild_id, user_id in gone:
                        await departures.member_left(
                            session, guild_id=guild_id, user_id=user_id, now=now
                        )
                    counts = await outbox.record_outcomes(
                        session,
                        outcomes=[outcome for outcome, _, _ in taken],
                        now=now,
                        max_attempts=dispatcher.max_attempts,
                    )
            except BaseException as exc:
                for _, _, done in taken:
                    if not done.done():
                        done.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            self.commits += 1
            if dispatcher.on_outcomes is not None:
                dispatcher.on_outcomes(counts)
            for state, n in counts.items():
                self.counts[state] = self.counts.get(state, 0) + n
            if dispatcher.on_dms_closed is not None:
                for guild_id, user_id in closed:
                    dispatcher.on_dms_closed(guild_id, user_id)
            if dispatcher.on_departed is not None:
                for guild_id, user_id in gone:
                    dispatcher.on_departed(guild_id, user_id)
            for _, _, done in taken:
                if not done.done():
                    done.set_result(None)


# --------------------------------------------------------------------------- discord.py


class Pacer:
    """Spaces request starts at least ``1/rate`` seconds apart, so the bot's own sending stays
    under Discord's global 50 requests/s with room for commands; ``None`` means no pacing.

    The gap is measured from when the previous request really started, so a stalled event loop
    never releases a burst to "catch up"."""

    def __init__(self, rate_per_second: float | None) -> None:
        self.interval = 1.0 / rate_per_second if rate_per_second else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        loop = asyncio.get_running_loop()
        async with self._lock:
            delay = self._next - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = loop.time() + self.interval


class SharedPacer:
    """The pacer of a bot run as several processes on PostgreSQL: besides the local spacing,
    every request takes a send from the one budget all processes share (``send_budget``), so
    that together they stay under ``rate_per_second`` (Discord's 50/s is per bot, not per
    process). Sends are reserved ``batch`` at a time: one database round trip per few sends;
    what a process reserved and did not use in its second is simply lost.

    The budget is counted in slots of ``1 / slots_per_second`` seconds, each allowed
    ``rate / slots_per_second`` sends: a one-second window anywhere (not only from a whole
    second) overlaps at most ``slots_per_second + 1`` slots, so it holds at most
    ``rate * (1 + 1 / slots_per_second)`` sends (48 for 40/s in fifths), where whole-second
    counting allows twice the rate across a second's boundary.

    ``time`` and ``sleep`` are the wall clock (the budget's slots must agree across processes,
    so it is Unix time) and the wait for the next slot; tests inject both."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        rate_per_second: float,
        batch: int = 4,
        time: Callable[[], float] = time_module.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        local: Pacer | None = None,
        slots_per_second: int = 5,
    ) -> None:
        self.sessions = sessions
        self.slots = max(1, slots_per_second)
        self.limit = max(1, int(rate_per_second) // self.slots)  # per slot
        self.batch = max(1, min(batch, self.limit))
        self.local = local or Pacer(rate_per_second)
        self._time = time
        self._sleep = sleep
        self._second: int | None = None
        self._tokens = 0
        self._swept: int | None = None
        self._lock = asyncio.Lock()
        self.reservations = 0  # database round trips, for tests and benchmarks

    async def wait(self) -> None:
        async with self._lock:
            while True:
                now = self._time()
                second = int(now * self.slots)  # the slot (a second when slots_per_second=1)
                if second != self._second:
                    self._second, self._tokens = second, 0
                if self._tokens > 0:
                    self._tokens -= 1
                    break
                async with unit_of_work(self.sessions) as session:
                    granted = await send_budget.reserve(
                        session, second=second, wanted=self.batch, limit=self.limit
                    )
                    if self._swept != second // send_budget.KEEP_SECONDS:
                        self._swept = second // send_budget.KEEP_SECONDS
                        await send_budget.forget_before(session, second=second)
                self.reservations += 1
                if int(self._time() * self.slots) != second:
                    continue  # the round trip outlasted the slot: its grant is void
                if granted:
                    self._tokens = granted - 1
                    break
                await self._sleep(max(0.0, (second + 1) / self.slots - now))  # slot used up
        await self.local.wait()


BUTTON_STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
    "link": discord.ButtonStyle.link,
}


def _view(message: OutgoingMessage) -> discord.ui.View | None:
    """Buttons as a throwaway view: only its components are sent; clicks reach the feature's
    persistent views (registered with ``bot.add_view``) by ``custom_id``."""
    if not message.rows:
        return None
    view = discord.ui.View(timeout=None)
    for row_index, row in enumerate(message.rows):
        for button in row:
            view.add_item(
                discord.ui.Button(
                    label=button.label,
                    custom_id=button.custom_id,
                    style=BUTTON_STYLES[button.style],
                    url=button.url,
                    disabled=button.disabled,
                    row=row_index,
                )
            )
    return view


class DiscordMessenger:
    """:class:`~bot.services.ports.Messenger` on the real discord.py HTTP client.

    Every message carries its nonce (discord.py adds ``enforce_nonce``) and allowed mentions
    that ping nobody but the users the bot names itself. DM channel ids are kept in a bounded
    cache of our own (discord.py keeps only 128), so a round of reminders opens each DM once.
    discord.py already waits out 429s and retries 500/502/504 with the same payload (so the same
    nonce); what it finally raises is turned into DmClosed/Transient/Permanent here."""

    DM_CACHE_SIZE = 50_000

    def __init__(
        self,
        client: discord.Client,
        *,
        rate_per_second: float | None,
        pacer: Pacer | SharedPacer | None = None,
    ) -> None:
        self.client = client
        self.pacer = pacer or Pacer(rate_per_second)
        self._dm_channels: OrderedDict[int, int] = OrderedDict()

    async def send_dm(self, *, user_id: int, message: OutgoingMessage, nonce: str) -> Sent:
        channel_id = await self._dm_channel(user_id)
        return await self._send(channel_id, message, nonce, dm=True)

    async def send_to_channel(
        self, *, channel_id: int, message: OutgoingMessage, nonce: str
    ) -> Sent:
        return await self._send(channel_id, message, nonce, dm=False)

    async def still_member(self, guild_id: int, user_id: int) -> bool | None:
        """:data:`Membership` by a REST member lookup (no privileged intent needed): 10007
        Unknown Member (or 10013 Unknown User) means gone; other failures, unknown."""
        await self.pacer.wait()
        try:
            await self.client.http.get_member(guild_id, user_id)
        except discord.NotFound as exc:
            if exc.code in (DISCORD_UNKNOWN_MEMBER, DISCORD_UNKNOWN_USER):
                return False
            return None
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError):
            return None
        return True

    async def _dm_channel(self, user_id: int) -> int:
        cached = self._dm_channels.get(user_id)
        if cached is not None:
            self._dm_channels.move_to_end(user_id)
            return cached
        await self.pacer.wait()
        try:
            data = await self.client.http.start_private_message(user_id)
        except Exception as exc:
            _raise_translated(exc, dm=False)
        channel_id = int(data["id"])
        self._dm_channels[user_id] = channel_id
        if len(self._dm_channels) > self.DM_CACHE_SIZE:
            self._dm_channels.popitem(last=False)
        return channel_id

    async def _send(
        self, channel_id: int, message: OutgoingMessage, nonce: str, *, dm: bool
    ) -> Sent:
        message = message.fitted()
        mentions = discord.AllowedMentions(
            everyone=False,
            roles=False,
            replied_user=False,
            users=[discord.Object(id=u) for u in message.ping_users] or False,
        )
        embeds = [discord.Embed.from_dict(e) for e in message.embeds]
        kwargs: dict[str, Any] = {"nonce": nonce, "allowed_mentions": mentions}
        if message.content:
            kwargs["content"] = message.content
        if embeds:
            kwargs["embeds"] = embeds
        view = _view(message)
        if view is not None:
            kwargs["view"] = view
        await self.pacer.wait()
        try:
            with handle_message_parameters(**kwargs) as params:
                data = await self.client.http.send_message(channel_id, params=params)
        except Exception as exc:
            _raise_translated(exc, dm=dm)
        return Sent(message_id=int(data["id"]), channel_id=int(data["channel_id"]))


def _raise_translated(exc: Exception, *, dm: bool) -> NoReturn:
    translated = _translate(exc, dm=dm)
    if translated is exc:
        raise exc
    raise translated from exc


def _translate(exc: Exception, *, dm: bool) -> Exception:
    """discord.py's exception (after its own retries) as the services' plain error."""
    if isinstance(exc, discord.RateLimited):
        return Transient("rate limited", retry_after=exc.retry_after)
    if isinstance(exc, discord.Forbidden):
        if dm and exc.code == DISCORD_DMS_CLOSED:
            return DmClosed("dms closed")
        return Permanent(f"forbidden (discord {exc.code})")
    if isinstance(exc, discord.NotFound):
        return Permanent(f"not found (discord {exc.code})")
    if isinstance(exc, discord.HTTPException):
        if exc.status == 429 or exc.status >= 500:
            return Transient(f"discord http {exc.status}")
        return Permanent(f"rejected (http {exc.status}, discord {exc.code})")
    if isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError):
        return Transient(f"connection: {type(exc).__name__}")
    return exc
