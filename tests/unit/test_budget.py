"""Request budgets per cloud, region and operation group (issue #15): the published quotas, the
shares, the adaptive rate and Retry-After, all on a manual clock: nothing here sleeps."""

from __future__ import annotations

import itertools

import pytest

from renewer.clock import ManualClock
from renewer.config import Limits
from renewer.errors import CloudError, DeadlineExceeded, ErrorKind
from renewer.run import quotas
from renewer.run.budget import DECREASE, FLOOR, HEADROOM, RECOVERY_SECONDS, WORKER_START, Budgets, RateLimiter
from renewer.run.deadline import Deadline
from renewer.run.retry import Backoff, Caller, CallStats

HANGZHOU = "alibaba:cn-hangzhou"
VIRGINIA = "aws:us-east-1"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


# ---- the group split -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "action", "group"),
    [
        (HANGZHOU, "DescribeKey", "query"),
        (HANGZHOU, "GetParametersForImport", "query"),
        (HANGZHOU, "ListKeys", "query"),
        (HANGZHOU, "ImportKeyMaterial", "modify"),
        (HANGZHOU, "ListResourceTags", "tags"),
        (HANGZHOU, "CreateKey", "create"),
        (HANGZHOU, "Encrypt", "crypto"),
        (HANGZHOU, "Decrypt", "crypto"),
        (HANGZHOU, "GetSecretValue", "secrets"),  # KMS Secrets Manager: its own group of the KMS page
        (HANGZHOU, "PutCustomMetric", "cms"),  # CloudMonitor's, not KMS's
        (HANGZHOU, "SomethingNew", "other"),
        (VIRGINIA, "GetParametersForImport", "GetParametersForImport"),
        (VIRGINIA, "ImportKeyMaterial", "ImportKeyMaterial"),
        (VIRGINIA, "DescribeKey", "DescribeKey"),
        (VIRGINIA, "ListKeyRotations", "ListKeyRotations"),
        (VIRGINIA, "Encrypt", "crypto"),
        (VIRGINIA, "GetSecretValue", "secretsmanager"),
        (VIRGINIA, "PutMetricData", "cloudwatch"),
        (VIRGINIA, "SomethingNew", "other"),
        ("fc:cn-hangzhou", "InvokeFunction", "invoke"),
    ],
)
def test_each_action_counts_against_its_services_group(place: str, action: str, group: str, clock) -> None:
    assert Budgets(clock).group(place, action) == group


def test_the_groups_have_their_own_limiters_and_a_burst_in_one_does_not_delay_another(clock: ManualClock) -> None:
    budgets = Budgets(clock)
    describe = budgets.for_place(HANGZHOU)
    for _ in range(100):  # two seconds' worth of DescribeKey at 45 per second
        describe.take("DescribeKey")
    waited_before = clock.slept
    assert describe.take("ImportKeyMaterial") == 0  # the modify group was not touched
    assert clock.slept == waited_before
    assert budgets.limiter(HANGZHOU, "DescribeKey") is budgets.limiter(HANGZHOU, "GetParametersForImport")
    assert budgets.limiter(HANGZHOU, "DescribeKey") is not budgets.limiter(HANGZHOU, "ImportKeyMaterial")
    assert budgets.limiter(HANGZHOU, "DescribeKey") is not budgets.limiter("alibaba:cn-shanghai", "DescribeKey")


# ---- the published quotas are never exceeded by default ---------------------------------------------


