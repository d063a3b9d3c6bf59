"""SM2 public-key encryption (GM/T 0003.4, "SM2PKE"), written for the emulator with plain integers.

Alibaba Cloud KMS offers ``WrappingKeySpec`` ``EC_SM2`` with ``WrappingAlgorithm`` ``SM2PKE`` for
keys whose ``ProtectionLevel`` is ``HSM`` (Managed HSM, Chinese mainland): GetParametersForImport,
API 2016-01-20
(https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-getparametersforimport).
pyca/cryptography has no SM2 curve, so the curve arithmetic is here.

- Curve: the recommended 256-bit curve of GM/T 0003.5 (OpenSSL's ``SM2``, OID 1.2.156.10197.1.301).
- Hash: SM3 (GB/T 32905), from ``hashlib`` (OpenSSL 3 provides ``sm3``).
- Encryption (GM/T 0003.4, section 6): C1 = [k]G, (x2, y2) = [k]P, t = KDF(x2 || y2, len(M)),
  C2 = M xor t, C3 = SM3(x2 || M || y2). KDF is the counter-mode SM3 KDF of section 5.4.3.
- Encoding: GM/T 0009's ``SM2Cipher`` ASN.1 DER, SEQUENCE { XCoordinate INTEGER, YCoordinate
  INTEGER, HASH OCTET STRING (32), CipherText OCTET STRING }: the C1C3C2 order, as OpenSSL 3's
  ``pkeyutl -encrypt`` with an SM2 key emits it. NOTE: Alibaba's reference names the algorithm but
  not the byte encoding; the emulator accepts the GM/T 0009 DER form only (not the raw
  ``04 || x || y || C3 || C2`` nor the older C1C2C3 order).
- Public key: DER SubjectPublicKeyInfo, ``id-ecPublicKey`` with the SM2 curve OID, uncompressed point.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
G = (
    0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)
SIZE = 32
#: DER of SEQUENCE { OID id-ecPublicKey (1.2.840.10045.2.1), OID sm2 (1.2.156.10197.1.301) } and
#: the BIT STRING header of a 65-byte uncompressed point: what precedes ``04 || x || y`` in the SPKI.
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")

Point = tuple[int, int] | None  # None is the point at infinity


class Sm2Error(ValueError):
    """A ciphertext or key that is not well formed, or a ciphertext that does not check."""


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def on_curve(point: Point) -> bool:
    if point is None:
        return False
    x, y = point
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        slope = (3 * x1 * x1 + A) * pow(2 * y1, -1, P) % P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (slope * slope - x1 - x2) % P
    return x3, (slope * (x1 - x3) - y1) % P


def multiply(k: int, point: Point) -> Point:
    """[k]point by double-and-add (not constant time: the emulator is a test double)."""
    result: Point = None
    addend = point
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _add(addend, addend)
        k >>= 1
    return result


def kdf(z: bytes, length: int) -> bytes:
    """GM/T 0003.4 5.4.3: SM3(Z || ct) for ct = 1, 2, ... (32-bit big-endian), cut to ``length``."""
    out = b"".join(sm3(z + counter.to_bytes(4, "big")) for counter in range(1, (length + SIZE - 1) // SIZE + 1))
    return out[:length]


def _int(value: int) -> bytes:
    return value.to_bytes(SIZE, "big")


def generate_private_key() -> int:
    return 1 + secrets.randbelow(N - 2)  # d in [1, n-2], GM/T 0003.1 6.1


def public_key(private_key: int) -> tuple[int, int]:
    point = multiply(private_key, G)
    assert point is not None
    return point


def public_key_der(point: tuple[int, int]) -> bytes:
    """DER SubjectPublicKeyInfo of an SM2 public key (uncompressed point)."""
    return _SPKI_PREFIX + b"\x04" + _int(point[0]) + _int(point[1])


def load_public_key_der(der: bytes) -> tuple[int, int]:
    """The point in an SM2 SubjectPublicKeyInfo; ``Sm2Error`` for anything else."""
    if len(der) != len(_SPKI_PREFIX) + 1 + 2 * SIZE or not der.startswith(_SPKI_PREFIX + b"\x04"):
        raise Sm2Error("not an SM2 SubjectPublicKeyInfo with an uncompressed point")
    body = der[len(_SPKI_PREFIX) + 1 :]
    point = (int.from_bytes(body[:SIZE], "big"), int.from_bytes(body[SIZE:], "big"))
    if not on_curve(point):
        raise Sm2Error("the point is not on the SM2 curve")
    return point


def encrypt(point: tuple[int, int], message: bytes, *, k: int | None = None) -> bytes:
    """GM/T 0009 DER ``SM2Cipher`` of ``message`` under the public key ``point``. ``k`` is for
    known-answer tests only; by default a fresh random one is drawn (and redrawn if t is all zero)."""
    if not message:
        raise Sm2Error("nothing to encrypt")
    while True:
        nonce = k if k is not None else 1 + secrets.randbelow(N - 1)
        c1 = multiply(nonce, G)
        shared = multiply(nonce, point)
        assert c1 is not None and shared is not None
        x2, y2 = _int(shared[0]), _int(shared[1])
        t = kdf(x2 + y2, len(message))
        if any(t) or k is not None:
            break
    c2 = bytes(m ^ b for m, b in zip(message, t, strict=True))
    c3 = sm3(x2 + message + y2)
    return _der_sequence(_der_integer(c1[0]) + _der_integer(c1[1]) + _der_octets(c3) + _der_octets(c2))


def decrypt(private_key: int, ciphertext: bytes) -> bytes:
    """The message inside a GM/T 0009 DER ``SM2Cipher``; ``Sm2Error`` when it does not open."""
    x1, y1, c3, c2 = _parse_cipher(ciphertext)
    c1 = (x1, y1)
    if not on_curve(c1):
        raise Sm2Error("C1 is not on the curve")
    shared = multiply(private_key, c1)  # cofactor h = 1: [h]C1 is C1, on the curve
    if shared is None:
        raise Sm2Error("[d]C1 is the point at infinity")
    x2, y2 = _int(shared[0]), _int(shared[1])
    t = kdf(x2 + y2, len(c2))
    if not any(t):
        raise Sm2Error("the derived key stream is all zero")
    message = bytes(c ^ b for c, b in zip(c2, t, strict=True))
    if not hmac.compare_digest(sm3(x2 + message + y2), c3):
        raise Sm2Error("C3 does not match")
    return message


# ---- the little DER this needs --------------------------------------------------------------------
def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def _der_integer(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # a leading 0 keeps it positive
    return _der(0x02, body)


def _der_octets(data: bytes) -> bytes:
    return _der(0x04, data)


def _der_sequence(body: bytes) -> bytes:
    return _der(0x30, body)


def _read(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    """One DER element of ``tag`` at ``offset``: its body and the offset after it (definite, minimal lengths)."""
    if offset + 2 > len(data) or data[offset] != tag:
        raise Sm2Error(f"expected DER tag {tag:#04x}")
    size, offset = data[offset + 1], offset + 2
    if size & 0x80:
        count = size & 0x7F
        if not 1 <= count <= 4 or offset + count > len(data) or data[offset] == 0:
            raise Sm2Error("bad DER length")
        size, offset = int.from_bytes(data[offset : offset + count], "big"), offset + count
        if size < 0x80:
            raise Sm2Error("bad DER length")
    if offset + size > len(data):
        raise Sm2Error("truncated DER")
    return data[offset : offset + size], offset + size


def _parse_integer(body: bytes) -> int:
    if not body or body[0] & 0x80 or (len(body) > 1 and body[0] == 0 and not body[1] & 0x80):
        raise Sm2Error("not a minimal non-negative DER INTEGER")
    return int.from_bytes(body, "big")


def _parse_cipher(data: bytes) -> tuple[int, int, bytes, bytes]:
    body, end = _read(data, 0, 0x30)
    if end != len(data):
        raise Sm2Error("trailing bytes after the SM2Cipher")
    x_body, offset = _read(body, 0, 0x02)
    y_body, offset = _read(body, offset, 0x02)
    c3, offset = _read(body, offset, 0x04)
    c2, offset = _read(body, offset, 0x04)
    if offset != len(body) or len(c3) != SIZE or not c2:
        raise Sm2Error("not an SM2Cipher: SEQUENCE {INTEGER, INTEGER, OCTET STRING (32), OCTET STRING}")
    return _parse_integer(x_body), _parse_integer(y_body), c3, c2
