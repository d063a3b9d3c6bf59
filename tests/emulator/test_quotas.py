"""Request quotas (:mod:`emulator.quotas`): the limiter with an injected monotonic clock, the
settings' checks, and the official SDKs over HTTP against an emulator served in this process
whose quota clock stands still unless a test moves it (no sleeping: "the same second" is exact).
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import fc2
import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from darabonba.exceptions import ResponseException

from emulator.__main__ import parse_args
from emulator.admin_access import HEADER as ADMIN_TOKEN_HEADER
from emulator.core import Emulator
from emulator.errors import ServiceError
from emulator.functions import FunctionSpec
from emulator.quota_table import ALIBABA, AWS, PUBLISHED, group_of, published_rate
from emulator.quotas import Quotas, QuotaSettings, throttled, window_of
from emulator.server import RunningEmulator, Service, serve

ALIBABA_REGION = "cn-hangzhou"
AWS_REGION = "us-east-1"
CREDENTIALS = {"quotaTestKeyId": "quotaTestKeySecret"}


class ManualMonotonic:
    """A monotonic clock that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _outcome(quotas: Quotas, action: str, cloud: str = ALIBABA, region: str = ALIBABA_REGION) -> str:
    try:
        quotas.admit(cloud, region, action)
    except ServiceError as error:
        return error.code
    return "Success"


def _quotas(clock: ManualMonotonic, **document: Any) -> Quotas:
    quotas = Quotas(monotonic=clock)
    quotas.configure(QuotaSettings.from_json(document))
    return quotas


# --- the table -----------------------------------------------------------------------------------


def test_published_groups_follow_the_vendor_pages() -> None:
    assert [group_of(ALIBABA, a) for a in ("DescribeKey", "ListKeys", "GetParametersForImport")] == ["query"] * 3
    assert group_of(ALIBABA, "ImportKeyMaterial") == "modify"
    assert (group_of(ALIBABA, "ListResourceTags"), group_of(ALIBABA, "CreateKey")) == ("tag_query", "create_key")
    assert group_of(ALIBABA, "NoSuchAction") == group_of(AWS, "NoSuchAction") == "default"
    assert (PUBLISHED[ALIBABA]["query"], PUBLISHED[ALIBABA]["modify"], PUBLISHED[ALIBABA]["tag_query"]) == (50, 30, 300)
    assert (PUBLISHED[AWS]["GetParametersForImport"], PUBLISHED[AWS]["ImportKeyMaterial"]) == (1, 15)
    assert group_of(AWS, "Encrypt") == group_of(AWS, "Decrypt") == "crypto_symmetric"
    assert published_rate(AWS, "crypto_symmetric", "us-east-1") == 100_000
    assert published_rate(AWS, "crypto_symmetric", "ap-east-1") == 10_000


def test_window_of_a_quota() -> None:
    assert window_of(50) == (1.0, 50)
    assert window_of(50 * 0.6) == (1.0, 30)
    assert window_of(0.25) == (4.0, 1)
    assert window_of(0) == (1.0, 0)


def test_the_documented_errors() -> None:
    alibaba, aws = throttled(ALIBABA), throttled(AWS)
    assert (alibaba.code, alibaba.message, alibaba.http_status) == ("Rejected.Throttling", "QPS Limit Exceeded", 429)
    assert (aws.code, aws.http_status) == ("ThrottlingException", 400)


# --- the limiter, unit level -----------------------------------------------------------------------


def test_off_by_default_admits_everything_and_counts_nothing() -> None:
    quotas = Quotas(monotonic=ManualMonotonic())
    assert not quotas.settings.enabled
    assert {_outcome(quotas, "DescribeKey") for _ in range(500)} == {"Success"}
    assert quotas.report() == {"enabled": False, "config": QuotaSettings().to_json(), "now": 1000.0, "groups": []}


def test_groups_have_separate_windows_that_slide() -> None:
    clock = ManualMonotonic()
    quotas = _quotas(clock, preset="published")
    assert [_outcome(quotas, "DescribeKey") for _ in range(51)] == ["Success"] * 50 + ["Rejected.Throttling"]
    assert _outcome(quotas, "ImportKeyMaterial") == "Success"  # key management (write): its own 30/s
    assert _outcome(quotas, "ListKeys") == "Rejected.Throttling"  # same group as DescribeKey
    clock.now += 0.999
    assert _outcome(quotas, "DescribeKey") == "Rejected.Throttling"
    clock.now += 0.001  # the first 50 are now a second old
    assert [_outcome(quotas, "DescribeKey") for _ in range(51)] == ["Success"] * 50 + ["Rejected.Throttling"]


