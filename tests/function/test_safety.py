"""Issue #10's attacks, each against the live emulator through the handler or ``app.run``: no key is
bound to material nobody meant, no expiry gets shorter, the report states only what the service
said, and time (the service's clock, the function's deadline) is respected."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.cloud import DAY
from renewer.clock import SystemClock
from renewer.credentials import Credentials
from renewer.entry.context import ContextFunction, LocalContext
from renewer.entry.events import Options
from renewer.errors import EventError, RenewalFailedError
from tests.function.conftest import Cloud, outcomes
from tests.function.test_reliability import MATERIAL, fleet_config, run

OTHER = bytes(range(100, 132))
SECRET = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
OTHER_SECRET = {"type": "alibaba-secret", "name": "byok/other", "region": "cn-hangzhou"}


def two_materials(cloud: Cloud, a_keys: list[str], b_keys: list[str], **b_extra: Any) -> dict[str, Any]:
    cloud.secret("byok/payments", MATERIAL.hex())
    cloud.secret("byok/other", OTHER.hex())
    return {
        "materials": [
            {"name": "a", "source": SECRET, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in a_keys]},
            {
                "name": "b",
                "source": OTHER_SECRET,
                "keys": [{"region": "cn-hangzhou", "key_id": k} for k in b_keys],
                **b_extra,
            },
        ]
    }


def arn(cloud: Cloud, key_id: str) -> str:
    return cloud.describe(key_id).arn


# ---- only the configuration decides which key gets which material --------------------------------


def test_a_shard_naming_a_key_outside_the_configuration_is_refused_before_any_call(cloud: Cloud, invoke) -> None:
    listed, stranger = cloud.create_key(), cloud.create_key()
    config = two_materials(cloud, [listed], [cloud.create_key()])
    for key in (
        {"material": "a", "region": "cn-hangzhou", "key_id": stranger},  # not configured at all
        {"material": "b", "region": "cn-hangzhou", "key_id": listed},  # configured under the other material
        {"material": "a", "region": "cn-hangzhou", "key_id": stranger, "via": "discovery"},  # a discovers nothing
    ):
        event = json.dumps({"shard": {"id": 1, "of": 1, "keys": [key]}})
        result = invoke(config, event=event)
        assert isinstance(result.error, EventError), result.error
        assert "does not assign" in result.error.message
        assert result.calls == []  # refused before any call
    assert cloud.describe(stranger).key_state == "PendingImport"
    assert cloud.describe(listed).key_state == "PendingImport"


@pytest.mark.parametrize("form", ["alias", "arn"])
def test_one_key_named_two_ways_under_two_materials_gets_neither(cloud: Cloud, invoke, form: str) -> None:
    key = cloud.create_key(alias="alias/shared")  # never imported: the first import would bind it
    other_name = "alias/shared" if form == "alias" else arn(cloud, key)
    result = invoke(two_materials(cloud, [key], [other_name]))
    assert {k["key_id"]: k["error"]["code"] for k in result.report["keys"]} == {
        key: "AmbiguousMaterial",
        other_name: "AmbiguousMaterial",
    }
    assert not [c for c in result.calls if c["action"] in ("ImportKeyMaterial", "GetParametersForImport")]
    assert cloud.describe(key).key_state == "PendingImport"


def test_a_listed_key_found_again_by_discovery_under_another_material_gets_neither(cloud: Cloud, invoke) -> None:
    key = cloud.create_key(alias="alias/tagged")
    cloud.kms().tag_resource(
        __import__("alibabacloud_kms20160120.models", fromlist=["x"]).TagResourceRequest(
            key_id=key, tags=json.dumps([{"TagKey": "byok", "TagValue": "b"}])
        )
    )
    config = two_materials(cloud, ["alias/tagged"], [], discover={"tag": "byok=b", "regions": ["cn-hangzhou"]})
    result = invoke(config)
    assert {k["error"]["code"] for k in result.report["keys"]} == {"AmbiguousMaterial"}
    assert cloud.describe(key).key_state == "PendingImport"


def test_one_key_named_twice_under_one_material_is_imported_once(cloud: Cloud, invoke) -> None:
    key = cloud.create_key(alias="alias/twice")
    result = invoke(two_materials(cloud, [key, "alias/twice", arn(cloud, key)], [cloud.key_with_material(OTHER, 80)]))
    assert sorted(k["outcome"] for k in result.report["keys"][:3]) == ["recovered", "skipped", "skipped"]
    assert len([c for c in result.calls if c["action"] == "ImportKeyMaterial"]) == 1
    assert cloud.describe(key).key_state == "Enabled"


def test_a_worker_refuses_a_shard_key_another_material_names_by_alias(cloud: Cloud, invoke) -> None:
    """The coordinator would have caught it; a forged (or stale) shard must not get past the worker."""
    key = cloud.create_key(alias="alias/contested")
    config = two_materials(cloud, [key], ["alias/contested"])
    event = json.dumps(
        {"shard": {"id": 1, "of": 1, "keys": [{"material": "a", "region": "cn-hangzhou", "key_id": key}]}}
    )
    result = invoke(config, event=event)
    assert outcomes(result.report) == {key: "failed"}
    assert result.report["keys"][0]["error"]["code"] == "AmbiguousMaterial"
    assert cloud.describe(key).key_state == "PendingImport"
    assert '"key_id": "alias/contested"' not in result.output  # described to compare, never reported


# ---- never shorten an expiry ---------------------------------------------------------------------


def test_force_never_shortens_an_expiry_unless_asked(cloud: Cloud, invoke) -> None:
    key = cloud.key_with_material(MATERIAL, 300)
    before = cloud.describe(key).material_expire_time
    config = fleet_config(cloud, [key])  # validity_days 90 by default
    result = invoke(config, event=json.dumps({"force": True}))
    assert result.error is None and outcomes(result.report) == {key: "skipped"}
    assert "not shortened" in " ".join(result.report["keys"][0]["notes"])
    assert not [c for c in result.calls if c["action"] == "ImportKeyMaterial"]
    assert cloud.describe(key).material_expire_time == before

    result = invoke(config, event=json.dumps({"force": True, "allowShorterExpiry": True}))
    assert outcomes(result.report) == {key: "renewed"}
    assert cloud.describe(key).material_expire_time < before


# ---- the report and the metrics state what the service said ----------------------------------------


def test_an_accepted_import_whose_check_failed_is_reported_unverified_with_the_new_expiry(cloud: Cloud, invoke) -> None:
    key = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [key], limits={"max_attempts": 1}, metrics={"cloudmonitor": {"group_id": 1}})
    config["defaults"] = {"verify": "canary"}
    # A transient failure, given up after max_attempts (throttling would be retried until the deadline).
    cloud.admin(
        "POST", "faults", {"error_rate": 1.0, "error_code": "ServiceUnavailableTemporary", "actions": ["Encrypt"]}
    )
    result = invoke(config)
    cloud.admin("POST", "faults", {})
    [entry] = result.report["keys"]
    assert entry["outcome"] == "unverified" and entry["expires_after_verified"] is False
    assert entry["error"]["code"] == "ServiceUnavailableTemporary"
    assert isinstance(result.error, RenewalFailedError)
    service_expiry = cloud.describe(key).material_expire_time
    assert entry["expires_after"] == service_expiry  # what the import asked for is what the service holds
    [seconds] = [m for m in cloud.metrics() if m["MetricName"] == "SecondsUntilKeyMaterialExpiration"]
    assert seconds["Values"]["value"] > 89 * DAY  # not the 5 days it had before
    failures = [m for m in cloud.metrics() if m["MetricName"] == "KeyMaterialRenewalFailures"]
    assert failures[0]["Values"]["value"] == 1


def test_a_key_that_cannot_be_described_gets_a_danger_metric_not_silence(cloud: Cloud, invoke) -> None:
    config = fleet_config(cloud, ["key-doesnotexist000000000"], metrics={"cloudmonitor": {"group_id": 1}})
    result = invoke(config)
    assert result.report["keys"][0]["error"]["code"] == "Forbidden.KeyNotFound"
    [seconds] = [m for m in cloud.metrics() if m["MetricName"] == "SecondsUntilKeyMaterialExpiration"]
    assert seconds["Values"]["value"] == 0
    assert seconds["Dimensions"]["keyId"] == "key-doesnotexist000000000"


# ---- fail safe on time ----------------------------------------------------------------------------


def test_a_service_clock_two_minutes_ahead_decides_by_the_service_time(cloud: Cloud) -> None:
    # Due in the service's time (30 days less 60 s from it), not yet in ours (30 days + 60 s).
    key = cloud.key_with_material(MATERIAL, 30 + 60 / DAY)
    cloud.advance_clock(120)
    report = run(cloud, fleet_config(cloud, [key]))
    assert outcomes(report) == {key: "renewed"}
    assert any("use the service's time" in w for w in report["run"]["warnings"])
    service_now = time.time() + 120
    assert cloud.describe(key).material_expire_time is not None
    expires = report["keys"][0]["expires_after"]
    from datetime import datetime

    assert abs(datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() - (service_now + 90 * DAY)) < 60


def test_a_clock_far_from_the_service_is_an_error_not_a_warning(cloud: Cloud) -> None:
    key = cloud.key_with_material(MATERIAL, 80)
    cloud.advance_clock(80 * DAY)  # the function's clock 80 days behind: by its own clock nothing is due
    imports = len(cloud.calls("ImportKeyMaterial"))
    report = run(cloud, fleet_config(cloud, [key]))
    assert report["keys"][0]["error"]["code"] == "ClockSkew"
    assert "ahead of this function's clock" in report["keys"][0]["error"]["message"]
    assert len(cloud.calls("ImportKeyMaterial")) == imports


# ---- the deadline is a hard bound ------------------------------------------------------------------


def timed_invoke(invoke, config: dict[str, Any], timeout: int, cloud: Cloud) -> tuple[Any, float]:
    context = LocalContext(
        credentials=Credentials(cloud.access_key_id, cloud.access_key_secret),
        function=ContextFunction(timeout=timeout),
        region="cn-hangzhou",
    )
    started = time.monotonic()
    result = invoke(config, context=context)
    return result, time.monotonic() - started


def test_slow_calls_end_within_the_function_timeout(cloud: Cloud, invoke) -> None:
    keys = [cloud.key_with_material(MATERIAL, 5 + i) for i in range(6)]
    config = fleet_config(cloud, keys, limits={"concurrency": 2})
    cloud.admin("POST", "faults", {"latency_ms": 6000, "actions": ["DescribeKey", "GetParametersForImport"]})
    try:
        result, took = timed_invoke(invoke, config, 12, cloud)
    finally:
        cloud.admin("POST", "faults", {})
    assert took < 12, took
    assert result.report["summary"]["not_attempted"] + result.report["summary"]["failed"] == 6
    assert result.report["run"]["metrics"]["destinations"][0]["sent"] is True


def test_a_slow_request_budget_does_not_sleep_past_the_deadline(cloud: Cloud, invoke) -> None:
    keys = [cloud.key_with_material(MATERIAL, 5 + i) for i in range(3)]
    result, took = timed_invoke(invoke, fleet_config(cloud, keys, limits={"max_qps": 0.01}), 12, cloud)
    assert took < 12, took
    assert {k["error"]["code"] for k in result.report["keys"] if k["error"]} <= {"DeadlineExceeded"}


@pytest.fixture
def hung_endpoint() -> Iterator[str]:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


def test_a_hung_region_does_not_hold_up_a_healthy_one(cloud: Cloud, invoke, hung_endpoint, monkeypatch) -> None:
    healthy = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [healthy])
    config["materials"][0]["keys"].append({"region": "cn-shanghai", "key_id": "key-inthehungregion00000000"})
    monkeypatch.setenv(
        "RENEWER_ALIBABA_ENDPOINTS", f"cn-hangzhou={cloud.emulator.endpoint()},cn-shanghai={hung_endpoint}"
    )
    result, took = timed_invoke(invoke, config, 15, cloud)
    assert took < 15, took
    assert outcomes(result.report)[healthy] == "renewed"
    [hung] = [k for k in result.report["keys"] if k["region"] == "cn-shanghai"]
    assert hung["outcome"] in ("failed", "not_attempted")


# ---- retries span an outage; one retry owner --------------------------------------------------------


class OutageClock(SystemClock):
    """Real wall time; a monotonic clock that only moves when the run sleeps (back-off): the service
    is down until the run has waited ``outage`` seconds, then the fault is lifted."""

    def __init__(self, cloud: Cloud, outage: float) -> None:
        self.cloud, self.outage, self.waited = cloud, outage, 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.waited

    def sleep(self, seconds: float) -> None:
        with self._lock:
            before = self.waited
            self.waited += max(0.0, seconds)
            if before < self.outage <= self.waited:
                self.cloud.admin("POST", "faults", {})


def test_a_thirty_second_outage_is_survived_within_the_deadline(cloud: Cloud) -> None:
    keys = [cloud.key_with_material(MATERIAL, 5 + i) for i in range(4)]
    config = fleet_config(cloud, keys)
    cloud.admin("POST", "faults", {"error_rate": 1.0, "error_code": "ServiceUnavailableTemporary"})
    clock = OutageClock(cloud, 30)
    report = run(cloud, config, clock=clock, timeout=300)
    assert clock.waited >= 30
    assert set(outcomes(report).values()) == {"renewed"}, report["keys"]


# ---- secrets stay out at every log level; botocore counts what it sends -------------------------------


@pytest.fixture
def debug_logging() -> Iterator[None]:
    """The root logger and the SDKs' own at DEBUG, written to stderr, as a user debugging might set."""
    import logging
    import sys

    handler = logging.StreamHandler(sys.stderr)
    names = ["", "botocore", "urllib3", "alibabacloud_tea_openapi", "darabonba"]
    levels = {name: logging.getLogger(name).level for name in names}
    logging.getLogger().addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield
    logging.getLogger().removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_debug_logging_leaks_nothing_on_either_cloud(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch, debug_logging
) -> None:
    from renewer.clouds.alibaba import AlibabaKms
    from renewer.clouds.aws import AwsKms
    from tests.function.conftest import assert_no_secrets, spy_on_imports
    from tests.function.test_aws import AWS_REGION, aws_key, secret_name

    seen_alibaba, seen_aws = spy_on_imports(monkeypatch, AlibabaKms), spy_on_imports(monkeypatch, AwsKms)
    material = bytes(range(224, 256))
    cloud.secret("byok/dbg", material.hex())
    hz = cloud.key_with_material(material, 3)
    us = aws_key(aws["kms"], material, 3)
    config = {
        "materials": [
            {
                "name": "ali",
                "source": {**SECRET, "name": "byok/dbg"},
                "keys": [{"region": "cn-hangzhou", "key_id": hz}],
            },
            {
                "name": "aws",
                "source": {"type": "aws-secret", "name": secret_name(aws, material), "region": AWS_REGION},
                "keys": [{"cloud": "aws", "region": AWS_REGION, "key_id": us}],
            },
        ]
    }
    result = invoke(config)
    assert {k["outcome"] for k in result.report["keys"]} == {"renewed"}, result.report["keys"]
    assert "SDK debug output withheld" in result.output  # the SDKs did try to log at DEBUG
    seen = seen_alibaba + seen_aws
    assert len(seen_alibaba) >= 2 and len(seen_aws) >= 2
    assert_no_secrets(result, cloud, [material], seen)
    assert result.error is None


