"""Known-answer tests for the emulator's own unwrap (:mod:`emulator.backend.unwrap`).

Every ``EncryptedKeyMaterial`` here is built by hand (:mod:`tests.emulator.rfc_by_hand`: OAEP and
PKCS#1 v1.5 encodings with fixed seeds and padding, raw RSA by ``pow``, RFC 5649 written out), so
neither the emulator's table nor the function's wrap is trusted. The RFC 5649 vectors check the
hand-written key wrap and pyca's. The emulator's client helper (``emulator.cloud.wrap_for_import``)
is checked the other way round: its output is opened by hand. Last, the function's wrap and the
emulator's unwrap must agree for every combination either cloud offers.
"""

from __future__ import annotations

import base64
from functools import cache

import pytest
from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.backend.imports import WrappingKeySource
from emulator.backend.kms import KmsBackend
from emulator.backend.store import Store
from emulator.backend.unwrap import (
    ALGORITHMS,
    MATERIAL_BYTES,
    SCHEMES,
    WRAPPING_KEY_SPECS,
    UnwrapError,
    offered,
    unwrap,
)
from emulator.clock import FixedClock
from emulator.cloud import wrap_for_import
from emulator.errors import ServiceError
from renewer.materials.wrapping import WrappingAlgorithm, wrap
from tests.emulator import rfc_by_hand as by_hand

MATERIAL = bytes.fromhex("000102030405060708090a0b0c0d0e0ff0e1d2c3b4a5968778695a4b3c2d1e0f")
TRANSPORT_KEY = bytes.fromhex("8899aabbccddeeff00112233445566770123456789abcdeffedcba9876543210")
SEED = bytes(range(0x40, 0x60))  # OAEP seeds: the first hLen octets
OAEP_HASH = {
    "RSAES_OAEP_SHA_256": "sha256",
    "RSAES_OAEP_SHA_1": "sha1",
    "RSA_AES_KEY_WRAP_SHA_256": "sha256",
    "RSA_AES_KEY_WRAP_SHA_1": "sha1",
}
BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}
# (algorithm, wrapping key spec) for every combination either cloud offers
OFFERED = sorted(
    {
        (algorithm, spec)
        for flavor in ALGORITHMS
        for algorithm in ALGORITHMS[flavor]
        for spec in WRAPPING_KEY_SPECS[flavor]
    }
)

# RFC 5649 section 6: KEK, key, wrapped key
RFC5649_KEK = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
RFC5649_VECTORS = [
    (
        bytes.fromhex("c37b7e6492584340bed12207808941155068f738"),
        bytes.fromhex("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"),
    ),
    (bytes.fromhex("466f7250617369"), bytes.fromhex("afbeb0f07dfbf5419200f2ccb50bb24f")),
]


@cache
def private_key(bits: int) -> rsa.RSAPrivateKey:
    """One RSA key per size for the whole module."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


class ModuleKeys(WrappingKeySource):
    """The backend's wrapping keys, taken from :func:`private_key` (no key generation per token)."""

    def next(self, bits: int = 2048) -> rsa.RSAPrivateKey:
        return private_key(bits)


def backend() -> KmsBackend:
    return KmsBackend("cn-hangzhou", "1", FixedClock(1_800_000_000.0), Store(), ModuleKeys())


