"""Key material: 16 or 32 bytes that never print, and the decoding rules for what a source holds.

The sizes (:data:`~renewer.materials.wrapping.MATERIAL_SIZES`): 32 bytes for AES-256 keys, 16 bytes
for Alibaba Cloud's ``Aliyun_SM4`` keys. Decoding accepts either; which one a key takes is the key's
spec, which the flow checks. The key check value follows the size: AES-256-ECB of a zero block for
32 bytes, SM4-ECB of a zero block for 16 bytes, since 128-bit material exists here only for
``Aliyun_SM4`` keys (:func:`~renewer.materials.wrapping.key_check_value`).

A source holds the material raw, as hex digits or as base64; the source's ``encoding`` says which,
and when it does, exactly that decoding is applied (:class:`Encoding`). Without it the value's form
decides, and a value that could be read two ways is refused (``MaterialEncodingAmbiguous``): the
first import binds a KMS key to its material for good, so a guess could bind it to the wrong one.

Which values could be read two ways? Take the accepted sizes (16 and 32 bytes) and the three readings:

- **raw or text**: a binary value (a file, a binary secret) of exactly 16 or 32 bytes that are all
  printable ASCII or ASCII whitespace. As text such a value may well be a material too (32 hex
  digits are 16 bytes), and text is what it looks like: a 128-bit key written as 32 hex digits, 24
  bytes as 32 base64 characters, a passphrase. Random material is all printable with odds of
  (101/256)**n: about 1e-13 for 32 bytes, 3e-7 for 16, so the refusal costs real material next to
  nothing. ``encoding: raw`` takes them as the material, ``hex``/``base64`` as text.
- **hex or base64**: never both of an accepted size. 32 or 64 hex digits hold no ``=``, so as
  base64 they are 24 or 48 bytes; base64 of 16 or 32 bytes is padded (24 and 44 characters, ending
  in ``=``), so never hex. So text is hex when it is exactly 32 or 64 hex digits, else base64.
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

from renewer.errors import MaterialError
from renewer.materials.wrapping import MATERIAL_SIZES, WrappingAlgorithm, WrappingKey, key_check_value, wrap

MAX_SOURCE_BYTES = 64 * 1024  # a longer value (file, variable, secret) is refused before decoding
_HEX_RE = re.compile(r"[0-9A-Fa-f]*")
_TEXT_BYTES = frozenset(range(0x20, 0x7F)) | frozenset(b"\t\n\v\f\r")


class Encoding(Enum):
    """How a source holds the material (a source's ``encoding`` field)."""

    RAW = "raw"  # the bytes themselves (a text value: its UTF-8 bytes)
    HEX = "hex"  # 2 digits a byte, either case; whitespace ignored
    BASE64 = "base64"  # standard alphabet, padded; whitespace ignored


class KeyMaterial(Protocol):
    """What the flow needs of a material: its size, to wrap it for a KMS import public key, and its
    key check value. :class:`Material` holds the bytes; an HSM-held key
    (:mod:`renewer.materials.pkcs11`) does both inside the HSM and never gives the bytes out."""

    @property
    def size(self) -> int:
        """How many bytes the material is (16 or 32): the key's spec must take that many."""

    def wrap(self, public_key: WrappingKey, algorithm: WrappingAlgorithm) -> bytes: ...

    def kcv(self) -> str: ...

    def secrets(self) -> tuple[bytes, ...]:
        """What the run must scrub from every message: the bytes, if the process holds them."""


def check_kcv(material: KeyMaterial, expected: str | None, where: str) -> None:
    """The material's KCV must be the configured one. Both are named in the error: a KCV is not
    secret (3 bytes of an AES or SM4 encryption of zeros, made to be compared), and it tells which material
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

    def __init__(self, data: bytes, sizes: tuple[int, ...] = MATERIAL_SIZES) -> None:
        if len(data) not in sizes:
            raise MaterialError(f"material is {len(data)} bytes; {_expected(sizes)}")
        self._data = bytes(data)

    @property
    def size(self) -> int:
        return len(self._data)

    def reveal(self) -> bytes:
        return self._data

    def kcv(self) -> str:
        return key_check_value(self._data)

    def wrap(self, public_key: WrappingKey, algorithm: WrappingAlgorithm) -> bytes:
        return wrap(public_key, self._data, algorithm)

    def secrets(self) -> tuple[bytes, ...]:
        return (self._data,)

    def __repr__(self) -> str:
        return "Material(<redacted>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Material cannot be pickled")


def decode_text(
    text: str, where: str, encoding: Encoding | None = None, sizes: tuple[int, ...] = MATERIAL_SIZES
) -> Material:
    """A text value (a variable, a text secret). Without ``encoding``: exactly ``2 * size`` hex
    digits for one of ``sizes``, or base64 of exactly one of ``sizes`` bytes (see the module's
    docstring); never raw."""
    _check_length(len(text), where)
    if encoding is Encoding.RAW:
        try:
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise MaterialError(f"{where}: text cannot be encoded as UTF-8", code="MaterialNotDecodable") from None
        return _exact(data, f"{where}: value is {len(data)} bytes as UTF-8", sizes)
    value = "".join(text.split())
    if encoding is Encoding.HEX:
        return _hex(value, where, sizes)
    if encoding is Encoding.BASE64:
        return _base64(value, where, sizes)
    if len(value) in {2 * size for size in sizes} and _HEX_RE.fullmatch(value):
        return Material(bytes.fromhex(value), sizes)
    data = _base64_or_none(value)
    if data is None:
        digits = " or ".join(str(2 * size) for size in sizes)
        raise MaterialError(
            f"{where}: text is neither {digits} hex digits nor base64 ({len(value)} characters)",
            code="MaterialNotDecodable",
        )
    return _exact(data, f"{where}: decodes to {len(data)} bytes", sizes)


def decode_binary(
    data: bytes, where: str, encoding: Encoding | None = None, sizes: tuple[int, ...] = MATERIAL_SIZES
) -> Material:
    """A binary value (a binary secret). Without ``encoding``: exactly one of ``sizes`` raw bytes,
    refused when they are all printable text (see the module's docstring)."""
    _check_length(len(data), where)
    if encoding is None or encoding is Encoding.RAW:
        material = _exact(data, f"{where}: binary value is {len(data)} bytes", sizes)
        if encoding is None and _looks_like_text(data):
            raise MaterialError(
                f"{where}: the {len(data)} bytes are all printable ASCII: the raw material, or text encoding "
                "another? Set encoding: raw|hex|base64 on this source",
                code="MaterialEncodingAmbiguous",
            )
        return material
    return decode_text(_ascii(data, where, encoding), where, encoding, sizes)


def decode_file(
    data: bytes, where: str, encoding: Encoding | None = None, sizes: tuple[int, ...] = MATERIAL_SIZES
) -> Material:
    """A file's bytes. Without ``encoding``: exactly one of ``sizes`` raw bytes (refused when all
    printable, as :func:`decode_binary`), or else ASCII text read as :func:`decode_text` reads it."""
    if encoding is not None or len(data) in sizes:
        return decode_binary(data, where, encoding, sizes)
    _check_length(len(data), where)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MaterialError(
            f"{where}: {len(data)} bytes that are neither {_either(sizes)} raw bytes nor hex/base64 text",
            code="MaterialNotDecodable",
        ) from None
    return decode_text(text, where, None, sizes)


def _either(sizes: tuple[int, ...]) -> str:
    return " or ".join(str(size) for size in sizes)


def _expected(sizes: tuple[int, ...]) -> str:
    """The accepted sizes, never the value: "expected 16 or 32 bytes (128 or 256 bits)"."""
    bits = " or ".join(str(size * 8) for size in sizes)
    return f"expected {_either(sizes)} bytes ({bits} bits)"


def _exact(data: bytes, what: str, sizes: tuple[int, ...]) -> Material:
    if len(data) not in sizes:
        raise MaterialError(f"{what}; {_expected(sizes)}", code="MaterialWrongSize")
    return Material(data, sizes)


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


def _hex(value: str, where: str, sizes: tuple[int, ...]) -> Material:
    if len(value) % 2 or not _HEX_RE.fullmatch(value):
        raise MaterialError(
            f"{where}: text is not an even number of hex digits ({len(value)} characters)",
            code="MaterialNotDecodable",
        )
    return _exact(bytes.fromhex(value), f"{where}: decodes to {len(value) // 2} bytes", sizes)


def _base64(value: str, where: str, sizes: tuple[int, ...]) -> Material:
    data = _base64_or_none(value)
    if data is None:
        raise MaterialError(f"{where}: text is not base64 ({len(value)} characters)", code="MaterialNotDecodable")
    return _exact(data, f"{where}: decodes to {len(data)} bytes", sizes)


def _base64_or_none(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):  # its message may quote the input: dropped, never chained
        return None