def test_regions_and_clouds_have_their_own_windows() -> None:
    clock = ManualMonotonic()
    quotas = _quotas(clock, alibaba={"query": 2}, aws={"DescribeKey": 1})
    assert [_outcome(quotas, "DescribeKey") for _ in range(3)] == ["Success", "Success", "Rejected.Throttling"]
    assert _outcome(quotas, "DescribeKey", region="cn-shanghai") == "Success"
    assert [_outcome(quotas, "DescribeKey", AWS) for _ in range(2)] == ["Success", "ThrottlingException"]
    assert _outcome(quotas, "CreateKey") == "Success"  # no preset: a group without a number is not limited


def test_a_quota_below_one_per_second() -> None:
    clock = ManualMonotonic()
    quotas = _quotas(clock, aws={"GetParametersForImport": 0.25})
    assert [_outcome(quotas, "GetParametersForImport", AWS) for _ in range(2)] == ["Success", "ThrottlingException"]
    clock.now += 3.9
    assert _outcome(quotas, "GetParametersForImport", AWS) == "ThrottlingException"
    clock.now += 0.1
    assert _outcome(quotas, "GetParametersForImport", AWS) == "Success"


def test_a_competing_workload_and_a_scale_take_part_of_the_quota() -> None:
    clock = ManualMonotonic()
    quotas = _quotas(clock, preset="published", reserved={"alibaba:query": 0.4})
    assert [_outcome(quotas, "DescribeKey") for _ in range(31)].count("Success") == 30
    assert quotas.report()["groups"][0] | {"histogram": None} == {
        "cloud": ALIBABA,
        "region": ALIBABA_REGION,
        "group": "query",
        "quota": 50.0,
        "effective": 30.0,
        "window_seconds": 1.0,
        "capacity": 30,
        "admitted": 30,
        "throttled": 1,
        "peak_per_second": 30,
        "histogram": None,
    }
    quotas.update({"scale": 0.5, "reserved": {}})  # 25/s; the 30 admitted this second still count
    assert _outcome(quotas, "DescribeKey") == "Rejected.Throttling"
    clock.now += 1
    assert [_outcome(quotas, "DescribeKey") for _ in range(26)].count("Success") == 25


