"""Runs one step over many keys: per region at most ``concurrency`` keys at once, started in the
order given (most urgent first), none started once the deadline leaves no time for another.

A key not started is ``not_attempted``. Each key's retries are counted into its own cell
(:attr:`renewer.retry.CallStats.current_key`), and a key is logged once, when its outcome is final.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from renewer.clock import Clock
from renewer.config import MaterialSpec
from renewer.deadline import Deadline
from renewer.logs import log_event
from renewer.progress import Progress
from renewer.report import KeyResult, iso
from renewer.retry import CallStats

Item = tuple[MaterialSpec, KeyResult]
Step = Callable[[MaterialSpec, KeyResult], None]


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
            return self._total / self._count if self._count else 0.0


def run_keys(
    items: list[Item],
    step: Step,
    *,
    concurrency: int,
    clock: Clock,
    deadline: Deadline,
    progress: Progress | None = None,
    phase: str = "",
) -> None:
    pace = Pace()
    if progress is not None and items:
        progress.start(phase, len(items))

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
            log_key(result)
        if progress is not None:
            progress.advance()

    by_region: dict[str, list[Item]] = {}
    for spec, result in items:
        by_region.setdefault(result.region, []).append((spec, result))
    pools = [ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"keys-{r}") for r in by_region]
    try:
        futures = [
            pool.submit(task, spec, result)
            for pool, region_items in zip(pools, by_region.values(), strict=True)
            for spec, result in region_items
        ]
        wait(futures)
        for future in futures:
            future.result()  # a task never raises (steps are guarded); this surfaces a bug if one does
    finally:
        for pool in pools:
            pool.shutdown(wait=True)
        if progress is not None and items:
            progress.finish()


def log_key(result: KeyResult) -> None:
    log_event(
        "key",
        material=result.material,
        region=result.region,
        key_id=result.key_id,
        outcome=result.outcome,
        decision=result.decision,
        state_before=result.state_before,
        expires_before=iso(result.expires_before),
        expires_after=iso(result.expires_after),
        retries=result.retries[0],
        error=result.error_code,
        message=result.error_message,
    )
