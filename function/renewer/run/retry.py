"""Jittered retries of transient errors, for as long as the deadline allows, around every API call
the run makes (KMS, secrets, metrics, fan-out invocations): the one retry owner.

One small wrapper rather than the SDK's ``RetryOptions`` (which the clients get with
``retryable=False``, so the two never compound), because the SDK cannot express what a run needs:
retries counted per key for the report, back-off that never sleeps past the run's deadline, an
injected clock so tests never sleep, and the request budget taken before every attempt. botocore's
and aliyun-fc2's own retries are off too (see :mod:`renewer.clouds.aws`, :mod:`renewer.clouds.fc`).
Only errors their adapter calls :attr:`ErrorKind.TRANSIENT` or :attr:`ErrorKind.THROTTLED` are
retried. A throttled call also slows its operation group's budget down (and waits out the service's
Retry-After): that pacing is its back-off, and it is not counted against ``max_attempts``, since
throttling says nothing about whether the call would succeed: a throttled call fails only when the
deadline comes first.
"""

from __future__ import annotations

import contextvars
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from renewer.clock import Clock
from renewer.errors import CloudError, DeadlineExceeded, ErrorKind
from renewer.run.budget import Pacer
from renewer.run.deadline import Deadline

T = TypeVar("T")


def is_transient(error: CloudError) -> bool:
    """Worth another attempt: the adapter that translated it said so (transient or throttled, see
    :class:`ErrorKind`)."""
    return error.kind.retried


@dataclass
class Backoff:
    """Full jitter: a random wait in [0, min(cap, base * 2**attempt)]."""

    base: float = 0.2
    cap: float = 5.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap, self.base * 2**attempt))


class KeyRetries:
    """The retries of one key's step: the executor sets one as :attr:`CallStats.current_key` around
    the step, the caller counts into it, the executor records the count in the key's result."""

    def __init__(self) -> None:
        self.count = 0


class CallStats:
    """API calls and retries of the run, and of the key the current thread works on."""

    current_key: contextvars.ContextVar[KeyRetries | None] = contextvars.ContextVar("current_key", default=None)

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
            counter.count += 1


#: An attempt is run on the calling thread when this much time is left: the SDKs' own connect and
#: read timeouts (5 s + 10 s) end it first. With less left, a watchdog abandons it at the deadline.
SDK_MAX_CALL_SECONDS = 16.0
#: Without a deadline (the CLI), retrying one call stops after this long.
MAX_RETRY_SECONDS = 300.0


@dataclass
class Caller:
    """Runs one API call within its operation group's budget (``limiter``: a place's
    :class:`~renewer.run.budget.PlaceBudget`, or one :class:`~renewer.run.budget.RateLimiter` for
    every action), retrying transient errors with back-off and throttled ones at the lowered rate,
    for as long as the deadline allows (``max_attempts`` caps the transient failures when set).
    Every wait (a request slot, a back-off) and every attempt ends by the deadline: a call cut off
    there raises :class:`DeadlineExceeded`, never retried."""

    limiter: Pacer
    clock: Clock
    stats: CallStats
    deadline: Deadline
    max_attempts: int | None = None
    backoff: Backoff = field(default_factory=Backoff)
    max_retry_seconds: float = MAX_RETRY_SECONDS

    def call(
        self,
        action: str,
        call: Callable[[], T],
        translate: Callable[[BaseException, str], CloudError | None],
        *,
        idempotent: bool = True,
    ) -> T:
        """Run an SDK call as ``action``, its exceptions translated by ``translate`` (one per cloud:
        :func:`renewer.clouds.alibaba.translate`, :func:`renewer.clouds.aws.translate`), which keeps nothing of
        the SDK's exception: not even as the cause (it holds the request, secrets included).
        ``idempotent=False`` (metrics, asynchronous invocations): an attempt whose answer never came
        is not repeated, since the service may have done it."""

        def attempt() -> T:
            try:
                return call()
            except Exception as exc:
                error = translate(exc, action)
                if error is None:
                    raise
            raise error  # outside the handler: no __context__ links it to the SDK's exception

        return self(attempt, action=action, idempotent=idempotent)

    def __call__(self, call: Callable[[], T], *, action: str = "call", idempotent: bool = True) -> T:
        failures = 0  # transient failures: what max_attempts counts (throttling is not one)
        started = self.clock.monotonic()
        while True:
            if self.deadline.remaining() <= 0:
                raise DeadlineExceeded(f"{action}: not started, the function's deadline has passed")
            self.limiter.take(action, self.deadline)
            self.stats.call()
            try:
                result = self._bounded(call, action)
            except CloudError as error:
                if error.kind is ErrorKind.THROTTLED:
                    self.limiter.throttled_by(action, error.retry_after)
                if not is_transient(error) or (error.outcome_unknown and not idempotent):
                    raise
                if error.kind is not ErrorKind.THROTTLED:
                    failures += 1
                self._retry_or_raise(error, action, failures, started)
                continue
            self.limiter.succeeded(action)
            return result

    def _retry_or_raise(self, error: CloudError, action: str, failures: int, started: float) -> None:
        """Wait before the next attempt, or re-raise ``error`` when it may not be retried: a
        throttled call waits for its budget's next slot (lowered, and held back by any
        Retry-After), bounded by the deadline only; a transient failure backs off with jitter,
        bounded by ``max_attempts`` and ``max_retry_seconds`` too."""
        elapsed = self.clock.monotonic() - started
        if error.kind is ErrorKind.THROTTLED:
            if not self.deadline.bounded and elapsed >= self.max_retry_seconds:
                raise error
            if not self.deadline.allows(self.limiter.wait_for(action)):
                raise error
            self.stats.retry(error.code)
            return  # the next take() waits for the slot
        if self.max_attempts is not None and failures >= self.max_attempts:
            raise error
        if elapsed >= self.max_retry_seconds:
            raise error
        delay = self.backoff.delay(failures)
        if not self.deadline.allows(delay):
            raise error
        self.stats.retry(error.code)
        self.clock.sleep(delay)

    def _bounded(self, call: Callable[[], T], action: str) -> T:
        """Run one attempt; abandon it unanswered at the deadline."""
        left = self.deadline.remaining()
        if left >= SDK_MAX_CALL_SECONDS:
            return call()
        outcome: list[Any] = []
        context = contextvars.copy_context()

        def target() -> None:
            try:
                outcome.append((True, context.run(call)))
            except BaseException as exc:  # handed to the waiting thread
                outcome.append((False, exc))

        worker = threading.Thread(target=target, name=f"call-{action}", daemon=True)
        worker.start()
        worker.join(max(0.0, left))
        if not outcome:
            raise DeadlineExceeded(f"{action}: no answer within the {max(0.0, left):.1f} s left before the deadline")
        ok, value = outcome.pop()
        if ok:
            return value
        raise value