def test_histogram_one_bucket_per_second_and_reset() -> None:
    clock = ManualMonotonic(2000.5)
    quotas = _quotas(clock, alibaba={"modify": 3})
    for step in range(8):  # 4 calls at 2000.5, 4 at 2001.0
        clock.now = 2000.5 + (step // 4) * 0.5
        _outcome(quotas, "TagResource")
    (row,) = quotas.report()["groups"]
    assert row["histogram"] == [
        {"second": 2000, "admitted": 3, "throttled": 1},
        {"second": 2001, "admitted": 0, "throttled": 4},  # the 3 at 2000.5 still fill the window
    ]
    assert (row["admitted"], row["throttled"], row["peak_per_second"]) == (3, 5, 3)
    quotas.reset_stats()
    assert quotas.report()["groups"] == []


def test_threads_share_one_window() -> None:
    quotas = _quotas(ManualMonotonic(), alibaba={"query": 100})
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = [_outcome(quotas, "DescribeKey") for _ in range(50)]
        with lock:
            outcomes.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (outcomes.count("Success"), outcomes.count("Rejected.Throttling")) == (100, 300)


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"preset": "fastest"}, "preset"),
        ({"alibaba": {"query": 0}}, "alibaba.query"),
        ({"alibaba": {"query": "50"}}, "alibaba.query"),
        ({"alibaba": {"querry": 50}}, "unknown group"),
        ({"aws": [1]}, "aws"),
        ({"scale": -0.1}, "scale"),
        ({"scale": float("nan")}, "scale"),
        ({"reserved": {"alibaba:query": 1.5}}, "reserved"),
        ({"reserved": {"gcp:query": 0.5}}, "reserved"),
        ({"qps": 1}, "unknown fields"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(document: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        QuotaSettings.from_json(document)


def test_updates_merge_and_a_preset_starts_over() -> None:
    settings = QuotaSettings.from_json({"preset": "published", "alibaba": {"query": 10}})
    settings = QuotaSettings.from_json({"aws": {"DescribeKey": None}, "scale": 2}, settings)
    assert settings.quota(ALIBABA, ALIBABA_REGION, "query") == 20
    assert settings.quota(AWS, AWS_REGION, "DescribeKey") is None
    assert settings.quota(AWS, AWS_REGION, "ListKeys") == 1000
    settings = QuotaSettings.from_json({"preset": "published"}, settings)
    assert settings.limits == {} and settings.quota(ALIBABA, ALIBABA_REGION, "query") == 100  # scale kept


def test_command_line_quotas(tmp_path: Path) -> None:
    base = ["--access-key-id", "a", "--access-key-secret", "b"]
    assert parse_args(base).quotas is None
    assert parse_args([*base, "--quotas", "published"]).quotas == QuotaSettings(preset="published")
    path = tmp_path / "quotas.json"
    path.write_text(json.dumps({"alibaba": {"query": 5}, "reserved": {"alibaba:query": 0.4}}))
    settings = parse_args([*base, "--quotas", str(path)]).quotas
    assert settings.effective(ALIBABA, ALIBABA_REGION, "query") == pytest.approx(3)
    path.write_text(json.dumps({"alibaba": {"query": -1}}))
    with pytest.raises(SystemExit):
        parse_args([*base, "--quotas", str(path)])


# --- over HTTP, through the official SDKs ----------------------------------------------------------


@dataclass
class Served:
    running: RunningEmulator
    clock: ManualMonotonic

    def url(self, region: str) -> str:
        return f"http://127.0.0.1:{self.running.ports[region]}"

    def admin(self, method: str, name: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url(ALIBABA_REGION)}/_emulator/{name}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header(ADMIN_TOKEN_HEADER, self.running.admin_token)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def alibaba(self) -> KmsClient:
        """A new Tea SDK client (its own connection pool)."""
        ((key_id, secret),) = CREDENTIALS.items()
        endpoint = f"127.0.0.1:{self.running.ports[ALIBABA_REGION]}"
        return KmsClient(
            Config(
                access_key_id=key_id,
                access_key_secret=secret,
                endpoint=endpoint,
                protocol="http",
                region_id=ALIBABA_REGION,
            )
        )

    def aws(self) -> Any:
        """A new boto3 client (its own connection pool); one attempt, no retries."""
        ((key_id, secret),) = CREDENTIALS.items()
        return boto3.session.Session().client(
            "kms",
            region_name=AWS_REGION,
            endpoint_url=self.url(AWS_REGION),
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=BotoConfig(retries={"total_max_attempts": 1}),
        )


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Served]:
    """An emulator in this process (cn-hangzhou and us-east-1), its quotas on a manual clock; it
    declares a 3.0 function ``probe`` and a 2.0 one ``svc/probe`` (a handler answering ``ok``)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    (tmp_path / "quota_probe.py").write_text("def handler(event, context):\n    return 'ok'\n")
    functions = (
        FunctionSpec.parse(f"probe={tmp_path}:quota_probe.handler"),
        FunctionSpec.parse(f"svc/probe={tmp_path}:quota_probe.handler"),
    )
    emulator = Emulator(CREDENTIALS, [ALIBABA_REGION, AWS_REGION], reuse_wrapping_keys=True)
    clock = ManualMonotonic()
    service = Service(emulator, quotas=Quotas(monotonic=clock), declared_functions=functions)
    running = serve(emulator, "127.0.0.1", {ALIBABA_REGION: 0, AWS_REGION: 0}, service=service)
    try:
        yield Served(running, clock)
    finally:
        running.shutdown()


def _alibaba_error(call: Any) -> tuple[str, int]:
    with pytest.raises(ResponseException) as exc:
        call()
    return exc.value.code, exc.value.status_code


def test_off_by_default_over_http(served: Served) -> None:
    client = served.alibaba()
    key_id = client.create_key(kms_models.CreateKeyRequest()).body.key_metadata.key_id
    for _ in range(60):
        client.describe_key(kms_models.DescribeKeyRequest(key_id=key_id))
    assert served.admin("GET", "quotas")["enabled"] is False


def test_describe_key_group_split_over_http(served: Served) -> None:
    """50 DescribeKey in one second pass, the 51st is 429 Rejected.Throttling, ImportKeyMaterial's
    group still has room; two clients (two connection pools) share the account's window."""
    first, second = served.alibaba(), served.alibaba()
    key_id = first.create_key(kms_models.CreateKeyRequest(origin="EXTERNAL")).body.key_metadata.key_id
    assert served.admin("POST", "quotas", {"preset": "published"})["preset"] == "published"
    describe = kms_models.DescribeKeyRequest(key_id=key_id)
    for index in range(50):
        (first if index % 2 else second).describe_key(describe)
    assert _alibaba_error(lambda: second.describe_key(describe)) == ("Rejected.Throttling", 429)
    assert _alibaba_error(lambda: first.list_keys(kms_models.ListKeysRequest())) == ("Rejected.Throttling", 429)
    # ImportKeyMaterial counts against key management (write): admitted, then refused by the backend
    # for its made-up token, not throttled.
    request = kms_models.ImportKeyMaterialRequest(
        key_id=key_id, encrypted_key_material="AAAA", import_token="AAAA", key_material_expire_unix=0
    )
    assert _alibaba_error(lambda: first.import_key_material(request))[0] != "Rejected.Throttling"
    served.clock.now += 1.0
    first.describe_key(describe)
    report = served.admin("GET", "quotas")
    rows = {row["group"]: row for row in report["groups"]}
    assert (rows["query"]["admitted"], rows["query"]["throttled"], rows["query"]["peak_per_second"]) == (51, 2, 50)
    assert [bucket["admitted"] for bucket in rows["query"]["histogram"]] == [50, 1]
    assert (rows["modify"]["admitted"], rows["modify"]["throttled"]) == (1, 0)


def test_aws_get_parameters_for_import_one_per_second(served: Served) -> None:
    kms = served.aws()
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    served.admin("POST", "quotas", {"preset": "published"})
    params = {"KeyId": key_id, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}
    kms.get_parameters_for_import(**params)
    with pytest.raises(ClientError) as exc:
        served.aws().get_parameters_for_import(**params)  # another client, the same account
    error = exc.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 400)
    assert "retry-after" not in {name.lower() for name in error["ResponseMetadata"]["HTTPHeaders"]}
    kms.describe_key(KeyId=key_id)  # DescribeKey: its own quota
    served.clock.now += 1.0
    kms.get_parameters_for_import(**params)


