"""Time as a dependency: the flow asks a clock (and sleeps through it); tests hand it one they move."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall-clock unix seconds: expiry decisions and the new ``KeyMaterialExpireUnix``."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: deadlines and the request budget."""

    def sleep(self, seconds: float) -> None:
        """Wait (retry back-off, request pacing)."""


class SystemClock:
    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to (``advance``, or a ``sleep``); thread safe; for tests."""

    def __init__(self, now: float) -> None:
        self._now = now
        self._mono = 0.0
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.advance(seconds)
