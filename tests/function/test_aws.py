"""One material, two clouds: Alibaba Cloud keys and an AWS key renewed in one run. AWS KMS is the
emulator (JSON 1.1 protocol, SigV4); Secrets Manager and CloudWatch are moto's server, started here
on loopback. boto3 finds both through its own endpoint variables (``AWS_ENDPOINT_URL_KMS``, ...)."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap
from tests.function.conftest import EVENTS, Cloud, assert_no_secrets, modules_a_run_loads, outcomes, spy_on_imports

MATERIAL = bytes(range(224, 256))  # not all printable: raw bytes no one could read as text
OTHER = bytes(range(160, 192))
AWS_REGION = "us-east-1"


def aws_key(kms: Any, material: bytes | None, valid_days: float | None) -> str:
    key_id = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]["KeyId"]
    if material is not None:
        params = kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
        blob = wrap(
            load_public_key(base64.b64encode(params["PublicKey"]).decode()),
            material,
            WrappingAlgorithm.RSAES_OAEP_SHA_256,
        )
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=blob,
            ExpirationModel="KEY_MATERIAL_EXPIRES",
            ValidTo=datetime.now(timezone.utc) + timedelta(days=valid_days or 1),
        )
    return key_id


def secret_name(aws: dict[str, Any], material: bytes, binary: bool = False) -> str:
    name = f"byok/{os.urandom(4).hex()}"
    payload = {"SecretBinary": material} if binary else {"SecretString": base64.b64encode(material).decode()}
    aws["secrets"].create_secret(Name=name, **payload)
    return name


def test_one_material_two_clouds_one_run(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    hz = cloud.key_with_material(MATERIAL, 5)
    sh = cloud.create_key("cn-shanghai")
    us = aws_key(aws["kms"], MATERIAL, 5)
    before = aws["kms"].describe_key(KeyId=us)["KeyMetadata"]
    namespace = f"BYOK/{os.urandom(3).hex()}"
    config = {
        "metrics": {"cloudmonitor": {"group_id": 3}, "cloudwatch": {"namespace": namespace, "region": AWS_REGION}},
        "materials": [
            {
                "name": "payments",
                "source": {"type": "aws-secret", "name": secret_name(aws, MATERIAL, binary=True), "region": AWS_REGION},
                "keys": [
                    {"region": "cn-hangzhou", "key_id": hz},
                    {"region": "cn-shanghai", "key_id": sh},
                    {"cloud": "aws", "region": AWS_REGION, "key_id": us},
                ],
            }
        ],
    }
    result = invoke(config, event=(EVENTS / "timer.json").read_bytes())
    assert result.error is None, result.report
    assert outcomes(result.report) == {hz: "renewed", sh: "recovered", us: "renewed"}
    assert {k["cloud"] for k in result.report["keys"]} == {"alibaba", "aws"}
    after = aws["kms"].describe_key(KeyId=us)["KeyMetadata"]
    assert after["KeyState"] == "Enabled" and after["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert after["ValidTo"] > datetime.now(timezone.utc) + timedelta(days=89)
    entry = next(k for k in result.report["keys"] if k["cloud"] == "aws")
    assert entry["key_material_id"] == before["CurrentKeyMaterialId"] == after["CurrentKeyMaterialId"]
    # Metrics reached both clouds.
    assert any(m["MetricName"] == "KeyMaterialRenewals" for m in cloud.metrics())
    names = {m["MetricName"] for m in aws["cloudwatch"].list_metrics(Namespace=namespace)["Metrics"]}
    assert {"KeyMaterialRenewals", "SecondsUntilKeyMaterialExpiration", "KeyMaterialRenewalFailures"} <= names
    stats = aws["cloudwatch"].get_metric_statistics(
        Namespace=namespace,
        MetricName="KeyMaterialRenewals",
        Dimensions=[{"Name": "renewer", "Value": "byok-renewer"}],
        StartTime=datetime.now(timezone.utc) - timedelta(hours=1),
        EndTime=datetime.now(timezone.utc) + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [p["Maximum"] for p in stats["Datapoints"]] == [3.0]
    destinations = {d["destination"] for d in result.report["run"]["metrics"]["destinations"]}
    assert destinations == {"log", "cloudmonitor:cn-hangzhou", f"cloudwatch:{AWS_REGION}"}


def test_expired_aws_key_recovered_and_other_material_refused(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    expired = aws_key(aws["kms"], MATERIAL, 30 / 86400)  # 30 s: room for a slow machine
    cloud.advance_clock(60)  # ValidTo passed: the key is PendingImport
    assert aws["kms"].describe_key(KeyId=expired)["KeyMetadata"]["KeyState"] == "PendingImport"
    other_key = aws_key(aws["kms"], OTHER, 5)  # holds OTHER; the config offers MATERIAL
    source = {"type": "aws-secret", "name": secret_name(aws, MATERIAL), "region": AWS_REGION}
    config = {
        "materials": [
            {
                "name": "payments",
                "source": source,
                "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256",
                "keys": [{"cloud": "aws", "region": AWS_REGION, "key_id": k} for k in (expired, other_key)],
            }
        ]
    }
    result = invoke(config)
    keys = {k["key_id"]: k for k in result.report["keys"]}
    assert keys[expired]["outcome"] == "recovered"
    assert keys[other_key]["error"]["code"] == "IncorrectKeyMaterialException"
    assert aws["kms"].describe_key(KeyId=expired)["KeyMetadata"]["KeyState"] == "Enabled"
    assert aws["kms"].describe_key(KeyId=other_key)["KeyMetadata"]["KeyState"] == "Enabled"  # unchanged


def test_aws_alias_keys(aws: dict[str, Any], invoke) -> None:
    key_id = aws_key(aws["kms"], None, None)
    aws["kms"].create_alias(AliasName="alias/payments", TargetKeyId=key_id)
    source = {"type": "aws-secret", "name": secret_name(aws, MATERIAL), "region": AWS_REGION}
    keys = [{"cloud": "aws", "region": AWS_REGION, "key_id": "alias/payments"}]
    result = invoke({"materials": [{"name": "payments", "source": source, "keys": keys}]})
    assert result.error is None, result.report
    [entry] = result.report["keys"]
    assert entry["resolved_key_id"] == key_id and entry["outcome"] == "recovered"


def test_an_alibaba_only_configuration_does_not_import_boto3(cloud: Cloud) -> None:
    """Cold start: the handler, run end to end with an Alibaba-only configuration, never loads boto3."""

    cloud.secret("byok/payments", MATERIAL.hex())
    key = cloud.create_key()
    config = {
        "materials": [
            {
                "name": "payments",
                "source": {"type": "alibaba-secret", "name": "byok/payments", "region": "cn-hangzhou"},
                "keys": [{"region": "cn-hangzhou", "key_id": key}],
            }
        ]
    }
    assert modules_a_run_loads(cloud.emulator, config, ("boto3", "botocore", "fc2", "yaml")) == []
    assert cloud.describe(key).key_state == "Enabled"


def test_validity_beyond_a_year_is_refused_for_aws_keys(aws: dict[str, Any], invoke) -> None:
    from renewer.errors import ConfigError

    key_id = aws_key(aws["kms"], None, None)
    source = {"type": "aws-secret", "name": "byok/x", "region": AWS_REGION}
    keys = [{"cloud": "aws", "region": AWS_REGION, "key_id": key_id}]
    result = invoke({"materials": [{"name": "p", "source": source, "validity_days": 400, "keys": keys}]})
    assert isinstance(result.error, ConfigError) and "365" in str(result.error)
    assert result.calls == []


def test_lambda_handler_with_an_eventbridge_schedule(aws: dict[str, Any], monkeypatch) -> None:
    """The same package as an AWS Lambda function, fired by EventBridge."""
    import json
    from types import SimpleNamespace

    import lambda_handler

    due = aws_key(aws["kms"], MATERIAL, 3)
    source = {"type": "aws-secret", "name": secret_name(aws, MATERIAL), "region": AWS_REGION}
    keys = [{"cloud": "aws", "region": AWS_REGION, "key_id": due}]
    monkeypatch.setenv("RENEWER_CONFIG", json.dumps({"materials": [{"name": "p", "source": source, "keys": keys}]}))
    context = SimpleNamespace(
        invoked_function_arn=f"arn:aws:lambda:{AWS_REGION}:123456789012:function:byok-renewer",
        get_remaining_time_in_millis=lambda: 300_000,
    )
    event = json.loads((EVENTS / "eventbridge-scheduled.json").read_text())
    report = lambda_handler.handler(event, context)
    assert outcomes(report) == {due: "renewed"}
    assert report["run"]["trigger"].startswith("eventbridge:arn:aws:events:")


def test_no_secret_in_any_output_with_aws_keys(cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch) -> None:
    """The AWS path leaks nothing either: the material, boto3's import tokens and wrapped material
    (two-step RSA_AES_KEY_WRAP too), in no log line, report, exception or calls log."""
    from renewer.clouds.aws import AwsKms

    seen = spy_on_imports(monkeypatch, AwsKms)
    due = aws_key(aws["kms"], MATERIAL, 3)
    wrong = aws_key(aws["kms"], OTHER, 3)  # offered MATERIAL: refused
    source = {"type": "aws-secret", "name": secret_name(aws, MATERIAL), "region": AWS_REGION}
    keys = [{"cloud": "aws", "region": AWS_REGION, "key_id": k} for k in (due, wrong)]
    config = {
        "materials": [{"name": "p", "source": source, "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256", "keys": keys}]
    }
    result = invoke(config)
    assert {k["key_id"]: k["outcome"] for k in result.report["keys"]} == {due: "renewed", wrong: "failed"}
    assert len(seen) >= 4
    assert_no_secrets(result, cloud, [MATERIAL, OTHER], seen)
