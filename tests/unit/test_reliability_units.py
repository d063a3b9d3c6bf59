"""Unit tests of the reliability parts, with a manual clock: nothing here sleeps."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable

import pytest

from renewer.clock import ManualClock
from renewer.clouds import alibaba, aws
from renewer.config import MaterialSpec, Policy, SourceSpec
from renewer.errors import CloudError, ErrorKind
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.run.budget import Budgets, RateLimiter
from renewer.run.deadline import Deadline
from renewer.run.executor import FIRST_KEY_SECONDS, Pace, run_keys
from renewer.run.report import Done, KeyResult, Outcome
from renewer.run.retry import Backoff, Caller, CallStats, KeyRetries, is_transient


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


def test_rate_limiter_spaces_calls_evenly(clock: ManualClock) -> None:
    limiter = RateLimiter(5, clock)
    slots = []
    for _ in range(10):
        limiter.acquire()
        slots.append(clock.monotonic())
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(gap == pytest.approx(0.2) for gap in gaps)
    assert clock.slept == pytest.approx(1.8)


def test_rate_limiter_does_not_wait_when_calls_are_slower_than_the_budget(clock: ManualClock) -> None:
    limiter = RateLimiter(5, clock)
    for _ in range(3):
        assert limiter.acquire() == 0
        clock.advance(1)


def test_rate_limiter_is_shared_fairly_by_threads(clock: ManualClock) -> None:
    limiter = RateLimiter(100, clock)
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(25)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.monotonic() == pytest.approx(0.99, abs=0.02)  # 100 calls at 100 per second


def test_budgets_per_region_cap(clock: ManualClock) -> None:
    """max_qps / region_max_qps still cap a region's groups (see tests/unit/test_budget.py for the groups)."""
    budgets = Budgets(clock, max_qps=10, region_max_qps={"cn-shanghai": 2})
    assert budgets.limiter("alibaba:cn-shanghai", "DescribeKey").interval == pytest.approx(0.5)
    assert budgets.limiter("alibaba:cn-hangzhou", "DescribeKey").interval == pytest.approx(0.1)
    assert budgets.limiter("alibaba:cn-hangzhou", "DescribeKey") is budgets.limiter("alibaba:cn-hangzhou", "ListKeys")


@pytest.mark.parametrize(
    ("kind_of", "code", "message", "status", "kind"),
    [
        (alibaba.kind_of, "Throttling", "m", 400, ErrorKind.THROTTLED),
        (alibaba.kind_of, "Rejected.Throttling", "m", 429, ErrorKind.THROTTLED),
        (alibaba.kind_of, "ServiceUnavailableTemporary", "m", 503, ErrorKind.TRANSIENT),
        (alibaba.kind_of, "InternalFailure", "m", 500, ErrorKind.TRANSIENT),
        (alibaba.kind_of, "SomethingNew", "m", 502, ErrorKind.TRANSIENT),
        (alibaba.kind_of, "Forbidden.KeyNotFound", "m", 404, ErrorKind.NOT_FOUND),
        (alibaba.kind_of, "Forbidden.NoPermission", "m", 403, ErrorKind.CREDENTIALS),
        (alibaba.kind_of, "InvalidKeyMaterial", "m", 400, ErrorKind.PERMANENT),
        (alibaba.kind_of, "ExpiredImportToken", "m", 400, ErrorKind.STALE_IMPORT_TOKEN),
        (alibaba.kind_of, "InvalidParameter", "m", 400, ErrorKind.PERMANENT),
        (alibaba.kind_of, "InvalidParameter", "KeyMaterialExpireUnix is invalid", 400, ErrorKind.EXPIRY_REJECTED),
        (aws.kind_of, "ThrottlingException", "m", 400, ErrorKind.THROTTLED),
        (aws.kind_of, "RequestLimitExceeded", "m", 400, ErrorKind.THROTTLED),
        (aws.kind_of, "KMSInternalException", "m", 500, ErrorKind.TRANSIENT),
        (aws.kind_of, "ExpiredImportTokenException", "m", 400, ErrorKind.STALE_IMPORT_TOKEN),
        (aws.kind_of, "InvalidImportTokenException", "m", 400, ErrorKind.STALE_IMPORT_TOKEN),
        (aws.kind_of, "ValidationException", "ValidTo must be in the future", 400, ErrorKind.EXPIRY_REJECTED),
        (aws.kind_of, "ValidationException", "something else", 400, ErrorKind.PERMANENT),
        (aws.kind_of, "AccessDeniedException", "m", 400, ErrorKind.CREDENTIALS),
        (aws.kind_of, "NotFoundException", "m", 400, ErrorKind.NOT_FOUND),
        (aws.kind_of, "IncorrectKeyMaterialException", "m", 400, ErrorKind.PERMANENT),
        # a code of one cloud means nothing special to the other
        (alibaba.kind_of, "ExpiredImportTokenException", "m", 400, ErrorKind.PERMANENT),
        (aws.kind_of, "ExpiredImportToken", "m", 400, ErrorKind.PERMANENT),
    ],
)
def test_each_adapter_classifies_its_own_codes(
    kind_of: Callable[[str, str, int | None], ErrorKind], code: str, message: str, status: int, kind: ErrorKind
) -> None:
    assert kind_of(code, message, status) is kind
    retried = kind in (ErrorKind.TRANSIENT, ErrorKind.THROTTLED)
    assert is_transient(CloudError(code, message, kind=kind, http_status=status)) is retried