@pytest.mark.parametrize(("cloud", "group"), [(c, g) for c, groups in quotas.QUOTAS.items() for g in groups])
def test_a_default_configuration_paces_every_group_below_its_published_quota(cloud: str, group: str) -> None:
    clock = ManualClock(0)
    place = f"{cloud}:cn-hangzhou"
    budgets = Budgets.from_limits(Limits(), clock)
    assert budgets.group_rate(place, group) <= quotas.published(cloud, group)
    assert budgets.group_rate(place, group) == pytest.approx(quotas.published(cloud, group) * HEADROOM)
    # and the slots it hands out: no one-second window (closed at both ends) holds more than the quota
    actions = sorted(quotas.QUOTAS[cloud][group].actions) or ["AnActionNoTableLists"]
    limiter = budgets.limiter(place, actions[0])
    slots = []
    for _ in range(int(quotas.published(cloud, group) * 3) + 2):
        limiter.acquire()
        slots.append(clock.monotonic())
    assert busiest_second(slots) <= quotas.published(cloud, group)


def busiest_second(times: list[float]) -> int:
    """The most of ``times`` (sorted) in any closed one-second window."""
    most, first = 0, 0
    for last, t in enumerate(times):
        while times[first] < t - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_the_quota_tables_name_their_sources_and_each_action_once() -> None:
    seen: dict[tuple[str, str], str] = {}
    for cloud, groups in quotas.QUOTAS.items():
        assert quotas.OTHER in groups
        for name, group in groups.items():
            assert group.source.startswith(("https://", "NOTE: ")), (cloud, name)
            assert group.rate > 0
            for action in group.actions:
                assert (cloud, action) not in seen, f"{action} is in {seen[(cloud, action)]} and {name}"
                seen[(cloud, action)] = name


def test_the_published_numbers_the_issue_names() -> None:
    assert quotas.published("alibaba", "query") == 50
    assert quotas.published("alibaba", "modify") == 30
    assert quotas.published("alibaba", "tags") == 300
    assert quotas.published("alibaba", "create") == 10
    assert quotas.published("aws", "GetParametersForImport") == 1
    assert quotas.published("aws", "ImportKeyMaterial") == 15


# ---- configuration: quotas, quota_share, the old caps ------------------------------------------------


def test_configured_quotas_per_cloud_and_per_region(clock: ManualClock) -> None:
    limits = Limits(
        quotas={"alibaba": {"query": 20}, "aws": {"GetParametersForImport": 2}},
        region_quotas={"cn-shanghai": {"alibaba": {"query": 10}}},
    )
    budgets = Budgets.from_limits(limits, clock)
    assert budgets.rate(HANGZHOU, "DescribeKey") == pytest.approx(20 * HEADROOM)
    assert budgets.rate("alibaba:cn-shanghai", "DescribeKey") == pytest.approx(10 * HEADROOM)
    assert budgets.rate("alibaba:cn-shanghai", "ImportKeyMaterial") == pytest.approx(30 * HEADROOM)  # published
    assert budgets.rate(VIRGINIA, "GetParametersForImport") == pytest.approx(2 * HEADROOM)


def test_quota_share_leaves_the_rest_of_the_quota_to_other_workloads(clock: ManualClock) -> None:
    budgets = Budgets.from_limits(Limits(quota_share=0.6), clock)
    assert budgets.rate(HANGZHOU, "DescribeKey") == pytest.approx(50 * HEADROOM * 0.6)
    assert budgets.rate(VIRGINIA, "GetParametersForImport") == pytest.approx(1 * HEADROOM * 0.6)


def test_max_qps_is_now_only_a_cap_over_the_groups(clock: ManualClock) -> None:
    budgets = Budgets.from_limits(Limits(max_qps=8.0, region_max_qps={"cn-shanghai": 100.0}), clock)
    assert budgets.rate(HANGZHOU, "DescribeKey") == 8  # under the group's 45
    assert budgets.rate(VIRGINIA, "GetParametersForImport") == pytest.approx(0.9)  # the group is lower
    assert budgets.rate("alibaba:cn-shanghai", "DescribeKey") == pytest.approx(45)  # a cap never raises
    place = budgets.for_place(HANGZHOU)
    for action in itertools.islice(itertools.cycle(["DescribeKey", "ImportKeyMaterial"]), 17):
        place.take(action)
    assert clock.monotonic() == pytest.approx(2.0)  # 17 calls of two groups: the region's cap of 8/s holds


