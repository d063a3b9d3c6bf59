"""The response validator (``tests/emulator/shapes.py``) on deliberately broken bodies, and proof
that the autouse hook (``tests/emulator/conftest.py``) sees real responses of every SDK."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import botocore.session
import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120.ListKeysRequest import ListKeysRequest
from botocore.config import Config as BotoConfig

from tests.emulator import shapes

KMS = botocore.session.get_session().get_service_model("kms")
METADATA = {
    "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "Arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "CreationDate": 1700000000.5,
    "Enabled": False,
    "KeyState": "PendingImport",
    "Origin": "EXTERNAL",
    "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
}


def aws(operation: str, body: Any) -> list[str]:
    return shapes.aws_problems(KMS.operation_model(operation).output_shape, body)


def test_a_conforming_aws_body_passes() -> None:
    assert aws("DescribeKey", {"KeyMetadata": METADATA}) == []
    token = base64.b64encode(b"token").decode()
    assert aws("GetParametersForImport", {"KeyId": "k", "ImportToken": token, "PublicKey": token}) == []
    assert aws("CreateAlias", {}) == [] and aws("CreateAlias", None) == []


@pytest.mark.parametrize(
    ("operation", "body", "problem"),
    [
        ("DescribeKey", {"KeyMetadata": {**METADATA, "Colour": "blue"}}, "$.KeyMetadata.Colour: not a member"),
        ("DescribeKey", {"KeyMetadata": {k: v for k, v in METADATA.items() if k != "KeyId"}}, "KeyId: required"),
        ("DescribeKey", {"KeyMetadata": {**METADATA, "Enabled": "false"}}, "Enabled: expected boolean"),
        ("DescribeKey", {"KeyMetadata": {**METADATA, "CreationDate": "2023-10-10"}}, "expected timestamp"),
        ("DescribeKey", {"KeyMetadata": {**METADATA, "KeyState": "Sleeping"}}, "'Sleeping' is not one of"),
        ("DescribeKey", {"KeyMetadata": {**METADATA, "KeyState": 1}}, "KeyState: expected string"),
        ("DescribeKey", {"KeyMetadata": {**METADATA, "EncryptionAlgorithms": "SYMMETRIC_DEFAULT"}}, "expected a list"),
        ("DescribeKey", {"KeyMetadata": []}, "$.KeyMetadata: expected an object"),
        ("GetParametersForImport", {"ImportToken": "not base64!"}, "ImportToken: expected blob"),
        ("ListKeys", {"Keys": [], "Truncated": True, "NextMarker": 7}, "NextMarker: expected string"),
        ("ListKeys", {"Keys": [{"KeyId": "k", "KeyArn": 1}]}, "$.Keys[0].KeyArn: expected string"),
        ("ListKeys", {"Keys": [], "Truncated": 1}, "Truncated: expected boolean"),
        ("CreateAlias", {"AliasName": "alias/x"}, "the operation has no output"),
    ],
)
def test_a_broken_aws_body_is_caught(operation: str, body: Any, problem: str) -> None:
    found = aws(operation, body)
    assert any(problem in p for p in found), found


def test_the_aws_hook_collects_and_never_raises() -> None:
    class Response:
        def __init__(self, status: int, content: bytes) -> None:
            self.status_code, self.content = status, content

    problems: list[str] = []
    hook = shapes.aws_hook(problems)
    model = KMS.operation_model("DescribeKey")
    hook(http_response=Response(200, b'{"KeyMetadata": {"KeyId": "k", "Extra": 1}}'), model=model)
    hook(http_response=Response(400, b'{"__type": "NotFoundException"}'), model=model)  # errors: not checked
    hook(http_response=Response(200, b"<html>"), model=model)  # not JSON: the SDK fails on it itself
    assert problems == ["kms.DescribeKey $.KeyMetadata.Extra: not a member of KeyMetadata"]


def test_a_conforming_alibaba_body_passes() -> None:
    body = {
        "RequestId": "r",
        "PageNumber": 1,
        "PageSize": 10,
        "TotalCount": 1,
        "Keys": {"Key": [{"KeyId": "k", "KeyArn": "acs:kms:cn-hangzhou:1:key/k"}]},
    }
    assert shapes.alibaba_body_problems("ListKeys", body) == []
    assert shapes.alibaba_body_problems("DescribeKey", {"RequestId": "r", "KeyMetadata": {"KeyId": "k"}}) == []


@pytest.mark.parametrize(
    ("action", "body", "problem"),
    [
        ("DescribeKey", {"RequestId": "r", "KeyMetadata": {"KeyId": "k", "Colour": "blue"}}, "Colour: not a field"),
        ("DescribeKey", {"RequestId": "r", "Extra": 1}, "$.Extra: not a field of DescribeKeyResponseBody"),
        ("DescribeKey", {"RequestId": 7}, "RequestId: expected str"),
        ("DescribeKey", {"KeyMetadata": "k"}, "$.KeyMetadata: expected an object"),
        ("ListKeys", {"PageNumber": "1"}, "PageNumber: expected int"),
        ("ListKeys", {"PageNumber": True}, "PageNumber: expected int"),
        ("ListKeys", {"Keys": {"Key": {"KeyId": "k"}}}, "$.Keys.Key: expected a list"),
        ("ListKeys", {"Keys": {"Key": [{"KeyId": 1}]}}, "$.Keys.Key[0].KeyId: expected str"),
        ("ListKeys", {"Keys": {"Key": [{"KeyId": "k", "Tags": []}]}}, "Key[0].Tags: not a field"),
        ("NoSuchAction", {}, "the SDK has no NoSuchActionResponseBody model"),
    ],
)
def test_a_broken_alibaba_body_is_caught(action: str, body: Any, problem: str) -> None:
    found = shapes.alibaba_body_problems(action, body)
    assert any(problem in p for p in found), found


def test_field_names_come_from_the_models_to_map() -> None:
    fields = shapes.alibaba_fields(kms_models.GetParametersForImportResponseBody)
    assert set(fields) == {"ImportToken", "KeyId", "PublicKey", "RequestId", "TokenExpireTime"}
    assert fields["TokenExpireTime"].kind is str


def test_the_hook_sees_every_sdk(emulator: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The autouse fixture checks what boto3, the Tea SDK and the legacy SDK receive."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    seen: list[str] = []
    aws_problems, alibaba_body_problems = shapes.aws_problems, shapes.alibaba_body_problems

    def spy_aws(shape: Any, value: Any, path: str = "$") -> list[str]:
        if path == "$":
            seen.append(f"aws:{shape.name if shape else None}")
        return aws_problems(shape, value, path)

    def spy_alibaba(action: str, body: Any) -> list[str]:
        seen.append(f"alibaba:{action}")
        return alibaba_body_problems(action, body)

    monkeypatch.setattr(shapes, "aws_problems", spy_aws)
    monkeypatch.setattr(shapes, "alibaba_body_problems", spy_alibaba)
    boto3.session.Session().client(
        "kms",
        region_name="us-east-1",
        endpoint_url=emulator.url("us-east-1"),
        aws_access_key_id=emulator.access_key_id,
        aws_secret_access_key=emulator.access_key_secret,
        config=BotoConfig(retries={"total_max_attempts": 1}),
    ).list_keys()
    region = "cn-hangzhou"
    KmsClient(
        Config(
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
            endpoint=emulator.endpoint(region),
            protocol="http",
            region_id=region,
        )
    ).list_keys(kms_models.ListKeysRequest())
    request = ListKeysRequest()
    request.set_endpoint(emulator.endpoint(region))
    request.set_protocol_type("http")
    AcsClient(emulator.access_key_id, emulator.access_key_secret, region).do_action_with_exception(request)
    assert seen == ["aws:ListKeysResponse", "alibaba:ListKeys", "alibaba:ListKeys"]