def one_aws_key(aws: dict[str, Any], **top: Any) -> tuple[str, dict[str, Any]]:
    """An AWS key holding a material due in 3 days, and a configuration for it."""
    from tests.function.test_aws import AWS_REGION, aws_key, secret_name

    material = bytes(range(224, 256))
    key = aws_key(aws["kms"], material, 3)
    source = {"type": "aws-secret", "name": secret_name(aws, material), "region": AWS_REGION}
    keys = [{"cloud": "aws", "region": AWS_REGION, "key_id": key}]
    return key, {**top, "materials": [{"name": "p", "source": source, "keys": keys}]}


def test_botocore_sends_each_attempt_once(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    """The report counts every request the service served: botocore adds none of its own."""
    _, config = one_aws_key(aws, limits={"max_attempts": 3})
    cloud.admin("POST", "faults", {"error_rate": 1.0, "error_code": "InternalFailure", "actions": ["DescribeKey"]})
    try:
        result = invoke(config)
    finally:
        cloud.admin("POST", "faults", {})
    served = [c for c in result.calls if c["action"] == "DescribeKey"]
    assert len(served) == 3  # botocore's max_attempts 1 would have made it 6
    # ... and the material check's one GetSecretValue (served by moto).
    assert result.report["run"]["api"]["calls"] == 3 + 1


def test_an_aws_expiry_at_the_maximum_survives_a_clock_ahead(cloud: Cloud, aws: dict[str, Any], monkeypatch) -> None:
    """validity_days 365 with the function's clock 3 s ahead of AWS: ValidTo stays short of the maximum."""
    from renewer import settings
    from renewer.run import app

    class Ahead(SystemClock):
        def now(self) -> float:
            return time.time() + 3

    key, config = one_aws_key(aws, defaults={"validity_days": 365})
    current = settings.from_environ({"RENEWER_CONFIG": json.dumps(config)})
    report = app.run(current, Options(), credentials=None, clock=Ahead())
    assert outcomes(report) == {key: "renewed"}, report["keys"]
    valid_to = aws["kms"].describe_key(KeyId=key)["KeyMetadata"]["ValidTo"].timestamp()
    assert time.time() + 365 * DAY - 3600 < valid_to <= time.time() + 365 * DAY


def test_metrics_that_hang_are_stored_once_and_reported_unsent(cloud: Cloud, invoke) -> None:
    """PutCustomMetric answered after the SDK gave up: not sent again (it was stored), and the report
    does not claim it was delivered."""
    key = cloud.key_with_material(MATERIAL, 80)
    config = fleet_config(cloud, [key], metrics={"cloudmonitor": {"group_id": 1}})
    cloud.admin("POST", "faults", {"latency_ms": 11_000, "actions": ["PutCustomMetric"]})
    try:
        result = invoke(config)
    finally:
        cloud.admin("POST", "faults", {})
    [cms] = [d for d in result.report["run"]["metrics"]["destinations"] if d["destination"].startswith("cloudmonitor")]
    assert cms["sent"] is False and "no answer in time" in cms["error"]
    time.sleep(1.5)  # the emulator finishes the call it was holding
    assert len(cloud.calls("PutCustomMetric")) == 1


def test_a_hung_cloud_does_not_hold_up_the_other(
    cloud: Cloud, aws: dict[str, Any], invoke, hung_endpoint, monkeypatch
) -> None:
    """AWS KMS accepts connections and never answers; the Alibaba keys of the same run are renewed."""
    from tests.function.test_aws import AWS_REGION

    healthy = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [healthy])
    config["materials"][0]["keys"].append({"cloud": "aws", "region": AWS_REGION, "key_id": "alias/hung"})
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", f"http://{hung_endpoint}")
    result, took = timed_invoke(invoke, config, 15, cloud)
    assert took < 15, took
    assert outcomes(result.report)[healthy] == "renewed"
    [hung] = [k for k in result.report["keys"] if k["cloud"] == "aws"]
    assert hung["outcome"] in ("failed", "not_attempted")
