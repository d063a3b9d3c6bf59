"""Which keys a material's algorithm can import into (issue #14), decided from DescribeKey before any
import: symmetric key specs only, SM2PKE for HSM-protected keys only, no RSAES_OAEP_SHA_1 for a key in
a KMS instance; and the material size each key spec takes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from renewer.clouds.targets import KeyInfo
from renewer.config import MaterialSpec, load
from renewer.errors import KeyStateError
from renewer.run.flow import _check_kind, material_bytes

INFO = KeyInfo("key-1", "acs:kms:cn-hangzhou:1:key/key-1", "EXTERNAL", "Enabled", None, key_spec="Aliyun_AES_256")


def spec(algorithm: str) -> MaterialSpec:
    document = {
        "materials": [
            {
                "name": "m",
                "source": {"type": "env", "var": "M"},
                "keys": [{"region": "cn-hangzhou", "key_id": "key-1"}],
                "wrapping_algorithm": algorithm,
            }
        ]
    }
    return load(document).materials[0]


@pytest.mark.parametrize(
    ("algorithm", "info", "code", "words"),
    [
        ("SM2PKE", replace(INFO, protection_level="SOFTWARE"), "WrappingUnsupported", "ProtectionLevel HSM"),
        ("RSAES_OAEP_SHA_1", replace(INFO, instance_id="kst-hzz1"), "WrappingUnsupported", "kst-hzz1"),
        ("RSAES_OAEP_SHA_256", replace(INFO, key_spec="RSA_2048"), "KeySpecUnsupported", "RSA_2048"),
        ("RSAES_OAEP_SHA_256", replace(INFO, key_spec="HMAC_256"), "KeySpecUnsupported", "HMAC_256"),
    ],
)
def test_keys_the_algorithm_cannot_import_into(algorithm: str, info: KeyInfo, code: str, words: str) -> None:
    with pytest.raises(KeyStateError) as caught:
        _check_kind(spec(algorithm), info)
    assert caught.value.code == code and words in caught.value.message


@pytest.mark.parametrize(
    ("algorithm", "info"),
    [
        ("SM2PKE", replace(INFO, key_spec="Aliyun_SM4", protection_level="HSM")),
        ("RSAES_OAEP_SHA_256", replace(INFO, key_spec="Aliyun_SM4", protection_level="HSM", instance_id="kst-1")),
        ("RSAES_OAEP_SHA_1", INFO),
        ("RSAES_OAEP_SHA_256", replace(INFO, key_spec=None)),  # an answer without KeySpec: as before
    ],
)
def test_keys_it_can(algorithm: str, info: KeyInfo) -> None:
    _check_kind(spec(algorithm), info)


def test_material_sizes_by_key_spec() -> None:
    assert [material_bytes(s) for s in ("Aliyun_SM4", "Aliyun_AES_256", "SYMMETRIC_DEFAULT", None)] == [16, 32, 32, 32]
