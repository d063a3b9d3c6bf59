"""Alibaba Cloud SM4 keys (issue #14), end to end against the emulator through the official SDK:
128-bit material, sized from the key's ``KeySpec``; ``SM2PKE`` wrapping for keys with
``ProtectionLevel`` HSM (the function wraps with gmalg and encodes GM/T 0009 DER; the emulator
unwraps with its own SM2 code; tests/unit/test_sm2_wrapping.py checks both against OpenSSL 3)."""

from __future__ import annotations

import base64
from typing import Any

from renewer.materials.wrapping import key_check_value
from tests.function.conftest import Cloud, assert_no_secrets, outcomes, spy_on_imports

SM4_MATERIAL = bytes.fromhex("3c" * 8 + "c3" * 8)  # 16 bytes
AES_MATERIAL = bytes.fromhex("6b" * 16 + "a5" * 16)  # 32 bytes


def material(name: str, secret: str, keys: list[str], **policy: Any) -> dict[str, Any]:
    source = {"type": "alibaba-secret", "name": secret, "region": "cn-hangzhou"}
    return {"name": name, "source": source, "keys": [{"region": "cn-hangzhou", "key_id": k} for k in keys], **policy}


def sm4_hsm_key(cloud: Cloud, days: float) -> str:
    return cloud.key_with_material(SM4_MATERIAL, days, key_spec="Aliyun_SM4", protection_level="HSM")


def imports(result: Any) -> list[dict[str, Any]]:
    return [c for c in result.calls if c["action"] == "ImportKeyMaterial"]


def test_sm4_hsm_key_renewed_with_sm2pke_next_to_an_aes_key(cloud: Cloud, invoke, monkeypatch) -> None:
    from renewer.clouds.alibaba import AlibabaKms

    cloud.secret("byok/sm4", SM4_MATERIAL.hex())
    cloud.secret("byok/aes", AES_MATERIAL.hex())
    sm4 = sm4_hsm_key(cloud, 5)
    aes = cloud.key_with_material(AES_MATERIAL, 5)
    blob = cloud.encrypt(sm4, base64.b64encode(b"under sm4").decode())
    config = {
        "materials": [
            material("gm", "byok/sm4", [sm4], wrapping_algorithm="SM2PKE", kcv=key_check_value(SM4_MATERIAL)),
            material("aes", "byok/aes", [aes]),
        ]
    }

    wire = spy_on_imports(monkeypatch, AlibabaKms)  # import tokens and the SM2 and RSA ciphertexts
    result = invoke(config)

    assert result.error is None, result.report
    assert outcomes(result.report) == {sm4: "renewed", aes: "renewed"}
    assert len(wire) == 4
    assert_no_secrets(result, cloud, [SM4_MATERIAL, AES_MATERIAL], wire)
    meta = cloud.describe(sm4)
    assert (meta.key_spec, meta.protection_level, meta.key_state) == ("Aliyun_SM4", "HSM", "Enabled")
    assert base64.b64decode(cloud.decrypt(blob)) == b"under sm4"  # the same material, so old ciphertext opens
    checks = {m["name"]: m for m in result.report["run"]["materials"]}
    assert checks["gm"]["ok"] and checks["gm"]["kcv"] == key_check_value(SM4_MATERIAL)  # SM4-ECB KCV


def test_a_never_imported_sm4_key_is_recovered_with_sm2pke(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/sm4", base64.b64encode(SM4_MATERIAL).decode())
    sm4 = cloud.create_key(key_spec="Aliyun_SM4", protection_level="HSM")
    result = invoke({"materials": [material("gm", "byok/sm4", [sm4], wrapping_algorithm="SM2PKE")]})
    assert result.error is None, result.report
    assert outcomes(result.report) == {sm4: "recovered"}


def test_material_of_the_wrong_size_for_the_key_spec_imports_nothing(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/sm4", SM4_MATERIAL.hex())
    cloud.secret("byok/aes", AES_MATERIAL.hex())
    sm4 = sm4_hsm_key(cloud, 5)
    aes = cloud.key_with_material(AES_MATERIAL, 5)
    config = {  # swapped: 32 bytes for the SM4 key, 16 for the AES key
        "materials": [material("gm", "byok/aes", [sm4]), material("aes", "byok/sm4", [aes])]
    }
    result = invoke(config)
    errors = {k["key_id"]: k["error"] for k in result.report["keys"]}
    assert errors[sm4]["code"] == errors[aes]["code"] == "MaterialWrongSize"
    assert "32 bytes" in errors[sm4]["message"] and "Aliyun_SM4 takes 16" in errors[sm4]["message"]
    assert "16 bytes" in errors[aes]["message"] and "Aliyun_AES_256 takes 32" in errors[aes]["message"]
    assert not imports(result)
    assert not [c for c in result.calls if c["action"] == "GetParametersForImport"]


def test_a_material_whose_keys_are_not_due_is_still_checked_against_their_size(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/aes", AES_MATERIAL.hex())
    sm4 = sm4_hsm_key(cloud, 200)  # not due
    result = invoke({"materials": [material("gm", "byok/aes", [sm4])]})
    [check] = result.report["run"]["materials"]
    assert check["ok"] is False and check["error"]["code"] == "MaterialWrongSize"


def test_sm2pke_for_a_software_key_is_refused_before_any_import(cloud: Cloud, invoke) -> None:
    cloud.secret("byok/aes", AES_MATERIAL.hex())
    software = cloud.key_with_material(AES_MATERIAL, 5)  # Aliyun_AES_256, SOFTWARE
    result = invoke({"materials": [material("aes", "byok/aes", [software], wrapping_algorithm="SM2PKE")]})
    [key] = result.report["keys"]
    assert key["error"]["code"] == "WrappingUnsupported" and "HSM" in key["error"]["message"]
    assert not imports(result)
