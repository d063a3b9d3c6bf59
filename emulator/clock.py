"""The service's clock.

It drives token lifetime, material expiry and the ``KeyMaterialExpireUnix`` check. Tests move
it through the admin API; signature timestamps are always checked against real time instead.

The clock can only be set or moved to a finite time within :data:`EARLIEST` .. :data:`LATEST`;
anything else raises ``ValueError`` and leaves it where it was.
"""

from __future__ import annotations

import math
import threading
import time

#: The times the emulator's clock may be set to: 1970-01-01T00:00:00Z to 2099-12-31T23:59:59Z.
#: Our choice, not a documented limit of the service: every time the service shows is a Unix time
#: or a four-digit-year ``yyyy-MM-ddTHH:mm:ssZ``, negative Unix times mean nothing to it, and no key
#: material lives past 2099. What matters is that NaN, infinities and huge values (which broke the
#: ``Date`` header of every response) never reach the clock. A clock set near :data:`LATEST` goes
#: on ticking past it, harmlessly.
EARLIEST = 0.0
LATEST = 4_102_444_799.0


def as_float(value: object, name: str) -> float:
    """``value`` as a float if it is a number (not a bool, not a string), else ``ValueError``; an
    int beyond any float is infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    try:
        return float(value)
    except OverflowError:
        return math.inf


def finite(value: object, name: str) -> float:
    """``value`` as a float if it is a finite number (not a bool, not a string), else ``ValueError``."""
    number = as_float(value, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number")
    return number


def check_time(now: object, name: str = "now") -> float:
    """``now`` as a float if it is a finite time within EARLIEST..LATEST, else ``ValueError``."""
    number = finite(now, name)
    if not EARLIEST <= number <= LATEST:
        raise ValueError(f"{name} must be a Unix time from {EARLIEST:.0f} (1970-01-01) to {LATEST:.0f} (2099-12-31)")
    return number


class Clock:
    """Real time plus an offset; ``set``/``advance`` move it without sleeping."""

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def set(self, now: float) -> None:
        now = check_time(now)
        with self._lock:
            self._offset = now - time.time()

    def advance(self, seconds: float) -> None:
        seconds = finite(seconds, "advance")
        with self._lock:
            check_time(self.now() + seconds, "the advanced clock")
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
        self._now = check_time(now)

    def now(self) -> float:
        return self._now

    def set(self, now: float) -> None:
        self._now = check_time(now)

    def advance(self, seconds: float) -> None:
        self._now = check_time(self._now + finite(seconds, "advance"), "the advanced clock")
