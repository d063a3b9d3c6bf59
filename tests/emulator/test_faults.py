"""Fault injection, unit level: seeded randomness, an injected monotonic clock and sleep."""

from __future__ import annotations

import random
import threading

import pytest

from emulator.errors import ServiceError
from emulator.faults import Faults, FaultSettings, injected_error, status_for


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def _faults(fake_time: FakeTime, seed: int = 7, **settings) -> Faults:
    faults = Faults(rng=random.Random(seed), monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    faults.configure(FaultSettings.from_json(settings))
    return faults


def _outcome(faults: Faults, region: str = "cn-hangzhou") -> str:
    try:
        faults.apply(region)
    except ServiceError as error:
        return error.code
    return "Success"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttling", 400),
        ("Rejected.Throttling", 400),
        ("ServiceUnavailableTemporary", 503),
        ("InternalFailure", 500),
        ("Forbidden.KeyNotFound", 404),
        ("Forbidden.NoPermission", 403),
        ("Rejected.Disabled", 400),
    ],
)
def test_status_for_documented_codes(code, status):
    assert status_for(code) == status
    assert injected_error(code).http_status == status


def test_no_faults_by_default(fake_time):
    faults = Faults(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    assert all(_outcome(faults) == "Success" for _ in range(100))
    assert fake_time.slept == []


def test_error_rate_follows_the_seeded_rng(fake_time):
    faults = _faults(fake_time, seed=42, error_rate=0.3, error_code="InternalFailure")
    outcomes = [_outcome(faults) for _ in range(1000)]
    mirror = random.Random(42)
    expected = ["InternalFailure" if mirror.random() < 0.3 else "Success" for _ in range(1000)]
    assert outcomes == expected
    assert 200 < outcomes.count("InternalFailure") < 400


def test_error_rate_one_always_fails_with_default_code(fake_time):
    faults = _faults(fake_time, error_rate=1.0)
    assert {_outcome(faults) for _ in range(20)} == {"ServiceUnavailableTemporary"}


def test_latency_sleeps_before_each_call(fake_time):
    faults = _faults(fake_time, latency_ms=250)
    _outcome(faults)
    _outcome(faults)
    assert fake_time.slept == [0.25, 0.25]


def test_qps_limit_sliding_window(fake_time):
    faults = _faults(fake_time, qps_limit=2)
    steps = [(0.0, "Success"), (0.1, "Success"), (0.2, "Throttling"), (0.9, "Throttling")]
    steps += [(1.05, "Success"), (1.08, "Throttling"), (1.15, "Success"), (2.5, "Success")]
    for moment, expected in steps:
        fake_time.now = 100.0 + moment
        assert _outcome(faults) == expected, moment


def test_throttling_is_the_service_error(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    faults.apply("cn-hangzhou")
    with pytest.raises(ServiceError) as raised:
        faults.apply("cn-hangzhou")
    error = raised.value
    assert (error.code, error.http_status) == ("Throttling", 400)
    assert error.message == "Request was denied due to request throttling."


def test_qps_windows_are_per_region(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    assert [_outcome(faults, region) for region in ("cn-hangzhou", "cn-shanghai", "cn-hangzhou")] == [
        "Success",
        "Success",
        "Throttling",
    ]


def test_qps_limit_for_named_regions_only(fake_time):
    faults = _faults(fake_time, qps_limit={"cn-shanghai": 1})
    assert all(_outcome(faults, "cn-hangzhou") == "Success" for _ in range(10))
    assert [_outcome(faults, "cn-shanghai") for _ in range(2)] == ["Success", "Throttling"]


def test_configure_and_clear_reset_the_windows(fake_time):
    faults = _faults(fake_time, qps_limit=1)
    _outcome(faults)
    faults.configure(FaultSettings(qps_limit=1))
    assert _outcome(faults) == "Success"
    faults.clear()
    assert faults.settings == FaultSettings()


def test_qps_limit_is_exact_under_concurrency(fake_time):
    faults = _faults(fake_time, qps_limit=10)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            outcome = _outcome(faults)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("Success") == 10  # the clock stands still: one window


@pytest.mark.parametrize(
    "document",
    [
        {"error_rate": 1.5},
        {"error_rate": -0.1},
        {"error_rate": "high"},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"qps_limit": 0},
        {"qps_limit": 2.5},
        {"qps_limit": {"cn-hangzhou": 0}},
        {"error_code": 503},
        {"unknown": 1},
    ],
)
def test_invalid_settings_are_rejected(document):
    with pytest.raises(ValueError):
        FaultSettings.from_json(document)


def test_settings_round_trip():
    document = {
        "latency_ms": 10.0,
        "error_rate": 0.25,
        "error_code": "Throttling",
        "qps_limit": {"cn-hangzhou": 3},
        "actions": ["ImportKeyMaterial"],
    }
    assert FaultSettings.from_json(document).to_json() == document


def test_faults_can_target_some_actions_only() -> None:
    faults = Faults(rng=random.Random(1))
    faults.configure(
        FaultSettings.from_json({"error_rate": 1.0, "error_code": "Throttling", "actions": ["DescribeKey"]})
    )
    faults.apply("cn-hangzhou", "PutCustomMetric")  # not targeted: passes
    with pytest.raises(ServiceError) as exc:
        faults.apply("cn-hangzhou", "DescribeKey")
    assert exc.value.code == "Throttling"
    assert faults.settings.to_json()["actions"] == ["DescribeKey"]
    with pytest.raises(ValueError, match="actions"):
        FaultSettings.from_json({"actions": "DescribeKey"})