def _k(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> int:
    return (key.key_size + 7) // 8


def by_hand_blob(public: rsa.RSAPublicKey, algorithm: str, material: bytes = MATERIAL) -> bytes:
    """``EncryptedKeyMaterial`` for ``algorithm``, every octet of it built here."""
    numbers, k = public.public_numbers(), _k(public)
    if algorithm == "RSAES_PKCS1_V1_5":
        ps = bytes((i % 255) + 1 for i in range(k - len(material) - 3))
        return by_hand.rsa_raw(by_hand.pkcs1_v15_encode(material, k, ps), numbers.e, numbers.n)
    hash_name = OAEP_HASH[algorithm]
    seed = SEED[: by_hand.HASH_LENGTHS[hash_name]]
    if algorithm.startswith("RSAES_OAEP"):
        return by_hand.rsa_raw(by_hand.oaep_encode(material, k, hash_name, seed), numbers.e, numbers.n)
    wrapped_key = by_hand.rsa_raw(by_hand.oaep_encode(TRANSPORT_KEY, k, hash_name, seed), numbers.e, numbers.n)
    return wrapped_key + by_hand.kwp_wrap(TRANSPORT_KEY, material)


def by_hand_open(private: rsa.RSAPrivateKey, blob: bytes, algorithm: str) -> bytes:
    """The material inside ``blob``, opened here: raw RSA, then the encoding parsed by hand."""
    numbers, k = private.private_numbers(), _k(private)
    em = by_hand.rsa_raw(blob[:k], numbers.d, numbers.public_numbers.n)
    if algorithm == "RSAES_PKCS1_V1_5":
        assert len(blob) == k
        return by_hand.pkcs1_v15_decode(em, k)
    message = by_hand.oaep_decode(em, k, OAEP_HASH[algorithm])
    if algorithm.startswith("RSAES_OAEP"):
        assert len(blob) == k
        return message
    assert len(message) == 32, "the two-step algorithms wrap a 256-bit AES key"
    return by_hand.kwp_unwrap(message, blob[k:])


# ---- RFC 5649 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "wrapped"), RFC5649_VECTORS, ids=["20-octets", "7-octets"])
def test_rfc5649_vectors_by_hand_and_by_pyca(key: bytes, wrapped: bytes) -> None:
    assert by_hand.kwp_wrap(RFC5649_KEK, key) == wrapped
    assert by_hand.kwp_unwrap(RFC5649_KEK, wrapped) == key
    assert keywrap.aes_key_wrap_with_padding(RFC5649_KEK, key) == wrapped
    assert keywrap.aes_key_unwrap_with_padding(RFC5649_KEK, wrapped) == key


def test_rfc5649_by_hand_agrees_with_pyca_for_256_bit_keys_and_detects_tampering() -> None:
    wrapped = by_hand.kwp_wrap(TRANSPORT_KEY, MATERIAL)
    assert len(wrapped) == MATERIAL_BYTES + 8
    assert wrapped == keywrap.aes_key_wrap_with_padding(TRANSPORT_KEY, MATERIAL)
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(ValueError):
        by_hand.kwp_unwrap(TRANSPORT_KEY, tampered)
    with pytest.raises(keywrap.InvalidUnwrap):
        keywrap.aes_key_unwrap_with_padding(TRANSPORT_KEY, tampered)


# ---- the table --------------------------------------------------------------------------------
def test_the_table_offers_what_the_services_document() -> None:
    direct = {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}
    assert ALGORITHMS["alibaba"] == direct
    # AWS retired PKCS#1 v1.5 on 2023-10-10 and offers no AES key wrap in its China Regions.
    assert ALGORITHMS["aws"] == {
        "RSAES_OAEP_SHA_256",
        "RSAES_OAEP_SHA_1",
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
    }
    assert offered("aws", "us-east-1") == ALGORITHMS["aws"]
    assert (
        offered("aws", "cn-north-1") == offered("aws", "cn-northwest-1") == {"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"}
    )
    assert offered("alibaba", "cn-hangzhou") == direct
    assert "SM2PKE" not in SCHEMES  # NOTE in the module: China Regions only, not emulated
    assert WRAPPING_KEY_SPECS == {"alibaba": ("RSA_2048",), "aws": ("RSA_2048", "RSA_3072", "RSA_4096")}
    assert {name for name, scheme in SCHEMES.items() if scheme.two_step} == {
        "RSA_AES_KEY_WRAP_SHA_256",
        "RSA_AES_KEY_WRAP_SHA_1",
    }


# ---- known answers ----------------------------------------------------------------------------
@pytest.mark.parametrize(("algorithm", "spec"), OFFERED)
def test_unwrap_opens_a_blob_built_by_hand(algorithm: str, spec: str) -> None:
    key = private_key(BITS[spec])
    blob = by_hand_blob(key.public_key(), algorithm)
    assert unwrap(key, blob, algorithm) == MATERIAL


@pytest.mark.parametrize("algorithm", sorted(SCHEMES))
def test_the_client_helper_wraps_as_the_rfcs_say(algorithm: str) -> None:
    key = private_key(2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    blob = wrap_for_import(base64.b64encode(der).decode(), MATERIAL, algorithm)
    assert by_hand_open(key, blob, algorithm) == MATERIAL


@pytest.mark.parametrize("flavor", sorted(ALGORITHMS))
def test_the_backend_imports_hand_built_blobs_with_every_algorithm_it_offers(flavor: str) -> None:
    kms = backend()
    for algorithm in sorted(ALGORITHMS[flavor]):
        for spec in WRAPPING_KEY_SPECS[flavor]:
            key = kms.create_key(origin="EXTERNAL", flavor=flavor)
            token = kms.get_parameters_for_import(key.key_id, algorithm, spec)
            public = serialization.load_der_public_key(base64.b64decode(token.public_key_b64()))
            assert isinstance(public, rsa.RSAPublicKey) and public.key_size == BITS[spec]
            kms.import_key_material(key.key_id, by_hand_blob(public, algorithm), token.token, 0)
            assert kms.describe_key(key.key_id).state == "Enabled"


@pytest.mark.parametrize(("algorithm", "spec"), OFFERED)
def test_the_functions_wrap_and_the_emulators_unwrap_agree(algorithm: str, spec: str) -> None:
    """The two independent readings meet: what the function sends, the emulator opens."""
    key = private_key(BITS[spec])
    assert unwrap(key, wrap(key.public_key(), MATERIAL, WrappingAlgorithm(algorithm)), algorithm) == MATERIAL


# ---- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "algorithm", "message"),
    [
        ("us-east-1", "RSAES_PKCS1_V1_5", "As of October 10, 2023, KMS does not support the RSAES_PKCS1_V1_5"),
        ("cn-north-1", "RSAES_PKCS1_V1_5", "As of October 10, 2023"),
        ("cn-north-1", "RSA_AES_KEY_WRAP_SHA_256", "not supported in China Regions"),
        ("cn-northwest-1", "RSA_AES_KEY_WRAP_SHA_1", "not supported in China Regions"),
    ],
)
def test_the_backend_refuses_what_aws_no_longer_offers(region: str, algorithm: str, message: str) -> None:
    kms = KmsBackend(region, "1", FixedClock(1_800_000_000.0), Store(), ModuleKeys())
    key = kms.create_key(origin="EXTERNAL", flavor="aws")
    with pytest.raises(ServiceError) as error:
        kms.get_parameters_for_import(key.key_id, algorithm, "RSA_2048")
    assert error.value.code == "UnsupportedOperationException"
    assert message in error.value.message
    assert kms.tokens == {}


def test_an_alibaba_key_in_any_region_still_takes_pkcs1() -> None:
    kms = KmsBackend("cn-north-1", "1", FixedClock(1_800_000_000.0), Store(), ModuleKeys())
    key = kms.create_key(origin="EXTERNAL", flavor="alibaba")
    assert kms.get_parameters_for_import(key.key_id, "RSAES_PKCS1_V1_5", "RSA_2048").algorithm == "RSAES_PKCS1_V1_5"


def _oaep_blob(key: rsa.RSAPrivateKey, message: bytes, hash_name: str, label: bytes = b"") -> bytes:
    numbers, k = key.public_key().public_numbers(), _k(key)
    em = by_hand.oaep_encode(message, k, hash_name, SEED[: by_hand.HASH_LENGTHS[hash_name]], label)
    return by_hand.rsa_raw(em, numbers.e, numbers.n)


@pytest.mark.parametrize(
    ("algorithm", "hash_name", "label"),
    [
        ("RSAES_OAEP_SHA_256", "sha1", b""),
        ("RSAES_OAEP_SHA_1", "sha256", b""),
        ("RSAES_OAEP_SHA_256", "sha256", b"a label"),
        ("RSA_AES_KEY_WRAP_SHA_256", "sha1", b""),
    ],
    ids=["sha1-as-sha256", "sha256-as-sha1", "label", "two-step-sha1-as-sha256"],
)
def test_oaep_with_other_parameters_is_refused(algorithm: str, hash_name: str, label: bytes) -> None:
    key = private_key(2048)
    blob = _oaep_blob(key, TRANSPORT_KEY if SCHEMES[algorithm].two_step else MATERIAL, hash_name, label)
    if SCHEMES[algorithm].two_step:
        blob += by_hand.kwp_wrap(TRANSPORT_KEY, MATERIAL)
    with pytest.raises(UnwrapError):
        unwrap(key, blob, algorithm)


def test_a_malformed_pkcs1_block_never_yields_the_material() -> None:
    """Block type 01 instead of 02. NOTE (module docstring): OpenSSL's implicit rejection may
    answer with a synthetic plaintext rather than an error; either way the material stays hidden."""
    key = private_key(2048)
    numbers, k = key.public_key().public_numbers(), _k(key)
    em = b"\x00\x01" + b"\xff" * (k - MATERIAL_BYTES - 3) + b"\x00" + MATERIAL
    blob = by_hand.rsa_raw(em, numbers.e, numbers.n)
    try:
        opened = unwrap(key, blob, "RSAES_PKCS1_V1_5")
    except UnwrapError:
        return
    assert opened != MATERIAL


@pytest.mark.parametrize("damage", ["no-kwp-part", "kwp-tampered", "kwp-under-other-key", "short-aes-key"])
def test_a_damaged_two_step_blob_is_refused(damage: str) -> None:
    key = private_key(3072)
    wrapped_key = _oaep_blob(key, TRANSPORT_KEY, "sha256")
    kwp = by_hand.kwp_wrap(TRANSPORT_KEY, MATERIAL)
    blob = {
        "no-kwp-part": wrapped_key,
        "kwp-tampered": wrapped_key + kwp[:8] + bytes([kwp[8] ^ 0x80]) + kwp[9:],
        "kwp-under-other-key": wrapped_key + by_hand.kwp_wrap(bytes(32), MATERIAL),
        "short-aes-key": _oaep_blob(key, TRANSPORT_KEY[:16], "sha256") + by_hand.kwp_wrap(TRANSPORT_KEY[:16], MATERIAL),
    }[damage]
    with pytest.raises(UnwrapError):
        unwrap(key, blob, "RSA_AES_KEY_WRAP_SHA_256")


def test_an_unknown_algorithm_is_refused() -> None:
    key = private_key(2048)
    with pytest.raises(UnwrapError):
        unwrap(key, by_hand_blob(key.public_key(), "RSAES_OAEP_SHA_256"), "SM2PKE")


@pytest.mark.parametrize("flavor", sorted(ALGORITHMS))
def test_get_parameters_for_import_refuses_algorithms_the_cloud_does_not_offer(flavor: str) -> None:
    kms = backend()
    key = kms.create_key(origin="EXTERNAL", flavor=flavor)
    # (AWS's retired RSAES_PKCS1_V1_5 has its own error: test_the_backend_refuses_what_aws_no_longer_offers)
    for algorithm in [
        *sorted(set(SCHEMES) - ALGORITHMS[flavor] - {"RSAES_PKCS1_V1_5"}),
        "SM2PKE",
        "rsaes_oaep_sha_256",
    ]:
        with pytest.raises(ServiceError) as exc:
            kms.get_parameters_for_import(key.key_id, algorithm, "RSA_2048")
        assert (exc.value.code, exc.value.http_status) == ("InvalidParameter", 400)
