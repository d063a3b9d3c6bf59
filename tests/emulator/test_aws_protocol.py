"""The AWS KMS protocol through real boto3 against the session emulator's us-east-1 port.

The whole BYOK import lifecycle, the documented errors (asserted by their exact type through
``client.exceptions`` where the model defines one), key-id forms, paging, and faults. Credentials
are passed explicitly, no AWS config or credentials file is read, and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap
from tests.emulator.signed_requests import acs3_headers, send_acs3

REGION = "us-east-1"
ACCOUNT = "123456789012"
DAY = 86400
LIFECYCLES = [("RSAES_OAEP_SHA_256", "RSA_2048"), ("RSA_AES_KEY_WRAP_SHA_256", "RSA_4096")]


@pytest.fixture(autouse=True)
def isolated_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """No AWS_* variable of the host, no config or credentials file, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    yield


def new_client(emulator: Any, *, access_key_id: str | None = None, secret: str | None = None, region: str = REGION):
    """A boto3 KMS client on the emulator's us-east-1 port; one attempt, no retries."""
    return boto3.session.Session().client(
        "kms",
        region_name=region,
        endpoint_url=emulator.url(REGION),
        aws_access_key_id=access_key_id or emulator.access_key_id,
        aws_secret_access_key=secret or emulator.access_key_secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def kms(emulator: Any) -> BaseClient:
    return new_client(emulator)


def clock(emulator: Any) -> float:
    """The emulator's time (what ``ValidTo`` is checked against)."""
    return emulator.admin("GET", "clock")["now"]


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def import_material(
    kms: BaseClient,
    key_id: str,
    material: bytes,
    *,
    algorithm: str = "RSAES_OAEP_SHA_256",
    spec: str = "RSA_2048",
    **extra: Any,
) -> dict[str, Any]:
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)
    public_key = load_public_key(base64.b64encode(params["PublicKey"]).decode())
    blob = wrap(public_key, material, WrappingAlgorithm(algorithm))
    return kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=blob, **extra)


def error_of(func: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        func()
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def external_key(kms: BaseClient, **params: Any) -> str:
    return kms.create_key(Origin="EXTERNAL", **params)["KeyMetadata"]["KeyId"]


# --- the import lifecycle ---


@pytest.mark.parametrize(("algorithm", "spec"), LIFECYCLES)
def test_import_lifecycle(kms: BaseClient, emulator: Any, algorithm: str, spec: str) -> None:
    material = os.urandom(32)
    created = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    key_id, arn = created["KeyId"], created["Arn"]
    assert arn == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert (created["KeyState"], created["Enabled"], created["Origin"]) == ("PendingImport", False, "EXTERNAL")
    assert "ValidTo" not in created and "ExpirationModel" not in created
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")

    first = clock(emulator) + 30 * DAY
    imported = import_material(kms, key_id, material, algorithm=algorithm, spec=spec, ValidTo=at(first))
    assert imported["KeyId"] == arn and len(imported["KeyMaterialId"]) == 64
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"], meta["ExpirationModel"]) == ("Enabled", True, "KEY_MATERIAL_EXPIRES")
    assert meta["ValidTo"] == at(int(first)) and meta["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=b"hello", EncryptionContext={"purpose": "test"})
    assert (encrypted["KeyId"], encrypted["EncryptionAlgorithm"]) == (arn, "SYMMETRIC_DEFAULT")
    blob = encrypted["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "test"})
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"hello", arn)

    later = first + 60 * DAY
    again = import_material(kms, key_id, material, algorithm=algorithm, spec=spec, ValidTo=at(later))
    assert again["KeyMaterialId"] == imported["KeyMaterialId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["ValidTo"] == at(int(later))
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(32), algorithm=algorithm, spec=spec, ValidTo=at(later))

    emulator.admin("POST", "clock", {"advance": later - clock(emulator) + 60})
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport" and "ValidTo" not in meta
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "test"})
    restored = import_material(kms, key_id, material, algorithm=algorithm, spec=spec, ValidTo=at(clock(emulator) + DAY))
    assert restored["KeyMaterialId"] == imported["KeyMaterialId"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "test"})["Plaintext"] == b"hello"


