"""The signature-nonce cache: a nonce may be used once while its request's timestamp is valid.

A request is accepted while its timestamp is within :data:`WINDOW_SECONDS` of real time, so a
replay is possible until ``timestamp + WINDOW_SECONDS``; the nonce is remembered exactly that
long, then forgotten. The cache is thread safe and bounded: expired entries are dropped on every
use, and beyond ``max_entries`` the entries closest to expiry go first.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable

#: How far a request's timestamp may be from the host's real time (15 minutes).
WINDOW_SECONDS = 15 * 60


class NonceCache:
    """Nonces seen, each with the real time after which it no longer needs remembering."""

    def __init__(self, now: Callable[[], float] = time.time, max_entries: int = 1_000_000) -> None:
        self._now = now
        self._max_entries = max_entries
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def use(self, nonce: str, expires_at: float) -> bool:
        """Record ``nonce``; ``False`` if it was already recorded and has not expired."""
        with self._lock:
            self._purge(self._now())
            if nonce in self._expiry:
                return False
            self._expiry[nonce] = expires_at
            heapq.heappush(self._heap, (expires_at, nonce))
            while len(self._expiry) > self._max_entries:
                _, oldest = heapq.heappop(self._heap)
                del self._expiry[oldest]
            return True

    def size(self) -> int:
        """How many unexpired nonces are remembered."""
        with self._lock:
            self._purge(self._now())
            return len(self._expiry)

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] < now:
            _, nonce = heapq.heappop(self._heap)
            del self._expiry[nonce]
