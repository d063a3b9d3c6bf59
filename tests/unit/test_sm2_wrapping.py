"""SM2PKE wrapping and the SM4 key check value (issue #14, function side), checked against sources
that are not the function's: GM/T 0003.5's worked example, DER laid out byte by byte here, and
OpenSSL 3 (the ``openssl`` binary) both ways: OpenSSL decrypts what the function wraps, and the
function's DER reader with gmalg's decryption opens what OpenSSL encrypts. The SM4 KCV is compared
with ``openssl enc -sm4-ecb``. OpenSSL without SM2 fails these tests (it is needed, never skipped
silently).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from renewer.errors import ConfigError, MaterialError
from renewer.materials import sm2
from renewer.materials.material import Material
from renewer.materials.sm2 import Sm2PublicKey, decode_ciphertext, encode_ciphertext
from renewer.materials.wrapping import (
    ALIBABA_ALGORITHMS,
    MATERIAL_SIZES,
    WrappingAlgorithm,
    key_check_value,
    load_public_key,
    wrap,
)

FUNCTION_DIR = Path(__file__).resolve().parents[2] / "function"
SM4_MATERIAL = bytes.fromhex("0123456789abcdeffedcba9876543210")  # GB/T 32907's example key
AES_MATERIAL = bytes(range(32))

# GM/T 0003.5 (GB/T 32918.5), the encryption example on the recommended curve: private key d, its
# public key, the nonce k, the message, and the ciphertext's parts: C1 = (x1, y1), C3, C2.
KAT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
KAT_PUBLIC = (
    0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020,
    0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13,
)
KAT_K = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
KAT_MESSAGE = b"encryption standard"
KAT_X1 = bytes.fromhex("04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73")
KAT_Y1 = bytes.fromhex("E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0")
KAT_C3 = bytes.fromhex("59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766")
KAT_C2 = bytes.fromhex("21886CA989CA9C7D58087307CA93092D651EFA")

# The SPKI of an SM2 key, by hand: SEQUENCE(0x59) { SEQUENCE(0x13) { OID(7) 1.2.840.10045.2.1,
# OID(8) 1.2.156.10197.1.301 }, BIT STRING(0x42) { 00 unused bits, 04 || x || y } }.
SPKI_HEAD = bytes.fromhex("3059 3013 06072a8648ce3d0201 06082a811ccf5501822d 034200")


def spki(x: int, y: int) -> bytes:
    return SPKI_HEAD + b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")


KAT_KEY = Sm2PublicKey(*KAT_PUBLIC)


# ---- the DER layout, by hand -----------------------------------------------------------------------
def test_gmt_0009_layout_of_the_gmt_0003_example() -> None:
    # x1 starts 0x04 (top bit clear): INTEGER of 32 octets; y1 starts 0xE8 (top bit set): a leading
    # 00, 33 octets. The body is 34 + 35 + 34 + 21 = 124 = 0x7C octets: a one-octet length.
    expected = (
        bytes.fromhex("307C")
        + bytes.fromhex("0220")
        + KAT_X1
        + bytes.fromhex("022100")
        + KAT_Y1
        + bytes.fromhex("0420")
        + KAT_C3
        + bytes.fromhex("0413")
        + KAT_C2
    )
    x1, y1 = int.from_bytes(KAT_X1, "big"), int.from_bytes(KAT_Y1, "big")

    assert encode_ciphertext(x1, y1, KAT_C3, KAT_C2) == expected
    assert decode_ciphertext(expected) == (x1, y1, KAT_C3, KAT_C2)


@pytest.mark.parametrize(
    ("value", "octets"),
    [(0, "020100"), (1, "020101"), (0x7F, "02017f"), (0x80, "02020080"), (0xFF, "020200ff"), (0x100, "02020100")],
)
def test_integers_take_their_fewest_octets(value: int, octets: str) -> None:
    der = encode_ciphertext(value, 1, bytes(32), b"\x00")
    # SEQUENCE, length, then the INTEGER under test
    assert der[2 : 2 + len(octets) // 2] == bytes.fromhex(octets)
    assert decode_ciphertext(der)[0] == value


def test_a_body_of_128_octets_or_more_takes_a_long_form_length() -> None:
    # a 32-byte material: 34 + 34 (two 32-octet coordinates, top bits clear) + 34 + 34 = 136 = 0x88
    x, y = 0x11 << 248, 0x22 << 248
    der = encode_ciphertext(x, y, bytes(32), bytes(32))
    assert der[:3] == bytes.fromhex("308188")
    assert len(der) == 3 + 136
    long_c2 = encode_ciphertext(x, y, bytes(32), bytes(300))  # C2 itself long: 04 82 01 2C
    assert bytes.fromhex("0482012c") in long_c2
    assert decode_ciphertext(long_c2)[3] == bytes(300)


GOOD = encode_ciphertext(int.from_bytes(KAT_X1, "big"), int.from_bytes(KAT_Y1, "big"), KAT_C3, KAT_C2)


@pytest.mark.parametrize(
    ("der", "fragment"),
    [
        (GOOD + b"\x00", "1 unexpected bytes after its last element"),
        (GOOD[:-1], "runs past the end"),
        (b"\x31" + GOOD[1:], "expected SEQUENCE (tag 0x30), found tag 0x31"),
        (bytes.fromhex("30807c") + GOOD[2:], "indefinite or oversized length"),
        (bytes.fromhex("30817c") + GOOD[2:], "not in DER's shortest form"),
        (bytes.fromhex("300c 02020001 020101 0400 0401ff"), "XCoordinate is not in its fewest octets"),
        (bytes.fromhex("300b 020181 020101 0400 0401ff"), "XCoordinate is negative"),
        (bytes.fromhex("300a 0200 020101 0400 0401ff"), "XCoordinate is an empty INTEGER"),
        (encode_ciphertext(sm2.P, 1, bytes(32), b"\x01"), "XCoordinate is not below the field prime"),
        (bytes.fromhex("300c 020101 020101 0401aa 0401ff"), "HASH is 1 bytes, not 32"),
        (bytes.fromhex("3009 020101 020101 0401aa"), "ends before its CipherText OCTET STRING"),
    ],
    ids=[
        "trailing",
        "truncated",
        "not-sequence",
        "indefinite",
        "long-form-short",
        "padded-int",
        "negative",
        "empty-int",
        "x-too-big",
        "short-hash",
        "no-c2",
    ],
)
def test_the_reader_refuses_what_is_not_strict_der(der: bytes, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        decode_ciphertext(der)


# ---- GM/T 0003.5's example, through gmalg with k fixed ----------------------------------------------
def test_curve_parameters_are_the_standards_and_gmalgs() -> None:
    from gmalg import sm2 as gm

    ecdlp = gm._ecdlp
    assert (ecdlp.fp.p, ecdlp.ec.a, ecdlp.ec.b, ecdlp.fpn.p) == (sm2.P, sm2.A, sm2.B, sm2.N)
    Sm2PublicKey(*ecdlp.G)  # G is on the curve the loader checks against


def test_encrypt_reproduces_the_gmt_0003_example() -> None:
    from gmalg import SM2

    assert SM2().generate_pk(KAT_D.to_bytes(32, "big")) == KAT_KEY.point()
    asked: list[int] = []

    def fixed_k(bits: int) -> int:
        asked.append(bits)
        return KAT_K

    assert sm2.encrypt(KAT_KEY, KAT_MESSAGE, rnd_fn=fixed_k) == GOOD
    assert asked == [256]  # gmalg asked once, for a 256-bit k


def test_wrap_with_sm2pke_is_the_same_encryption_randomised() -> None:
    key = load_public_key(spki(*KAT_PUBLIC), WrappingAlgorithm.SM2PKE)
    first = wrap(key, SM4_MATERIAL, WrappingAlgorithm.SM2PKE)
    second = wrap(key, SM4_MATERIAL, WrappingAlgorithm.SM2PKE)

    assert first != second  # a fresh k each time
    for blob in (first, second):
        assert gmalg_decrypt(KAT_D, blob) == SM4_MATERIAL


def gmalg_decrypt(private: int, der: bytes) -> bytes:
    """Open GM/T 0009 DER with gmalg (which reads 04 || x || y || C3 || C2), through the strict reader."""
    from gmalg import SM2

    x, y, c3, c2 = decode_ciphertext(der)
    raw = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big") + c3 + c2
    return SM2(sk=private.to_bytes(32, "big")).decrypt(raw)


# ---- OpenSSL 3, both ways ---------------------------------------------------------------------------
def _openssl(*args: str, data: bytes | None = None) -> bytes:
    tool = shutil.which("openssl")
    assert tool, "openssl (3.x, with SM2 and SM4) is needed for these tests"
    done = subprocess.run([tool, *args], input=data, capture_output=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.fixture(scope="module")
def openssl_sm2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, bytes]:
    """An SM2 key made by OpenSSL: its PEM file, its private scalar, its public key (DER SPKI)."""
    pem = tmp_path_factory.mktemp("sm2") / "sm2.pem"
    try:
        _openssl("genpkey", "-algorithm", "SM2", "-out", str(pem))
    except AssertionError as exc:
        pytest.skip(f"this openssl has no SM2: {exc}")
    text = _openssl("pkey", "-in", str(pem), "-text", "-noout").decode()
    block = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", text)
    assert block, "openssl pkey -text printed no private scalar"
    private = int(re.sub(r"[^0-9a-f]", "", block.group(1)), 16)
    return pem, private, _openssl("pkey", "-in", str(pem), "-pubout", "-outform", "DER")


def test_the_loader_reads_openssls_public_key(openssl_sm2: tuple[Path, int, bytes]) -> None:
    from gmalg import SM2

    _, private, public_der = openssl_sm2
    key = load_public_key(public_der, WrappingAlgorithm.SM2PKE)

    assert public_der == spki(key.x, key.y)  # OpenSSL's SPKI is exactly the layout by hand
    assert SM2().generate_pk(private.to_bytes(32, "big")) == key.point()
    assert load_public_key(base64.b64encode(public_der).decode(), WrappingAlgorithm.SM2PKE) == key  # Alibaba's form


@pytest.mark.parametrize("size", MATERIAL_SIZES)
def test_openssl_decrypts_what_the_function_wraps(openssl_sm2: tuple[Path, int, bytes], size: int) -> None:
    pem, _, public_der = openssl_sm2
    material = os.urandom(size)
    blob = Material(material).wrap(load_public_key(public_der, WrappingAlgorithm.SM2PKE), WrappingAlgorithm.SM2PKE)

    assert _openssl("pkeyutl", "-decrypt", "-inkey", str(pem), data=blob) == material


def test_the_function_opens_what_openssl_encrypts(openssl_sm2: tuple[Path, int, bytes], tmp_path: Path) -> None:
    pem, private, _ = openssl_sm2
    public = tmp_path / "public.pem"
    public.write_bytes(_openssl("pkey", "-in", str(pem), "-pubout"))
    material = os.urandom(16)
    blob = _openssl("pkeyutl", "-encrypt", "-pubin", "-inkey", str(public), data=material)

    assert gmalg_decrypt(private, blob) == material
    assert encode_ciphertext(*decode_ciphertext(blob)) == blob  # the writer writes OpenSSL's bytes


# ---- the public key: exactly SM2, else a precise error -----------------------------------------------
def _rsa_der() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _p256_der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


X, Y = KAT_PUBLIC
COMPRESSED = bytes.fromhex("3039 3013 06072a8648ce3d0201 06082a811ccf5501822d 032200") + b"\x03" + X.to_bytes(32, "big")


@pytest.mark.parametrize(
    ("der", "fragment"),
    [
        (_rsa_der(), "algorithm is 1.2.840.113549.1.1.1, not id-ecPublicKey (1.2.840.10045.2.1)"),
        (_p256_der(), "curve is 1.2.840.10045.3.1.7, not SM2 (1.2.156.10197.1.301)"),
        (COMPRESSED, "not an uncompressed point (04 || x || y, 65 bytes): 33 bytes starting with 0x03"),
        (spki(X, Y + 1), "is not a point of the SM2 curve"),
        (spki(X, Y) + b"\x00", "1 unexpected bytes after its last element"),
        (spki(X, Y)[:-1], "runs past the end"),
        (SPKI_HEAD[:-1] + b"\x07" + spki(X, Y)[len(SPKI_HEAD) :], "does not start with 0 unused bits"),
    ],
    ids=["rsa", "p-256", "compressed", "off-curve", "trailing", "truncated", "unused-bits"],
)
def test_the_loader_refuses_anything_but_an_sm2_key(der: bytes, fragment: str) -> None:
    with pytest.raises(ValueError, match=re.escape(fragment)):
        load_public_key(der, WrappingAlgorithm.SM2PKE)


@pytest.mark.parametrize("algorithm", [None, *(a for a in WrappingAlgorithm if a is not WrappingAlgorithm.SM2PKE)])
def test_an_sm2_key_for_an_rsa_algorithm_is_a_value_error(algorithm: WrappingAlgorithm | None) -> None:
    # pyca raises UnsupportedAlgorithm for the SM2 curve: read as "not an RSA key", as the flow expects
    with pytest.raises(ValueError, match="the import public key is not an RSA key"):
        load_public_key(spki(X, Y), algorithm)
    assert isinstance(load_public_key(_rsa_der(), algorithm), rsa.RSAPublicKey)


def test_wrap_refuses_a_key_of_the_other_kind() -> None:
    rsa_key = load_public_key(_rsa_der())
    with pytest.raises(ValueError, match="SM2PKE wraps under an SM2 public key"):
        wrap(rsa_key, SM4_MATERIAL, WrappingAlgorithm.SM2PKE)
    with pytest.raises(ValueError, match="RSAES_OAEP_SHA_256 wraps under an RSA public key"):
        wrap(KAT_KEY, SM4_MATERIAL, WrappingAlgorithm.RSAES_OAEP_SHA_256)


def test_sm2pke_is_alibabas_and_asks_for_an_ec_sm2_key() -> None:
    assert WrappingAlgorithm("SM2PKE") in ALIBABA_ALGORITHMS
    assert not WrappingAlgorithm.SM2PKE.two_step
    assert {a: a.wrapping_key_spec for a in ALIBABA_ALGORITHMS} == {
        WrappingAlgorithm.RSAES_OAEP_SHA_256: "RSA_2048",
        WrappingAlgorithm.RSAES_OAEP_SHA_1: "RSA_2048",
        WrappingAlgorithm.RSAES_PKCS1_V1_5: "RSA_2048",
        WrappingAlgorithm.SM2PKE: "EC_SM2",
    }


def test_an_empty_plaintext_is_refused() -> None:
    # gmalg would loop for ever: an empty KDF output is "all zero" and it draws a new k
    with pytest.raises(ValueError, match="at least one byte"):
        sm2.encrypt(KAT_KEY, b"")


# ---- gmalg only when SM2PKE is used -----------------------------------------------------------------
def test_rsa_wrapping_never_imports_gmalg_and_sm2pke_does() -> None:
    script = (
        "import sys\n"
        "import renewer.materials.material, renewer.materials.wrapping\n"
        "from cryptography.hazmat.primitives import serialization\n"
        "from cryptography.hazmat.primitives.asymmetric import rsa\n"
        "from renewer.materials.material import Material\n"
        "from renewer.materials.wrapping import WrappingAlgorithm, load_public_key\n"
        "key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()\n"
        "der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)\n"
        "material = Material(bytes(32))\n"
        "oaep = WrappingAlgorithm.RSAES_OAEP_SHA_256\n"
        "material.wrap(load_public_key(der, oaep), oaep)\n"
        "material.kcv(); Material(bytes(16)).kcv()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gmalg'))\n"
        f"sm2 = load_public_key(bytes.fromhex('{spki(X, Y).hex()}'), WrappingAlgorithm.SM2PKE)\n"
        "Material(bytes(16)).wrap(sm2, WrappingAlgorithm.SM2PKE)\n"
        "print('gmalg' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=FUNCTION_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "True"]


def test_without_gmalg_the_error_names_the_sm2_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gmalg", None)  # import gmalg now raises ImportError

    with pytest.raises(ConfigError) as info:
        wrap(KAT_KEY, SM4_MATERIAL, WrappingAlgorithm.SM2PKE)

    assert info.value.code == "InvalidConfiguration"
    assert "needs gmalg, which is not installed" in info.value.message
    assert "the 'sm2' extra (make package EXTRAS=sm2; pip install 'byok-renewer[sm2]')" in info.value.message


# ---- key check values ------------------------------------------------------------------------------
def openssl_kcv(cipher: str, material: bytes) -> str:
    """One zero block encrypted by ``openssl enc`` (no padding), first 3 bytes, upper-case hex."""
    block = _openssl("enc", f"-{cipher}", "-nopad", "-K", material.hex(), data=bytes(16))
    return block[:3].hex().upper()


def test_sm4_matches_gbt_32907s_example() -> None:
    # GB/T 32907, Appendix A: the key encrypts itself (as the plaintext) to 681EDF34D206965E86B3E94F536E4246.
    block = _openssl("enc", "-sm4-ecb", "-nopad", "-K", SM4_MATERIAL.hex(), data=SM4_MATERIAL)
    assert block.hex().upper() == "681EDF34D206965E86B3E94F536E4246"


@pytest.mark.parametrize("material", [SM4_MATERIAL, bytes(16), bytes(range(16, 32))], ids=["gbt", "zero", "counting"])
def test_the_kcv_of_16_bytes_is_sm4_ecb_as_openssl_computes_it(material: bytes) -> None:
    expected = openssl_kcv("sm4-ecb", material)

    assert key_check_value(material) == expected
    assert Material(material).kcv() == expected
    assert expected != openssl_kcv("aes-128-ecb", material)  # not AES-128: the SM4 key's own cipher


def test_the_kcv_of_the_zero_sm4_key_is_a_known_answer() -> None:
    # SM4, zero key, zero block: 9F1F7BFF6F5511384D9430531E538FD3 (openssl enc -sm4-ecb -nopad, zero key)
    assert key_check_value(bytes(16)) == "9F1F7B"


@pytest.mark.parametrize("material", [AES_MATERIAL, bytes(32)], ids=["counting", "zero"])
def test_the_kcv_of_32_bytes_is_still_aes_256_ecb(material: bytes) -> None:
    assert key_check_value(material) == openssl_kcv("aes-256-ecb", material)


@pytest.mark.parametrize("size", [0, 1, 15, 17, 24, 31, 33, 64])
def test_only_16_and_32_bytes_have_a_kcv_and_a_material(size: int) -> None:
    secret = os.urandom(size)
    with pytest.raises(ValueError) as kcv:
        key_check_value(secret)
    with pytest.raises(MaterialError) as material:
        Material(secret)

    assert str(kcv.value) == f"a key check value needs 16 or 32 bytes of material, not {size}"
    assert material.value.message == f"material is {size} bytes; expected 16 or 32 bytes (128 or 256 bits)"
    for error in (kcv.value, material.value):
        assert_not_shown(secret, error)


# ---- secrets never in messages -----------------------------------------------------------------------
def forms(secret: bytes) -> list[str]:
    return [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), repr(secret)]


def assert_not_shown(secret: bytes, error: BaseException) -> None:
    shown = " ".join(str(e) for e in (error, repr(error), error.__cause__, error.__context__) if e is not None)
    for form in forms(secret):
        if len(secret) >= 4:
            assert not {form[i : i + 8] for i in range(len(form) - 7)} & {shown[i : i + 8] for i in range(len(shown))}


ERRORS: dict[str, Callable[[bytes], object]] = {
    "wrong-key-kind": lambda m: wrap(load_public_key(_rsa_der()), m, WrappingAlgorithm.SM2PKE),
    "rsa-alg-sm2-key": lambda m: wrap(KAT_KEY, m, WrappingAlgorithm.RSAES_OAEP_SHA_1),
    "decode-blob": lambda m: decode_ciphertext(wrap(KAT_KEY, m, WrappingAlgorithm.SM2PKE)[:-1]),
    "decode-blob-trailing": lambda m: decode_ciphertext(wrap(KAT_KEY, m, WrappingAlgorithm.SM2PKE) + m),
    "bad-hash": lambda m: encode_ciphertext(1, 2, m[:5], m),
}


@pytest.mark.parametrize("make", list(ERRORS.values()), ids=list(ERRORS))
def test_no_error_shows_the_material_or_the_wrapped_blob(make: Callable[[bytes], object]) -> None:
    secret = os.urandom(16)
    with pytest.raises(ValueError) as info:
        make(secret)
    assert_not_shown(secret, info.value)
