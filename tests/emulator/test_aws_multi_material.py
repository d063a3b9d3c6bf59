"""AWS keys with several imported materials (issue #14), through real boto3 against the session
emulator's us-east-1 port: ``ImportType``, ``RotateKeyOnDemand``, ``ListKeyRotations``, each
material's own expiry, re-import by ``KeyMaterialId``, and decryption under a non-current material.

Material is wrapped with the emulator's own helper (:func:`emulator.cloud.wrap_for_import`).
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.client import BaseClient

from emulator.cloud import wrap_for_import
from tests.emulator.test_aws_protocol import isolated_aws_env, new_client  # noqa: F401  (an autouse fixture)

DAY = 86400


@pytest.fixture
def kms(emulator: Any) -> BaseClient:
    return new_client(emulator)


def at(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


def now(emulator: Any) -> float:
    return float(emulator.admin("GET", "clock")["now"])


def advance(emulator: Any, seconds: float) -> None:
    emulator.admin("POST", "clock", {"advance": seconds})


def put(kms: BaseClient, key_id: str, material: bytes, valid_to: float | None, **extra: Any) -> dict[str, Any]:
    """GetParametersForImport, wrap, ImportKeyMaterial (expiring at ``valid_to``, or never)."""
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    blob = wrap_for_import(base64.b64encode(params["PublicKey"]).decode(), material, "RSAES_OAEP_SHA_256")
    expiry = {"ValidTo": at(valid_to)} if valid_to else {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    return kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=blob, **expiry, **extra
    )


def rotations(kms: BaseClient, key_id: str, include: str = "ALL_KEY_MATERIAL") -> list[dict[str, Any]]:
    return kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial=include)["Rotations"]


def state(kms: BaseClient, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


@pytest.fixture
def two_materials(kms: BaseClient, emulator: Any) -> dict[str, Any]:
    """A key with a first material (expiring in 2 days) rotated out by a second (in 30 days)."""
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    first, second = os.urandom(32), os.urandom(32)
    t0 = now(emulator)
    first_id = put(kms, key_id, first, int(t0 + 2 * DAY), KeyMaterialDescription="first")["KeyMaterialId"]
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"under the first")["CiphertextBlob"]
    second_id = put(kms, key_id, second, int(t0 + 30 * DAY), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    return {"key_id": key_id, "first": first, "second": second, "first_id": first_id, "second_id": second_id,
            "t0": t0, "old_blob": old_blob}  # fmt: skip


def test_new_material_waits_for_rotation(kms: BaseClient, two_materials: dict[str, Any]) -> None:
    key_id, first_id, second_id = two_materials["key_id"], two_materials["first_id"], two_materials["second_id"]
    assert len(second_id) == 64 and second_id != first_id
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == first_id
    listed = rotations(kms, key_id)
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in listed] == [
        (first_id, "CURRENT"),
        (second_id, "PENDING_ROTATION"),
    ]
    assert rotations(kms, key_id, "ROTATIONS_ONLY") == []
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []  # ROTATIONS_ONLY is the default
    with pytest.raises(kms.exceptions.UnsupportedOperationException):  # one pending at a time (NOTE)
        put(kms, key_id, os.urandom(32), None, ImportType="NEW_KEY_MATERIAL")


def test_rotate_lists_both_with_states_and_valid_to(
    kms: BaseClient, emulator: Any, two_materials: dict[str, Any]
) -> None:
    key_id, t0 = two_materials["key_id"], two_materials["t0"]
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["CurrentKeyMaterialId"] == two_materials["second_id"] and meta["KeyState"] == "Enabled"
    old, new = rotations(kms, key_id)
    assert old["KeyMaterialId"] == two_materials["first_id"] and old["KeyMaterialState"] == "NON_CURRENT"
    assert old["ValidTo"] == at(int(t0 + 2 * DAY)) and old["ImportState"] == "IMPORTED"
    assert old["KeyMaterialDescription"] == "first" and "RotationDate" not in old
    assert new["KeyMaterialState"] == "CURRENT" and new["ValidTo"] == at(int(t0 + 30 * DAY))
    assert new["RotationType"] == "ON_DEMAND" and new["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert [r["KeyMaterialId"] for r in rotations(kms, key_id, "ROTATIONS_ONLY")] == [two_materials["second_id"]]
    fresh = kms.encrypt(KeyId=key_id, Plaintext=b"under the second")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=fresh)["KeyMaterialId"] == two_materials["second_id"]
    with pytest.raises(kms.exceptions.UnsupportedOperationException):  # nothing pending any more
        kms.rotate_key_on_demand(KeyId=key_id)


def test_old_ciphertext_decrypts_while_its_material_is_imported(
    kms: BaseClient, emulator: Any, two_materials: dict[str, Any]
) -> None:
    key_id, old_blob = two_materials["key_id"], two_materials["old_blob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    answer = kms.decrypt(CiphertextBlob=old_blob)
    assert answer["Plaintext"] == b"under the first" and answer["KeyMaterialId"] == two_materials["first_id"]
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=two_materials["first_id"])
    assert state(kms, key_id) == "PendingImport"
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.decrypt(CiphertextBlob=old_blob)


def test_non_current_expires_then_reimport_by_id(kms: BaseClient, emulator: Any, two_materials: dict[str, Any]) -> None:
    key_id, first_id = two_materials["key_id"], two_materials["first_id"]
    kms.rotate_key_on_demand(KeyId=key_id)
    advance(emulator, 3 * DAY)  # past the first material's ValidTo, not the second's
    assert state(kms, key_id) == "PendingImport"
    old = rotations(kms, key_id)[0]
    assert old["KeyMaterialId"] == first_id and old["ImportState"] == "PENDING_IMPORT"
    with pytest.raises(kms.exceptions.KMSInvalidStateException):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):  # wrong bytes for the id
        put(kms, key_id, os.urandom(32), None, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first_id)
    with pytest.raises(kms.exceptions.IncorrectKeyMaterialException):  # the second's bytes, the first's id
        put(kms, key_id, two_materials["second"], None, ImportType="EXISTING_KEY_MATERIAL", KeyMaterialId=first_id)
    assert state(kms, key_id) == "PendingImport"
    again = put(
        kms,
        key_id,
        two_materials["first"],
        now(emulator) + DAY,
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId=first_id,
    )
    assert again["KeyMaterialId"] == first_id and state(kms, key_id) == "Enabled"
    old = rotations(kms, key_id)[0]
    assert old["ImportState"] == "IMPORTED" and old["KeyMaterialDescription"] == "first"  # kept when omitted
    assert kms.decrypt(CiphertextBlob=two_materials["old_blob"])["Plaintext"] == b"under the first"


def test_pending_material_expiring_blocks_the_key(
    kms: BaseClient, emulator: Any, two_materials: dict[str, Any]
) -> None:
    """Every material counts, the one pending rotation too; re-imported without ``ImportType``
    (EXISTING_KEY_MATERIAL by default after the first import), found by its bytes."""
    key_id = two_materials["key_id"]
    advance(emulator, 31 * DAY)
    assert state(kms, key_id) == "PendingImport"
    put(kms, key_id, two_materials["first"], None)
    assert state(kms, key_id) == "PendingImport"  # the pending one is still missing
    assert put(kms, key_id, two_materials["second"], None)["KeyMaterialId"] == two_materials["second_id"]
    assert state(kms, key_id) == "Enabled"


def test_deleting_the_pending_material_forgets_it(kms: BaseClient, two_materials: dict[str, Any]) -> None:
    key_id = two_materials["key_id"]
    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=two_materials["second_id"])
    assert deleted["KeyMaterialId"] == two_materials["second_id"] and state(kms, key_id) == "Enabled"
    assert [r["KeyMaterialId"] for r in rotations(kms, key_id)] == [two_materials["first_id"]]
    with pytest.raises(kms.exceptions.NotFoundException):
        kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId="0" * 64)
