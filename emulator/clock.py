"""The service's clock.

It drives token lifetime, material expiry and the ``KeyMaterialExpireUnix`` check. Tests move
it through the admin API; signature timestamps are always checked against real time instead.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Real time plus an offset; ``set``/``advance`` move it without sleeping."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def set(self, now: float) -> None:
        with self._lock:
            self._offset = now - time.time()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset


class FixedClock(Clock):
    """A clock that stands still unless moved; for backend unit tests."""

    def __init__(self, now: float) -> None:
        super().__init__()
        self._now = now

    def now(self) -> float:
        return self._now

    def set(self, now: float) -> None:
        self._now = now

    def advance(self, seconds: float) -> None:
        self._now += seconds
