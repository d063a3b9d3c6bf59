"""One value per key, made on first use and shared by every thread after: the run's clients,
callers and rate limiters each keep one per region this way."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class OncePer(Generic[K, V]):
    """``get(key)`` returns ``make(key)``, made once per key even when threads ask at once."""

    def __init__(self, make: Callable[[K], V]) -> None:
        self._make = make
        self._values: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        with self._lock:
            if key not in self._values:
                self._values[key] = self._make(key)
            return self._values[key]

    def values(self) -> Iterator[V]:
        with self._lock:
            return iter(list(self._values.values()))
