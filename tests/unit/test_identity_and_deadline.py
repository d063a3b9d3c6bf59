"""Pure logic of issue #10: identities compared after resolution, the caller's hard deadline, the
budget that never waits past it, and the decision that never shortens an expiry."""

from __future__ import annotations

import threading

import pytest

from renewer.clock import ManualClock
from renewer.clouds.targets import KeyInfo
from renewer.config import MaterialSpec, Policy, SourceSpec
from renewer.errors import CloudError, DeadlineExceeded, ErrorKind
from renewer.materials.wrapping import WrappingAlgorithm
from renewer.run.budget import RateLimiter
from renewer.run.deadline import Deadline
from renewer.run.flow import decide
from renewer.run.identity import WITNESS, plain_id, resolve
from renewer.run.report import Described, Done, KeyResult
from renewer.run.retry import Backoff, Caller, CallStats

POLICY = Policy(30, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe")
DAY = 86400


def spec(name: str) -> MaterialSpec:
    return MaterialSpec(name, SourceSpec("env", {"var": "X"}), (), POLICY)


def described(
    material: str, named: str, resolved: str | None, via: str = "config", cloud: str = "alibaba"
) -> tuple[MaterialSpec, KeyResult]:
    result = KeyResult.new(material, "cn-hangzhou", named, via=via, cloud=cloud)
    return spec(material), (result.planned(Described(resolved)) if resolved else result)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("key-abc", "key-abc"),
        ("acs:kms:cn-hangzhou:123:key/key-abc", "key-abc"),
        ("arn:aws:kms:us-east-1:123:key/1234-5678", "1234-5678"),
        ("alias/payments", None),
        ("acs:kms:cn-hangzhou:123:alias/payments", None),
    ],
)
def test_plain_id(name: str, expected: str | None) -> None:
    assert plain_id(name) == expected


def test_one_key_under_two_materials_gets_neither() -> None:
    items = [described("a", "key-1", "key-1"), described("b", "alias/x", "key-1"), described("a", "key-2", "key-2")]
    items = resolve(items)
    assert [r.error_code for _, r in items] == ["AmbiguousMaterial", "AmbiguousMaterial", None]
    assert items[2][1].outcome is None


def test_one_key_twice_under_one_material_is_acted_on_once() -> None:
    items = [described("a", "key-1", "key-1"), described("a", "alias/x", "key-1")]
    items = resolve(items)
    assert [r.outcome for _, r in items] == [None, "skipped"]


def test_the_same_id_in_two_clouds_is_two_keys() -> None:
    alibaba = described("a", "alias/payments", "same")
    aws = described("b", "alias/payments", "same", cloud="aws")
    assert all(r.outcome is None for _, r in resolve([alibaba, aws]))


def test_a_witness_is_compared_but_never_failed_or_acted_on() -> None:
    spec_b, witness = described("b", "alias/x", "key-1", via=WITNESS)
    mine, seen = resolve([described("a", "key-1", "key-1"), (spec_b, witness.finished(Done.skipped()))])
    assert mine[1].error_code == "AmbiguousMaterial"
    assert seen[1].outcome == "skipped"


def test_an_unchecked_witness_stops_the_keys_of_its_region() -> None:
    spec_b, witness = described("b", "alias/x", None, via=WITNESS)
    mine, _ = resolve([described("a", "key-1", "key-1"), (spec_b, witness.fail("AmbiguityUnchecked", "Throttling"))])
    assert mine[1].error_code == "AmbiguityUnchecked"


def test_force_does_not_shorten_unless_allowed() -> None:
    info = KeyInfo("k", "arn", "EXTERNAL", "Enabled", 1000 + 300 * DAY)
    assert decide(info, POLICY, True, 1000)[0] == "skip"
    assert decide(info, POLICY, True, 1000, allow_shorter=True)[0] == "renew"
    sooner = KeyInfo("k", "arn", "EXTERNAL", "Enabled", 1000 + 60 * DAY)
    assert decide(sooner, POLICY, True, 1000)[0] == "renew"


def test_the_budget_never_hands_out_a_slot_after_the_deadline() -> None:
    clock = ManualClock(0)
    limiter = RateLimiter(0.01, clock)  # one call per 100 s
    deadline = Deadline(clock, 50, margin=0)
    limiter.acquire(deadline)
    with pytest.raises(DeadlineExceeded):
        limiter.acquire(deadline)
    assert clock.monotonic() == 0  # it did not wait


def caller(clock: ManualClock, seconds: float | None, attempts: int | None = None) -> Caller:
    return Caller(RateLimiter(1000, clock), clock, CallStats(), Deadline(clock, seconds, margin=0), attempts)


def test_transient_errors_are_retried_until_the_deadline_not_a_fixed_count() -> None:
    clock = ManualClock(0)
    calls = []

    def down_for_40_seconds() -> str:
        calls.append(clock.monotonic())
        if clock.monotonic() < 40:
            raise CloudError("ServiceUnavailableTemporary", "down", kind=ErrorKind.TRANSIENT, http_status=503)
        return "ok"

    assert caller(clock, 120)(down_for_40_seconds) == "ok"
    assert len(calls) > 5


def test_an_unanswered_call_is_repeated_only_if_harmless() -> None:
    clock = ManualClock(0)
    calls = []

    def timed_out() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise CloudError("ConnectionError", "no answer in time", kind=ErrorKind.TRANSIENT, outcome_unknown=True)
        return "ok"

    assert caller(clock, 120)(timed_out) == "ok"
    calls.clear()
    with pytest.raises(CloudError):
        caller(clock, 120)(timed_out, idempotent=False)
    assert len(calls) == 1


def test_an_attempt_is_abandoned_at_the_deadline() -> None:
    clock = ManualClock(0)
    release = threading.Event()

    def hangs() -> str:
        release.wait(5)
        return "late"

    short = Caller(RateLimiter(1000, clock), clock, CallStats(), Deadline(clock, 0.2, margin=0), None, Backoff())
    try:
        with pytest.raises(DeadlineExceeded):
            short(hangs)
    finally:
        release.set()


def test_no_call_starts_after_the_deadline() -> None:
    clock = ManualClock(0)
    slow = caller(clock, 10)
    clock.advance(11)
    with pytest.raises(DeadlineExceeded):
        slow(lambda: "never")


def test_the_final_deadline_is_after_the_keys_and_before_the_timeout() -> None:
    clock = ManualClock(0)
    deadline = Deadline(clock, 600)
    final = deadline.final()
    assert deadline.end == 540 and deadline.end < final.end < 600
    assert final.remaining() == final.end
