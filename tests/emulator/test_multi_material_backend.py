"""Backend unit tests of AWS keys with several materials (:mod:`emulator.backend.rotations`): the
rules without the wire, and the state file (records written before keys had several materials load)."""

from __future__ import annotations

import os

import pytest

from emulator.backend.imports import WrappingKeySource
from emulator.backend.kms import KmsBackend
from emulator.backend.model import Key
from emulator.backend.store import Store
from emulator.clock import FixedClock
from emulator.cloud import wrap_for_import
from emulator.errors import ServiceError

T0 = 1_900_000_000.0
POOL = WrappingKeySource(reuse=True)


def backend(store: Store, clock: FixedClock) -> KmsBackend:
    return KmsBackend("us-east-1", "1234567890123456", clock, store, POOL)


def put(kms: KmsBackend, key_id: str, material: bytes, expire: int = 0, **kind: str) -> str:
    token = kms.get_parameters_for_import(key_id, "RSAES_OAEP_SHA_256", "RSA_2048")
    blob = wrap_for_import(token.public_key_b64(), material, "RSAES_OAEP_SHA_256")
    return kms.import_material_of_type(key_id, blob, token.token, expire, **kind)[1]


def test_rules_hold_without_the_wire() -> None:
    kms = backend(Store(), FixedClock(T0))
    key_id = kms.create_key(origin="EXTERNAL", flavor="aws").key_id
    first = os.urandom(32)
    put(kms, key_id, first)
    with pytest.raises(ServiceError) as exc:
        put(kms, key_id, first, import_type="NEW_KEY_MATERIAL")
    assert exc.value.code == "InvalidKeyMaterial"
    with pytest.raises(ServiceError) as exc:
        put(kms, key_id, first, import_type="NEW_KEY_MATERIAL", material_id="0" * 64)
    assert exc.value.code == "InvalidParameter"
    with pytest.raises(ServiceError) as exc:
        kms.rotate_key_on_demand(key_id)
    assert exc.value.code == "UnsupportedOperationException"


def test_materials_survive_a_restart(tmp_path) -> None:
    path, clock = str(tmp_path / "state.sqlite"), FixedClock(T0)
    kms = backend(Store(path), clock)
    key_id = kms.create_key(origin="EXTERNAL", flavor="aws").key_id
    first_id = put(kms, key_id, os.urandom(32), int(T0 + 100), description="first")
    _, blob = kms.encrypt(key_id, b"old")
    second_id = put(kms, key_id, os.urandom(32), import_type="NEW_KEY_MATERIAL")
    kms.rotate_key_on_demand(key_id)
    again = backend(Store(path), clock)
    _, materials = again.list_key_materials(key_id)
    assert [(m.material_id, m.state, m.description) for m in materials] == [
        (first_id, "NON_CURRENT", "first"),
        (second_id, "CURRENT", ""),
    ]
    assert materials[0].valid_to == int(T0 + 100) and materials[1].rotated == T0
    assert again.decrypt_material(blob)[1:] == (b"old", first_id)


def test_a_record_from_before_several_materials_loads() -> None:
    record = Key(key_id="k", arn="arn", origin="EXTERNAL", state="Enabled", creation=T0, creator="c").to_record()
    for name in ("material_description", "material_rotated", "other_materials"):
        del record[name]
    key = Key.from_record(record)
    assert key.other_materials == [] and key.material_description == "" and key.material_rotated is None