def test_the_defaults_have_no_cap_and_a_full_share() -> None:
    limits = Limits()
    assert (limits.max_qps, limits.quota_share, limits.quotas, limits.region_quotas) == (None, 1.0, {}, {})
    assert limits.qps("cn-hangzhou") is None


@pytest.mark.parametrize("share", [0, -0.1, 1.01])
def test_a_share_outside_0_to_1_is_refused(share: float, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="share"):
        Budgets(clock, quota_share=share)


# ---- fan-out: the shards split the budget -------------------------------------------------------------


def test_four_shards_get_a_quarter_each_and_together_stay_within_one_run(clock: ManualClock) -> None:
    from renewer.config import MaterialSpec, Policy, SourceSpec
    from renewer.entry.events import parse_event
    from renewer.materials.wrapping import WrappingAlgorithm
    from renewer.run.fanout import split
    from renewer.run.report import KeyResult

    spec = MaterialSpec(
        "m", SourceSpec("env", {"var": "X"}), (), Policy(30, 90, WrappingAlgorithm.RSAES_OAEP_SHA_256, "describe")
    )
    due = [(spec, KeyResult.new("m", "cn-hangzhou", f"k{i}")) for i in range(10)]
    shards = [shard for shard, _ in split(due, 3)]
    assert [s.share for s in shards] == [0.25] * 4
    event = parse_event({"shard": shards[0].to_json()})  # what a worker receives
    assert event.shard is not None and event.shard.share == 0.25

    limits = Limits(quota_share=0.8)
    whole = Budgets.from_limits(limits, clock)
    workers = [Budgets.from_limits(limits, clock, shard_share=s.share) for s in shards]
    for place, action in [
        (HANGZHOU, "DescribeKey"),
        (HANGZHOU, "ImportKeyMaterial"),
        (VIRGINIA, "GetParametersForImport"),
    ]:
        each = [w.rate(place, action) for w in workers]
        assert each == pytest.approx([whole.rate(place, action) / 4] * 4)
        assert sum(each) <= whole.rate(place, action) * (1 + 1e-9)
        assert sum(each) <= quotas.published(quotas.cloud_of(place), whole.group(place, action))


def test_a_worker_starts_at_half_its_share_and_climbs_to_it(clock: ManualClock) -> None:
    """Workers invoked together would each arrive at full rate in the same second: a worker's groups
    start at WORKER_START of its share and climb a tenth of it a second; a whole run starts at full rate."""
    worker = Budgets.from_limits(Limits(), clock, shard_share=0.25).limiter(HANGZHOU, "DescribeKey")
    assert worker.rate == pytest.approx(worker.ceiling * WORKER_START) and worker.lowest == worker.ceiling
    for _ in range(5):
        clock.advance(RECOVERY_SECONDS)
        worker.recover()
    assert worker.rate == pytest.approx(worker.ceiling)
    whole = Budgets.from_limits(Limits(), clock).limiter(HANGZHOU, "DescribeKey")
    assert whole.rate == whole.ceiling


@pytest.mark.parametrize("share", [0, 1.5, -1, "0.5", True, None])
def test_a_shard_share_outside_0_to_1_is_refused(share: object) -> None:
    from renewer.entry.events import parse_event
    from renewer.errors import EventError

    shard = {"id": 1, "of": 2, "keys": [{"material": "m", "region": "cn-hangzhou", "key_id": "k"}], "share": share}
    with pytest.raises(EventError, match="'share' must be a number > 0 and <= 1"):
        parse_event({"shard": shard})


def test_an_event_without_a_share_is_a_whole_share() -> None:
    from renewer.entry.events import parse_event

    event = parse_event(
        {"shard": {"id": 1, "of": 1, "keys": [{"material": "m", "region": "cn-hangzhou", "key_id": "k"}]}}
    )
    assert event.shard is not None and event.shard.share == 1.0


