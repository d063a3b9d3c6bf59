"""Runs steps over many keys.

:func:`run_keys`: one step over one group of keys, at most ``concurrency`` at once, started in the
order given (most urgent first), none started once the deadline leaves no time for another. A key
not started is ``not_attempted``. A step returns the key's new (immutable) result, which takes the
old one's place; its retries are counted while it runs (:class:`renewer.run.retry.KeyRetries`). A key
is logged once, when its outcome is final.

:func:`in_parallel`: one function per group (a cloud and region), all at once, so a slow or hung
region spends only its own threads and time while the others go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

from renewer.clock import Clock
from renewer.config import MaterialSpec
from renewer.logs import log_event
from renewer.run.deadline import Deadline
from renewer.run.progress import Progress
from renewer.run.report import Done, KeyResult, Outcome, Via, iso
from renewer.run.retry import CallStats, KeyRetries

Item = tuple[MaterialSpec, KeyResult]
T = TypeVar("T")
Step = Callable[[MaterialSpec, KeyResult], KeyResult]
#: What a key's step is expected to take before any has finished: without it, the first
#: ``concurrency`` keys of a phase would start however little time is left.
FIRST_KEY_SECONDS = 2.0


class Pace:
    """The running mean of how long one key's step took: what the next one is expected to take."""

    def __init__(self) -> None:
        self._total = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def record(self, seconds: float) -> None:
        with self._lock:
            self._total += seconds
            self._count += 1

    def expected(self) -> float:
        with self._lock:
            return self._total / self._count if self._count else FIRST_KEY_SECONDS


def run_keys(
    items: list[Item],
    step: Step,
    *,
    concurrency: int,
    clock: Clock,
    deadline: Deadline,
    progress: Progress | None = None,
) -> list[Item]:
    """Run ``step`` for each key; returns the items with each key's new result, in the order given.
    A key whose outcome is final afterwards is logged and counted on ``progress`` (whose start and
    finish are the caller's)."""
    pace = Pace()

    def task(spec: MaterialSpec, result: KeyResult) -> KeyResult:
        if not deadline.allows(pace.expected()):
            result = result.finished(Done(Outcome.NOT_ATTEMPTED, notes=(deadline.stop_note,)))
        else:
            retries = KeyRetries()
            token = CallStats.current_key.set(retries)
            started = clock.monotonic()
            try:
                result = step(spec, result)
            finally:
                CallStats.current_key.reset(token)
                elapsed = clock.monotonic() - started
                pace.record(elapsed)
            result = result.with_cost(retries.count, elapsed)
        if result.outcome is not None:
            finished(result, progress)
        return result

    if not items:
        return []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="keys") as pool:
        futures = [pool.submit(task, spec, result) for spec, result in items]
        wait(futures)
        # a task never raises (steps are guarded); .result() surfaces a bug if one does
        return [(spec, future.result()) for (spec, _), future in zip(items, futures, strict=True)]


def finished(result: KeyResult, progress: Progress | None) -> None:
    """A key's outcome is final: log it once, count it on the progress bar. A witness (a key only
    described to compare ids, see :mod:`renewer.run.identity`) is not the run's key: neither."""
    if result.via is Via.WITNESS:
        return
    log_key(result)
    if progress is not None:
        progress.advance()


def groups(items: list[Item]) -> dict[tuple[str, str], list[int]]:
    """The positions of the keys in ``items``, by (cloud, region), in the order given."""
    by_place: dict[tuple[str, str], list[int]] = {}
    for i, (_, result) in enumerate(items):
        by_place.setdefault((result.cloud, result.region), []).append(i)
    return by_place


def in_parallel(work: list[Callable[[], T]]) -> list[T]:
    """Run each function on a thread of its own, all at once; returns their results when all have."""
    if len(work) == 1:
        return [work[0]()]
    with ThreadPoolExecutor(max_workers=max(1, len(work)), thread_name_prefix="region") as pool:
        return [future.result() for future in [pool.submit(fn) for fn in work]]


def log_key(result: KeyResult) -> None:
    log_event(
        "key",
        material=result.material,
        region=result.region,
        cloud=str(result.cloud),
        key_id=result.key_id,
        resolved_key_id=result.resolved_key_id,
        outcome=str(result.outcome) if result.outcome else None,
        decision=str(result.decision) if result.decision else None,
        state_before=result.state_before,
        expires_before=iso(result.expires_before),
        expires_after=iso(result.expires_after),
        retries=result.retries,
        error=result.error_code,
        message=result.error_message,
    )
