"""AWS KMS rotation actions on the shared backend: ``RotateKeyOnDemand`` and ``ListKeyRotations``.

Fields as botocore's KMS model names them (RotationsListEntry); the rules are the backend's
(:mod:`emulator.backend.rotations`). Registered with :func:`emulator.aws_responses.action`.
"""

from __future__ import annotations

from typing import Any

from emulator.aws_responses import DOES_NOT_EXPIRE, EXPIRES, Body, _key, _page, action
from emulator.backend.kms import KmsBackend
from emulator.backend.model import ORIGIN_EXTERNAL, KeyMaterial
from emulator.protocol import aws

ALL_KEY_MATERIAL, ROTATIONS_ONLY = "ALL_KEY_MATERIAL", "ROTATIONS_ONLY"


@action
def rotate_key_on_demand(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_RotateKeyOnDemand.html

    The response's ``KeyId`` is the key's id, as the AWS CLI's example shows.
    """
    key_id = aws.required_string(body, "KeyId")
    key = _key(kms, key_id)
    kms.rotate_key_on_demand(key.key_id)
    return {"KeyId": key.key_id}


@action
def list_key_rotations(kms: KmsBackend, body: Body) -> dict[str, Any]:
    """https://docs.aws.amazon.com/kms/latest/APIReference/API_ListKeyRotations.html

    ``ROTATIONS_ONLY`` (the default) lists the materials made current by a rotation;
    ``ALL_KEY_MATERIAL`` adds "the first key material and any imported key material pending
    rotation" (ListKeyRotationsRequest.IncludeKeyMaterial). Oldest first; ``Limit`` 1-1000, default 100.
    """
    key_id = aws.required_string(body, "KeyId")
    include = aws.enum(body, "IncludeKeyMaterial", (ALL_KEY_MATERIAL, ROTATIONS_ONLY), ROTATIONS_ONLY)
    key = _key(kms, key_id)
    key, materials = kms.list_key_materials(key.key_id)
    external = key.origin == ORIGIN_EXTERNAL
    rows = [
        (f"{index:06d}", _entry(key.key_id, material, external))
        for index, material in enumerate(materials)
        if include == ALL_KEY_MATERIAL or material.rotated is not None
    ]
    page, more = _page(body, rows, 100, 1000)
    return {"Rotations": page, **more}


def _entry(key_id: str, material: KeyMaterial, external: bool) -> dict[str, Any]:
    """One RotationsListEntry; the import fields only for EXTERNAL keys, as the model says."""
    entry: dict[str, Any] = {
        "KeyId": key_id,
        "KeyMaterialId": material.material_id,
        "KeyMaterialState": material.state,
    }
    if external:
        entry["KeyMaterialDescription"] = material.description
        entry["ImportState"] = "IMPORTED" if material.material is not None else "PENDING_IMPORT"
        entry["ExpirationModel"] = EXPIRES if material.valid_to else DOES_NOT_EXPIRE
        if material.valid_to:
            entry["ValidTo"] = material.valid_to
    if material.rotated is not None:
        entry["RotationDate"] = material.rotated
        entry["RotationType"] = "ON_DEMAND"
    return entry
