"""Reliability against the emulator's fault injection and clock: throttling, a QPS limit, permanent
errors, a stale import token, a short deadline, overlapping runs, a failing metrics backend and a
failing secret source. Runs call ``app.run`` (what the handler calls) with an injected clock where
time matters, so nothing sleeps longer than the emulator's own rate window requires."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from emulator.cloud import DAY
from renewer import settings
from renewer.clock import ManualClock, SystemClock
from renewer.clouds.alibaba import AlibabaKms
from renewer.credentials import Credentials
from renewer.entry.events import Options
from renewer.run import app
from renewer.run.retry import Backoff
from tests.function.conftest import Cloud, outcomes

MATERIAL = bytes(range(7, 39))
KMS_ACTIONS = ["DescribeKey", "GetParametersForImport", "ImportKeyMaterial", "GetSecretValue", "Encrypt", "Decrypt"]


class NoSleepClock(SystemClock):
    """Real time, but back-off and pacing only record what they would have slept."""

    def __init__(self) -> None:
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += max(0.0, seconds)


class TickingClock(ManualClock):
    """Real wall time (so the emulator agrees on expiries); a monotonic clock that moves one second
    per API call (see ``tick_per_call``), so a deadline can be crossed without waiting."""

    def now(self) -> float:
        return time.time()


def fleet_config(cloud: Cloud, keys: list[str], **top: Any) -> dict[str, Any]:
    cloud.secret("byok/payments", MATERIAL.hex())
    source = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
    material = {"name": "payments", "source": source, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in keys]}
    return {"materials": [material], **top}


def run(cloud: Cloud, config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    endpoints = ",".join(f"{r}={e}" for r, e in cloud.endpoints.items())
    current = settings.from_environ({"RENEWER_CONFIG": json.dumps(config), "RENEWER_ALIBABA_ENDPOINTS": endpoints})
    credentials = Credentials(cloud.access_key_id, cloud.access_key_secret)
    return app.run(current, kwargs.pop("options", Options()), credentials=credentials, **kwargs)


def due_keys(cloud: Cloud, count: int, days: float = 5) -> list[str]:
    return [cloud.key_with_material(MATERIAL, days + i * 0.1) for i in range(count)]


def test_thirty_percent_throttled_every_key_renewed_with_retries_counted(cloud: Cloud) -> None:
    keys = due_keys(cloud, 12)
    config = fleet_config(cloud, keys, limits={"max_attempts": 12})
    cloud.admin("POST", "faults", {"error_rate": 0.3, "error_code": "Throttling"})
    clock = NoSleepClock()
    report = run(cloud, config, clock=clock)
    cloud.admin("POST", "faults", {})
    assert report["summary"]["failed"] == 0, report["keys"]
    assert set(outcomes(report).values()) == {"renewed"}
    api = report["run"]["api"]
    assert api["retries"] > 0 and set(api["retries_by_code"]) == {"Throttling"}
    assert sum(k["retries"] for k in report["keys"]) <= api["retries"]
    assert sum(k["retries"] for k in report["keys"]) > 0
    assert clock.slept > 0  # it backed off (through the injected clock: the test did not sleep)


def test_request_budget_keeps_the_run_under_the_service_qps_limit(cloud: Cloud) -> None:
    keys = due_keys(cloud, 6)
    config = fleet_config(cloud, keys, limits={"max_qps": 8, "max_attempts": 1})
    cloud.admin("POST", "faults", {"qps_limit": 10})
    before = len(cloud.calls())
    report = run(cloud, config)  # real clock: the emulator counts calls in real one-second windows
    cloud.admin("POST", "faults", {})
    assert report["summary"]["renewed"] == 6 and report["summary"]["failed"] == 0
    assert report["run"]["api"]["retries"] == 0  # max_attempts 1: a single Throttling would have failed a key
    assert all(c["outcome"] == "Success" for c in cloud.calls()[before:])


def test_permanent_error_fails_every_key_without_retry_and_imports_nothing(cloud: Cloud, invoke) -> None:
    keys = [*due_keys(cloud, 3), cloud.create_key()]
    config = fleet_config(cloud, keys, metrics={"cloudmonitor": {"group_id": 1}})
    cloud.admin("POST", "faults", {"error_rate": 1.0, "error_code": "Forbidden.NoPermission", "actions": KMS_ACTIONS})
    result = invoke(config)
    cloud.admin("POST", "faults", {})
    assert result.error is not None and type(result.error).__name__.endswith("Error")
    assert {k["error"]["code"] for k in result.report["keys"]} == {"Forbidden.NoPermission"}
    assert result.report["summary"]["failed"] == 4
    # Four DescribeKey, then the material check's one read of the secret, refused the same way.
    assert [c["action"] for c in result.calls if c["action"] != "PutCustomMetric"] == ["DescribeKey"] * 4 + [
        "GetSecretValue"
    ]
    assert [(m["ok"], m["error"]["code"]) for m in result.report["run"]["materials"]] == [
        (False, "Forbidden.NoPermission")
    ]
    assert result.report["run"]["api"]["retries"] == 0
    failures = [m for m in cloud.metrics() if m["MetricName"] == "KeyMaterialRenewalFailures"]
    assert failures and failures[-1]["Values"] == {"value": 4}


def test_import_token_expiring_before_import_is_recovered_with_new_parameters(cloud: Cloud, monkeypatch) -> None:
    key = cloud.key_with_material(MATERIAL, 5)
    config = fleet_config(cloud, [key])
    real = AlibabaKms.get_parameters_for_import
    fetched: list[str] = []

    def then_a_day_passes(self: AlibabaKms, key_id: str, algorithm: str):
        params = real(self, key_id, algorithm)
        if not fetched:
            cloud.advance_clock(24 * 3600 + 1)  # the token expires before it is used
        fetched.append(key_id)
        return params

    monkeypatch.setattr(AlibabaKms, "get_parameters_for_import", then_a_day_passes)
    before = len(cloud.calls())
    report = run(cloud, config)
    assert outcomes(report) == {key: "renewed"}
    imports = [c["outcome"] for c in cloud.calls()[before:] if c["action"] == "ImportKeyMaterial"]
    assert imports == ["ExpiredImportToken", "Success"]
    assert len(fetched) == 2
    assert any("ExpiredImportToken" in note for note in report["keys"][0]["notes"])


def test_short_deadline_does_the_most_urgent_keys_first_and_ends_in_time(cloud: Cloud, monkeypatch) -> None:
    expired = [cloud.key_with_material(MATERIAL, 30 / DAY) for _ in range(2)]  # 30 s: room for a slow machine
    never = [cloud.create_key() for _ in range(2)]
    due = [cloud.key_with_material(MATERIAL, d) for d in (9, 3, 7, 1, 5, 8, 2, 6)]
    cloud.advance_clock(60)  # the two 30-second keys have expired
    fleet = due + never + expired  # configured in no particular order of urgency
    config = fleet_config(cloud, fleet, limits={"concurrency": 1})
    clock = TickingClock(time.time())
    real_call = AlibabaKms._call

    def one_second_per_call(self: AlibabaKms, action: str, call: Any) -> Any:
        clock.advance(1)
        return real_call(self, action, call)

    monkeypatch.setattr(AlibabaKms, "_call", one_second_per_call)
    report = run(cloud, config, clock=clock, timeout=40)
    done = {k["key_id"] for k in report["keys"] if k["outcome"] in ("renewed", "recovered")}
    undone = {k["key_id"] for k in report["keys"] if k["outcome"] == "not_attempted"}
    by_urgency = expired + never + [due[i] for i in (3, 6, 1)]  # then 5, 6, 7, 8, 9 days
    assert done == set(by_urgency[: len(done)]) and len(done) >= 4
    assert undone == set(fleet) - done and undone
    assert report["summary"]["not_attempted"] == len(undone)
    assert clock.monotonic() < 40  # the run ended before the function's timeout


def test_two_runs_at_once_leave_no_key_worse(cloud: Cloud) -> None:
    keys = due_keys(cloud, 4) + [cloud.create_key() for _ in range(2)] + [cloud.key_with_material(MATERIAL, 80)]
    config = fleet_config(cloud, keys)
    reports: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def one_run() -> None:
        start.wait()
        reports.append(run(cloud, config))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reports) == 2
    for report in reports:
        assert report["summary"]["failed"] == 0, [k["error"] for k in report["keys"] if k["error"]]
        assert set(outcomes(report).values()) <= {"renewed", "recovered", "skipped"}
    for key in keys:
        meta = cloud.describe(key)
        assert meta.key_state == "Enabled"
        assert meta.material_expire_time > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 79 * DAY))


def test_failing_metrics_backend_does_not_fail_renewals(cloud: Cloud, invoke) -> None:
    keys = due_keys(cloud, 2)
    config = fleet_config(cloud, keys, metrics={"cloudmonitor": {"group_id": 1}}, limits={"max_attempts": 2})
    cloud.admin("POST", "faults", {"error_rate": 1.0, "error_code": "InternalFailure", "actions": ["PutCustomMetric"]})
    result = invoke(config)
    cloud.admin("POST", "faults", {})
    assert result.error is None
    assert result.report["summary"]["renewed"] == 2
    sent = result.report["run"]["metrics"]
    assert sent["sent"] is False and sent["error"].startswith("InternalFailure")
    assert '"event": "metrics_failed"' in result.output


def test_failing_secret_source_fails_only_its_material(cloud: Cloud) -> None:
    good = due_keys(cloud, 2)
    orphan = due_keys(cloud, 2)
    config = fleet_config(cloud, good)
    missing = {"type": "alibaba-secret", "name": "byok/missing", "region": "cn-hangzhou"}
    config["materials"].append(
        {"name": "orphan", "source": missing, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in orphan]}
    )
    report = run(cloud, config)
    assert {k: o for k, o in outcomes(report).items() if k in good} == dict.fromkeys(good, "renewed")
    failed = [k for k in report["keys"] if k["material"] == "orphan"]
    assert {k["error"]["code"] for k in failed} == {"Forbidden.ResourceNotFound"}
    assert report["run"]["api"]["material_reads"] == 2  # one read each, the failed one included


def test_server_clock_ahead_is_reported(cloud: Cloud) -> None:
    key = cloud.key_with_material(MATERIAL, 80)
    config = fleet_config(cloud, [key])
    cloud.advance_clock(120)  # the service's Date header is now two minutes ahead
    report = run(cloud, config)
    assert any("120 s ahead" in w or "ahead of" in w for w in report["run"]["warnings"])
    assert outcomes(report) == {key: "skipped"}


def test_service_far_ahead_fails_the_keys_instead_of_importing_an_expiry_it_rejects(cloud: Cloud) -> None:
    key = cloud.create_key()
    config = fleet_config(cloud, [key])
    config["defaults"] = {"validity_days": 2, "renew_before_days": 1}
    cloud.advance_clock(10 * DAY)  # the service is ten days ahead: now + 2 days would be in its past
    report = run(cloud, config)
    [entry] = report["keys"]
    assert entry["error"]["code"] == "ClockSkew"
    assert cloud.calls("ImportKeyMaterial") == []
    assert cloud.describe(key).key_state == "PendingImport"


@pytest.mark.soak
def test_soak_a_thousand_keys_with_twenty_percent_faults(tmp_path) -> None:
    """1,000 due keys, 20% of KMS calls failing transiently: every key ends renewed."""
    from emulator.cloud import EmulatedCloud, spawn

    with spawn(("cn-hangzhou",), "soakId", "soakSecret", extra_args=("--reuse-wrapping-keys",)) as (_, endpoints):
        cloud = EmulatedCloud(endpoints, "soakId", "soakSecret")
        keys = [cloud.key_with_material(MATERIAL, 3 + (i % 20)) for i in range(1000)]
        config = fleet_config(cloud, keys, limits={"max_qps": 2000, "max_attempts": 12, "concurrency": 16})  # type: ignore[arg-type]
        codes = ["ServiceUnavailableTemporary", "Throttling"]
        cloud.admin("POST", "faults", {"error_rate": 0.2, "error_code": codes[0], "actions": KMS_ACTIONS})
        started = time.monotonic()
        report = run(cloud, config, backoff=Backoff(base=0.005, cap=0.05))  # type: ignore[arg-type]
        assert time.monotonic() - started < 240
    assert report["summary"]["renewed"] == 1000, report["summary"]
    assert report["run"]["api"]["retries"] > 0
