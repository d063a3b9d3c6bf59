"""Bounded, jittered retries of transient errors, around every API call the run makes.

One small wrapper rather than the SDK's ``RetryOptions`` (which the clients get with
``retryable=False``, so the two never compound), because the SDK cannot express what a run needs:
retries counted per key for the report, back-off that never sleeps past the run's deadline, an
injected clock so tests never sleep, and the request budget taken before every attempt.
Permanent errors (``Forbidden.*``, ``InvalidKeyMaterial``, ...) are never retried.
"""

from __future__ import annotations

import contextvars
import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TypeVar

from renewer.budget import RateLimiter
from renewer.clock import Clock
from renewer.deadline import Deadline
from renewer.errors import CloudError

T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "Rejected.Throttling",
        "ServiceUnavailable",
        "ServiceUnavailableTemporary",
        "InternalFailure",
        "InternalError",
        "ConnectionError",
        # AWS
        "ThrottlingException",
        "KMSInternalException",
        "DependencyTimeoutException",
        "RequestLimitExceeded",
        "ServiceUnavailableException",
        "InternalServiceError",
    }
)


def is_transient(error: CloudError) -> bool:
    return error.code in TRANSIENT_CODES or (error.http_status or 0) >= 500


@dataclass
class Backoff:
    """Full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""

    base: float = 0.2
    cap: float = 5.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * 2**attempt))


class CallStats:
    """API calls and retries of the run, and of the key the current thread works on."""

    current_key: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("current_key", default=None)

    def __init__(self) -> None:
        self.calls = 0
        self.retries = 0
        self.retries_by_code: dict[str, int] = {}
        self._lock = threading.Lock()

    def call(self) -> None:
        with self._lock:
            self.calls += 1

    def retry(self, code: str) -> None:
        with self._lock:
            self.retries += 1
            self.retries_by_code[code] = self.retries_by_code.get(code, 0) + 1
        counter = self.current_key.get()
        if counter is not None:
            counter[0] += 1


@dataclass
class Caller:
    """Runs one API call within the region's budget, retrying transient errors."""

    limiter: RateLimiter
    clock: Clock
    stats: CallStats
    deadline: Deadline
    max_attempts: int = 5
    backoff: Backoff = field(default_factory=Backoff)

    def call(self, action: str, call: Callable[[], T], errors: Callable[[str], AbstractContextManager[None]]) -> T:
        """Run an SDK call as ``action``, its exceptions translated by ``errors`` (a context manager
        per cloud: :func:`renewer.alibaba.cloud_errors`, :func:`renewer.aws.aws_errors`)."""

        def attempt() -> T:
            with errors(action):
                return call()

        return self(attempt)

    def __call__(self, call: Callable[[], T]) -> T:
        attempt = 0
        while True:
            attempt += 1
            self.limiter.acquire()
            self.stats.call()
            try:
                return call()
            except CloudError as error:
                if not is_transient(error) or attempt >= self.max_attempts:
                    raise
                delay = self.backoff.delay(attempt)
                if not self.deadline.allows(delay):
                    raise
                self.stats.retry(error.code)
                self.clock.sleep(delay)
