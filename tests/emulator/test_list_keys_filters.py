"""``ListKeys``' ``Filters`` (:mod:`emulator.backend.key_filters`): through the official Tea SDK over
HTTP against the session emulator, and on the backend directly (the same errors)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms20160120.client import Client as KmsClient
from alibabacloud_tea_openapi.models import Config
from darabonba.exceptions import ResponseException

from emulator.backend import key_filters
from emulator.clock import FixedClock
from emulator.core import Emulator
from emulator.errors import ServiceError

REGION = "cn-hangzhou"
ListKeys = Callable[..., tuple[list[str], int]]


@pytest.fixture
def client(emulator: Any) -> KmsClient:
    return KmsClient(
        Config(
            access_key_id=emulator.access_key_id,
            access_key_secret=emulator.access_key_secret,
            endpoint=emulator.endpoint(REGION),
            protocol="http",
            region_id=REGION,
        )
    )


@pytest.fixture
def keys(client: KmsClient) -> dict[str, str]:
    """Four keys: ``plain`` (Enabled), ``external`` (PendingImport, alias, tags renew=true, team=a),
    ``disabled`` (tags renew=false, other=true), ``hsm`` (an HSM key, tag team=a)."""

    def create(**params: Any) -> str:
        return client.create_key(kms_models.CreateKeyRequest(**params)).body.key_metadata.key_id

    def tag(key_id: str, **tags: str) -> None:
        body = json.dumps([{"TagKey": k, "TagValue": v} for k, v in tags.items()])
        client.tag_resource(kms_models.TagResourceRequest(key_id=key_id, tags=body))

    made = {
        "plain": create(),
        "external": create(origin="EXTERNAL"),
        "disabled": create(),
        "hsm": create(protection_level="HSM"),
    }
    client.create_alias(kms_models.CreateAliasRequest(alias_name="alias/renew-me", key_id=made["external"]))
    client.disable_key(kms_models.DisableKeyRequest(key_id=made["disabled"]))
    tag(made["external"], renew="true", team="a")
    tag(made["disabled"], renew="false", other="true")
    tag(made["hsm"], team="a")
    return made


@pytest.fixture
def list_keys(client: KmsClient) -> ListKeys:
    """``ListKeys`` with these filters (a list, sent as JSON; a string, sent as is): ids and TotalCount."""

    def call(filters: Any, page_size: int = 100, page_number: int = 1) -> tuple[list[str], int]:
        text = filters if isinstance(filters, str) else json.dumps(filters)
        request = kms_models.ListKeysRequest(filters=text, page_size=page_size, page_number=page_number)
        body = client.list_keys(request).body
        return [row.key_id for row in body.keys.key], body.total_count

    return call


def _names(keys: dict[str, str], ids: list[str]) -> set[str]:
    by_id = {key_id: name for name, key_id in keys.items()}
    return {by_id[key_id] for key_id in ids}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([], {"plain", "external", "disabled", "hsm"}),
        ([{"Key": "KeyState", "Values": ["Enabled"]}], {"plain", "hsm"}),
        ([{"Key": "KeyState", "Values": ["Disabled", "PendingImport"]}], {"external", "disabled"}),
        ([{"Key": "ProtectionLevel", "Values": ["HSM"]}], {"hsm"}),
        ([{"Key": "KeyState", "Values": ["Enabled"]}, {"Key": "ProtectionLevel", "Values": ["SOFTWARE"]}], {"plain"}),
        ([{"Key": "KeySpec", "Values": ["Aliyun_AES_256"]}, {"Key": "KeyUsage", "Values": ["ENCRYPT/DECRYPT"]}], None),
        ([{"Key": "AliasName", "Values": ["alias/renew-me"]}], {"external"}),
        ([{"Key": "AliasName", "Values": ["renew-me"]}], set()),  # NOTE: the full alias name
        ([{"Key": "TagKey", "Values": ["team"]}], {"external", "hsm"}),
        ([{"Key": "TagValue", "Values": ["true"]}], {"external", "disabled"}),
        # Both: one and the same tag must match (disabled has renew=false and other=true: no).
        ([{"Key": "TagKey", "Values": ["renew"]}, {"Key": "TagValue", "Values": ["true"]}], {"external"}),
        ([{"Key": "CreatorType", "Values": ["User"]}], None),
        ([{"Key": "CreatorType", "Values": ["Service"]}], set()),
        ([{"Key": "DKMSInstanceId", "Values": ["kst-hzz1234"]}], set()),
        ([{"Key": "KeyState", "Values": []}], set()),
    ],
)
def test_filters_over_the_sdk(
    keys: dict[str, str], list_keys: ListKeys, filters: list[dict[str, Any]], expected: set[str] | None
) -> None:
    ids, total = list_keys(filters)
    assert _names(keys, ids) == (set(keys) if expected is None else expected)
    assert total == len(ids)


def test_key_id_and_creator(keys: dict[str, str], list_keys: ListKeys, client: KmsClient) -> None:
    ids, _ = list_keys([{"Key": "keyId", "Values": [keys["plain"], keys["hsm"]]}])
    assert _names(keys, ids) == {"plain", "hsm"}
    creator = client.describe_key(kms_models.DescribeKeyRequest(key_id=keys["plain"])).body.key_metadata.creator
    ids, _ = list_keys([{"Key": "Creator", "Values": [creator]}])
    assert _names(keys, ids) == set(keys)
    assert list_keys([{"Key": "Creator", "Values": ["someone-else"]}]) == ([], 0)


def test_paging_counts_the_filtered_keys(keys: dict[str, str], list_keys: ListKeys) -> None:
    filters = [{"Key": "KeyState", "Values": ["Enabled", "Disabled", "PendingImport"]}]
    first, total = list_keys(filters, page_size=2, page_number=1)
    second, total_again = list_keys(filters, page_size=2, page_number=2)
    assert (total, total_again, len(first), len(second)) == (4, 4, 2, 2)
    assert set(first + second) == set(keys.values())
    enabled, total = list_keys([{"Key": "KeyState", "Values": ["Enabled"]}], page_size=1, page_number=2)
    assert total == 2 and len(enabled) == 1


@pytest.mark.parametrize(
    "filters",
    [
        "not json",
        json.dumps({"Key": "KeyState", "Values": ["Enabled"]}),  # an object, not an array
        json.dumps([{"Key": "Colour", "Values": ["blue"]}]),
        json.dumps([{"Key": "KeyId", "Values": ["x"]}]),  # documented as keyId
        json.dumps([{"Values": ["Enabled"]}]),
    ],
)
def test_invalid_filters_over_the_sdk(keys: dict[str, str], list_keys: ListKeys, filters: str) -> None:
    with pytest.raises(ResponseException) as exc:
        list_keys(filters)
    assert (exc.value.code, exc.value.status_code) == ("InvalidParameter", 400)


def test_a_name_given_twice_ors_its_values_over_the_sdk(keys: dict[str, str], list_keys: ListKeys) -> None:
    filters = [{"Key": "KeyState", "Values": ["Enabled"]}, {"Key": "KeyState", "Values": ["Disabled"]}]
    ids, _ = list_keys(filters)
    assert _names(keys, ids) == {"plain", "hsm", "disabled"}


# --- the backend directly -------------------------------------------------------------------------


@pytest.fixture
def backend() -> Any:
    emulator = Emulator({"id": "secret"}, [REGION], clock=FixedClock(1_800_000_000.0))
    return emulator.backend(REGION).kms


def test_a_name_given_twice_ors_its_values_the_model_example(backend: Any) -> None:
    """The SDK model's example: (Enabled OR Disabled OR PendingDeletion) AND Aliyun_AES_256."""
    enabled = backend.create_key().key_id
    disabled = backend.create_key().key_id
    backend.disable_key(disabled)
    backend.create_key(origin="EXTERNAL")  # PendingImport
    backend.create_key(key_spec="Aliyun_SM4", protection_level="HSM")  # Enabled, another spec
    filters = [
        {"Key": "KeyState", "Values": ["Enabled", "Disabled"]},
        {"Key": "KeyState", "Values": ["PendingDeletion"]},
        {"Key": "KeySpec", "Values": ["Aliyun_AES_256"]},
    ]
    assert [key.key_id for key in backend.list_keys(json.dumps(filters))] == [enabled, disabled]
    assert [key.key_id for key in backend.list_keys(filters)] == [enabled, disabled]


