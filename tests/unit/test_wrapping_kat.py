"""Known-answer tests for the function's wrap (:func:`renewer.materials.wrapping.wrap`), opened by hand.

Each blob the function makes is decrypted here with raw RSA (``pow(c, d, n)``) and its encoding
parsed by hand (:mod:`tests.emulator.rfc_by_hand`: RFC 8017 OAEP and PKCS#1 v1.5, RFC 5649 key
wrap), so the check trusts neither the function's table nor the emulator's. Every wrapping
RSA algorithm of both clouds, with every wrapping key size AWS offers (SM2PKE, Alibaba Cloud's SM2
encryption, has its own known answers in ``test_sm2_wrapping.py``).
"""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from renewer.materials.wrapping import ALIBABA_ALGORITHMS, WrappingAlgorithm, wrap
from tests.emulator import rfc_by_hand as by_hand

MATERIAL = bytes.fromhex("00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0")
OAEP_HASH = {
    WrappingAlgorithm.RSAES_OAEP_SHA_256: "sha256",
    WrappingAlgorithm.RSAES_OAEP_SHA_1: "sha1",
    WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256: "sha256",
    WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1: "sha1",
}
DIRECT = {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}
TWO_STEP = {"RSA_AES_KEY_WRAP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1"}
SM2 = {"SM2PKE"}  # Alibaba Cloud only: tests/unit/test_sm2_wrapping.py
RSA_ALGORITHMS = [algorithm for algorithm in WrappingAlgorithm if algorithm.value not in SM2]


@cache
def private_key(bits: int) -> rsa.RSAPrivateKey:
    """One RSA key per size for the whole module."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def raw_decrypt(key: rsa.RSAPrivateKey, ciphertext: bytes) -> bytes:
    numbers = key.private_numbers()
    return by_hand.rsa_raw(ciphertext, numbers.d, numbers.public_numbers.n)


def test_the_function_offers_every_algorithm_of_both_clouds_and_no_other() -> None:
    """If this changes, the table below needs a known answer for the new algorithm."""
    assert {algorithm.value for algorithm in WrappingAlgorithm} == DIRECT | TWO_STEP | SM2
    assert {algorithm.value for algorithm in ALIBABA_ALGORITHMS} == DIRECT | SM2
    assert {algorithm.value for algorithm in WrappingAlgorithm if algorithm.two_step} == TWO_STEP


# PKCS#1 v1.5 with RSA_2048 only: Alibaba Cloud's one wrapping key spec (AWS, with the larger ones,
# retired PKCS#1 v1.5 on 2023-10-10).
OFFERED = [
    (algorithm, bits)
    for algorithm in RSA_ALGORITHMS
    for bits in (2048, 3072, 4096)
    if algorithm != WrappingAlgorithm.RSAES_PKCS1_V1_5 or bits == 2048
]


@pytest.mark.parametrize(("algorithm", "bits"), OFFERED, ids=[f"{a.value}-{b}" for a, b in OFFERED])
def test_wrap_opens_by_hand(algorithm: WrappingAlgorithm, bits: int) -> None:
    key = private_key(bits)
    k = bits // 8
    blob = wrap(key.public_key(), MATERIAL, algorithm)
    if algorithm == WrappingAlgorithm.RSAES_PKCS1_V1_5:
        assert len(blob) == k
        em = raw_decrypt(key, blob)
        assert by_hand.pkcs1_v15_decode(em, k) == MATERIAL
        assert all(em[2 : k - len(MATERIAL) - 1]), "PS is nonzero octets"
        return
    hash_name = OAEP_HASH[algorithm]
    if not algorithm.two_step:
        assert len(blob) == k
        assert by_hand.oaep_decode(raw_decrypt(key, blob), k, hash_name) == MATERIAL
        return
    # RSA-OAEP of a 256-bit AES key (as long as the modulus), then RFC 5649 of the material
    assert len(blob) == k + len(MATERIAL) + 8
    transport_key = by_hand.oaep_decode(raw_decrypt(key, blob[:k]), k, hash_name)
    assert len(transport_key) == 32
    assert by_hand.kwp_unwrap(transport_key, blob[k:]) == MATERIAL


@pytest.mark.parametrize("algorithm", RSA_ALGORITHMS, ids=lambda a: a.value)
def test_wrap_is_randomised(algorithm: WrappingAlgorithm) -> None:
    """A fresh OAEP seed, PKCS#1 padding string or AES key every time."""
    public = private_key(2048).public_key()
    assert wrap(public, MATERIAL, algorithm) != wrap(public, MATERIAL, algorithm)


@pytest.mark.parametrize(
    ("algorithm", "other_hash"),
    [(WrappingAlgorithm.RSAES_OAEP_SHA_256, "sha1"), (WrappingAlgorithm.RSAES_OAEP_SHA_1, "sha256")],
    ids=lambda v: getattr(v, "value", v),
)
def test_the_oaep_hash_is_the_one_the_name_says(algorithm: WrappingAlgorithm, other_hash: str) -> None:
    key = private_key(2048)
    em = raw_decrypt(key, wrap(key.public_key(), MATERIAL, algorithm))
    with pytest.raises(ValueError):
        by_hand.oaep_decode(em, 256, other_hash)
