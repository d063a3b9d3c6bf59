"""The wrapping-algorithm table the function wraps material with. The function only wraps; the
emulator unwraps with its own table, written independently (``emulator/backend/unwrap.py``), and
each side is checked against hand-built known answers (``tests/unit/test_wrapping_kat.py``,
``tests/unit/test_sm2_wrapping.py``, ``tests/emulator/test_unwrap_kat.py``).

One explicit mapping from the KMS algorithm name to a ``cryptography`` padding object. OAEP with
SHA-256 (for both the hash and MGF1) is the default; PKCS#1 v1.5 is legacy and supported only
because Alibaba Cloud KMS still offers it (AWS KMS retired it for imports on 2023-10-10; the
configuration refuses it for AWS keys). AWS KMS also offers the two-step ``RSA_AES_KEY_WRAP_SHA_*``: a fresh
AES-256 key is RSA-OAEP-wrapped, and wraps the material with AES Key Wrap with Padding (RFC 5649);
the blob is the wrapped AES key followed by the wrapped material. Alibaba Cloud KMS also offers
``SM2PKE`` under an ``EC_SM2`` wrapping key (HSM-protected keys): SM2 public-key encryption, in
:mod:`renewer.materials.sm2` (gmalg, imported only when an SM2 key is used).

The key check value (:func:`key_check_value`) is the first 3 bytes of one zero block encrypted under
the material: AES-256-ECB for 32 bytes; SM4-ECB for 16 bytes, since 128-bit material exists here
only for Alibaba Cloud's ``Aliyun_SM4`` keys.
"""

from __future__ import annotations

import base64
import os
from enum import Enum

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from renewer.materials import sm2
from renewer.materials.sm2 import Sm2PublicKey

#: The material sizes the function imports: 16 bytes (Alibaba Cloud's Aliyun_SM4 keys) and 32 bytes
#: (AES-256 keys, both clouds). Which one a key takes is the key's spec; the flow checks it.
MATERIAL_SIZES = (16, 32)

#: What ``GetParametersForImport`` hands out to wrap under: an RSA key, or an SM2 point for SM2PKE.
WrappingKey = rsa.RSAPublicKey | Sm2PublicKey


class WrappingAlgorithm(str, Enum):
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    RSAES_PKCS1_V1_5 = "RSAES_PKCS1_V1_5"  # legacy; Alibaba Cloud KMS only since AWS retired it
    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"  # AWS KMS only
    RSA_AES_KEY_WRAP_SHA_1 = "RSA_AES_KEY_WRAP_SHA_1"  # AWS KMS only
    SM2PKE = "SM2PKE"  # Alibaba Cloud KMS only, EC_SM2 wrapping keys (keys with ProtectionLevel HSM)

    @property
    def two_step(self) -> bool:
        return self in (WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256, WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1)

    @property
    def wrapping_key_spec(self) -> str:
        """The ``WrappingKeySpec`` to ask Alibaba Cloud KMS for: ``EC_SM2`` for SM2PKE, else
        ``RSA_2048`` (its one RSA size). AWS picks its own (``clouds/aws.py``: RSA_4096 for two-step)."""
        return "EC_SM2" if self is WrappingAlgorithm.SM2PKE else "RSA_2048"


ALIBABA_ALGORITHMS = frozenset(
    {
        WrappingAlgorithm.RSAES_OAEP_SHA_256,
        WrappingAlgorithm.RSAES_OAEP_SHA_1,
        WrappingAlgorithm.RSAES_PKCS1_V1_5,
        WrappingAlgorithm.SM2PKE,
    }
)


def padding_for(algorithm: WrappingAlgorithm) -> padding.AsymmetricPadding:
    """The RSA padding that ``algorithm`` names, with every parameter spelled out."""
    match WrappingAlgorithm(algorithm):
        case WrappingAlgorithm.RSAES_OAEP_SHA_256 | WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256:
            return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        case WrappingAlgorithm.RSAES_OAEP_SHA_1 | WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1:
            # SHA-1 inside OAEP is still sound; offered because KMS offers it.
            sha1 = hashes.SHA1()  # noqa: S303
            return padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None)
        case WrappingAlgorithm.RSAES_PKCS1_V1_5:
            return padding.PKCS1v15()
        case WrappingAlgorithm.SM2PKE:
            raise ValueError("SM2PKE is SM2 encryption, not an RSA padding")
    raise ValueError(f"unsupported wrapping algorithm {algorithm!r}")  # pragma: no cover


def load_public_key(public_key: bytes | str, algorithm: WrappingAlgorithm | None = None) -> WrappingKey:
    """Parse the ``PublicKey`` of ``GetParametersForImport``: DER SubjectPublicKeyInfo (as bytes, or
    as base64 text, the way Alibaba Cloud's API returns it). An SM2 key for ``SM2PKE``, an RSA key
    for every other algorithm (``None``: one of the RSA algorithms). A key of the other kind, or not
    a key at all, is a :class:`ValueError`."""
    der = public_key if isinstance(public_key, bytes) else base64.b64decode(public_key, validate=True)
    if algorithm is not None and WrappingAlgorithm(algorithm) is WrappingAlgorithm.SM2PKE:
        return sm2.load_public_key(der)
    try:
        key = serialization.load_der_public_key(der)
    except UnsupportedAlgorithm as exc:  # an SM2 key, say: pyca knows no SM2 curve
        raise ValueError(f"the import public key is not an RSA key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the import public key is not an RSA key")
    return key


def wrap(public_key: WrappingKey, material: bytes, algorithm: WrappingAlgorithm) -> bytes:
    """Encrypt ``material`` under the KMS import public key."""
    algorithm = WrappingAlgorithm(algorithm)
    if algorithm is WrappingAlgorithm.SM2PKE:
        if not isinstance(public_key, Sm2PublicKey):
            raise ValueError("SM2PKE wraps under an SM2 public key (EC_SM2), and this one is RSA")
        return sm2.encrypt(public_key, material)
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError(f"{algorithm.value} wraps under an RSA public key, and this one is SM2")
    if algorithm.two_step:
        transport_key = os.urandom(32)
        wrapped_key = public_key.encrypt(transport_key, padding_for(algorithm))
        return wrapped_key + keywrap.aes_key_wrap_with_padding(transport_key, material)
    return public_key.encrypt(material, padding_for(algorithm))


def key_check_value(material: bytes) -> str:
    """First 3 bytes of one zero block encrypted under ``material``, upper-case hex: AES-256-ECB for
    32 bytes, SM4-ECB (GB/T 32907) for 16 bytes (the Aliyun_SM4 keys' material)."""
    match len(material):
        case 32:
            cipher = algorithms.AES(material)
        case 16:
            cipher = algorithms.SM4(material)
        case size:
            raise ValueError(f"a key check value needs 16 or 32 bytes of material, not {size}")
    # ECB over a single zero block is the definition of a key check value, not a data mode.
    encryptor = Cipher(cipher, modes.ECB()).encryptor()  # noqa: S305
    block = encryptor.update(bytes(16)) + encryptor.finalize()
    return block[:3].hex().upper()
