"""Key material: 32 bytes that never print, and the decoding rules for what a source holds.

A source holds the material raw, as hex digits or as base64; the source's ``encoding`` says which,
and when it does, exactly that decoding is applied (:class:`Encoding`). Without it the value's form
decides, and a value that could be read two ways is refused (``MaterialEncodingAmbiguous``): the
first import binds a KMS key to its material for good, so a guess could bind it to the wrong one.

Which values could be read two ways? Take ``size`` (32) bytes of material and the three readings:

- **raw or text**: a binary value (a file, a binary secret) of exactly ``size`` bytes that are all
  printable ASCII or ASCII whitespace. As text those bytes never decode to ``size`` bytes (hex gives
  ``size / 2``, base64 at most ``3 * size / 4``), but text is what they look like: a 128-bit key
  written as 32 hex digits, 24 bytes as 32 base64 characters, a passphrase. Random material is all
  printable with odds of (100/256)**32, about 1e-13, so the refusal costs real material nothing.
  ``encoding: raw`` takes them as the material, ``hex``/``base64`` as text.
- **hex or base64**: never both of ``size`` bytes. ``2 * size`` hex digits hold no ``=``, so as
  base64 they are ``3 * size / 2`` bytes; base64 of ``size`` bytes is hex only when unpadded
  (``size`` a multiple of 3), ``4 * size / 3`` characters, as hex ``2 * size / 3`` bytes. So text is
  hex when it is exactly ``2 * size`` hex digits, else base64.
- **raw text**: text is never taken raw unless ``encoding: raw`` says so.

Nothing here ever puts the material, or any part of it, into a message: errors give lengths and
the source's name, and decoders' own exceptions (which may quote input) are dropped (``from None``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from enum import Enum
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from renewer.errors import MaterialError
from renewer.materials.wrapping import MATERIAL_BYTES, WrappingAlgorithm, key_check_value, wrap

MAX_SOURCE_BYTES = 64 * 1024  # a longer value (file, variable, secret) is refused before decoding
_HEX_RE = re.compile(r"[0-9A-Fa-f]*")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | frozenset(b"\t\n\v\f\r")


class Encoding(Enum):
    """How a source holds the material (a source's ``encoding`` field)."""

    RAW = "raw"  # the bytes themselves (a text value: its UTF-8 bytes)
    HEX = "hex"  # 2 digits a byte, either case; whitespace ignored
    BASE64 = "base64"  # standard alphabet, padded; whitespace ignored


class KeyMaterial(Protocol):
    """What the flow needs of a material: wrap it for a KMS import public key, and its key check
    value. :class:`Material` holds the bytes; an HSM-held key (:mod:`renewer.materials.pkcs11`) does
    both inside the HSM and never gives the bytes out."""

    def wrap(self, public_key: rsa.RSAPublicKey, algorithm: WrappingAlgorithm) -> bytes: ...

    def kcv(self) -> str: ...

    def secrets(self) -> tuple[bytes, ...]:
        """What the run must scrub from every message: the bytes, if the process holds them."""


def check_kcv(material: KeyMaterial, expected: str | None, where: str) -> None:
    """The material's KCV must be the configured one. Both are named in the error: a KCV is not
    secret (3 bytes of an AES encryption of zeros, made to be compared), and it tells which material
    the source holds."""
    if expected is None:
        return
    found = material.kcv()
    if not hmac.compare_digest(found, expected.upper()):
        raise MaterialError(
            f"{where}: key check value {found} does not match the configured kcv {expected.upper()}",
            code="KcvMismatch",
        )


class Material:
    """The material itself. ``repr``/``str`` are redacted; ``reveal()`` is the one way in."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes, size: int = MATERIAL_BYTES) -> None:
        if len(data) != size:
            raise MaterialError(f"material is {len(data)} bytes; {_expected(size)}")
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


def decode_text(text: str, where: str, encoding: Encoding | None = None, size: int = MATERIAL_BYTES) -> Material:
    """A text value (a variable, a text secret). Without ``encoding``: exactly ``2 * size`` hex
    digits, or base64 of exactly ``size`` bytes (see the module's docstring); never raw."""
    _check_length(len(text), where)
    if encoding is Encoding.RAW:
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise MaterialError(f"{where}: text cannot be encoded as UTF-8", code="MaterialNotDecodable") from None
        return _exact(data, f"{where}: value is {len(data)} bytes as UTF-8", size)
    value = "".join(text.split())
    if encoding is Encoding.HEX:
        return _hex(value, where, size)
    if encoding is Encoding.BASE64:
        return _base64(value, where, size)
    if len(value) == 2 * size and _HEX_RE.fullmatch(value):
        return Material(bytes.fromhex(value), size)
    data = _base64_or_none(value)
    if data is None:
        raise MaterialError(
            f"{where}: text is neither {2 * size} hex digits nor base64 ({len(value)} characters)",
            code="MaterialNotDecodable",
        )
    return _exact(data, f"{where}: decodes to {len(data)} bytes", size)


def decode_binary(data: bytes, where: str, encoding: Encoding | None = None, size: int = MATERIAL_BYTES) -> Material:
    """A binary value (a binary secret). Without ``encoding``: exactly ``size`` raw bytes, refused
    when they are all printable text (see the module's docstring)."""
    _check_length(len(data), where)
    if encoding is None or encoding is Encoding.RAW:
        material = _exact(data, f"{where}: binary value is {len(data)} bytes", size)
        if encoding is None and _looks_like_text(data):
            raise MaterialError(
                f"{where}: the {size} bytes are all printable ASCII: the raw material, or text encoding "
                "another? Set encoding: raw|hex|base64 on this source",
                code="MaterialEncodingAmbiguous",
            )
        return material
    return decode_text(_ascii(data, where, encoding), where, encoding, size)


def decode_file(data: bytes, where: str, encoding: Encoding | None = None, size: int = MATERIAL_BYTES) -> Material:
    """A file's bytes. Without ``encoding``: exactly ``size`` raw bytes (refused when all printable,
    as :func:`decode_binary`), or else ASCII text read as :func:`decode_text` reads it."""
    if encoding is not None or len(data) == size:
        return decode_binary(data, where, encoding, size)
    _check_length(len(data), where)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MaterialError(
            f"{where}: {len(data)} bytes that are neither {size} raw bytes nor hex/base64 text",
            code="MaterialNotDecodable",
        ) from None
    return decode_text(text, where, None, size)


def _expected(size: int) -> str:
    return f"expected exactly {size} ({size * 8} bits)"


def _exact(data: bytes, what: str, size: int) -> Material:
    if len(data) != size:
        raise MaterialError(f"{what}; {_expected(size)}", code="MaterialWrongSize")
    return Material(data, size)


def _check_length(length: int, where: str) -> None:
    if length > MAX_SOURCE_BYTES:
        raise MaterialError(
            f"{where}: holds more than {MAX_SOURCE_BYTES} bytes; material is a few dozen", code="MaterialWrongSize"
        )


def _looks_like_text(data: bytes) -> bool:
    return all(byte in _TEXT_BYTES for byte in data)


def _ascii(data: bytes, where: str, encoding: Encoding) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise MaterialError(
            f"{where}: value is not ASCII text, so not {encoding.value}", code="MaterialNotDecodable"
        ) from None


def _hex(value: str, where: str, size: int) -> Material:
    if len(value) % 2 or not _HEX_RE.fullmatch(value):
        raise MaterialError(
            f"{where}: text is not an even number of hex digits ({len(value)} characters)",
            code="MaterialNotDecodable",
        )
    return _exact(bytes.fromhex(value), f"{where}: decodes to {len(value) // 2} bytes", size)


def _base64(value: str, where: str, size: int) -> Material:
    data = _base64_or_none(value)
    if data is None:
        raise MaterialError(f"{where}: text is not base64 ({len(value)} characters)", code="MaterialNotDecodable")
    return _exact(data, f"{where}: decodes to {len(data)} bytes", size)


def _base64_or_none(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):  # its message may quote the input: dropped, never chained
        return None
