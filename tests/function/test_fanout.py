"""Fan-out end to end: a coordinator plans, splits the due keys into shards and invokes the same
function asynchronously through ``aliyun-fc2``; the emulator's Function Compute endpoint runs each
worker (the real ``index.handler``) in-process against the same emulated KMS."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from emulator.cloud import DAY
from renewer.credentials import Credentials
from renewer.entry.context import LocalContext
from tests.function.conftest import Cloud, outcomes

MATERIAL = bytes(range(50, 82))


def wait_for_invocations(cloud: Cloud, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        invocations = cloud.admin("GET", "invocations")
        if len(invocations) >= count and all(i["status"] != "running" for i in invocations):
            return invocations
        time.sleep(0.1)
    pytest.fail(f"invocations did not finish in {timeout} s: {cloud.admin('GET', 'invocations')}")


def test_coordinator_fans_out_three_shards_and_workers_renew_them(cloud: Cloud, invoke, monkeypatch) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    due = [cloud.key_with_material(MATERIAL, 1 + i) for i in range(8)] + [cloud.create_key()]
    healthy = [cloud.key_with_material(MATERIAL, 80) for _ in range(2)]
    source = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
    config = {
        "fanout": {"service": "byok-renewer", "function": "renewer", "shard_size": 3},
        "metrics": {"cloudmonitor": {"group_id": 0}},
        "materials": [
            {
                "name": "payments",
                "source": source,
                "keys": [{"region": "cn-hangzhou", "key_id": k} for k in due + healthy],
            }
        ],
    }
    endpoints = ",".join(f"{r}={e}" for r, e in cloud.endpoints.items())
    # The session emulator runs function/ as byok-renewer/renewer (--function); here only its environment.
    cloud.admin(
        "POST",
        "functions",
        {
            "service": "byok-renewer",
            "function": "renewer",
            "environment": {"RENEWER_CONFIG": json.dumps(config), "RENEWER_ALIBABA_ENDPOINTS": endpoints},
        },
    )
    monkeypatch.setenv("RENEWER_FC_ENDPOINT", f"http://{cloud.endpoints['cn-hangzhou']}")
    context = LocalContext(
        credentials=Credentials(cloud.access_key_id, cloud.access_key_secret, "sts-token"),
        region="cn-hangzhou",
        account_id="1234567890123456",
    )
    logged = len(cloud.admin("GET", "calls"))
    coordinator = invoke(config, context=context)

    assert coordinator.error is None, coordinator.report
    assert coordinator.report["summary"]["delegated"] == 9 and coordinator.report["summary"]["skipped"] == 2
    shards = coordinator.report["run"]["shards"]
    assert [(s["id"], s["of"], s["keys"], s["status"]) for s in shards] == [(i, 3, 3, "invoked") for i in (1, 2, 3)]
    # The coordinator itself imported nothing (the workers, invoked asynchronously, may already be
    # logging calls of their own: the imports are counted once they are done, below).
    assert [(m["name"], m["ok"]) for m in coordinator.report["run"]["materials"]] == [("payments", True)]

    invocations = wait_for_invocations(cloud, 3)
    assert {i["request_id"] for i in invocations} == {s["request_id"] for s in shards}
    assert all(i["type"] == "Async" and i["status"] == "succeeded" for i in invocations), [
        i.get("error") for i in invocations
    ]
    worker_reports = [json.loads(i["result"]) for i in invocations]
    renewed: dict[str, str] = {}
    for report in worker_reports:
        assert report["run"]["trigger"].startswith("shard:")
        assert len(report["keys"]) == 3
        # Each of the 3 shards paces at a third of the budgets: Alibaba's query quota 50 x 0.9 / 3.
        assert report["run"]["api"]["budgets"]["alibaba:cn-hangzhou"]["query"]["rate"] == 15.0
        renewed.update(outcomes(report))
    assert renewed == {**dict.fromkeys(due[:8], "renewed"), due[8]: "recovered"}
    imports = [c for c in cloud.admin("GET", "calls")[logged:] if c["action"] == "ImportKeyMaterial"]
    assert sorted(c["key_id"] for c in imports) == sorted(due)  # once each, by the workers alone
    # The most urgent keys went to the first shard.
    first = next(r for r in worker_reports if r["run"]["trigger"] == "shard:1/3")
    assert set(outcomes(first)) == {due[8], due[0], due[1]}
    for key in due:
        assert cloud.describe(key).material_expire_time > time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 80 * DAY)
        )
    # Each worker sent its own metrics.
    renewals = [m for m in cloud.metrics() if m["MetricName"] == "KeyMaterialRenewals"]
    assert sorted(m["Values"]["value"] for m in renewals) == [0, 3, 3, 3]


def test_a_small_fleet_is_renewed_in_place(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/payments", MATERIAL.hex())
    keys = [cloud.key_with_material(MATERIAL, 2) for _ in range(2)]
    source = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}
    config = {
        "fanout": {"service": "byok-renewer", "function": "renewer", "shard_size": 3},
        "materials": [
            {"name": "payments", "source": source, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in keys]}
        ],
    }
    result = invoke(config)
    assert result.error is None and "shards" not in result.report["run"]
    assert set(outcomes(result.report).values()) == {"renewed"}


def test_fc_signature_is_checked(cloud: Cloud) -> None:
    import fc2

    client = fc2.Client(
        endpoint=f"http://{cloud.endpoints['cn-hangzhou']}", accessKeyID=cloud.access_key_id, accessKeySecret="wrong"
    )
    with pytest.raises(fc2.fc_exceptions.FcError) as exc:
        client.invoke_function("byok-renewer", "renewer", payload=b"{}", headers={"x-fc-invocation-type": "Async"})
    assert (exc.value.status_code, exc.value.err_code) == (403, "SignatureNotMatch")
    good = fc2.Client(
        endpoint=f"http://{cloud.endpoints['cn-hangzhou']}",
        accessKeyID=cloud.access_key_id,
        accessKeySecret=cloud.access_key_secret,
    )
    with pytest.raises(fc2.fc_exceptions.FcError) as exc:
        good.invoke_function("byok-renewer", "missing", payload=b"{}")
    assert (exc.value.status_code, exc.value.err_code) == (404, "FunctionNotFound")
