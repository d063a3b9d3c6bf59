"""Fan-out to a Function Compute 3.0 function (what ``s.yaml`` deploys): ``fanout: {function,
shard_size}`` without a service, invoked through ``alibabacloud-fc20230330`` (``POST
/2023-03-30/functions/{name}/invocations``, ACS3-signed). The session emulator declares ``renewer3``
(``function/``, ``index.handler``) and runs each worker in-process against the same emulated KMS."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from emulator.cloud import DAY
from renewer.credentials import Credentials
from renewer.entry.context import LocalContext
from renewer.errors import RenewalFailedError
from tests.function.conftest import Cloud, assert_no_secrets, modules_a_run_loads, outcomes
from tests.function.test_fanout import wait_for_invocations

MATERIAL = bytes(range(90, 122))
FUNCTION = "renewer3"
TOKEN = "sts-token-for-fc3-fan-out"
SOURCE = {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"}


def fleet(cloud: Cloud, due: int, healthy: int, fanout: dict[str, Any]) -> tuple[list[str], list[str], dict]:
    cloud.secret("byok/payments", MATERIAL.hex())
    due_keys = [cloud.key_with_material(MATERIAL, 1 + i) for i in range(due)]
    healthy_keys = [cloud.key_with_material(MATERIAL, 80) for _ in range(healthy)]
    keys = [{"region": "cn-hangzhou", "key_id": k} for k in due_keys + healthy_keys]
    config = {
        "fanout": fanout,
        "metrics": {"cloudmonitor": {"group_id": 0}},
        "materials": [{"name": "payments", "source": SOURCE, "keys": keys}],
    }
    return due_keys, healthy_keys, config


def coordinator_context(cloud: Cloud) -> LocalContext:
    return LocalContext(
        credentials=Credentials(cloud.access_key_id, cloud.access_key_secret, TOKEN),
        region="cn-hangzhou",
        account_id="1234567890123456",
    )


def fc3_client(cloud: Cloud, secret: str | None = None) -> Any:
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.models import Config
    from darabonba.policy.retry import RetryOptions

    config = Config(
        access_key_id=cloud.access_key_id,
        access_key_secret=secret or cloud.access_key_secret,
        endpoint=cloud.endpoints["cn-hangzhou"],
        protocol="http",
        retry_options=RetryOptions({"retryable": False}),
    )
    return Client(config)


def test_coordinator_fans_out_to_a_function_compute_3_function(cloud: Cloud, invoke, monkeypatch) -> None:
    due, healthy, config = fleet(cloud, 9, 2, {"function": FUNCTION, "shard_size": 3})
    endpoints = ",".join(f"{r}={e}" for r, e in cloud.endpoints.items())
    environment = {"RENEWER_CONFIG": json.dumps(config), "RENEWER_ALIBABA_ENDPOINTS": endpoints}
    cloud.admin("POST", "functions", {"function": FUNCTION, "environment": environment})  # no service: 3.0
    monkeypatch.setenv("RENEWER_FC_ENDPOINT", f"http://{cloud.endpoints['cn-hangzhou']}")

    logged = len(cloud.admin("GET", "calls"))
    coordinator = invoke(config, context=coordinator_context(cloud))

    assert coordinator.error is None, coordinator.report
    assert coordinator.report["summary"]["delegated"] == 9
    assert {k: outcomes(coordinator.report)[k] for k in healthy} == dict.fromkeys(healthy, "skipped")
    shards = coordinator.report["run"]["shards"]
    assert [(s["id"], s["of"], s["keys"], s["status"]) for s in shards] == [(i, 3, 3, "invoked") for i in (1, 2, 3)]
    # The workers run in the emulator's process as soon as they are invoked, so the calls logged
    # meanwhile mix theirs with the coordinator's: that it imported nothing shows in the total below.

    invocations = wait_for_invocations(cloud, 3)
    assert {i["request_id"] for i in invocations} == {s["request_id"] for s in shards}
    assert {(i["service"], i["function"], i["type"]) for i in invocations} == {(None, FUNCTION, "Async")}
    assert all(i["status"] == "succeeded" for i in invocations), [i.get("error") for i in invocations]
    renewed: dict[str, str] = {}
    for report in (json.loads(i["result"]) for i in invocations):
        assert report["run"]["trigger"].startswith("shard:") and len(report["keys"]) == 3
        renewed.update(outcomes(report))
    assert renewed == dict.fromkeys(due, "renewed")
    imports = [c for c in cloud.admin("GET", "calls")[logged:] if c["action"] == "ImportKeyMaterial"]
    assert sorted(c["key_id"] for c in imports) == sorted(due)  # once each, by the workers alone
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 80 * DAY))
    assert all(cloud.describe(key).material_expire_time > later for key in due)
    # The STS token the coordinator signed with reached the workers' context, and no output.
    assert_no_secrets(coordinator, cloud, [MATERIAL], [TOKEN.encode(), cloud.access_key_secret.encode()])
    assert TOKEN not in json.dumps(invocations)


def test_a_function_compute_3_function_that_does_not_exist_fails_the_keys_with_fanout_failed(
    cloud: Cloud, invoke, monkeypatch
) -> None:
    due, _, config = fleet(cloud, 3, 0, {"function": "no-such-function", "shard_size": 1})
    before = {k: cloud.describe(k).material_expire_time for k in due}
    monkeypatch.setenv("RENEWER_FC_ENDPOINT", f"http://{cloud.endpoints['cn-hangzhou']}")

    result = invoke(config, context=coordinator_context(cloud))

    assert isinstance(result.error, RenewalFailedError)
    assert outcomes(result.report) == dict.fromkeys(due, "failed")
    errors = [k["error"] for k in result.report["keys"]]
    assert {e["code"] for e in errors} == {"FanoutFailed"}
    assert all("FunctionNotFound: function 'no-such-function' does not exist." in e["message"] for e in errors), errors
    shards = result.report["run"]["shards"]
    assert [(s["id"], s["of"], s["status"]) for s in shards] == [(i, 3, "failed") for i in (1, 2, 3)]
    # Not found is not retried: one InvokeFunction per shard (the emulator ran none).
    assert result.report["run"]["api"]["retries"] == 0
    assert cloud.admin("GET", "invocations") == []
    assert {k: cloud.describe(k).material_expire_time for k in due} == before


def test_function_compute_3_refuses_a_bad_signature_and_runs_nothing(cloud: Cloud) -> None:
    from alibabacloud_fc20230330 import models
    from alibabacloud_tea_openapi.exceptions import ClientException
    from darabonba.runtime import RuntimeOptions

    def request() -> Any:
        return models.InvokeFunctionRequest(body=io.BytesIO(b'{"shard": {}}'))

    headers = models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
    with pytest.raises(ClientException) as refused:
        fc3_client(cloud, secret="wrong").invoke_function_with_options(FUNCTION, request(), headers, RuntimeOptions())
    assert (refused.value.status_code, refused.value.code) == (403, "SignatureNotMatch")
    with pytest.raises(ClientException) as missing:
        fc3_client(cloud).invoke_function("missing", request())
    assert (missing.value.status_code, missing.value.code) == (404, "FunctionNotFound")
    assert cloud.admin("GET", "invocations") == []


def test_the_function_compute_3_sdk_is_imported_only_to_fan_out(cloud: Cloud) -> None:
    """Cold start: a run without fan-out never loads ``alibabacloud_fc20230330``."""
    key = cloud.create_key()
    cloud.secret("byok/payments", MATERIAL.hex())
    config = {
        "fanout": {"function": FUNCTION, "shard_size": 500},  # configured, but one shard's worth of keys
        "materials": [{"name": "payments", "source": SOURCE, "keys": [{"region": "cn-hangzhou", "key_id": key}]}],
    }
    assert modules_a_run_loads(cloud.emulator, config, ("alibabacloud_fc20230330", "fc2")) == []
    assert cloud.describe(key).key_state == "Enabled"