def test_backoff_is_full_jitter_and_capped() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    for attempt in range(1, 12):
        assert 0 <= backoff.delay(attempt) <= min(1.0, 0.1 * 2**attempt)


def failing(codes: list[str], result: str = "ok"):
    """A call that raises the given codes in turn, then returns ``result``."""
    remaining = list(codes)
    calls = []

    def call() -> str:
        calls.append(1)
        if remaining:
            code = remaining.pop(0)
            raise CloudError(code, "m", kind=alibaba.kind_of(code, "m", 400), http_status=400)
        return result

    call.calls = calls  # type: ignore[attr-defined]
    return call


def make_caller(clock: ManualClock, attempts: int = 4, deadline: float | None = None) -> Caller:
    return Caller(
        RateLimiter(1000, clock), clock, CallStats(), Deadline(clock, deadline, margin=0), attempts, Backoff(0.1, 1.0)
    )


def test_caller_retries_transient_errors_and_counts_them(clock: ManualClock) -> None:
    caller = make_caller(clock)
    mine = KeyRetries()
    token = CallStats.current_key.set(mine)
    try:
        assert caller(failing(["Throttling", "ServiceUnavailableTemporary"])) == "ok"
    finally:
        CallStats.current_key.reset(token)
    assert caller.stats.retries == 2 and mine.count == 2
    assert caller.stats.retries_by_code == {"Throttling": 1, "ServiceUnavailableTemporary": 1}
    assert caller.stats.calls == 3


def test_caller_gives_up_after_max_attempts(clock: ManualClock) -> None:
    caller = make_caller(clock, attempts=3)
    call = failing(["ServiceUnavailableTemporary"] * 5)
    with pytest.raises(CloudError, match="m"):
        caller(call)
    assert len(call.calls) == 3


def test_caller_never_retries_a_permanent_error(clock: ManualClock) -> None:
    caller = make_caller(clock)
    call = failing(["Forbidden.KeyNotFound"])
    with pytest.raises(CloudError):
        caller(call)
    assert len(call.calls) == 1 and caller.stats.retries == 0


def test_caller_does_not_sleep_past_the_deadline(clock: ManualClock) -> None:
    caller = make_caller(clock, attempts=10, deadline=0.05)
    caller.backoff = Backoff(base=1.0, cap=1.0, rng=random.Random(3))
    call = failing(["ServiceUnavailableTemporary"] * 9)
    with pytest.raises(CloudError):
        caller(call)
    assert clock.monotonic() < 0.05 + 1.0


def test_deadline_margin(clock: ManualClock) -> None:
    assert Deadline(clock, 600).margin == 60
    assert Deadline(clock, 40).margin == 10
    assert Deadline(clock, 12).margin == 6  # never more than half the time
    assert Deadline(clock, None).allows(10**9)
    deadline = Deadline(clock, 100)
    clock.advance(85)
    assert deadline.allows(4) and not deadline.allows(6)


def test_pace_is_the_running_mean() -> None:
    pace = Pace()
    assert pace.expected() == FIRST_KEY_SECONDS  # before any key finished: a prior, not 0
    pace.record(2)
    pace.record(4)
    assert pace.expected() == 3


SPEC = MaterialSpec(
    "m", SourceSpec("env", {"var": "X"}), (), Policy(30, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe")
)


def test_run_keys_in_order_until_the_deadline(clock: ManualClock) -> None:
    results = [KeyResult.new("m", "cn-hangzhou", f"k{i}") for i in range(6)]
    order: list[str] = []

    def step(spec: MaterialSpec, result: KeyResult) -> KeyResult:
        order.append(result.key_id)
        clock.advance(10)
        return result.finished(Done(Outcome.RENEWED))

    deadline = Deadline(clock, 45, margin=0)
    done = run_keys([(SPEC, r) for r in results], step, concurrency=1, clock=clock, deadline=deadline)
    assert order == ["k0", "k1", "k2", "k3"]
    assert [r.outcome for _, r in done] == ["renewed"] * 4 + ["not_attempted"] * 2


def test_terminal_progress_draws_a_bar() -> None:
    import io

    from renewer.run.progress import TerminalProgress

    out = io.StringIO()
    bar = TerminalProgress(out)
    bar.start("renew", 4)
    for _ in range(4):
        bar.advance()
    bar.finish()
    frames = out.getvalue().split("\r")
    assert frames[-1].startswith("renew  [" + "#" * 30 + "] 4/4 keys")
    assert "[" + "#" * 15 + "." * 15 + "] 2/4 keys" in out.getvalue()
