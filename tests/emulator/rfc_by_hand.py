"""The wrapping formats written out by hand from their RFCs, for known-answer tests.

Neither the emulator's unwrap nor the function's wrap is trusted by the tests that use this: each
side is checked against the encodings below. Only two primitives come from elsewhere: SHA-1 and
SHA-256 from :mod:`hashlib`, and the single AES block of RFC 3394 from pyca (ECB over one block is
the definition of that step, not a data mode). RSA is ``pow``.

* RSAES-OAEP encoding and decoding: RFC 8017 sections 7.1.1 (step 2) and 7.1.2 (step 3), with
  MGF1 from appendix B.2.1.
* RSAES-PKCS1-v1_5 encoding and decoding: RFC 8017 sections 7.2.1 and 7.2.2.
* AES Key Wrap (RFC 3394 section 2.2, index-based form) and AES Key Wrap with Padding (RFC 5649
  sections 4.1 and 4.2).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

HASH_LENGTHS = {"sha1": 20, "sha256": 32}
KWP_ICV = bytes.fromhex("a65959a6")  # RFC 5649 section 3: the 32-bit alternative initial value constant


# ---- integers and octet strings (RFC 8017 section 4) -------------------------------------------
def i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def os2ip(octets: bytes) -> int:
    return int.from_bytes(octets, "big")


def rsa_raw(octets: bytes, exponent: int, modulus: int) -> bytes:
    """RSAEP / RSADP (sections 5.1.1 and 5.1.2): ``octets`` as an integer to the power, mod n."""
    k = (modulus.bit_length() + 7) // 8
    value = os2ip(octets)
    assert value < modulus, "message representative out of range"
    return i2osp(pow(value, exponent, modulus), k)


# ---- RSAES-OAEP --------------------------------------------------------------------------------
def _hash(name: str, data: bytes) -> bytes:
    return hashlib.new(name, data).digest()


def mgf1(seed: bytes, length: int, hash_name: str) -> bytes:
    """MGF1 (appendix B.2.1): Hash(seed || C) for C = 0, 1, ... as 4 octets, cut to ``length``."""
    output = b""
    counter = 0
    while len(output) < length:
        output += _hash(hash_name, seed + i2osp(counter, 4))
        counter += 1
    return output[:length]


def _xor(left: bytes, right: bytes) -> bytes:
    assert len(left) == len(right)
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def oaep_encode(message: bytes, k: int, hash_name: str, seed: bytes, label: bytes = b"") -> bytes:
    """EM = 0x00 || maskedSeed || maskedDB for a modulus of ``k`` octets (7.1.1 step 2)."""
    h_len = HASH_LENGTHS[hash_name]
    assert len(seed) == h_len
    assert len(message) <= k - 2 * h_len - 2, "message too long"
    l_hash = _hash(hash_name, label)
    ps = bytes(k - len(message) - 2 * h_len - 2)
    db = l_hash + ps + b"\x01" + message
    masked_db = _xor(db, mgf1(seed, k - h_len - 1, hash_name))
    masked_seed = _xor(seed, mgf1(masked_db, h_len, hash_name))
    return b"\x00" + masked_seed + masked_db


def oaep_decode(em: bytes, k: int, hash_name: str, label: bytes = b"") -> bytes:
    """The message inside EM (7.1.2 step 3); ``ValueError`` ("decryption error") if malformed."""
    h_len = HASH_LENGTHS[hash_name]
    if len(em) != k or k < 2 * h_len + 2:
        raise ValueError("decryption error")
    y, masked_seed, masked_db = em[0], em[1 : 1 + h_len], em[1 + h_len :]
    seed = _xor(masked_seed, mgf1(masked_db, h_len, hash_name))
    db = _xor(masked_db, mgf1(seed, k - h_len - 1, hash_name))
    l_hash, rest = db[:h_len], db[h_len:]
    separator = rest.find(b"\x01")
    if y != 0 or not hmac.compare_digest(l_hash, _hash(hash_name, label)) or separator < 0:
        raise ValueError("decryption error")
    if any(rest[:separator]):  # PS must be zero octets
        raise ValueError("decryption error")
    return rest[separator + 1 :]


# ---- RSAES-PKCS1-v1_5 --------------------------------------------------------------------------
def pkcs1_v15_encode(message: bytes, k: int, ps: bytes) -> bytes:
    """EM = 0x00 || 0x02 || PS || 0x00 || M, PS nonzero and ``k - len(M) - 3`` >= 8 octets long."""
    assert len(ps) == k - len(message) - 3 and len(ps) >= 8 and all(ps)
    return b"\x00\x02" + ps + b"\x00" + message


def pkcs1_v15_decode(em: bytes, k: int) -> bytes:
    """The message inside EM (7.2.2 step 3); ``ValueError`` if malformed."""
    separator = em.find(b"\x00", 2)
    if len(em) != k or em[:2] != b"\x00\x02" or separator < 10:  # PS at least 8 octets
        raise ValueError("decryption error")
    return em[separator + 1 :]


# ---- AES Key Wrap (RFC 3394) and with Padding (RFC 5649) --------------------------------------
def _aes_block(kek: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(kek), modes.ECB())  # noqa: S305 - one block: the AES function itself
    context = cipher.decryptor() if decrypt else cipher.encryptor()
    return context.update(block) + context.finalize()


def kw_wrap(kek: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """W (RFC 3394 section 2.2.1, index-based) with initial value ``iv``; ``plaintext`` n >= 2 blocks."""
    n = len(plaintext) // 8
    assert len(plaintext) % 8 == 0 and n >= 2
    a, r = iv, [plaintext[8 * i : 8 * i + 8] for i in range(n)]
    for j in range(6):
        for i in range(1, n + 1):
            b = _aes_block(kek, a + r[i - 1])
            a = i2osp(os2ip(b[:8]) ^ (n * j + i), 8)
            r[i - 1] = b[8:]
    return a + b"".join(r)


def kw_unwrap(kek: bytes, ciphertext: bytes) -> tuple[bytes, bytes]:
    """W^-1 (RFC 3394 section 2.2.2): (the recovered initial value, the plaintext)."""
    n = len(ciphertext) // 8 - 1
    assert len(ciphertext) % 8 == 0 and n >= 2
    a, r = ciphertext[:8], [ciphertext[8 * i : 8 * i + 8] for i in range(1, n + 1)]
    for j in range(5, -1, -1):
        for i in range(n, 0, -1):
            b = _aes_block(kek, i2osp(os2ip(a) ^ (n * j + i), 8) + r[i - 1], decrypt=True)
            a, r[i - 1] = b[:8], b[8:]
    return a, b"".join(r)


def kwp_wrap(kek: bytes, key: bytes) -> bytes:
    """RFC 5649 section 4.1: AIV = A65959A6 || MLI, zero padding to 8 octets; one block is ECB'd."""
    assert 1 <= len(key) < 2**32
    aiv = KWP_ICV + i2osp(len(key), 4)
    padded = key + bytes(-len(key) % 8)
    if len(padded) == 8:
        return _aes_block(kek, aiv + padded)
    return kw_wrap(kek, aiv, padded)


def kwp_unwrap(kek: bytes, wrapped: bytes) -> bytes:
    """RFC 5649 section 4.2, with the three checks of section 3; ``ValueError`` if any fails."""
    if len(wrapped) % 8 or len(wrapped) < 16:
        raise ValueError("not a KWP ciphertext")
    if len(wrapped) == 16:
        block = _aes_block(kek, wrapped, decrypt=True)
        aiv, padded = block[:8], block[8:]
    else:
        aiv, padded = kw_unwrap(kek, wrapped)
    mli = os2ip(aiv[4:])
    n = len(padded) // 8
    if aiv[:4] != KWP_ICV or not 8 * (n - 1) < mli <= 8 * n or any(padded[mli:]):
        raise ValueError("integrity check failed")
    return padded[:mli]
