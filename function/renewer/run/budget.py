"""The request budget: each region's API calls are paced to at most ``max_qps`` per second.

Calls are given evenly spaced slots (no bursts), so any one-second window holds at most
``max_qps`` + 1 of them, across every thread of the run. A large fleet therefore stays under the
account's API rate limit instead of hammering it into ``Throttling``.
"""

from __future__ import annotations

import threading

from renewer.clock import Clock
from renewer.errors import DeadlineExceeded
from renewer.once import OncePer
from renewer.run.deadline import Deadline


class RateLimiter:
    def __init__(self, max_qps: float, clock: Clock) -> None:
        if max_qps <= 0:
            raise ValueError("max_qps must be > 0")
        self.interval = 1.0 / max_qps
        self.clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def acquire(self, deadline: Deadline | None = None) -> float:
        """Wait for this call's slot; returns how long it waited. A slot later than ``deadline``
        is not taken (nor waited for): :class:`DeadlineExceeded`."""
        with self._lock:
            now = self.clock.monotonic()
            slot = max(now, self._next)
            if deadline is not None and slot >= deadline.end:
                raise DeadlineExceeded(
                    f"the next request slot of this region's budget is {slot - now:.1f} s away, "
                    f"after the deadline ({max(0.0, deadline.end - now):.1f} s left)"
                )
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self.clock.sleep(wait)
        return wait


class Budgets:
    """One :class:`RateLimiter` per region of each cloud (``alibaba:cn-hangzhou``), made on first use;
    ``qps_for`` is keyed by region name."""

    def __init__(self, qps_for: dict[str, float] | None, default_qps: float, clock: Clock) -> None:
        qps = dict(qps_for or {})
        self._limiters: OncePer[str, RateLimiter] = OncePer(
            lambda name: RateLimiter(qps.get(name.rpartition(":")[2], default_qps), clock)
        )

    def for_region(self, name: str) -> RateLimiter:
        return self._limiters.get(name)
