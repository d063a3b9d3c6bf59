"""SM2 public-key encryption for ``SM2PKE`` imports into Alibaba Cloud KMS (issue #14).

Alibaba Cloud KMS offers ``WrappingKeySpec`` ``EC_SM2`` with ``WrappingAlgorithm`` ``SM2PKE`` for
keys whose ``ProtectionLevel`` is ``HSM`` (GetParametersForImport, API 2016-01-20). ``SM2PKE`` is
SM2 public-key encryption (GM/T 0003.4, section 6): C1 = [k]G, (x2, y2) = [k]P, t = KDF(x2 || y2,
len(M)) with SM3, C2 = M xor t, C3 = SM3(x2 || M || y2). The ciphertext handed to KMS is GM/T 0009's
``SM2Cipher``, DER: SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER, HASH OCTET STRING (32),
CipherText OCTET STRING }, the C1C3C2 order OpenSSL 3's ``pkeyutl -encrypt`` emits with an SM2 key.
The public key is DER SubjectPublicKeyInfo: ``id-ecPublicKey`` (1.2.840.10045.2.1) with the SM2
curve (1.2.156.10197.1.301) and an uncompressed point; anything else is refused (:func:`load_public_key`).

Why gmalg (``gmalg==1.1.2``, pure Python, MIT, https://github.com/ww-rm/gmalg) does the encryption:
it follows GM/T 0003, draws the ephemeral k from :mod:`secrets` (``secrets.randbits``), needs no
native build on Function Compute, and is maintained. Rejected: ``gmssl`` 3.2.2 draws k with
``random.choice``, not a CSPRNG (a predictable k gives away the material: M = C2 xor KDF([k]P));
``tongsuopy`` 1.0.1 has no SM2 encryption in its public API (only through private cffi bindings);
pyca/cryptography has no SM2 curve. gmalg returns ``04 || x1 || y1 || C3 || C2``; the DER above is
written here (:func:`encode_ciphertext`), with a strict reader for tests (:func:`decode_ciphertext`).

NOTE: residual risk. gmalg's scalar multiplication is plain Python double-and-add: not constant
time, so its timing depends on k. The function runs in a single-tenant sandbox and encrypts once per
key per run, which leaves an observer no useful timing channel; an HSM would remove the risk, but
PKCS#11 has no standard SM2 mechanism (see :mod:`renewer.materials.pkcs11`). gmalg draws k in
[1, p - 1] rather than [1, n - 1]; since p - n < 2**128 the bias is below 2**-128.

gmalg is imported only when something is encrypted (cold start: an RSA-only configuration never
loads it); without it the error names the ``sm2`` extra. No message here holds the plaintext, the
ciphertext or any part of either: only lengths, tags and the public key's OIDs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from renewer.errors import ConfigError

# The recommended curve of GM/T 0003.5 (OpenSSL's ``SM2``): y^2 = x^3 + a x + b over GF(p), order n,
# cofactor 1 (so every point on the curve but infinity is in the group of G).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
COORDINATE_BYTES = 32
HASH_BYTES = 32  # SM3

#: OID contents (DER, without tag and length), to compare with what a key names.
ID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
SM2_CURVE = bytes.fromhex("2a811ccf5501822d")  # 1.2.156.10197.1.301

_SEQUENCE, _INTEGER, _BIT_STRING, _OCTET_STRING, _OID = 0x30, 0x02, 0x03, 0x04, 0x06
_MISSING_EXTRA = (
    "the SM2PKE wrapping algorithm needs gmalg, which is not installed: build the code package with the 'sm2' "
    "extra (make package EXTRAS=sm2; pip install 'byok-renewer[sm2]')"
)


@dataclass(frozen=True)
class Sm2PublicKey:
    """A point of the SM2 curve, checked when made: the public half of an ``EC_SM2`` wrapping key."""

    x: int
    y: int

    def __post_init__(self) -> None:
        if not (0 <= self.x < P and 0 <= self.y < P):
            raise ValueError("the SM2 public key's coordinates are not below the field prime")
        if (self.y * self.y - (self.x * self.x * self.x + A * self.x + B)) % P:
            raise ValueError("the SM2 public key is not a point of the SM2 curve")

    def point(self) -> bytes:
        """``04 || x || y``: the uncompressed encoding (SEC 1, 2.3.3; GM/T 0003.1, 4.2.9)."""
        return b"\x04" + self.x.to_bytes(COORDINATE_BYTES, "big") + self.y.to_bytes(COORDINATE_BYTES, "big")


def load_public_key(der: bytes) -> Sm2PublicKey:
    """Parse a DER SubjectPublicKeyInfo that holds an SM2 public key, strictly: exactly
    ``SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID sm2 }, BIT STRING (0 unused bits, 04 || x || y) }``
    and nothing after it. Raises :class:`ValueError` saying which part is wrong."""
    spki = _Reader(der, "the SM2 public key (SubjectPublicKeyInfo)")
    body = spki.child(_SEQUENCE, "SEQUENCE")
    spki.end()
    algorithm = body.child(_SEQUENCE, "AlgorithmIdentifier SEQUENCE")
    key_type = algorithm.read(_OID, "algorithm OID")
    if key_type != ID_EC_PUBLIC_KEY:
        raise ValueError(
            f"the import public key's algorithm is {oid_text(key_type)}, not id-ecPublicKey (1.2.840.10045.2.1)"
        )
    curve = algorithm.read(_OID, "curve OID")
    if curve != SM2_CURVE:
        raise ValueError(f"the import public key's curve is {oid_text(curve)}, not SM2 (1.2.156.10197.1.301)")
    algorithm.end()
    bits = body.read(_BIT_STRING, "subjectPublicKey BIT STRING")
    body.end()
    if bits[:1] != b"\x00":
        raise ValueError("the SM2 public key's BIT STRING does not start with 0 unused bits")
    point = bits[1:]
    if point[:1] != b"\x04" or len(point) != 1 + 2 * COORDINATE_BYTES:
        raise ValueError(
            f"the SM2 public key is not an uncompressed point (04 || x || y, 65 bytes): {len(point)} bytes "
            f"starting with 0x{point[:1].hex() or '-'}"
        )
    return Sm2PublicKey(int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big"))


def encrypt(public_key: Sm2PublicKey, plaintext: bytes, *, rnd_fn: Callable[[int], int] | None = None) -> bytes:
    """SM2 encryption of ``plaintext`` under ``public_key``, as GM/T 0009 DER (C1C3C2).

    ``rnd_fn`` is gmalg's source of k (``rnd_fn(bits)``): left None it is ``secrets.randbits``.
    Only the known-answer test sets it, to replay GM/T 0003.5's example; a fixed k would reveal the
    plaintext to anyone who knows it."""
    if not plaintext:
        raise ValueError("SM2 encryption needs at least one byte of plaintext")
    sm2 = _sm2_class()
    raw = sm2(pk=public_key.point(), rnd_fn=rnd_fn).encrypt(plaintext)
    # gmalg: 04 || x1 || y1 || C3 || C2 (C2 as long as the plaintext)
    if len(raw) != 1 + 2 * COORDINATE_BYTES + HASH_BYTES + len(plaintext) or raw[0] != 0x04:
        raise ValueError(f"gmalg returned an SM2 ciphertext of an unexpected form ({len(raw)} bytes)")
    x1 = int.from_bytes(raw[1:33], "big")
    y1 = int.from_bytes(raw[33:65], "big")
    return encode_ciphertext(x1, y1, raw[65 : 65 + HASH_BYTES], raw[65 + HASH_BYTES :])


def _sm2_class() -> type:
    """gmalg's ``SM2``, imported now (not when this module is): only SM2PKE imports need it."""
    try:
        from gmalg import SM2
    except ImportError as exc:
        raise ConfigError(_MISSING_EXTRA) from exc
    return SM2


