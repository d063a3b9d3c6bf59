"""The whole BYOK import lifecycle through every official SDK the emulator must satisfy:
``alibabacloud-kms20160120`` with its default ACS3 signature and with ``signature_algorithm='v2'``,
and the legacy ``aliyun-python-sdk-kms`` on ``aliyun-python-sdk-core``. Errors are asserted by
their exact ``Code`` and HTTP status, as each SDK surfaces them."""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from darabonba.exceptions import ResponseException

from renewer.materials.wrapping import ALIBABA_ALGORITHMS, WrappingAlgorithm, load_public_key, wrap

MATERIAL = os.urandom(32)
Call = Callable[..., dict[str, Any]]


class ApiError(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"{code} ({status})")
        self.code, self.status = code, status


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def new_sdk(emulator: Any, region: str, signature_algorithm: str | None) -> Call:
    client = KmsClient(
        Config(
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
            endpoint=emulator.endpoint(region),
            protocol="http",
            region_id=region,
            signature_algorithm=signature_algorithm,
        )
    )

    def call(action: str, **params: Any) -> dict[str, Any]:
        request = getattr(kms_models, f"{action}Request")(**{_snake(k): v for k, v in params.items()})
        try:
            return getattr(client, _snake(action))(request).body.to_map()
        except ResponseException as exc:
            raise ApiError(exc.code, exc.status_code) from exc

    return call


def legacy_sdk(emulator: Any, region: str) -> Call:
    client = AcsClient(emulator.access_key_id, emulator.access_key_secret, region)

    def call(action: str, **params: Any) -> dict[str, Any]:
        module = importlib.import_module(f"aliyunsdkkms.request.v20160120.{action}Request")
        request = getattr(module, f"{action}Request")()
        request.set_endpoint(emulator.endpoint(region))
        request.set_protocol_type("http")
        for name, value in params.items():
            getattr(request, f"set_{name}")(value)
        try:
            return json.loads(client.do_action_with_exception(request))
        except ServerException as exc:
            raise ApiError(exc.get_error_code(), exc.get_http_status()) from exc

    return call


@pytest.fixture(params=["acs3", "v2", "legacy"])
def sdk(request: pytest.FixtureRequest, emulator: Any) -> Callable[[str], Call]:
    """A factory: ``sdk(region)`` is a ``call(action, **params)`` through the chosen SDK."""
    if request.param == "legacy":
        return lambda region="cn-hangzhou": legacy_sdk(emulator, region)
    algorithm = "v2" if request.param == "v2" else None
    return lambda region="cn-hangzhou": new_sdk(emulator, region, algorithm)


def _import(call: Call, key_id: str, material: bytes, expire: int, algorithm: str = "RSAES_OAEP_SHA_256") -> None:
    params = call("GetParametersForImport", KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    blob = wrap(load_public_key(params["PublicKey"]), material, WrappingAlgorithm(algorithm))
    call(
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=base64.b64encode(blob).decode(),
        KeyMaterialExpireUnix=expire,
    )


def _iso(unix: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))


def _error(func: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ApiError) as exc:
        func()
    return exc.value.code, exc.value.status


