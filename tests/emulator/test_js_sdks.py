"""The BYOK import lifecycle through the official JavaScript SDKs, so a wire detail only Python's SDKs
tolerate fails the suite (issue #14).

Node runs the drivers in ``tests/js/`` against the session emulator over real HTTP on 127.0.0.1; each
prints one JSON object that these tests assert field by field. The SDKs are the pinned dev
dependencies of ``package.json`` (``make test`` installs them with ``npm ci``):

- ``@aws-sdk/client-kms`` (AWS SDK for JavaScript v3), SigV4, including its clock-skew correction;
- ``@alicloud/openapi-client``, the runtime of the current Alibaba Cloud TypeScript SDK (its generated
  ``kms20160120`` client, 2.x, is published on GitHub but not on npm; each of its methods is one
  ``callApi`` with the same ``Params``, which the driver makes), signing with ACS3-HMAC-SHA256 (its
  default), ACS3-HMAC-SM3 or v2;
- ``@alicloud/kms20160120`` 1.2.0, the newest on npm: the legacy generated client on
  ``@alicloud/rpc-client`` (signature v1, HMAC-SHA1).

Without ``node`` on PATH the tests skip; with node but without the packages they fail.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVERS = ROOT / "tests" / "js"
NODE = shutil.which("node")
PACKAGES = ("@aws-sdk/client-kms", "@alicloud/openapi-client", "@alicloud/kms20160120")
AWS_REGION = "us-east-1"
ALIBABA_REGION = "cn-hangzhou"
DAY = 86400

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not on PATH: the JavaScript SDK tests need Node.js")


def run_driver(script: str, *args: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``tests/js/SCRIPT`` with node (only ``env`` and PATH in its environment); its JSON output."""
    missing = [p for p in PACKAGES if not (ROOT / "node_modules" / p / "package.json").is_file()]
    assert not missing, f"{missing} not in node_modules/: run `make test` (or `npm ci --ignore-scripts`)"
    assert NODE is not None
    completed = subprocess.run(
        [NODE, str(DRIVERS / script), *args],
        env={"PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def clock(emulator: Any) -> float:
    return emulator.admin("GET", "clock")["now"]


# --- AWS SDK for JavaScript v3 ---


def aws_env(emulator: Any, **extra: str) -> dict[str, str]:
    return {
        "KMS_ENDPOINT": emulator.url(AWS_REGION),
        "KMS_REGION": AWS_REGION,
        "AWS_ACCESS_KEY_ID": emulator.access_key_id,
        "AWS_SECRET_ACCESS_KEY": emulator.access_key_secret,
        "AWS_EC2_METADATA_DISABLED": "true",
        "BYOK_MATERIAL_HEX": os.urandom(32).hex(),
        **extra,
    }


def test_aws_sdk_import_lifecycle(emulator: Any) -> None:
    valid_to = int(clock(emulator)) + 30 * DAY
    out = run_driver("aws_lifecycle.mjs", "lifecycle", env=aws_env(emulator, BYOK_VALID_TO=str(valid_to)))
    created = out["created"]
    key_id, arn = created["KeyId"], created["Arn"]
    assert arn == f"arn:aws:kms:{AWS_REGION}:123456789012:key/{key_id}"
    assert created == {
        "KeyId": key_id,
        "Arn": arn,
        "KeyState": "PendingImport",
        "Enabled": False,
        "Origin": "EXTERNAL",
        "ExpirationModel": None,
        "ValidTo": None,
        "CurrentKeyMaterialId": None,
    }
    assert out["pendingEncrypt"] == {"name": "KMSInvalidStateException", "status": 400}
    params = out["params"]
    assert params["keyId"] == arn and params["publicKeyBytes"] == 294 and params["importTokenBytes"] > 0
    assert 0 < params["parametersValidTo"] - clock(emulator) <= DAY
    material_id = out["imported"]["KeyMaterialId"]
    assert out["imported"]["KeyId"] == arn and len(material_id) == 64
    assert out["described"] == {
        **created,
        "KeyState": "Enabled",
        "Enabled": True,
        "ExpirationModel": "KEY_MATERIAL_EXPIRES",
        "ValidTo": valid_to,
        "CurrentKeyMaterialId": material_id,
    }
    assert out["encrypted"]["KeyId"] == arn and out["encrypted"]["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert out["encrypted"]["blobBytes"] > 0
    assert out["decrypted"] == {"KeyId": arn, "Plaintext": "hello"}
    assert out["wrongMaterial"] == {"name": "IncorrectKeyMaterialException", "status": 400}
    assert out["aliasDuplicate"] == {"name": "AlreadyExistsException", "status": 400}
    alias_arn = f"arn:aws:kms:{AWS_REGION}:123456789012:alias/js-byok"
    assert out["aliases"] == [{"AliasName": "alias/js-byok", "AliasArn": alias_arn, "TargetKeyId": key_id}]
    assert out["byAlias"] == key_id


CLOCK_CASES = [
    pytest.param(0, -3600, 2, id="client-1h-behind"),
    pytest.param(2 * 3600, -3600, 2, id="client-1h-behind-emulator-2h-ahead"),
    pytest.param(2 * 3600, 0, 1, id="emulator-2h-ahead"),
]


@pytest.mark.parametrize(("moved", "client_offset", "attempts"), CLOCK_CASES)
def test_aws_sdk_corrects_its_clock_from_the_date_header(
    emulator: Any, moved: int, client_offset: int, attempts: int
) -> None:
    """The emulator's clock moves ``moved`` seconds, the client starts ``client_offset`` seconds off
    real time. A first request off both clocks by over 15 minutes is refused (``InvalidSignatureException``,
    a clock-skew code for the SDK), the SDK learns the service's time from that response's ``Date`` and
    retries; one signed with real time is accepted and the SDK learns from its ``Date``. Every later
    request is signed with the service's time, which the emulator accepts by its own clock."""
    if moved:
        emulator.admin("POST", "clock", {"advance": moved})
    service_now = clock(emulator)
    env = aws_env(emulator, BYOK_CLIENT_OFFSET_MS=str(client_offset * 1000))
    out = run_driver("aws_lifecycle.mjs", "clock-skew", env=env)
    assert out["attempts"] == attempts and out["keyState"] == "PendingImport"
    skew = service_now - time.time()
    assert abs(out["learnedOffsetMs"] / 1000 - skew) < 5
    first, *later = [calendar.timegm(time.strptime(s, "%Y%m%dT%H%M%SZ")) for s in out["signedAt"]]
    assert abs(first - (out["now"] + client_offset)) < 10
    assert len(later) == attempts and all(abs(t - (out["now"] + skew)) < 10 for t in later)


# --- Alibaba Cloud ---


def alibaba_env(emulator: Any, **extra: str) -> dict[str, str]:
    return {
        "KMS_ENDPOINT": emulator.endpoint(ALIBABA_REGION),
        "KMS_REGION": ALIBABA_REGION,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.access_key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.access_key_secret,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "BYOK_MATERIAL_HEX": os.urandom(32).hex(),
        **extra,
    }


def expected_error(code: str, status: int, sdk: str) -> dict[str, Any]:
    """What the driver reports: the service's code and status, and the code as the SDK names it
    (rpc-client, under the legacy client, appends ``Error``)."""
    return {"code": code, "status": status, "sdkCode": f"{code}Error" if sdk == "legacy" else code}


ALIBABA_SDKS = [
    pytest.param(("openapi", "ACS3-HMAC-SHA256"), id="openapi-acs3-hmac-sha256"),
    pytest.param(("openapi", "v2"), id="openapi-v2"),
    pytest.param(("legacy",), id="legacy-kms20160120-1.2.0"),
    pytest.param(("openapi", "ACS3-HMAC-SM3"), id="openapi-acs3-hmac-sm3"),
]


@pytest.mark.parametrize("sdk_args", ALIBABA_SDKS)
def test_alibaba_sdk_import_lifecycle(emulator: Any, sdk_args: tuple[str, ...]) -> None:
    sdk = sdk_args[0]
    expire = int(clock(emulator)) + 30 * DAY
    env = alibaba_env(emulator, BYOK_EXPIRE_UNIX=str(expire))
    out = run_driver("alibaba_lifecycle.mjs", *sdk_args, env=env)
    created = out["created"]
    key_id = created["KeyId"]
    assert created == {
        "KeyId": key_id,
        "Arn": f"acs:kms:{ALIBABA_REGION}:1234567890123456:key/{key_id}",
        "KeyState": "PendingImport",
        "Origin": "EXTERNAL",
        "MaterialExpireTime": "",
        "KeyUsage": "ENCRYPT/DECRYPT",
        "KeySpec": "Aliyun_AES_256",
    }
    assert out["pendingEncrypt"] == expected_error("Rejected.PendingImport", 409, sdk)
    params = out["params"]
    assert params["KeyId"] == key_id and params["publicKeyBytes"] == 294 and params["tokenLength"] > 0
    token_expiry = calendar.timegm(time.strptime(params["TokenExpireTime"], "%Y-%m-%dT%H:%M:%SZ"))
    assert 0 < token_expiry - clock(emulator) <= DAY
    assert out["imported"] == ["RequestId"]
    assert out["described"] == {**created, "KeyState": "Enabled", "MaterialExpireTime": iso(expire)}
    assert out["encrypted"]["KeyId"] == key_id and out["encrypted"]["KeyVersionId"]
    assert out["encrypted"]["blobLength"] > 0
    assert out["decrypted"] == {"KeyId": key_id, "Plaintext": "hello"}
    assert out["wrongMaterial"] == expected_error("InvalidKeyMaterial", 400, sdk)
    assert out["aliasDuplicate"] == expected_error("AliasAlreadyExists", 400, sdk)
    alias_arn = f"acs:kms:{ALIBABA_REGION}:1234567890123456:alias/js-byok"
    assert out["aliases"] == {
        "TotalCount": 1,
        "Alias": [{"AliasName": "alias/js-byok", "AliasArn": alias_arn, "KeyId": key_id}],
    }
    assert out["missingKey"] == expected_error("Forbidden.KeyNotFound", 404, sdk)
    assert out["secret"] == {
        "SecretName": "js/byok",
        "VersionId": "v1",
        "SecretDataType": "binary",
        "matches": True,
        "VersionStages": {"VersionStage": ["ACSCurrent"]},
    }
    assert out["missingSecret"] == expected_error("Forbidden.ResourceNotFound", 404, sdk)


def iso(unix: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix))