# --- GM/T 0009 SM2Cipher, DER ------------------------------------------------------------------------


def encode_ciphertext(x: int, y: int, hash_value: bytes, ciphertext: bytes) -> bytes:
    """SEQUENCE { INTEGER x, INTEGER y, OCTET STRING hash (32), OCTET STRING ciphertext }, DER."""
    if len(hash_value) != HASH_BYTES:
        raise ValueError(f"the SM2 C3 hash is {len(hash_value)} bytes, not {HASH_BYTES}")
    body = _integer(x) + _integer(y) + _tlv(_OCTET_STRING, hash_value) + _tlv(_OCTET_STRING, ciphertext)
    return _tlv(_SEQUENCE, body)


def decode_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    """The inverse of :func:`encode_ciphertext`, strict DER (minimal lengths and integers, coordinates
    below p, a 32-byte hash, nothing after the SEQUENCE): (x1, y1, C3, C2)."""
    outer = _Reader(der, "the SM2 ciphertext (SM2Cipher)")
    body = outer.child(_SEQUENCE, "SEQUENCE")
    outer.end()
    x = _read_integer(body, "XCoordinate")
    y = _read_integer(body, "YCoordinate")
    hash_value = body.read(_OCTET_STRING, "HASH OCTET STRING")
    ciphertext = body.read(_OCTET_STRING, "CipherText OCTET STRING")
    body.end()
    if len(hash_value) != HASH_BYTES:
        raise ValueError(f"the SM2 ciphertext's HASH is {len(hash_value)} bytes, not {HASH_BYTES}")
    return x, y, hash_value, ciphertext