# RSA wrapping for a SOFTWARE key; SM2PKE (HSM keys only) is tests/emulator/test_sm4_sm2.py's.
@pytest.mark.parametrize("algorithm", sorted(a.value for a in ALIBABA_ALGORITHMS if a.value != "SM2PKE"))
def test_import_lifecycle(sdk: Callable[[str], Call], emulator: Any, algorithm: str) -> None:
    call = sdk("cn-hangzhou")
    key = call("CreateKey", Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    assert key["Arn"] == f"acs:kms:cn-hangzhou:{key['Creator']}:key/{key['KeyId']}"
    assert key["MaterialExpireTime"] == ""
    key_id = key["KeyId"]
    assert _error(lambda: call("Encrypt", KeyId=key_id, Plaintext="x")) == ("Rejected.PendingImport", 409)

    first_expiry = int(time.time()) + 3600
    _import(call, key_id, MATERIAL, first_expiry, algorithm)
    meta = call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["MaterialExpireTime"] == _iso(first_expiry)
    blob = call("Encrypt", KeyId=key_id, Plaintext="hello")["CiphertextBlob"]
    assert call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "hello"

    later = first_expiry + 90 * 86400
    _import(call, key_id, MATERIAL, later, algorithm)
    assert call("DescribeKey", KeyId=key_id)["KeyMetadata"]["MaterialExpireTime"] == _iso(later)
    assert _error(lambda: _import(call, key_id, os.urandom(32), later, algorithm)) == ("InvalidKeyMaterial", 400)
    assert call("DescribeKey", KeyId=key_id)["KeyMetadata"]["MaterialExpireTime"] == _iso(later)

    emulator.admin("POST", "clock", {"advance": later - time.time() + 60})
    assert call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert _error(lambda: call("Decrypt", CiphertextBlob=blob)) == ("Rejected.PendingImport", 409)
    restored = int(time.time() + (later - time.time() + 60) + 86400)
    _import(call, key_id, MATERIAL, restored, algorithm)
    assert call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert call("Decrypt", CiphertextBlob=blob)["Plaintext"] == "hello"


def test_documented_errors(sdk: Callable[[str], Call], emulator: Any) -> None:
    call = sdk("cn-hangzhou")
    external = call("CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    generated = call("CreateKey")["KeyMetadata"]["KeyId"]
    other = call("CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    call("CreateAlias", AliasName="alias/byok", KeyId=external)

    assert _error(lambda: call("DescribeKey", KeyId="key-missing")) == ("Forbidden.KeyNotFound", 404)
    assert _error(lambda: call("DescribeKey", KeyId="alias/missing")) == ("Forbidden.AliasNotFound", 404)
    assert call("DescribeKey", KeyId="alias/byok")["KeyMetadata"]["KeyId"] == external
    params = dict(WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert _error(lambda: call("GetParametersForImport", KeyId=generated, **params)) == ("Unsupported.Origin", 400)
    assert _error(lambda: call("GetParametersForImport", KeyId="alias/byok", **params)) == ("Unsupported.Alias", 400)

    token = call("GetParametersForImport", KeyId=external, **params)
    blob = base64.b64encode(wrap(load_public_key(token["PublicKey"]), MATERIAL, WrappingAlgorithm.RSAES_OAEP_SHA_256))
    good = dict(EncryptedKeyMaterial=blob.decode(), KeyMaterialExpireUnix=0)
    imports = {
        "token of another key": (
            lambda: call("ImportKeyMaterial", KeyId=other, ImportToken=token["ImportToken"], **good)
        ),
        "unknown token": (lambda: call("ImportKeyMaterial", KeyId=external, ImportToken="bm90LWEtdG9rZW4=", **good)),
    }
    for name, attempt in imports.items():
        assert _error(attempt) == ("InvalidImportToken", 400), name
    short = base64.b64encode(
        wrap(load_public_key(token["PublicKey"]), MATERIAL[:16], WrappingAlgorithm.RSAES_OAEP_SHA_256)
    )
    assert _error(
        lambda: call(
            "ImportKeyMaterial", KeyId=external, ImportToken=token["ImportToken"], EncryptedKeyMaterial=short.decode()
        )
    ) == ("InvalidKeyMaterial", 400)
    past = dict(EncryptedKeyMaterial=blob.decode(), KeyMaterialExpireUnix=int(time.time()) - 60)
    assert _error(lambda: call("ImportKeyMaterial", KeyId=external, ImportToken=token["ImportToken"], **past)) == (
        "InvalidParameter",
        400,
    )
    emulator.admin("POST", "clock", {"advance": 24 * 3600 + 1})
    assert _error(lambda: call("ImportKeyMaterial", KeyId=external, ImportToken=token["ImportToken"], **good)) == (
        "ExpiredImportToken",
        400,
    )
    call("ScheduleKeyDeletion", KeyId=other, PendingWindowInDays=7)
    assert _error(lambda: call("GetParametersForImport", KeyId=other, **params)) == ("Rejected.PendingDeletion", 409)
    assert _error(lambda: call("EnableKey", KeyId=external)) == ("Rejected.StateModifiedFailed", 409)


def test_regions_are_separate_services(sdk: Callable[[str], Call]) -> None:
    key_id = sdk("cn-hangzhou")("CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    assert _error(lambda: sdk("cn-shanghai")("DescribeKey", KeyId=key_id)) == ("Forbidden.KeyNotFound", 404)


def test_listing_tags_aliases_and_secrets(sdk: Callable[[str], Call]) -> None:
    call = sdk("cn-hangzhou")
    tagged = call("CreateKey", Origin="EXTERNAL", Tags=json.dumps([{"TagKey": "byok", "TagValue": "payments"}]))
    key_id = tagged["KeyMetadata"]["KeyId"]
    for _ in range(3):
        call("CreateKey")
    page = call("ListKeys", PageNumber=1, PageSize=2)
    assert page["TotalCount"] == 4 and len(page["Keys"]["Key"]) == 2
    pending = call("ListKeys", Filters=json.dumps([{"Key": "KeyState", "Values": ["PendingImport"]}]))
    assert [k["KeyId"] for k in pending["Keys"]["Key"]] == [key_id]
    assert call("ListResourceTags", KeyId=key_id)["Tags"]["Tag"][0]["TagValue"] == "payments"
    call("TagResource", KeyId=key_id, Tags=json.dumps([{"TagKey": "team", "TagValue": "core"}]))
    call("UntagResource", KeyId=key_id, TagKeys=json.dumps(["byok"]))
    assert [t["TagKey"] for t in call("ListResourceTags", KeyId=key_id)["Tags"]["Tag"]] == ["team"]
    call("CreateAlias", AliasName="alias/a", KeyId=key_id)
    assert call("ListAliasesByKeyId", KeyId=key_id)["Aliases"]["Alias"][0]["AliasName"] == "alias/a"
    assert call("ListAliases")["TotalCount"] == 1

    call("CreateSecret", SecretName="byok/t", VersionId="v1", SecretData="hello")
    call("PutSecretValue", SecretName="byok/t", VersionId="v2", SecretData="world")
    assert call("GetSecretValue", SecretName="byok/t")["SecretData"] == "world"
    previous = call("GetSecretValue", SecretName="byok/t", VersionStage="ACSPrevious")
    assert previous["SecretData"] == "hello" and previous["VersionId"] == "v1"
    raw = base64.b64encode(MATERIAL).decode()
    call("CreateSecret", SecretName="byok/b", VersionId="v1", SecretData=raw, SecretDataType="binary")
    binary = call("GetSecretValue", SecretName="byok/b")
    assert binary["SecretDataType"] == "binary" and base64.b64decode(binary["SecretData"]) == MATERIAL
    assert _error(lambda: call("GetSecretValue", SecretName="byok/none")) == ("Forbidden.ResourceNotFound", 404)


def test_missing_parameter_and_unknown_action(emulator: Any) -> None:
    call = new_sdk(emulator, "cn-hangzhou", None)
    assert _error(lambda: call("DescribeKey")) == ("MissingParameter", 400)
    legacy = AcsClient(emulator.access_key_id, emulator.access_key_secret, "cn-hangzhou")
    from aliyunsdkcore.request import CommonRequest

    request = CommonRequest(domain=emulator.endpoint(), version="2016-01-20", action_name="NoSuchAction")
    request.set_protocol_type("http")
    with pytest.raises(ServerException) as exc:
        legacy.do_action_with_exception(request)
    assert (exc.value.get_error_code(), exc.value.get_http_status()) == ("InvalidAction.NotFound", 404)
    request = CommonRequest(domain=emulator.endpoint(), version="2099-01-01", action_name="DescribeKey")
    request.set_protocol_type("http")
    with pytest.raises(ServerException) as exc:
        legacy.do_action_with_exception(request)
    assert exc.value.get_error_code() == "InvalidVersion"


def test_cloudmonitor_put_custom_metric(emulator: Any) -> None:
    from alibabacloud_cms20190101 import models as cms_models
    from alibabacloud_cms20190101.client import Client as CmsClient

    client = CmsClient(
        Config(
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
            endpoint=emulator.endpoint(),
            protocol="http",
            region_id="cn-hangzhou",
        )
    )
    entry = cms_models.PutCustomMetricRequestMetricList(
        group_id="0", metric_name="M", dimensions='{"k":"v"}', time="1", type="0", values='{"value": 2}'
    )
    client.put_custom_metric(cms_models.PutCustomMetricRequest(metric_list=[entry] * 21))
    assert len(emulator.admin("GET", "metrics")) == 21
    with pytest.raises(ResponseException) as exc:
        client.put_custom_metric(cms_models.PutCustomMetricRequest(metric_list=[entry] * 22))
    assert (exc.value.code, exc.value.status_code) == ("InvalidParameter", 400)