def test_same_tag_must_match_both_names(backend: Any) -> None:
    wanted = backend.create_key(tags={"renew": "true"}).key_id
    backend.create_key(tags={"renew": "false", "other": "true"})
    filters = [{"Key": "TagKey", "Values": ["renew"]}, {"Key": "TagValue", "Values": ["true"]}]
    assert [key.key_id for key in backend.list_keys(filters)] == [wanted]


@pytest.mark.parametrize(
    ("filters", "detail"),
    [
        ([{"Key": "KeyState", "Values": ["Enabled"]}] * 11, "At most 10 filters"),
        ([{"Key": "KeyState", "Values": ["Enabled"] * 11}], "At most 10 values"),
        ([{"Key": "KeyState", "Values": "Enabled"}], "array of strings"),
        ([{"Key": "KeyState", "Values": [1]}], "array of strings"),
        ([{"Key": "TagKey"}, "KeyState"], "Expected"),
        ("[", "JSON"),
    ],
)
def test_invalid_filters_on_the_backend(backend: Any, filters: Any, detail: str) -> None:
    with pytest.raises(ServiceError) as exc:
        backend.list_keys(filters)
    assert (exc.value.code, exc.value.http_status) == ("InvalidParameter", 400)
    assert exc.value.message.startswith("The specified parameter Filters is not valid.") and detail in exc.value.message


def test_the_documented_names() -> None:
    assert {
        "KeyState",
        "KeySpec",
        "KeyUsage",
        "ProtectionLevel",
        "CreatorType",
        "DKMSInstanceId",
        "keyId",
        "AliasName",
        "Creator",
        "TagKey",
        "TagValue",
    } == key_filters.NAMES
