"""How the emulator opens ``EncryptedKeyMaterial``: its own table of wrapping algorithms.

Written from the services' documentation, independently of the function's wrapping code, so the
two are separate readings of the same specifications (known-answer tests check each against
padding built by hand; the end-to-end tests check that they agree). The client helper that seeds
emulator keys (:mod:`emulator.cloud`) wraps with this table.

Alibaba Cloud KMS, ``GetParametersForImport`` / ``ImportKeyMaterial`` (API 2016-01-20,
https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getparametersforimport
and .../api-kms-2016-01-20-importkeymaterial): ``WrappingKeySpec`` ``RSA_2048``;
``WrappingAlgorithm`` ``RSAES_OAEP_SHA_256``, ``RSAES_OAEP_SHA_1`` or ``RSAES_PKCS1_V1_5``, the
material encrypted directly under the public key.

AWS KMS, the same two actions (botocore ``kms/2014-11-01/service-2.json``: shapes ``AlgorithmSpec``
and ``WrappingKeySpec``; developer guide "Step 3: Encrypt the key material",
https://docs.aws.amazon.com/kms/latest/developerguide/importing-keys-encrypt-key-material.html):
``WrappingKeySpec`` ``RSA_2048``, ``RSA_3072`` or ``RSA_4096``; ``WrappingAlgorithm`` the three
above plus ``RSA_AES_KEY_WRAP_SHA_1`` and ``RSA_AES_KEY_WRAP_SHA_256``. Those two are two-step: the
client makes a 256-bit AES key, encrypts it under the public key with RSAES-OAEP (SHA-1 or SHA-256
for both the hash and MGF1, empty label), wraps the material under that AES key with AES Key Wrap
with Padding (RFC 5649), and sends the RSA ciphertext (as long as the modulus) followed by the
AES-KWP ciphertext.

RSAES-OAEP and RSAES-PKCS1-v1_5 are RFC 8017 sections 7.1 and 7.2; the primitives are pyca's, each
parameter spelled out. OAEP is the default; PKCS#1 v1.5 is legacy.

AWS refuses two things its model still names, and so does the emulator, on AWS-flavoured keys:
``RSAES_PKCS1_V1_5`` ("As of October 10, 2023, KMS does not support the RSAES_PKCS1_V1_5 wrapping
algorithm": botocore's ``GetParametersForImportRequest.WrappingAlgorithm`` documentation; the
``AlgorithmSpec`` enum keeps the value), and ``RSA_AES_KEY_WRAP_SHA_*`` in the China Regions
("The RSA_AES_KEY_WRAP_SHA_256 and RSA_AES_KEY_WRAP_SHA_1 wrapping algorithms are not supported in
China Regions": developer guide, "Step 3: Encrypt the key material"), that is the ``aws-cn``
partition's ``cn-north-1`` and ``cn-northwest-1``. Alibaba Cloud still offers PKCS#1 v1.5.

Alibaba Cloud also offers ``WrappingKeySpec`` ``EC_SM2`` with ``WrappingAlgorithm`` ``SM2PKE``, for
keys whose ``ProtectionLevel`` is ``HSM`` only (Managed HSM, Chinese mainland), and ``RSA_2048`` for
keys of every protection level (the GetParametersForImport reference's table): the material is
encrypted directly under the SM2 public key (:mod:`emulator.backend.sm2`). The key spec and the
algorithm must belong together (``RSA_2048`` with an ``RSAES_*``, ``EC_SM2`` with ``SM2PKE``).

NOTE: AWS's model also lists ``SM2PKE`` (with the ``SM2`` wrapping key spec, China Regions only);
the emulator does not offer it on AWS keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from emulator.backend import sm2

#: An AES-256 key's material (Alibaba ``Aliyun_AES_256``, AWS ``SYMMETRIC_DEFAULT``).
MATERIAL_BYTES = 32
#: Material size per Alibaba ``KeySpec``: AES-256 takes 256 bits, SM4 (GB/T 32907) 128 bits.
MATERIAL_BYTES_BY_SPEC: dict[str, int] = {"Aliyun_AES_256": MATERIAL_BYTES, "Aliyun_SM4": 16}
#: Alibaba's SM2 wrapping: key spec and algorithm (GetParametersForImport reference).
SM2_KEY_SPEC = "EC_SM2"
SM2PKE = "SM2PKE"
#: The AES key of the two-step algorithms: AWS's guide asks for a 256-bit key.
#: NOTE: whether AWS accepts a shorter AES key is not documented; the emulator refuses one.
TRANSPORT_KEY_BYTES = 32


class UnwrapError(ValueError):
    """The blob does not open with this wrapping key and algorithm."""


def _oaep(hash_algorithm: Callable[[], hashes.HashAlgorithm]) -> padding.AsymmetricPadding:
    return padding.OAEP(mgf=padding.MGF1(hash_algorithm()), algorithm=hash_algorithm(), label=None)


@dataclass(frozen=True)
class Scheme:
    """One ``WrappingAlgorithm``: the RSA padding, and whether an AES-KWP layer follows (two-step)."""

    name: str
    rsa_padding: Callable[[], padding.AsymmetricPadding]
    two_step: bool = False


def _sha1() -> hashes.HashAlgorithm:
    return hashes.SHA1()  # noqa: S303 - SHA-1 inside OAEP is still sound; offered because KMS offers it


_TABLE = (
    Scheme("RSAES_OAEP_SHA_256", lambda: _oaep(hashes.SHA256)),
    Scheme("RSAES_OAEP_SHA_1", lambda: _oaep(_sha1)),
    Scheme("RSAES_PKCS1_V1_5", padding.PKCS1v15),  # legacy
    Scheme("RSA_AES_KEY_WRAP_SHA_256", lambda: _oaep(hashes.SHA256), two_step=True),
    Scheme("RSA_AES_KEY_WRAP_SHA_1", lambda: _oaep(_sha1), two_step=True),
)
#: ``WrappingAlgorithm`` wire name -> scheme.
SCHEMES: dict[str, Scheme] = {scheme.name: scheme for scheme in _TABLE}
#: What each protocol offers (AWS outside its China Regions).
ALGORITHMS: dict[str, frozenset[str]] = {
    "alibaba": frozenset({"RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"}),
    "aws": frozenset(SCHEMES) - {"RSAES_PKCS1_V1_5"},
}
#: AWS's China Regions (the ``aws-cn`` partition), where the two-step algorithms are not offered.
AWS_CHINA_REGIONS = frozenset({"cn-north-1", "cn-northwest-1"})
#: Named in AWS's model, refused by AWS: why, in the error message.
AWS_REFUSED: dict[str, str] = {
    "RSAES_PKCS1_V1_5": "As of October 10, 2023, KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm.",
    "RSA_AES_KEY_WRAP_SHA_256": "The RSA_AES_KEY_WRAP_SHA_256 wrapping algorithm is not supported in China Regions.",
    "RSA_AES_KEY_WRAP_SHA_1": "The RSA_AES_KEY_WRAP_SHA_1 wrapping algorithm is not supported in China Regions.",
}
WRAPPING_KEY_SPECS: dict[str, tuple[str, ...]] = {
    "alibaba": ("RSA_2048",),
    "aws": ("RSA_2048", "RSA_3072", "RSA_4096"),
}


def offered(flavor: str, region: str) -> frozenset[str]:
    """The ``WrappingAlgorithm`` values a key of ``flavor`` in ``region`` accepts."""
    if flavor == "aws" and region in AWS_CHINA_REGIONS:
        return frozenset(name for name in ALGORITHMS["aws"] if not SCHEMES[name].two_step)
    return ALGORITHMS[flavor]


def material_bytes(key_spec: str) -> int:
    """How many bytes of material a key of ``key_spec`` takes (32 for a spec not in the table)."""
    return MATERIAL_BYTES_BY_SPEC.get(key_spec, MATERIAL_BYTES)


def alibaba_sm2_problem(wrapping_key_spec: str, algorithm: str, protection_level: str) -> str | None:
    """Why Alibaba refuses this pair for a key of ``protection_level`` when either names SM2, or
    None: ``EC_SM2`` goes with ``SM2PKE`` (never ``RSA_2048``), and only on ``HSM`` keys. The RSA
    pairs are :data:`ALGORITHMS` and :data:`WRAPPING_KEY_SPECS`."""
    if (wrapping_key_spec == SM2_KEY_SPEC) != (algorithm == SM2PKE):
        return "EC_SM2 goes with SM2PKE, RSA_2048 with RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1 or RSAES_PKCS1_V1_5."
    if algorithm == SM2PKE and protection_level != "HSM":
        return "SM2PKE is offered for keys whose ProtectionLevel is HSM only."
    return None


def unwrap_sm2(private_key: int, blob: bytes) -> bytes:
    """The material inside an ``SM2PKE`` blob (GM/T 0009 DER); ``UnwrapError`` when it does not open."""
    try:
        return sm2.decrypt(private_key, blob)
    except sm2.Sm2Error as exc:
        raise UnwrapError("the SM2 ciphertext does not decrypt") from exc


def scheme(algorithm: str) -> Scheme:
    """The scheme a ``WrappingAlgorithm`` names; ``UnwrapError`` for one not in the table."""
    try:
        return SCHEMES[algorithm]
    except KeyError:
        raise UnwrapError(f"unknown wrapping algorithm {algorithm!r}") from None


def unwrap(private_key: rsa.RSAPrivateKey, blob: bytes, algorithm: str) -> bytes:
    """The material inside ``blob``; ``UnwrapError`` when it does not open (never says why)."""
    chosen = scheme(algorithm)
    if not chosen.two_step:
        return _rsa_decrypt(private_key, blob, chosen)
    size = (private_key.key_size + 7) // 8
    if len(blob) <= size:
        raise UnwrapError("the blob holds no AES-KWP part")
    transport_key = _rsa_decrypt(private_key, blob[:size], chosen)
    if len(transport_key) != TRANSPORT_KEY_BYTES:
        raise UnwrapError("the wrapped AES key is not 256 bits")
    try:
        return keywrap.aes_key_unwrap_with_padding(transport_key, blob[size:])
    except keywrap.InvalidUnwrap as exc:
        raise UnwrapError("the AES-KWP part does not unwrap") from exc


def _rsa_decrypt(private_key: rsa.RSAPrivateKey, ciphertext: bytes, chosen: Scheme) -> bytes:
    """NOTE: for PKCS#1 v1.5, OpenSSL's implicit rejection (the Marvin countermeasure) answers a
    malformed block with a synthetic plaintext instead of an error, which the caller then refuses
    by its size (or as different material). How the services report a malformed PKCS#1 v1.5 block
    is not documented."""
    try:
        return private_key.decrypt(ciphertext, chosen.rsa_padding())
    except ValueError as exc:
        raise UnwrapError("the RSA part does not decrypt") from exc
