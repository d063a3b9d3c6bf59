"""Issue #11: the safety-critical negative paths, end to end through the handler, the official SDKs
and the live emulator. Each test fails if the check it names is taken out of the function:

* a stale import token (``ExpiredImportToken``/``InvalidImportToken``, on AWS ``...Exception``):
  new import parameters and another try, at most three in all;
* an expiry the service rejects (``InvalidParameter`` about ``KeyMaterialExpireUnix``, AWS's
  ``ValidationException`` about ``ValidTo``): reported as this function's clock being behind;
* ``FanoutFailed``: the coordinator could not invoke its workers, and imported nothing itself;
* ``KeyMaterialIdChanged``: the AWS import answered for another material than the key's current one;
* ``VerificationFailed``: the service took the import, but the key seen right after is not what it
  asked for (another actor acted in between): ``unverified``, not ``renewed``.

The services' errors come from the emulator's fault injection (``count`` limits them, ``error_message``
carries the text the function reads); another actor is an operator's SDK client acting between the
function's import and its check.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from renewer.credentials import Credentials
from renewer.entry.context import LocalContext
from renewer.errors import RenewalFailedError
from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap
from tests.function.conftest import Cloud, Invocation, outcomes
from tests.function.test_reliability import MATERIAL, fleet_config
from tests.function.test_safety import one_aws_key

DAY = 86400
IMPORT_ATTEMPTS = 3  # the function's bound on fresh import parameters per key (renewer.run.flow)
AWS_MATERIAL = bytes(range(224, 256))  # what one_aws_key imports and configures
OTHER_MATERIAL_ID = "ab" * 32  # a KeyMaterialId (64 hex digits) no import here produces


@dataclass
class OneKey:
    """One due key (its material expires in 3 to 5 days) and a configuration for it alone."""

    cloud: str
    key_id: str
    config: dict[str, Any]
    expires: Callable[[], float]  # the key's expiry as the service holds it now


def one_key(which: str, cloud: Cloud, request: pytest.FixtureRequest) -> OneKey:
    if which == "alibaba":
        key = cloud.key_with_material(MATERIAL, 5)
        return OneKey(
            "alibaba", key, fleet_config(cloud, [key]), lambda: _unix(cloud.describe(key).material_expire_time)
        )
    aws = request.getfixturevalue("aws")  # moto for the secret, boto3's environment: AWS cases only
    key, config = one_aws_key(aws)
    return OneKey("aws", key, config, lambda: aws["kms"].describe_key(KeyId=key)["KeyMetadata"]["ValidTo"].timestamp())


def _unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def fail_imports(cloud: Cloud, code: str, **more: Any) -> None:
    """The service refuses ``ImportKeyMaterial`` with ``code`` (every time, unless ``count``)."""
    cloud.admin("POST", "faults", {"error_rate": 1, "error_code": code, "actions": ["ImportKeyMaterial"], **more})


def entry(result: Invocation) -> dict[str, Any]:
    [key] = result.report["keys"]
    return key


def import_outcomes(result: Invocation) -> list[str]:
    return [c["outcome"] for c in result.actions("ImportKeyMaterial")]


STALE_TOKENS = [
    ("alibaba", "ExpiredImportToken"),
    ("alibaba", "InvalidImportToken"),
    ("aws", "ExpiredImportTokenException"),
    ("aws", "InvalidImportTokenException"),
]


# ---- a stale import token -----------------------------------------------------------------------------


@pytest.mark.parametrize(("which", "code"), STALE_TOKENS)
def test_a_token_refused_once_gets_new_parameters_and_the_key_is_renewed(
    cloud: Cloud, invoke, request, which: str, code: str
) -> None:
    key = one_key(which, cloud, request)
    before = key.expires()
    fail_imports(cloud, code, count=1)
    result = invoke(key.config)
    assert result.error is None, result.report
    assert outcomes(result.report) == {key.key_id: "renewed"}
    assert len(result.actions("GetParametersForImport")) == 2  # fresh parameters for the second try
    assert import_outcomes(result) == [code, "Success"]
    assert [n for n in entry(result)["notes"] if code in n], entry(result)["notes"]
    assert key.expires() > before + 80 * DAY


@pytest.mark.parametrize(("which", "code"), STALE_TOKENS)
def test_a_token_refused_every_time_fails_the_key_after_three_attempts(
    cloud: Cloud, invoke, request, which: str, code: str
) -> None:
    key = one_key(which, cloud, request)
    before = key.expires()
    fail_imports(cloud, code)
    result = invoke(key.config)
    assert isinstance(result.error, RenewalFailedError)
    assert outcomes(result.report) == {key.key_id: "failed"}
    assert entry(result)["error"]["code"] == code
    assert len(result.actions("GetParametersForImport")) == IMPORT_ATTEMPTS
    assert import_outcomes(result) == [code] * IMPORT_ATTEMPTS
    assert key.expires() == before


# ---- an expiry the service rejects ----------------------------------------------------------------------

#: The texts the emulator's own checks give for these refusals (emulator/backend/imports.py,
#: emulator/aws_responses.py): the parameter is named, as the services name it.
REJECTED_EXPIRY = [
    ("alibaba", "InvalidParameter", "The specified parameter KeyMaterialExpireUnix is not valid."),
    ("aws", "ValidationException", "ValidTo must be in the future and at most 365 days from now."),
]


@pytest.mark.parametrize(("which", "code", "message"), REJECTED_EXPIRY)
def test_a_rejected_expiry_says_the_functions_clock_is_probably_behind(
    cloud: Cloud, invoke, request, which: str, code: str, message: str
) -> None:
    key = one_key(which, cloud, request)
    before = key.expires()
    fail_imports(cloud, code, error_message=message)
    result = invoke(key.config)
    assert outcomes(result.report) == {key.key_id: "failed"}
    error = entry(result)["error"]
    assert error["code"] == code
    assert message in error["message"]  # the service's own words are kept
    assert "clock is probably behind" in error["message"]
    assert import_outcomes(result) == [code]  # not retried: the same expiry would be refused again
    assert key.expires() == before


@pytest.mark.parametrize(
    ("which", "code", "message"),
    [
        ("alibaba", "InvalidParameter", "The specified parameter WrappingAlgorithm is not valid."),
        ("aws", "ValidationException", "1 validation error detected: Value null at 'importToken'"),
    ],
)
def test_another_invalid_parameter_is_not_blamed_on_the_clock(
    cloud: Cloud, invoke, request, which: str, code: str, message: str
) -> None:
    key = one_key(which, cloud, request)
    fail_imports(cloud, code, error_message=message)
    result = invoke(key.config)
    error = entry(result)["error"]
    assert error["code"] == code and message in error["message"]
    assert "clock" not in error["message"]


# ---- FanoutFailed -----------------------------------------------------------------------------------------


def fanout_fleet(cloud: Cloud, function: str) -> tuple[list[str], dict[str, Any]]:
    """Three due keys, one per shard: a coordinator fans them out to ``function``."""
    keys = [cloud.key_with_material(MATERIAL, 2 + i) for i in range(3)]
    config = fleet_config(cloud, keys)
    config["fanout"] = {"service": "byok-renewer", "function": function, "shard_size": 1}
    return keys, config


def assert_nothing_imported(cloud: Cloud, result: Invocation, keys: list[str], before: dict[str, str]) -> None:
    # The coordinator only described, and read the material once (the check every run makes).
    assert sorted(c["action"] for c in result.calls if c["action"] != "DescribeKey") == ["GetSecretValue"]
    assert cloud.admin("GET", "invocations") == []  # no worker ran
    assert {k: cloud.describe(k).material_expire_time for k in keys} == before


def test_workers_that_cannot_be_invoked_fail_their_keys_with_fanout_failed(cloud: Cloud, invoke, monkeypatch) -> None:
    keys, config = fanout_fleet(cloud, "no-such-function")  # Function Compute answers FunctionNotFound
    before = {k: cloud.describe(k).material_expire_time for k in keys}
    monkeypatch.setenv("RENEWER_FC_ENDPOINT", f"http://{cloud.endpoints['cn-hangzhou']}")
    context = LocalContext(
        credentials=Credentials(cloud.access_key_id, cloud.access_key_secret, "sts-token"),
        region="cn-hangzhou",
        account_id="1234567890123456",
    )
    result = invoke(config, context=context)
    assert isinstance(result.error, RenewalFailedError)
    assert outcomes(result.report) == dict.fromkeys(keys, "failed")
    errors = [k["error"] for k in result.report["keys"]]
    assert {e["code"] for e in errors} == {"FanoutFailed"}
    assert all("FunctionNotFound" in e["message"] for e in errors), errors
    shards = result.report["run"]["shards"]
    assert [(s["id"], s["of"], s["status"]) for s in shards] == [(i, 3, "failed") for i in (1, 2, 3)]
    assert_nothing_imported(cloud, result, keys, before)


def test_no_function_compute_endpoint_fails_the_keys_with_fanout_failed(cloud: Cloud, invoke) -> None:
    keys, config = fanout_fleet(cloud, "renewer")
    before = {k: cloud.describe(k).material_expire_time for k in keys}
    result = invoke(config)  # no RENEWER_FC_ENDPOINT, and the context names no account to build it from
    assert isinstance(result.error, RenewalFailedError)
    assert {k["key_id"]: k["error"]["code"] for k in result.report["keys"]} == dict.fromkeys(keys, "FanoutFailed")
    assert all("RENEWER_FC_ENDPOINT" in k["error"]["message"] for k in result.report["keys"])
    assert_nothing_imported(cloud, result, keys, before)


# ---- KeyMaterialIdChanged ------------------------------------------------------------------------------------


def test_an_aws_import_answering_for_another_material_fails_key_material_id_changed(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch
) -> None:
    """The function re-imports the key material it listed, by its id; an answer naming another key
    material means the key now holds other material than the one renewed: a failure, never
    ``renewed``. (A key rotated to newer material is found before any import, by ListKeyRotations:
    tests/function/test_aws_multi_material.py.) The service's answer is rewritten on its way back."""
    from renewer.clouds.aws import AwsKms

    key, config = one_aws_key(aws)
    ours = aws["kms"].describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    real = AwsKms.import_key_material

    def answers_for_another(self: Any, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        return OTHER_MATERIAL_ID

    monkeypatch.setattr(AwsKms, "import_key_material", answers_for_another)
    result = invoke(config)
    assert isinstance(result.error, RenewalFailedError)
    assert outcomes(result.report) == {key: "failed"}
    error = entry(result)["error"]
    assert error["code"] == "KeyMaterialIdChanged"
    assert OTHER_MATERIAL_ID in error["message"] and ours in error["message"]
    assert entry(result)["key_material_id"] == OTHER_MATERIAL_ID  # what the service answered, not what we expected
    assert import_outcomes(result) == ["Success"]  # the service took it: that is how the id came back


# ---- VerificationFailed ------------------------------------------------------------------------------------


def another_actor_after_import(monkeypatch: pytest.MonkeyPatch, target: type, act: Callable[[str], None]) -> None:
    """Between the function's accepted import and its check, another actor (an operator, another
    tool) changes the key through the service: ``act(key_id)`` runs right after the import returns."""
    real = target.import_key_material

    def import_then_act(self: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, key_id, *args, **kwargs)
        act(key_id)
        return answer

    monkeypatch.setattr(target, "import_key_material", import_then_act)


def assert_unverified(result: Invocation, key_id: str, *words: str) -> None:
    assert isinstance(result.error, RenewalFailedError)
    assert outcomes(result.report) == {key_id: "unverified"}
    key = entry(result)
    assert key["error"]["code"] == "VerificationFailed"
    assert key["expires_after_verified"] is False
    for word in words:
        assert word in key["error"]["message"], key["error"]["message"]


def test_a_key_disabled_right_after_the_import_is_unverified(cloud: Cloud, invoke, monkeypatch) -> None:
    from alibabacloud_kms20160120 import models as kms_models

    from renewer.clouds.alibaba import AlibabaKms

    def disable(key_id: str) -> None:
        cloud.kms().disable_key(kms_models.DisableKeyRequest(key_id=key_id))

    key = cloud.key_with_material(MATERIAL, 5)
    another_actor_after_import(monkeypatch, AlibabaKms, disable)
    result = invoke(fleet_config(cloud, [key]))
    assert_unverified(result, key, "Disabled", "Enabled")
    assert cloud.describe(key).key_state == "Disabled"


def aws_reimport(kms: Any, key_id: str, material: bytes, valid_to: datetime) -> None:
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public_key = load_public_key(base64.b64encode(params["PublicKey"]).decode())
    kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(public_key, material, WrappingAlgorithm.RSAES_OAEP_SHA_256),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=valid_to,
    )


def test_an_aws_expiry_shortened_right_after_the_import_is_unverified(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch
) -> None:
    """An operator re-imports the same material by hand for 10 days, just after the function's import."""
    from renewer.clouds.aws import AwsKms

    key, config = one_aws_key(aws)
    ten_days = datetime.now(timezone.utc) + timedelta(days=10)
    another_actor_after_import(
        monkeypatch, AwsKms, lambda key_id: aws_reimport(aws["kms"], key_id, AWS_MATERIAL, ten_days)
    )
    result = invoke(config)
    assert_unverified(result, key, "expires")
    assert entry(result)["expires_after"] > ten_days.strftime("%Y-%m-%dT%H:%M:%SZ")  # what the import asked for


def test_aws_material_deleted_right_after_the_import_is_unverified(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch
) -> None:
    from renewer.clouds.aws import AwsKms

    def delete(key_id: str) -> None:
        aws["kms"].delete_imported_key_material(KeyId=key_id)

    key, config = one_aws_key(aws)
    another_actor_after_import(monkeypatch, AwsKms, delete)
    result = invoke(config)
    assert_unverified(result, key, "PendingImport", "Enabled")
    assert aws["kms"].describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
