"""The emulator's clock: what its rate limits, buckets and nonce window count time on.

In a production-like run it is real time. A test harness that fakes time makes it *follow* its
fake clock (``emu.clock.follow(fake.now)``): the emulator's "now" is then the fake time plus the
time spent waiting on rate limits (:meth:`EmulatorClock.sleep`), so a client that waits out a
429 or paces itself never sleeps real time, and the harness's own clock (the one that stamps
rounds and due times) is never pushed forward by those waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime


class EmulatorClock:
    """Seconds as a float; :meth:`now` is monotonic, :meth:`unix` is for ``X-RateLimit-Reset``."""

    def __init__(self) -> None:
        self._follow: Callable[[], datetime | float] | None = None
        self._waited = 0.0
        self._last = 0.0
        #: Seconds of waiting done on this clock instead of in real time (fake mode only).
        self.fake_waited = 0.0

    # --- modes ------------------------------------------------------------------------------
    def follow(self, source: Callable[[], datetime | float]) -> None:
        """Count time on ``source`` (a fake clock's ``now``: an aware datetime or seconds)."""
        self._follow = source
        self._waited = 0.0
        self._last = 0.0

    @property
    def fake(self) -> bool:
        return self._follow is not None

    # --- reading ----------------------------------------------------------------------------
    def _base(self) -> float:
        if self._follow is None:
            return time.monotonic()
        value = self._follow()
        return value.timestamp() if isinstance(value, datetime) else float(value)

    def now(self) -> float:
        """Never goes backwards, even if the followed clock is set back."""
        value = self._base() + self._waited
        if value < self._last:
            self._waited += self._last - value
            value = self._last
        self._last = value
        return value

    def unix(self) -> float:
        """Unix seconds matching :meth:`now` (fake mode: the followed clock is Unix time)."""
        if self._follow is None:
            return time.time()
        return self.now()

    # --- waiting ----------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Fake mode: move this clock (not the followed one) forward."""
        if seconds > 0:
            self._waited += seconds
            self.fake_waited += seconds

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock: real time, or (fake mode) a jump to ``now + seconds``
        that never overshoots what the longest concurrent waiter asked for."""
        if self._follow is None:
            await asyncio.sleep(max(0.0, seconds))
            return
        target = self.now() + max(0.0, seconds)
        self.advance(target - self.now())
        await asyncio.sleep(0)
