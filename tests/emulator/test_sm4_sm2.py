"""Alibaba ``Aliyun_SM4`` keys and ``EC_SM2``/``SM2PKE`` import (issue #14, emulator side).

The emulator's SM2 (:mod:`emulator.backend.sm2`) is checked three ways: the published known
answers (SM3: GB/T 32905's examples; SM2: GM/T 0003.5's encryption example on the recommended
curve), OpenSSL 3 in both directions (its ``pkeyutl -encrypt`` with an SM2 key emits GM/T 0009 DER,
C1C3C2), and end to end through the official SDK against the running emulator.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from darabonba.exceptions import ResponseException

from emulator.backend import sm2
from emulator.backend.kms import KmsBackend
from emulator.backend.store import Store
from emulator.backend.unwrap import UnwrapError, unwrap_sm2
from emulator.clock import FixedClock
from emulator.cloud import EmulatedCloud, wrap_for_import
from emulator.errors import ServiceError

T0 = 1_800_000_000
# GM/T 0003.5, encryption example on the recommended curve: private key, nonce, message, and the
# ciphertext as GM/T 0009 DER (C1's coordinates, C3, C2).
KAT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
KAT_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
KAT_PUBLIC = (
    0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020,
    0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13,
)
KAT_MESSAGE = b"encryption standard"
KAT_CIPHER = bytes.fromhex(
    "307C022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "041321886CA989CA9C7D58087307CA93092D651EFA"
)


# ---- known answers ---------------------------------------------------------------------------------
def test_sm3_matches_gbt_32905_examples() -> None:
    assert sm2.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm2.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_curve_parameters_are_consistent() -> None:
    assert sm2.on_curve(sm2.G)
    assert sm2.multiply(sm2.N, sm2.G) is None
    assert sm2.public_key(KAT_D) == KAT_PUBLIC


def test_sm2_encryption_matches_gmt_0003_example() -> None:
    assert sm2.encrypt(KAT_PUBLIC, KAT_MESSAGE, k=KAT_K) == KAT_CIPHER
    assert sm2.decrypt(KAT_D, KAT_CIPHER) == KAT_MESSAGE


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c[:-1] + bytes([c[-1] ^ 1]),  # C2
        lambda c: c[:-25] + bytes([c[-25] ^ 1]) + c[-24:],  # C3
        lambda c: c + b"\x00",  # trailing bytes
        lambda c: c[:-3],  # truncated
        lambda c: b"\x04" + c[1:],  # not a SEQUENCE
    ],
)
def test_a_damaged_ciphertext_is_refused(damage: Any) -> None:
    with pytest.raises(UnwrapError):
        unwrap_sm2(KAT_D, damage(KAT_CIPHER))


def test_public_key_is_spki_with_the_sm2_curve_oid() -> None:
    der = sm2.public_key_der(KAT_PUBLIC)
    assert bytes.fromhex("06082a811ccf5501822d") in der  # OID 1.2.156.10197.1.301
    assert sm2.load_public_key_der(der) == KAT_PUBLIC


# ---- OpenSSL 3, both directions --------------------------------------------------------------------
def _openssl(*args: str, data: bytes | None = None) -> bytes:
    tool = shutil.which("openssl")
    assert tool, "openssl (3.x, with SM2) is needed for these tests"
    return subprocess.run([tool, *args], input=data, capture_output=True, check=True).stdout


@pytest.fixture
def openssl_sm2(tmp_path: Path) -> tuple[Path, int, bytes]:
    """An SM2 key made by OpenSSL: its PEM file, its private scalar, its public key (DER SPKI)."""
    pem = tmp_path / "sm2.pem"
    _openssl("genpkey", "-algorithm", "SM2", "-out", str(pem))
    text = _openssl("pkey", "-in", str(pem), "-text", "-noout").decode()
    block = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    assert block, text
    private = int(re.sub(r"[^0-9a-f]", "", block.group(1)), 16)
    public_der = _openssl("pkey", "-in", str(pem), "-pubout", "-outform", "DER")
    assert sm2.public_key(private) == sm2.load_public_key_der(public_der)
    return pem, private, public_der


def test_openssl_ciphertext_unwraps_in_the_emulator(openssl_sm2: tuple[Path, int, bytes], tmp_path: Path) -> None:
    pem, private, _ = openssl_sm2
    public = tmp_path / "pub.pem"
    public.write_bytes(_openssl("pkey", "-in", str(pem), "-pubout"))
    material = os.urandom(16)
    blob = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(public), data=material)
    assert unwrap_sm2(private, blob) == material


def test_emulator_wrap_decrypts_in_openssl(openssl_sm2: tuple[Path, int, bytes]) -> None:
    pem, _, public_der = openssl_sm2
    material = os.urandom(16)
    blob = wrap_for_import(base64.b64encode(public_der).decode(), material, "SM2PKE")
    assert _openssl("pkeyutl", "-decrypt", "-inkey", str(pem), data=blob) == material


# ---- backend -----------------------------------------------------------------------------------------
@pytest.fixture
def kms() -> KmsBackend:
    return KmsBackend("cn-hangzhou", "1234567890", FixedClock(T0), Store(None))


def _code(exc_info: pytest.ExceptionInfo[ServiceError]) -> str:
    return exc_info.value.code


def test_sm4_key_imports_16_bytes_under_sm2_and_round_trips(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL", key_spec="Aliyun_SM4", protection_level="HSM")
    token = kms.get_parameters_for_import(key.key_id, "SM2PKE", "EC_SM2")
    material = os.urandom(16)
    kms.import_key_material(key.key_id, wrap_for_import(token.public_key_b64(), material, "SM2PKE"), token.token, 0)
    _, blob = kms.encrypt(key.key_id, b"hello", {"a": "b"})
    assert kms.decrypt(blob, {"a": "b"})[1] == b"hello"
    with pytest.raises(ServiceError) as exc_info:
        kms.decrypt(blob, {"a": "c"})
    assert _code(exc_info) == "InvalidCiphertext"


@pytest.mark.parametrize(("spec", "size"), [("Aliyun_SM4", 32), ("Aliyun_SM4", 24), ("Aliyun_AES_256", 16)])
def test_material_of_the_wrong_size_is_refused(kms: KmsBackend, spec: str, size: int) -> None:
    key = kms.create_key(origin="EXTERNAL", key_spec=spec, protection_level="HSM")
    token = kms.get_parameters_for_import(key.key_id, "SM2PKE", "EC_SM2")
    blob = wrap_for_import(token.public_key_b64(), os.urandom(size), "SM2PKE")
    with pytest.raises(ServiceError) as exc_info:
        kms.import_key_material(key.key_id, blob, token.token, 0)
    assert _code(exc_info) == "InvalidKeyMaterial"
    assert kms.describe_key(key.key_id).state == "PendingImport"


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"])
def test_sm4_key_also_takes_rsa_wrapping(kms: KmsBackend, algorithm: str) -> None:
    key = kms.create_key(origin="EXTERNAL", key_spec="Aliyun_SM4", protection_level="SOFTWARE")
    token = kms.get_parameters_for_import(key.key_id, algorithm, "RSA_2048")
    material = os.urandom(16)
    kms.import_key_material(key.key_id, wrap_for_import(token.public_key_b64(), material, algorithm), token.token, 0)
    assert kms.describe_key(key.key_id).state == "Enabled"


@pytest.mark.parametrize(
    ("level", "algorithm", "spec"),
    [
        ("SOFTWARE", "SM2PKE", "EC_SM2"),  # SM2 only for HSM keys
        ("HSM", "SM2PKE", "RSA_2048"),  # mismatched pairs
        ("HSM", "RSAES_OAEP_SHA_256", "EC_SM2"),
    ],
)
def test_sm2_refused_outside_the_documented_table(kms: KmsBackend, level: str, algorithm: str, spec: str) -> None:
    key = kms.create_key(origin="EXTERNAL", key_spec="Aliyun_SM4", protection_level=level)
    with pytest.raises(ServiceError) as exc_info:
        kms.get_parameters_for_import(key.key_id, algorithm, spec)
    assert _code(exc_info) == "InvalidParameter"


def test_sm2_token_survives_its_record(kms: KmsBackend) -> None:
    key = kms.create_key(origin="EXTERNAL", key_spec="Aliyun_SM4", protection_level="HSM")
    token = kms.get_parameters_for_import(key.key_id, "SM2PKE", "EC_SM2")
    again = type(token).from_record(token.to_record())
    assert again.public_key_b64() == token.public_key_b64()


def test_kms_made_sm4_key_has_128_bit_material(kms: KmsBackend) -> None:
    key = kms.create_key(key_spec="Aliyun_SM4")
    _, blob = kms.encrypt(key.key_id, b"x")
    assert kms.decrypt(blob)[1] == b"x"
    assert len(kms.keys[key.key_id].material or b"") == 16


# ---- official SDK against the running emulator ---------------------------------------------------
def test_sm4_hsm_key_end_to_end_through_the_sdk(emulator: Any) -> None:
    cloud = EmulatedCloud(
        {"cn-hangzhou": emulator.endpoint("cn-hangzhou")}, emulator.access_key_id, emulator.access_key_secret, "unused"
    )
    key_id = cloud.create_key(key_spec="Aliyun_SM4", protection_level="HSM")
    meta = cloud.describe(key_id)
    assert (meta.key_spec, meta.protection_level, meta.key_state) == ("Aliyun_SM4", "HSM", "PendingImport")
    with pytest.raises(ResponseException) as exc_info:
        cloud.import_material("cn-hangzhou", key_id, os.urandom(32), 0, algorithm="SM2PKE")
    assert exc_info.value.code == "InvalidKeyMaterial"
    material = os.urandom(16)
    cloud.import_material("cn-hangzhou", key_id, material, int(time.time()) + 86400, algorithm="SM2PKE")
    assert cloud.describe(key_id).key_state == "Enabled"
    plaintext = base64.b64encode(b"sm4 round trip").decode()
    assert cloud.decrypt(cloud.encrypt(key_id, plaintext)) == plaintext