# ---- the adaptive rate -------------------------------------------------------------------------------


def test_a_throttling_burst_lowers_the_rate_then_it_climbs_back_to_the_ceiling_never_above(clock: ManualClock) -> None:
    limiter = RateLimiter(10, clock)
    limiter.acquire()
    for _ in range(5):  # one burst of refusals of calls paced at the same rate: one signal, one decrease
        limiter.throttle()
    assert limiter.rate == pytest.approx(10 * DECREASE) and limiter.throttled == 5
    limiter.acquire()  # a call paced at the lowered rate, refused too: lowered again
    limiter.throttle()
    assert limiter.rate == pytest.approx(10 * DECREASE**2) and limiter.lowest == limiter.rate
    for _ in range(20):  # refused for long: never below the floor
        limiter.acquire()
        limiter.throttle()
    assert limiter.rate == pytest.approx(10 * FLOOR) and limiter.lowest == pytest.approx(10 * FLOOR)

    rates = []
    for _ in range(30):  # the service accepts again: one step a second, up to the ceiling
        clock.advance(RECOVERY_SECONDS)
        limiter.recover()
        limiter.recover()  # several successes within the same second: one step
        rates.append(limiter.rate)
    assert rates == sorted(rates) and max(rates) == 10  # climbs, and stops at the ceiling
    # Refused near the floor (throttled for long): no level to keep under, a tenth of the ceiling a second.
    assert rates[:2] == pytest.approx([10 * (FLOOR + 0.1), 10 * (FLOOR + 0.2)])
    assert rates.index(10) == 9
    assert limiter.lowest == pytest.approx(10 * FLOOR)  # the report keeps the lowest


def test_after_a_refusal_the_rate_climbs_fast_to_just_under_it_then_probes_slowly(clock: ManualClock) -> None:
    """A workload the run cannot see leaves it 30 of 45 calls a second: refused at 31.5, it settles
    just under: back to 90% of 31.5 quickly, then a step of a hundredth of the ceiling a second."""
    limiter = RateLimiter(45, clock)
    limiter.rate = 31.5
    limiter.acquire()
    limiter.throttle()
    assert limiter.rate == pytest.approx(31.5 * DECREASE)
    rates = []
    for _ in range(5):
        clock.advance(RECOVERY_SECONDS)
        limiter.recover()
        rates.append(round(limiter.rate, 3))
    assert rates == pytest.approx([26.55, 28.35, 28.8, 29.25, 29.7])


def test_refusals_of_calls_paced_before_a_decrease_do_not_lower_the_rate_again(clock: ManualClock) -> None:
    """Concurrent calls paced at the old rate come back refused after the first refusal halved it:
    they are the same signal. Each thread's slot is its own."""
    import threading

    limiter = RateLimiter(40, clock)
    paced = threading.Barrier(4)
    refused = threading.Barrier(4)

    def worker() -> None:
        limiter.acquire()
        paced.wait()  # all four were paced at 40/s before any refusal came back
        limiter.throttle()
        refused.wait()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.throttled == 4 and limiter.rate == pytest.approx(40 * DECREASE)


def test_a_throttled_answer_holds_the_next_slot_back_by_one_new_interval(clock: ManualClock) -> None:
    limiter = RateLimiter(4, clock)
    limiter.acquire()
    limiter.throttle()
    assert limiter.wait() == pytest.approx(1 / (4 * DECREASE))
    assert limiter.acquire() == pytest.approx(1 / (4 * DECREASE))


def test_retry_after_is_honoured(clock: ManualClock) -> None:
    limiter = RateLimiter(45, clock)
    limiter.acquire()
    limiter.throttle(retry_after=3.0)
    assert limiter.acquire() == pytest.approx(3.0)
    assert clock.monotonic() == pytest.approx(3.0)