def test_material_that_does_not_expire(kms: BaseClient, emulator: Any) -> None:
    key_id = external_key(kms)
    import_material(kms, key_id, os.urandom(32), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE" and "ValidTo" not in meta
    emulator.admin("POST", "clock", {"advance": 400 * DAY})
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"valid_in": 366 * DAY}, id="more-than-365-days"),
        pytest.param({"valid_in": -60}, id="in-the-past"),
        pytest.param({}, id="expires-without-ValidTo"),
        pytest.param({"valid_in": DAY, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}, id="ValidTo-never-expires"),
    ],
)
def test_valid_to_rules(kms: BaseClient, emulator: Any, extra: dict[str, Any]) -> None:
    key_id = external_key(kms)
    params = dict(extra)
    if "valid_in" in params:
        params["ValidTo"] = at(clock(emulator) + params.pop("valid_in"))
    assert error_of(lambda: import_material(kms, key_id, os.urandom(32), **params)) == ("ValidationException", 400)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_valid_to_of_365_days_is_accepted(kms: BaseClient, emulator: Any) -> None:
    key_id = external_key(kms)
    import_material(kms, key_id, os.urandom(32), ValidTo=at(clock(emulator) + 365 * DAY - 60))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_import_token_errors(kms: BaseClient, emulator: Any) -> None:
    key_id, other = external_key(kms), external_key(kms)
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    assert abs(params["ParametersValidTo"].timestamp() - (clock(emulator) + DAY)) < 5
    public_key = load_public_key(base64.b64encode(params["PublicKey"]).decode())
    blob = wrap(public_key, os.urandom(32), WrappingAlgorithm.RSAES_OAEP_SHA_256)
    never = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "EncryptedKeyMaterial": blob}
    with pytest.raises(kms.exceptions.InvalidImportTokenException):
        kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], **never)
    with pytest.raises(kms.exceptions.InvalidImportTokenException):
        kms.import_key_material(KeyId=key_id, ImportToken=b"not-a-token", **never)
    emulator.admin("POST", "clock", {"advance": DAY + 1})
    with pytest.raises(kms.exceptions.ExpiredImportTokenException):
        kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], **never)


def test_material_that_is_not_256_bits_or_does_not_decrypt(kms: BaseClient) -> None:
    key_id = external_key(kms)
    never = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, os.urandom(16), **never)
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.import_key_material(
            KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=b"x" * 256, **never
        )


def test_import_type_and_key_material_id(kms: BaseClient) -> None:
    key_id, material = external_key(kms), os.urandom(32)
    never = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, material, ImportType="EXISTING_KEY_MATERIAL", **never)
    material_id = import_material(kms, key_id, material, ImportType="NEW_KEY_MATERIAL", **never)["KeyMaterialId"]
    again = import_material(
        kms, key_id, material, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=material_id, **never
    )
    assert again["KeyMaterialId"] == material_id
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):
        import_material(kms, key_id, material, KeyMaterialId="0" * 64, **never)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):  # NOTE: the same bytes are not new
        import_material(kms, key_id, material, ImportType="NEW_KEY_MATERIAL", **never)
    second = import_material(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL", **never)
    assert second["KeyMaterialId"] != material_id  # several materials: tests/emulator/test_aws_multi_material.py


def test_delete_imported_key_material(kms: BaseClient, emulator: Any) -> None:
    key_id, material = external_key(kms), os.urandom(32)
    material_id = import_material(kms, key_id, material, ValidTo=at(clock(emulator) + DAY))["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    deleted = kms.delete_imported_key_material(KeyId=key_id)
    assert deleted["KeyMaterialId"] == material_id and deleted["KeyId"].endswith(key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingImport" and "ExpirationModel" not in meta
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.decrypt(CiphertextBlob=blob)
    import_material(kms, key_id, material, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


# --- keys that cannot import, and keys that do not exist ---


def test_pkcs1_v1_5_is_refused_as_aws_retired_it(kms: BaseClient) -> None:
    """botocore's model still names RSAES_PKCS1_V1_5; AWS has refused it since 2023-10-10.
    (AES key wrap in the China Regions: the backend test, as the session serves no cn-north-1.)"""
    key_id = external_key(kms)
    with pytest.raises(kms.exceptions.UnsupportedOperationException) as exc:
        kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSAES_PKCS1_V1_5", WrappingKeySpec="RSA_2048")
    assert "October 10, 2023" in exc.value.response["Error"]["Message"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_aws_kms_key_cannot_import_but_encrypts(kms: BaseClient) -> None:
    meta = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"]
    assert (meta["Origin"], meta["KeyState"], meta["KeySpec"]) == ("AWS_KMS", "Enabled", "SYMMETRIC_DEFAULT")
    assert "ExpirationModel" not in meta and re.fullmatch(r"[0-9a-f]{64}", meta["CurrentKeyMaterialId"])
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.get_parameters_for_import(
            KeyId=meta["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.delete_imported_key_material(KeyId=meta["KeyId"])
    blob = kms.encrypt(KeyId=meta["Arn"], Plaintext=b"data")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=meta["KeyId"])["Plaintext"] == b"data"


@pytest.mark.parametrize(
    "key_id",
    [
        "00000000-0000-0000-0000-000000000000",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
        "alias/missing",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/missing",
    ],
)
def test_unknown_key_is_not_found(kms: BaseClient, key_id: str) -> None:
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=key_id)
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")


def test_create_key_rejects_what_is_not_modelled(kms: BaseClient) -> None:
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    with pytest.raises(kms.exceptions.UnsupportedOperationException):
        kms.create_key(Origin="AWS_CLOUDHSM")
    assert error_of(lambda: kms.create_key(KeyUsage="SIGN_VERIFY")) == ("ValidationException", 400)


# --- key id forms, aliases, listing, tags ---


def test_key_id_forms(kms: BaseClient) -> None:
    meta = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    kms.create_alias(AliasName="alias/byok", TargetKeyId=meta["KeyId"])
    forms = [meta["KeyId"], meta["Arn"], "alias/byok", f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/byok"]
    assert {kms.describe_key(KeyId=form)["KeyMetadata"]["KeyId"] for form in forms} == {meta["KeyId"]}
    with pytest.raises(kms.exceptions.NotFoundException):  # a key ARN of another region
        kms.describe_key(KeyId=meta["Arn"].replace(REGION, "eu-west-1"))


def test_decrypt_with_the_wrong_key_id_or_context(kms: BaseClient) -> None:
    first, second = kms.create_key()["KeyMetadata"]["KeyId"], kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/first", TargetKeyId=first)
    blob = kms.encrypt(KeyId="alias/first", Plaintext=b"data", EncryptionContext={"a": "1"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId="alias/first", EncryptionContext={"a": "1"})["Plaintext"] == b"data"
    with pytest.raises(kms.exceptions.IncorrectKeyException):
        kms.decrypt(CiphertextBlob=blob, KeyId=second, EncryptionContext={"a": "1"})
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "2"})
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=b"garbage")


def test_alias_errors(kms: BaseClient) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/taken", TargetKeyId=key_id)
    with pytest.raises(kms.exceptions.AlreadyExistsException):
        kms.create_alias(AliasName="alias/taken", TargetKeyId=key_id)
    with pytest.raises(kms.exceptions.InvalidAliasNameException):
        kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=key_id)
    with pytest.raises(ClientError) as raised:  # AWS's recorded answer (LocalStack's snapshot)
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key_id)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.create_alias(AliasName="alias/other", TargetKeyId="00000000-0000-0000-0000-000000000000")


def test_list_keys_pages_oldest_first(kms: BaseClient) -> None:
    created = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)]
    pages, marker = [], None
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        pages.append([k["KeyId"] for k in page["Keys"]])
        assert all(k["KeyArn"].endswith(f":key/{k['KeyId']}") for k in page["Keys"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [key for p in pages for key in p] == created
    paginated = kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 3})
    assert [k["KeyId"] for page in paginated for k in page["Keys"]] == created
    with pytest.raises(kms.exceptions.InvalidMarkerException):
        kms.list_keys(Marker="***")


