"""Key material: 32 bytes that never print, and the decoding rules for what a source holds.

A source holds the 32 bytes as base64 or as 64 hex digits (text), or raw (binary). Nothing here
ever puts the material, or any part of it, into a message.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from renewer.errors import MaterialError
from renewer.wrapping import MATERIAL_BYTES, WrappingAlgorithm, key_check_value, wrap

_HEX_RE = re.compile(r"^[0-9A-Fa-f]{64}$")


class KeyMaterial(Protocol):
    """What the flow needs of a material: wrap it for a KMS import public key, and its key check
    value. :class:`Material` holds the bytes; an HSM-held key (:mod:`renewer.pkcs11_source`) does
    both inside the HSM and never gives the bytes out."""

    def wrap(self, public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> bytes: ...

    def kcv(self) -> str: ...

    def secrets(self) -> tuple[bytes, ...]:
        """What the run must scrub from every message: the bytes, if the process holds them."""


def check_kcv(material: KeyMaterial, expected: str | None, where: str) -> None:
    if expected is not None and not hmac.compare_digest(material.kcv(), expected.upper()):
        raise MaterialError(f"{where}: key check value does not match the configured kcv", code="KcvMismatch")


class Material:
    """The material itself. ``repr``/``str`` are redacted; ``reveal()`` is the one way in."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        if len(data) != MATERIAL_BYTES:
            raise MaterialError(f"material is {len(data)} bytes; expected exactly {MATERIAL_BYTES} (256 bits)")
        self._data = bytes(data)

    def reveal(self) -> bytes:
        return self._data

    def kcv(self) -> str:
        return key_check_value(self._data)

    def wrap(self, public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> bytes:
        return wrap(public_key, self._data, algorithm)

    def secrets(self) -> tuple[bytes, ...]:
        return (self._data,)

    def __repr__(self) -> str:
        return "Material(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Material cannot be pickled")


def decode_text(text: str, where: str) -> Material:
    """64 hex digits or base64 of exactly 32 bytes."""
    value = "".join(text.split())
    if _HEX_RE.match(value):
        return Material(bytes.fromhex(value))
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        # ``from None``: the decoder's own message may quote the secret's characters.
        raise MaterialError(
            f"{where}: text is neither 64 hex digits nor base64 ({len(value)} characters)", code="MaterialNotDecodable"
        ) from None
    if len(data) != MATERIAL_BYTES:
        raise MaterialError(
            f"{where}: decodes to {len(data)} bytes; expected exactly {MATERIAL_BYTES} (256 bits)",
            code="MaterialWrongSize",
        )
    return Material(data)


def decode_binary(data: bytes, where: str) -> Material:
    if len(data) != MATERIAL_BYTES:
        raise MaterialError(
            f"{where}: binary value is {len(data)} bytes; expected exactly {MATERIAL_BYTES} (256 bits)",
            code="MaterialWrongSize",
        )
    return Material(data)
