"""Issue #14, "Emulator defects": each fix checked over real HTTP against the spawned emulator,
with the official Alibaba SDK (ACS3) or boto3, errors asserted by their exact code and status.

1. a millisecond ``KeyMaterialExpireUnix`` is refused, and no stored expiry can break DescribeKey;
2. ImportKeyMaterial on a key pending deletion is ``Rejected.StateModifiedFailed``;
3. a duplicate alias is ``AliasAlreadyExists`` (400);
4. AWS ``ListResourceTags`` with an alias is ``NotFoundException``; ``CreateAlias`` without
   ``alias/`` is ``ValidationException``;
5. a disabled key stays Disabled when its expired material is imported again;
6. signatures are judged against the clock the ``Date`` header shows, too;
7. AWS ``ListAliases``;
8. ``CurrentKeyMaterialId`` of symmetric ``AWS_KMS`` keys.
"""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.auth
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from emulator.backend.kms import KmsBackend
from emulator.backend.store import Store
from emulator.backend.timefmt import iso
from emulator.clock import LATEST, FixedClock
from emulator.errors import state_modify_failed
from emulator.protocol.aws import to_aws
from emulator.responses import key_metadata
from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap
from tests.emulator.signed_requests import acs3_headers, send_acs3, send_v1, v1_params
from tests.emulator.test_aws_protocol import isolated_aws_env as isolated_aws_env  # autouse, for this module too
from tests.emulator.test_aws_protocol import new_client
from tests.emulator.test_sdk_lifecycle import ApiError, Call, new_sdk

REGION = "cn-hangzhou"
AWS_REGION = "us-east-1"
HOUR = 3600
MILLISECONDS_EXPIRY = 1_803_933_844_000


@pytest.fixture
def call(emulator: Any) -> Call:
    """The official Alibaba SDK (``alibabacloud-kms20160120``, ACS3 signatures) on cn-hangzhou."""
    return new_sdk(emulator, REGION, None)


@pytest.fixture
def kms(emulator: Any) -> BaseClient:
    return new_client(emulator)


def clock(emulator: Any) -> float:
    return emulator.admin("GET", "clock")["now"]


def error(func: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ApiError) as raised:
        func()
    return raised.value.code, raised.value.status