def test_list_resource_tags(kms: BaseClient) -> None:
    tags = [{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": ""}]
    key_id = kms.create_key(Origin="EXTERNAL", Tags=tags)["KeyMetadata"]["KeyId"]
    listed = kms.list_resource_tags(KeyId=key_id)
    assert listed["Tags"] == sorted(tags, key=lambda t: t["TagKey"]) and listed["Truncated"] is False
    assert kms.list_resource_tags(KeyId=kms.create_key()["KeyMetadata"]["KeyId"])["Tags"] == []


def test_keys_of_the_alibaba_protocol_are_not_seen(kms: BaseClient, emulator: Any) -> None:
    endpoint = emulator.endpoint(REGION)
    query = {"Origin": "EXTERNAL"}
    headers = acs3_headers(
        endpoint, emulator.access_key_id, emulator.access_key_secret, action="CreateKey", query=query
    )
    alibaba_key = send_acs3(endpoint, headers, query).body["KeyMetadata"]["KeyId"]
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.describe_key(KeyId=alibaba_key)
    assert kms.list_keys()["Keys"] == []


# --- faults and the calls log ---


def test_faults_and_calls_log_apply_to_aws_calls(kms: BaseClient, emulator: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    emulator.admin("POST", "faults", {"error_rate": 1, "error_code": "Throttling", "actions": ["DescribeKey"]})
    assert error_of(lambda: kms.describe_key(KeyId=key_id)) == ("ThrottlingException", 400)
    kms.encrypt(KeyId=key_id, Plaintext=b"x")  # not targeted
    emulator.admin("POST", "faults", {"error_rate": 1, "error_code": "InternalFailure"})
    assert error_of(lambda: kms.describe_key(KeyId=key_id)) == ("KMSInternalException", 500)
    emulator.admin("DELETE", "faults")
    calls = [c for c in emulator.admin("GET", "calls") if c["region"] == REGION]
    assert [(c["action"], c["key_id"], c["outcome"]) for c in calls] == [
        ("CreateKey", None, "Success"),
        ("DescribeKey", key_id, "ThrottlingException"),
        ("Encrypt", key_id, "Success"),
        ("DescribeKey", key_id, "KMSInternalException"),
    ]
    assert set(calls[0]) == {"time", "region", "action", "key_id", "outcome"}