# ---- the caller: throttled calls are retried until the deadline, not counted ---------------------------


def throttled(times: int, retry_after: float | None = None):
    """A call refused for its rate ``times`` times, then answered."""
    calls: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise CloudError(
                "Rejected.Throttling", "QPS Limit Exceeded", kind=ErrorKind.THROTTLED, retry_after=retry_after
            )
        return "ok"

    call.calls = calls  # type: ignore[attr-defined]
    return call


def caller_at(budgets: Budgets, place: str, clock: ManualClock, seconds: float | None, attempts: int | None) -> Caller:
    return Caller(budgets.for_place(place), clock, CallStats(), Deadline(clock, seconds, margin=0), attempts, Backoff())


def test_a_throttled_call_is_retried_beyond_max_attempts_and_slows_its_group(clock: ManualClock) -> None:
    budgets = Budgets(clock)
    caller = caller_at(budgets, HANGZHOU, clock, 600, attempts=2)
    call = throttled(6)
    assert caller(call, action="DescribeKey") == "ok"
    assert len(call.calls) == 7  # 6 refusals, none counted against max_attempts 2
    assert caller.stats.retries == 6 and caller.stats.retries_by_code == {"Rejected.Throttling": 6}
    report = budgets.report()[HANGZHOU]["query"]
    assert report["calls"] == 7 and report["throttled"] == 6
    assert report["rate"] == pytest.approx(45) and report["lowest_rate"] < 45
    assert "modify" not in budgets.report()[HANGZHOU]  # only the groups used are reported


def test_a_transient_failure_is_still_counted_against_max_attempts(clock: ManualClock) -> None:
    caller = caller_at(Budgets(clock), HANGZHOU, clock, 600, attempts=2)
    calls = []

    def down() -> str:
        calls.append(1)
        raise CloudError("ServiceUnavailableTemporary", "down", kind=ErrorKind.TRANSIENT, http_status=503)

    with pytest.raises(CloudError, match="down"):
        caller(down, action="DescribeKey")
    assert len(calls) == 2


def test_a_call_throttled_for_good_fails_only_at_the_deadline_with_the_throttling_error(clock: ManualClock) -> None:
    caller = caller_at(Budgets(clock), VIRGINIA, clock, 30, attempts=1)
    call = throttled(10**6)
    with pytest.raises(CloudError) as raised:
        caller(call, action="GetParametersForImport")
    assert raised.value.kind is ErrorKind.THROTTLED
    assert len(call.calls) > 1  # retried, though max_attempts is 1
    assert clock.monotonic() <= 30  # and never waited past the deadline


def test_the_callers_wait_honours_the_services_retry_after(clock: ManualClock) -> None:
    budgets = Budgets(clock)
    caller = caller_at(budgets, HANGZHOU, clock, 600, attempts=None)
    assert caller(throttled(1, retry_after=7.5), action="ImportKeyMaterial") == "ok"
    assert clock.monotonic() == pytest.approx(7.5)


def test_a_retry_after_beyond_the_deadline_fails_now_instead_of_waiting(clock: ManualClock) -> None:
    caller = caller_at(Budgets(clock), HANGZHOU, clock, 20, attempts=None)
    with pytest.raises(CloudError, match="QPS Limit Exceeded"):
        caller(throttled(1, retry_after=60), action="DescribeKey")
    assert clock.monotonic() < 1


def test_no_slot_is_taken_after_the_deadline(clock: ManualClock) -> None:
    budgets = Budgets(clock, quotas_by_cloud={"aws": {"GetParametersForImport": 0.01}})
    place = budgets.for_place(VIRGINIA)
    deadline = Deadline(clock, 50, margin=0)
    place.take("GetParametersForImport", deadline)
    with pytest.raises(DeadlineExceeded):
        place.take("GetParametersForImport", deadline)
    assert clock.monotonic() == 0
