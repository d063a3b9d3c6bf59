"""AWS keys with several key materials (issue #14), end to end: the function against the emulator's
AWS protocol (``ListKeyRotations``, ``ImportKeyMaterial`` with ``ImportType`` and ``KeyMaterialId``),
boto3 on both sides, Secrets Manager on moto's server.

Each key material of a key expires on its own; a key is usable only while all are imported
(botocore's KMS model, ``ImportKeyMaterialRequest``). The function lists them all, renews each one
that is due from the material the configuration assigns to its id, and never adds a material.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from renewer.materials.wrapping import WrappingAlgorithm, load_public_key, wrap
from tests.function.conftest import Cloud, assert_no_secrets, spy_on_imports

REGION = "us-east-1"
FIRST = bytes(range(100, 132))
SECOND = bytes(range(140, 172))
DAY = 86400


def put(kms: Any, key_id: str, material: bytes, valid_seconds: float, **extra: Any) -> str:
    """Import ``material`` (expiring in ``valid_seconds``) as the test's operator would; returns its id."""
    params = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    public = load_public_key(base64.b64encode(params["PublicKey"]).decode())
    answer = kms.import_key_material(
        KeyId=key_id,
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(public, material, WrappingAlgorithm.RSAES_OAEP_SHA_256),
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=datetime.now(timezone.utc) + timedelta(seconds=valid_seconds),
        **extra,
    )
    return str(answer["KeyMaterialId"])


