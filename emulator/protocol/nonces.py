"""The signature-nonce cache: a nonce may be used once while its request's timestamp is valid.

A request is accepted while its timestamp is within :data:`WINDOW_SECONDS` of real time, so a
replay is possible until ``timestamp + WINDOW_SECONDS``; the nonce is remembered exactly that
long, then forgotten. The cache is thread safe and bounded: expired entries are dropped on every
use, and beyond ``max_entries`` the entries closest to expiry go first.

Given a :class:`NonceJournal` (the ``--state`` store), every nonce is also written there with its
expiry, the unexpired ones are read back at start, and pruning deletes them there too: a request
replayed after a restart is still refused.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from typing import Protocol

#: How far a request's timestamp may be from the host's real time (15 minutes).
WINDOW_SECONDS = 15 * 60


class NonceJournal(Protocol):
    """Where nonces outlive the process (:class:`emulator.backend.store.Store`)."""

    def load_nonces(self, now: float) -> list[tuple[str, float]]:
        """Every nonce that expires at or after ``now``, with its expiry."""
        ...

    def save_nonce(self, nonce: str, expires_at: float) -> None: ...

    def forget_nonces(self, expired_before: float, evicted: list[str]) -> None:
        """Delete nonces that expire before ``expired_before``, and the ``evicted`` ones."""
        ...


class NonceCache:
    """Nonces seen, each with the real time after which it no longer needs remembering."""

    def __init__(
        self,
        now: Callable[[], float] = time.time,
        max_entries: int = 1_000_000,
        journal: NonceJournal | None = None,
    ) -> None:
        self._now = now
        self._max_entries = max_entries
        self._journal = journal
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        if journal is not None:
            for nonce, expires_at in journal.load_nonces(now()):
                self._expiry[nonce] = expires_at
                self._heap.append((expires_at, nonce))
            heapq.heapify(self._heap)

    def use(self, nonce: str, expires_at: float) -> bool:
        """Record ``nonce``; ``False`` if it was already recorded and has not expired."""
        with self._lock:
            now = self._now()
            purged = self._purge(now)
            if nonce in self._expiry:
                self._forget(purged, now, [])
                return False
            self._expiry[nonce] = expires_at
            heapq.heappush(self._heap, (expires_at, nonce))
            evicted: list[str] = []
            while len(self._expiry) > self._max_entries:
                _, oldest = heapq.heappop(self._heap)
                del self._expiry[oldest]
                evicted.append(oldest)
            self._forget(purged, now, evicted)
            if self._journal is not None and nonce in self._expiry:
                self._journal.save_nonce(nonce, expires_at)
            return True

    def size(self) -> int:
        """How many unexpired nonces are remembered."""
        with self._lock:
            now = self._now()
            self._forget(self._purge(now), now, [])
            return len(self._expiry)

    def _purge(self, now: float) -> int:
        purged = 0
        while self._heap and self._heap[0][0] < now:
            _, nonce = heapq.heappop(self._heap)
            del self._expiry[nonce]
            purged += 1
        return purged

    def _forget(self, purged: int, now: float, evicted: list[str]) -> None:
        if self._journal is not None and (purged or evicted):
            self._journal.forget_nonces(now, evicted)
