"""The wrapping-algorithm table the function wraps material with. The function only wraps; the
emulator unwraps with its own table, written independently (``emulator/backend/unwrap.py``), and
each side is checked against hand-built known answers (``tests/unit/test_wrapping_kat.py``,
``tests/emulator/test_unwrap_kat.py``).

One explicit mapping from the KMS algorithm name to a ``cryptography`` padding object. OAEP with
SHA-256 (for both the hash and MGF1) is the default; PKCS#1 v1.5 is legacy and supported only
because Alibaba Cloud KMS still offers it (AWS KMS retired it for imports on 2023-10-10; the
configuration refuses it for AWS keys). AWS KMS also offers the two-step ``RSA_AES_KEY_WRAP_SHA_*``: a fresh
AES-256 key is RSA-OAEP-wrapped, and wraps the material with AES Key Wrap with Padding (RFC 5649);
the blob is the wrapped AES key followed by the wrapped material.
"""

from __future__ import annotations

import base64
import os
from enum import Enum

from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MATERIAL_BYTES = 32


class WrappingAlgorithm(str, Enum):
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    RSAES_PKCS1_V1_5 = "RSAES_PKCS1_V1_5"  # legacy; Alibaba Cloud KMS only since AWS retired it
    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"  # AWS KMS only
    RSA_AES_KEY_WRAP_SHA_1 = "RSA_AES_KEY_WRAP_SHA_1"  # AWS KMS only

    @property
    def two_step(self) -> bool:
        return self in (WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_256, WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1)


ALIBABA_ALGORITHMS = frozenset(
    {WrappingAlgorithm.RSAES_OAEP_SHA_256, WrappingAlgorithm.RSAES_OAEP_SHA_1, WrappingAlgorithm.RSAES_PKCS1_V1_5}
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
    raise ValueError(f"unsupported wrapping algorithm {algorithm!r}")  # pragma: no cover


def load_public_key(public_key: bytes | str) -> rsa.RSAPublicKey:
    """Parse the ``PublicKey`` of ``GetParametersForImport``: DER SubjectPublicKeyInfo (as bytes, or
    as base64 text, the way Alibaba Cloud's API returns it)."""
    der = public_key if isinstance(public_key, bytes) else base64.b64decode(public_key, validate=True)
    key = serialization.load_der_public_key(der)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the import public key is not an RSA key")
    return key


def wrap(public_key: rsa.RSAPublicKey, material: bytes, algorithm: WrappingAlgorithm) -> bytes:
    """Encrypt ``material`` under the KMS import public key."""
    algorithm = WrappingAlgorithm(algorithm)
    if algorithm.two_step:
        transport_key = os.urandom(32)
        wrapped_key = public_key.encrypt(transport_key, padding_for(algorithm))
        return wrapped_key + keywrap.aes_key_wrap_with_padding(transport_key, material)
    return public_key.encrypt(material, padding_for(algorithm))


def key_check_value(material: bytes) -> str:
    """First 3 bytes of AES-256-ECB(material, 16 zero bytes), upper-case hex."""
    # ECB over a single zero block is the definition of a key check value, not a data mode.
    encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()  # noqa: S305
    block = encryptor.update(bytes(16)) + encryptor.finalize()
    return block[:3].hex().upper()