def two_material_key(kms: Any, first_seconds: float, second_seconds: float) -> tuple[str, str, str]:
    """A key whose first material (FIRST) was rotated out by a second (SECOND): (key, first id, second id)."""
    key_id = kms.create_key(Origin="EXTERNAL", Description="two materials")["KeyMetadata"]["KeyId"]
    first_id = put(kms, key_id, FIRST, first_seconds)
    second_id = put(kms, key_id, SECOND, second_seconds, ImportType="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(KeyId=key_id)
    return key_id, first_id, second_id


def materials_of(kms: Any, key_id: str) -> dict[str, dict[str, Any]]:
    rows = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    return {row["KeyMaterialId"]: row for row in rows}


def secret(aws: dict[str, Any], material: bytes) -> dict[str, str]:
    name = f"byok/{os.urandom(4).hex()}"
    aws["secrets"].create_secret(Name=name, SecretBinary=material)
    return {"type": "aws-secret", "name": name, "region": REGION}


def config(aws: dict[str, Any], key_id: str, ids: dict[bytes, str | None]) -> dict[str, Any]:
    """One configured material per entry of ``ids`` (material bytes -> its key material id)."""
    materials = []
    for n, (material, material_id) in enumerate(ids.items()):
        key = {"cloud": "aws", "region": REGION, "key_id": key_id}
        if material_id is not None:
            key["key_material_id"] = material_id
        materials.append({"name": f"m{n}", "source": secret(aws, material), "keys": [key]})
    return {"materials": materials}


def test_both_materials_renewed_the_expired_older_one_recovered(
    cloud: Cloud, aws: dict[str, Any], invoke, monkeypatch
) -> None:
    from renewer.clouds.aws import AwsKms

    kms = aws["kms"]
    key_id, first_id, second_id = two_material_key(kms, 30, 5 * DAY)  # first: 30 s; second: 5 days, due
    cloud.advance_clock(60)  # the older, non-current material expired: the key is PendingImport
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert materials_of(kms, key_id)[first_id]["ImportState"] == "PENDING_IMPORT"

    wire = spy_on_imports(monkeypatch, AwsKms)  # import tokens and wrapped materials, as they went out
    result = invoke(config(aws, key_id, {FIRST: first_id, SECOND: second_id}))

    assert result.error is None, result.report
    assert len(wire) == 4  # two key materials: a token and a wrapped material each
    assert_no_secrets(result, cloud, [FIRST, SECOND], wire)
    rows = {row["key_material_id"]: row for row in result.report["keys"]}
    assert set(rows) == {first_id, second_id}
    assert rows[first_id]["outcome"] == "recovered" and rows[first_id]["material"] == "m0"
    assert rows[second_id]["outcome"] == "renewed" and rows[second_id]["material"] == "m1"
    assert rows[first_id]["key_material_state"] == "NON_CURRENT"
    assert rows[second_id]["key_material_state"] == "CURRENT"
    after = materials_of(kms, key_id)
    horizon = datetime.now(timezone.utc) + timedelta(days=89)
    for material_id in (first_id, second_id):
        assert after[material_id]["ImportState"] == "IMPORTED"
        assert after[material_id]["ValidTo"] > horizon
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert len(after) == 2  # no material added
    # The older (already gone) one first: most urgent.
    imports = [c for c in result.calls if c["action"] == "ImportKeyMaterial"]
    assert len(imports) == 2


def test_a_material_not_due_is_left_alone(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    kms = aws["kms"]
    key_id, first_id, second_id = two_material_key(kms, 5 * DAY, 200 * DAY)  # only the older one due
    result = invoke(config(aws, key_id, {FIRST: first_id, SECOND: second_id}))
    assert result.error is None, result.report
    rows = {row["key_material_id"]: row["outcome"] for row in result.report["keys"]}
    assert rows == {first_id: "renewed", second_id: "skipped"}
    assert len([c for c in result.calls if c["action"] == "ImportKeyMaterial"]) == 1


def test_an_unconfigured_material_id_fails_the_key_with_nothing_imported(
    cloud: Cloud, aws: dict[str, Any], invoke
) -> None:
    kms = aws["kms"]
    key_id, first_id, second_id = two_material_key(kms, 5 * DAY, 5 * DAY)
    before = materials_of(kms, key_id)

    result = invoke(config(aws, key_id, {SECOND: second_id}))  # the first material is in no configuration

    [row] = result.report["keys"]
    assert row["outcome"] == "failed" and row["error"]["code"] == "KeyMaterialUnconfigured"
    assert first_id in row["error"]["message"]
    assert not [c for c in result.calls if c["action"] in ("GetParametersForImport", "ImportKeyMaterial")]
    assert materials_of(kms, key_id) == before


def test_a_key_listed_without_ids_fails_once_it_holds_two(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    kms = aws["kms"]
    key_id, first_id, second_id = two_material_key(kms, 5 * DAY, 5 * DAY)
    result = invoke(config(aws, key_id, {SECOND: None}))
    [row] = result.report["keys"]
    assert row["error"]["code"] == "KeyMaterialUnconfigured"
    assert first_id in row["error"]["message"] and second_id in row["error"]["message"]
    assert not [c for c in result.calls if c["action"] == "ImportKeyMaterial"]


def test_a_material_id_the_key_does_not_hold(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    kms = aws["kms"]
    key_id, first_id, _ = two_material_key(kms, 5 * DAY, 5 * DAY)
    result = invoke(config(aws, key_id, {FIRST: first_id, SECOND: "ab" * 32}))
    codes = sorted(row["error"]["code"] for row in result.report["keys"] if row["error"])
    # The wrong id fails (KeyMaterialIdNotFound); the key's second material is then unconfigured.
    assert "KeyMaterialIdNotFound" in codes
    assert not [c for c in result.calls if c["action"] == "ImportKeyMaterial"]


def test_the_wrong_material_for_an_id_is_refused_by_the_service(cloud: Cloud, aws: dict[str, Any], invoke) -> None:
    kms = aws["kms"]
    key_id, first_id, second_id = two_material_key(kms, 5 * DAY, 5 * DAY)
    result = invoke(config(aws, key_id, {SECOND: first_id, FIRST: second_id}))  # swapped
    for row in result.report["keys"]:
        assert row["outcome"] == "failed" and row["error"]["code"] == "IncorrectKeyMaterialException"
    after = materials_of(kms, key_id)
    assert {row["ImportState"] for row in after.values()} == {"IMPORTED"} and len(after) == 2


def test_single_material_key_renewed_by_its_id_and_metered_without_the_dimension(
    cloud: Cloud, aws: dict[str, Any], invoke
) -> None:
    kms = aws["kms"]
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    only = put(kms, key_id, FIRST, 5 * DAY)
    result = invoke(config(aws, key_id, {FIRST: None}))
    [row] = result.report["keys"]
    assert row["outcome"] == "renewed" and row["key_material_id"] == only