def aws_error(func: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        func()
    return raised.value.response["Error"]["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]


def external_key(call: Call) -> str:
    return call("CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]


def parameters(call: Call, key_id: str) -> dict[str, Any]:
    return call(
        "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )


def import_with(call: Call, key_id: str, params: dict[str, Any], material: bytes, expire: int) -> dict[str, Any]:
    blob = wrap(load_public_key(params["PublicKey"]), material, WrappingAlgorithm.RSAES_OAEP_SHA_256)
    return call(
        "ImportKeyMaterial",
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=base64.b64encode(blob).decode(),
        KeyMaterialExpireUnix=expire,
    )


def state(call: Call, key_id: str) -> str:
    return call("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"]


# --- 1. KeyMaterialExpireUnix in milliseconds ---


def test_millisecond_expiry_is_refused_and_the_key_still_describes(call: Call) -> None:
    key_id = external_key(call)
    material = os.urandom(32)
    code = error(lambda: import_with(call, key_id, parameters(call, key_id), material, MILLISECONDS_EXPIRY))
    assert code == ("InvalidParameter", 400)
    meta = call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["MaterialExpireTime"]) == ("PendingImport", "")
    import_with(call, key_id, parameters(call, key_id), material, int(LATEST))  # the last second accepted
    meta = call("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["MaterialExpireTime"]) == ("Enabled", "2099-12-31T23:59:59Z")


def test_any_stored_expiry_formats_safely() -> None:
    """State written before the import refused milliseconds (a --state file) must still describe."""
    kms = KmsBackend(REGION, "1234567890123456", FixedClock(1_700_000_000), Store())
    key = kms.create_key()
    for stored in (MILLISECONDS_EXPIRY, 1e300, float("inf"), float("nan")):
        kms.keys[key.key_id].material_expire = stored
        meta = key_metadata(kms.describe_key(key.key_id))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["MaterialExpireTime"])
    assert iso(MILLISECONDS_EXPIRY) == "9999-12-31T23:59:59Z"
    assert iso(-1) == "1970-01-01T00:00:00Z"


# --- 2. ImportKeyMaterial on a key pending deletion ---


def test_import_into_a_key_pending_deletion_is_state_modified_failed(call: Call) -> None:
    key_id = external_key(call)
    params = parameters(call, key_id)  # a token taken before the deletion was scheduled
    call("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    code = error(lambda: import_with(call, key_id, params, os.urandom(32), 0))
    assert code == ("Rejected.StateModifiedFailed", 409)
    assert error(lambda: parameters(call, key_id)) == ("Rejected.PendingDeletion", 409)  # its own row: unchanged

    # AWS names the same refusal KMSInvalidStateException (the AWS port serves no ScheduleKeyDeletion)
    assert to_aws(state_modify_failed("PendingDeletion")).code == "KMSInvalidStateException"


# --- 3. duplicate alias ---


def test_duplicate_alias_is_alias_already_exists(call: Call, kms: BaseClient) -> None:
    first, second = (call("CreateKey")["KeyMetadata"]["KeyId"] for _ in range(2))
    call("CreateAlias", KeyId=first, AliasName="alias/taken")
    assert error(lambda: call("CreateAlias", KeyId=second, AliasName="alias/taken")) == ("AliasAlreadyExists", 400)
    assert call("ListAliasesByKeyId", KeyId=first)["Aliases"]["Alias"][0]["AliasName"] == "alias/taken"

    aws_key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/aws-taken", TargetKeyId=aws_key)
    code = aws_error(lambda: kms.create_alias(AliasName="alias/aws-taken", TargetKeyId=aws_key))
    assert code == ("AlreadyExistsException", 400)


# --- 4. AWS error codes from the operation's list, or as recorded ---


def test_list_resource_tags_with_an_alias_is_not_found(kms: BaseClient) -> None:
    meta = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "payments"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/tagged", TargetKeyId=meta["KeyId"])
    alias_arn = f"arn:aws:kms:{AWS_REGION}:{meta['AWSAccountId']}:alias/tagged"
    for key_id in ("alias/tagged", alias_arn):
        code = aws_error(lambda key_id=key_id: kms.list_resource_tags(KeyId=key_id))
        # botocore's model: KMSInternalException, NotFoundException, InvalidArnException, InvalidMarkerException
        assert code == ("NotFoundException", 400)
    for key_id in (meta["KeyId"], meta["Arn"]):
        assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]


def test_create_alias_without_the_prefix_is_validation_exception(kms: BaseClient) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert aws_error(lambda: kms.create_alias(AliasName="no-prefix", TargetKeyId=key_id)) == (
        "ValidationException",
        400,
    )
    code = aws_error(lambda: kms.create_alias(AliasName="alias/aws/reserved", TargetKeyId=key_id))
    assert code == ("InvalidAliasNameException", 400)


# --- 5. a disabled key stays disabled through a re-import ---


def test_disabled_key_stays_disabled_when_expired_material_is_imported_again(emulator: Any, call: Call) -> None:
    material = os.urandom(32)
    disabled, enabled = external_key(call), external_key(call)
    soon = int(clock(emulator)) + 120
    for key_id in (disabled, enabled):
        import_with(call, key_id, parameters(call, key_id), material, soon)
    call("DisableKey", KeyId=disabled)
    emulator.admin("POST", "clock", {"advance": 300})
    assert state(call, disabled) == state(call, enabled) == "PendingImport"
    later = int(clock(emulator)) + 30 * 86400
    for key_id in (disabled, enabled):
        import_with(call, key_id, parameters(call, key_id), material, later)
    assert (state(call, disabled), state(call, enabled)) == ("Disabled", "Enabled")
    call("EnableKey", KeyId=disabled)  # the administrator's decision to undo, not the import's
    assert state(call, disabled) == "Enabled"


def test_disabled_key_stays_disabled_after_delete_key_material_and_reimport(call: Call) -> None:
    material = os.urandom(32)
    key_id = external_key(call)
    import_with(call, key_id, parameters(call, key_id), material, 0)
    call("DisableKey", KeyId=key_id)
    call("DeleteKeyMaterial", KeyId=key_id)
    assert state(call, key_id) == "PendingImport"
    import_with(call, key_id, parameters(call, key_id), material, 0)
    assert state(call, key_id) == "Disabled"


# --- 6. the clock the Date header shows is the clock signatures are judged against ---


@pytest.fixture
def date_corrected_signing(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """botocore signing with its time corrected from a response's ``Date`` header, as the AWS SDK
    for JavaScript does (``correctClockSkew``): call the returned function with a ``Date``."""
    skew = timedelta(0)

    def corrected(remove_tzinfo: bool = True) -> datetime:  # botocore.compat.get_current_datetime's signature
        moment = datetime.now(timezone.utc) + skew
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    def correct_from(date_header: str) -> None:
        nonlocal skew
        skew = parsedate_to_datetime(date_header) - datetime.now(timezone.utc)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", corrected)
    yield correct_from


def test_aws_client_that_corrects_its_clock_from_date_keeps_working(
    emulator: Any, kms: BaseClient, date_corrected_signing: Callable[[str], None]
) -> None:
    emulator.admin("POST", "clock", {"advance": HOUR})
    first = kms.list_keys()  # signed with real time: still accepted
    date_header = first["ResponseMetadata"]["HTTPHeaders"]["date"]
    shown = parsedate_to_datetime(date_header).timestamp()
    assert shown == pytest.approx(time.time() + HOUR, abs=120)  # the Date header shows the moved clock
    date_corrected_signing(date_header)  # from now on the client signs an hour ahead of real time
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    ciphertext = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"x"


def test_aws_signature_an_hour_off_both_clocks_is_still_refused(
    emulator: Any, kms: BaseClient, date_corrected_signing: Callable[[str], None]
) -> None:
    ahead = datetime.now(timezone.utc) + timedelta(hours=1)
    date_corrected_signing(ahead.strftime("%a, %d %b %Y %H:%M:%S GMT"))  # the clock was not moved
    code = aws_error(lambda: kms.list_keys())
    assert code == ("InvalidSignatureException", 400)


def _service_timestamp(emulator: Any) -> str:
    return datetime.fromtimestamp(clock(emulator), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_alibaba_signatures_timed_by_the_emulator_clock_are_accepted(emulator: Any) -> None:
    endpoint = emulator.endpoint(REGION)
    emulator.admin("POST", "clock", {"advance": HOUR})
    when = _service_timestamp(emulator)
    headers = acs3_headers(endpoint, emulator.access_key_id, emulator.access_key_secret, date=when)
    reply = send_acs3(endpoint, headers)
    assert reply.status == 200, reply.body
    assert send_acs3(endpoint, headers).code == "SignatureNonceUsed"  # a replay is still refused
    v1 = v1_params(emulator.access_key_id, emulator.access_key_secret, when=when)
    assert send_v1(endpoint, v1).status == 200
    # real time is still accepted too: a client with its own clock keeps working
    headers = acs3_headers(endpoint, emulator.access_key_id, emulator.access_key_secret)
    assert send_acs3(endpoint, headers).status == 200


def test_alibaba_timestamp_an_hour_off_both_clocks_is_refused(emulator: Any) -> None:
    endpoint = emulator.endpoint(REGION)
    ahead = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = acs3_headers(endpoint, emulator.access_key_id, emulator.access_key_secret, date=ahead)
    reply = send_acs3(endpoint, headers)
    assert (reply.status, reply.code) == (400, "IllegalTimestamp")


# --- 7. AWS ListAliases ---


def test_list_aliases_per_the_model(kms: BaseClient, call: Call) -> None:
    first, second = (kms.create_key()["KeyMetadata"] for _ in range(2))
    names = ["alias/a-one", "alias/b-two", "alias/c-three"]
    kms.create_alias(AliasName=names[0], TargetKeyId=first["KeyId"])
    kms.create_alias(AliasName=names[1], TargetKeyId=first["Arn"])
    kms.create_alias(AliasName=names[2], TargetKeyId=second["KeyId"])
    alibaba_key = call("CreateKey")["KeyMetadata"]["KeyId"]  # a key of the other protocol: not listed
    call("CreateAlias", KeyId=alibaba_key, AliasName="alias/alibaba")
    emulator_region = kms.meta.region_name

    listed = kms.list_aliases()
    assert listed["Truncated"] is False and "NextMarker" not in listed
    assert [alias["AliasName"] for alias in listed["Aliases"]] == names
    entry = listed["Aliases"][0]
    assert entry["AliasArn"] == f"arn:aws:kms:{emulator_region}:{first['AWSAccountId']}:alias/a-one"
    assert entry["TargetKeyId"] == first["KeyId"]
    assert entry["CreationDate"] == entry["LastUpdatedDate"]
    assert isinstance(entry["CreationDate"], datetime)

    by_key = kms.list_aliases(KeyId=first["Arn"])["Aliases"]
    assert [alias["AliasName"] for alias in by_key] == names[:2]
    assert kms.list_aliases(KeyId=second["KeyId"])["Aliases"][0]["AliasName"] == names[2]

    page = kms.list_aliases(Limit=2)
    assert page["Truncated"] is True and len(page["Aliases"]) == 2
    rest = kms.list_aliases(Limit=2, Marker=page["NextMarker"])
    assert [alias["AliasName"] for alias in page["Aliases"] + rest["Aliases"]] == names
    assert rest["Truncated"] is False
    paginated = [
        a["AliasName"]
        for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 1})
        for a in p["Aliases"]
    ]
    assert paginated == names

    assert aws_error(lambda: kms.list_aliases(KeyId="00000000-0000-0000-0000-000000000000"))[0] == "NotFoundException"
    assert aws_error(lambda: kms.list_aliases(Marker="%%%"))[0] == "InvalidMarkerException"
    assert aws_error(lambda: kms.list_aliases(Limit=101))[0] == "ValidationException"


# --- 8. CurrentKeyMaterialId of AWS_KMS keys ---


def test_symmetric_aws_kms_key_has_a_current_key_material_id(kms: BaseClient) -> None:
    created = kms.create_key()["KeyMetadata"]
    assert re.fullmatch(r"[0-9a-f]{64}", created["CurrentKeyMaterialId"])
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert described["CurrentKeyMaterialId"] == created["CurrentKeyMaterialId"]
    other = kms.create_key()["KeyMetadata"]["CurrentKeyMaterialId"]
    assert other != created["CurrentKeyMaterialId"]
    external = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert "CurrentKeyMaterialId" not in external  # no material yet