def test_competing_workload_and_scale_over_http(served: Served) -> None:
    client = served.alibaba()
    key_id = client.create_key(kms_models.CreateKeyRequest()).body.key_metadata.key_id
    served.admin("POST", "quotas", {"preset": "published", "reserved": {"alibaba:query": 0.4}})
    describe = kms_models.DescribeKeyRequest(key_id=key_id)
    for _ in range(30):
        client.describe_key(describe)
    assert _alibaba_error(lambda: client.describe_key(describe)) == ("Rejected.Throttling", 429)
    (row,) = served.admin("GET", "quotas")["groups"]
    assert (row["quota"], row["effective"], row["capacity"]) == (50.0, 30.0, 30)
    served.admin("POST", "quotas", {"scale": 2, "reserved": {}})  # now 100/s: 70 more this second
    for _ in range(70):
        client.describe_key(describe)
    assert _alibaba_error(lambda: client.describe_key(describe)) == ("Rejected.Throttling", 429)
    served.admin("POST", "quotas/reset-stats")
    assert served.admin("GET", "quotas")["groups"] == []
    assert served.admin("DELETE", "quotas")["preset"] is None
    for _ in range(150):
        client.describe_key(describe)


def test_admin_refuses_bad_settings(served: Served) -> None:
    with pytest.raises(urllib.error.HTTPError) as exc:
        served.admin("POST", "quotas", {"alibaba": {"query": 0}})
    assert exc.value.code == 400 and "alibaba.query" in json.loads(exc.value.read())["error"]
    assert served.admin("GET", "quotas")["enabled"] is False


def test_reset_turns_quotas_off(served: Served) -> None:
    served.admin("POST", "quotas", {"preset": "published"})
    served.admin("POST", "reset")
    assert served.admin("GET", "quotas") == {
        "enabled": False,
        "config": QuotaSettings().to_json(),
        "now": served.clock.now,
        "groups": [],
    }


def test_function_compute_invocations_share_the_group_and_unsigned_calls_do_not_count(served: Served) -> None:
    from alibabacloud_fc20230330 import models as fc3_models
    from alibabacloud_fc20230330.client import Client as Fc3Client

    ((key_id, secret),) = CREDENTIALS.items()
    endpoint = f"127.0.0.1:{served.running.ports[ALIBABA_REGION]}"
    fc3 = Fc3Client(Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http"))
    fc2_client = fc2.Client(endpoint=f"http://{endpoint}", accessKeyID=key_id, accessKeySecret=secret)
    unsigned = fc2.Client(endpoint=f"http://{endpoint}", accessKeyID=key_id, accessKeySecret="not-the-secret")
    served.admin("POST", "quotas", {"alibaba": {"invocations": 2}})

    assert fc3.invoke_function("probe", fc3_models.InvokeFunctionRequest()).status_code == 200
    fc2_client.invoke_function("svc", "probe", payload=b"{}")
    with pytest.raises(ResponseException) as fc3_refused:
        fc3.invoke_function("probe", fc3_models.InvokeFunctionRequest())
    with pytest.raises(fc2.fc_exceptions.FcError) as fc2_refused:
        fc2_client.invoke_function("svc", "probe", payload=b"{}")
    with pytest.raises(fc2.fc_exceptions.FcError) as not_signed:
        unsigned.invoke_function("svc", "probe", payload=b"{}")

    assert (fc3_refused.value.code, fc3_refused.value.status_code) == ("ResourceExhausted", 429)
    assert (fc2_refused.value.err_code, fc2_refused.value.status_code) == ("ResourceExhausted", 429)
    assert (not_signed.value.err_code, not_signed.value.status_code) == ("SignatureNotMatch", 403)
    (row,) = served.admin("GET", "quotas")["groups"]
    assert (row["group"], row["admitted"], row["throttled"]) == ("invocations", 2, 2)
    assert len(served.admin("GET", "invocations")) == 2  # nothing throttled ran