def _length(size: int) -> bytes:
    """A DER length: one octet below 128, else 0x80 | n followed by the n octets of the length."""
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _integer(value: int) -> bytes:
    """A non-negative INTEGER in its fewest octets: a leading 00 only when the top bit is set."""
    if value < 0:
        raise ValueError("an SM2 coordinate is never negative")
    return _tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _read_integer(reader: _Reader, what: str) -> int:
    content = reader.read(_INTEGER, f"{what} INTEGER")
    if not content:
        raise ValueError(f"{reader.what}: {what} is an empty INTEGER")
    if content[0] & 0x80:
        raise ValueError(f"{reader.what}: {what} is negative")
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise ValueError(f"{reader.what}: {what} is not in its fewest octets (not DER)")
    value = int.from_bytes(content, "big")
    if value >= P:
        raise ValueError(f"{reader.what}: {what} is not below the field prime")
    return value


class _Reader:
    """DER TLVs one after another in ``data``; ``what`` names the whole, for messages."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.offset = 0

    def read(self, tag: int, name: str) -> bytes:
        """The content of the next TLV, which must have ``tag``."""
        data, at = self.data, self.offset
        if at + 2 > len(data):
            raise ValueError(f"{self.what}: ends before its {name}")
        if data[at] != tag:
            raise ValueError(f"{self.what}: expected {name} (tag 0x{tag:02x}), found tag 0x{data[at]:02x}")
        first, at = data[at + 1], at + 2
        if first < 0x80:
            size = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4:
                raise ValueError(f"{self.what}: {name} has an indefinite or oversized length")
            octets = data[at : at + count]
            size, at = int.from_bytes(octets, "big"), at + count
            if len(octets) != count or octets[0] == 0 or size < 0x80:
                raise ValueError(f"{self.what}: {name}'s length is not in DER's shortest form")
        if at + size > len(data):
            raise ValueError(f"{self.what}: {name} runs past the end ({size} bytes announced)")
        self.offset = at + size
        return data[at : at + size]

    def child(self, tag: int, name: str) -> _Reader:
        return _Reader(self.read(tag, name), self.what)

    def end(self) -> None:
        if self.offset != len(self.data):
            raise ValueError(f"{self.what}: {len(self.data) - self.offset} unexpected bytes after its last element")


def oid_text(content: bytes) -> str:
    """An OBJECT IDENTIFIER's content octets as dotted decimal (X.690 8.19), for messages."""
    arcs: list[int] = []
    value = 0
    for octet in content:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] & 0x80:
        return f"a malformed OID ({len(content)} bytes)"
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
