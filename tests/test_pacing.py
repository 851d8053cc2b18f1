"""The bot's request pacer: one under each tight Discord limit and under the global one, on an
injected clock (so this test, like the sandbox, never waits real time)."""

from __future__ import annotations

import asyncio

from bot.pacing import RoutePacer

MESSAGES = ("POST", "/channels/{channel_id}/messages")
DM_OPEN = ("POST", "/users/@me/channels")


class StillClock:
    """Time moves only when the pacer waits on it."""

    fake = True

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)


async def _send(pacer: RoutePacer, route: tuple[str, str], major: str, log: list[float]) -> None:
    async with pacer.slot(*route, major):
        log.append(pacer.clock.now())


async def test_four_posts_per_channel_go_at_once_and_the_fifth_waits_out_the_window() -> None:
    pacer = RoutePacer(clock=StillClock())
    room, other = [], []
    for _ in range(9):
        await _send(pacer, MESSAGES, "1", room)
    await _send(pacer, MESSAGES, "2", other)
    assert room == [0.0] * 4 + [5.0] * 4 + [10.0]  # 4 per 5 s: Discord's 5, minus one
    assert other == [10.0]  # its own bucket: no wait of its own


async def test_dm_opens_are_one_bucket_for_the_bot() -> None:
    pacer = RoutePacer(clock=StillClock())
    log: list[float] = []
    for i in range(10):
        await _send(pacer, DM_OPEN, str(i), log)
    assert log == [0.0] * 9 + [10.0]


async def test_concurrent_requests_stay_under_the_global_limit_and_keep_their_order() -> None:
    pacer = RoutePacer(global_per_second=40, clock=StillClock())
    log: list[float] = []
    order: list[int] = []

    async def get(i: int) -> None:
        async with pacer.slot("GET", "/users/{user_id}", ""):
            log.append(pacer.clock.now())
            order.append(i)

    await asyncio.gather(*(get(i) for i in range(100)))
    assert order == list(range(100))
    for start in log:  # no second holds more than 40 starts
        assert sum(1 for t in log if start <= t < start + 1.0) <= 40
    assert max(log) == 2.0


async def test_buckets_with_nothing_in_their_window_are_forgotten() -> None:
    clock = StillClock()
    pacer = RoutePacer(clock=clock)
    log: list[float] = []
    for i in range(600):  # one DM channel each, as a big round of reminders has
        await _send(pacer, MESSAGES, str(i), log)
        clock.t += 0.1
    assert len(pacer._routes) < 600 - 400  # old channels' buckets went; recent ones stay
    assert len(log) == 600
    assert all(abs(t - i * 0.1) < 1e-6 for i, t in enumerate(log))  # and nobody waited
