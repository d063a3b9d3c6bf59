"""Runs steps over many keys.

:func:`run_keys`: one step over one group of keys, at most ``concurrency`` at once, started in the
order given (most urgent first), none started once the deadline leaves no time for another. A key
not started is ``not_attempted``. Each key's retries are counted into its own cell
(:attr:`renewer.retry.CallStats.current_key`), and a key is logged once, when its outcome is final.

:func:`in_parallel`: one function per group (a cloud and region), all at once, so a slow or hung
region spends only its own threads and time while the others go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from renewer.clock import Clock
from renewer.config import MaterialSpec
from renewer.deadline import Deadline
from renewer.identity import WITNESS
from renewer.logs import log_event
from renewer.progress import Progress
from renewer.report import KeyResult, iso
from renewer.retry import CallStats

Item = tuple[MaterialSpec, KeyResult]
Step = Callable[[MaterialSpec, KeyResult], None]
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
) -> None:
    """Run ``step`` for each key; a key whose outcome is final afterwards is logged and counted
    on ``progress`` (whose start and finish are the caller's)."""
    pace = Pace()

    def task(spec: MaterialSpec, result: KeyResult) -> None:
        if not deadline.allows(pace.expected()):
            result.outcome = "not_attempted"
            result.notes.append("not reached before the function's deadline")
        else:
            token = CallStats.current_key.set(result.retries)
            started = clock.monotonic()
            try:
                step(spec, result)
            finally:
                CallStats.current_key.reset(token)
                elapsed = clock.monotonic() - started
                result.seconds += elapsed
                pace.record(elapsed)
        if result.outcome is not None:
            finished(result, progress)

    if not items:
        return
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="keys") as pool:
        futures = [pool.submit(task, spec, result) for spec, result in items]
        wait(futures)
        for future in futures:
            future.result()  # a task never raises (steps are guarded); this surfaces a bug if one does


def finished(result: KeyResult, progress: Progress | None) -> None:
    """A key's outcome is final: log it once, count it on the progress bar. A witness (a key only
    described to compare ids, see :mod:`renewer.identity`) is not the run's key: neither."""
    if result.via == WITNESS:
        return
    log_key(result)
    if progress is not None:
        progress.advance()


def groups(items: list[Item]) -> dict[tuple[str, str], list[Item]]:
    """The keys by (cloud, region), in the order given."""
    by_place: dict[tuple[str, str], list[Item]] = {}
    for spec, result in items:
        by_place.setdefault((result.cloud, result.region), []).append((spec, result))
    return by_place


def in_parallel(work: list[Callable[[], None]]) -> None:
    """Run each function on a thread of its own, all at once; returns when all have."""
    if len(work) == 1:
        work[0]()
        return
    with ThreadPoolExecutor(max_workers=max(1, len(work)), thread_name_prefix="region") as pool:
        for future in [pool.submit(fn) for fn in work]:
            future.result()


def log_key(result: KeyResult) -> None:
    log_event(
        "key",
        material=result.material,
        region=result.region,
        cloud=result.cloud,
        key_id=result.key_id,
        resolved_key_id=result.resolved_key_id,
        outcome=result.outcome,
        decision=result.decision,
        state_before=result.state_before,
        expires_before=iso(result.expires_before),
        expires_after=iso(result.expires_after),
        retries=result.retries[0],
        error=result.error_code,
        message=result.error_message,
    )
