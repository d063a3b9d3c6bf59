"""Unit tests for :mod:`renewer.materials.material`: decoding, sizes, redaction, pickling and the KCV.
The 16-byte (Aliyun_SM4) material's SM4 KCV is checked against OpenSSL in ``test_sm2_wrapping.py``."""

from __future__ import annotations

import base64
import copy
import pickle

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from renewer.errors import MaterialError
from renewer.materials.material import (
    MAX_SOURCE_BYTES,
    Encoding,
    Material,
    check_kcv,
    decode_binary,
    decode_file,
    decode_text,
)
from renewer.materials.wrapping import key_check_value

MATERIAL = bytes([0xFB, 0xFF, 0xBF]) * 10 + b"\x01\x02"  # base64 holds '+' and '/', so urlsafe differs
HEX = MATERIAL.hex()
B64 = base64.b64encode(MATERIAL).decode()
WHERE = "environment variable PAYMENTS_MATERIAL"
EXPECTED = "expected 16 or 32 bytes (128 or 256 bits)"  # never the value
SM4_MATERIAL = bytes([0xFB, 0xFF, 0xBF]) * 5 + b"\x01"  # 16 bytes, base64 with '+' and '/' too


def independent_kcv(material: bytes) -> str:
    """AES-256-ECB of one zero block, first 3 bytes, computed here rather than through the renewer."""
    encryptor = Cipher(algorithms.AES(material), modes.ECB()).encryptor()  # noqa: S305
    return (encryptor.update(bytes(16)) + encryptor.finalize())[:3].hex().upper()


@pytest.mark.parametrize(
    "text",
    [
        HEX,
        HEX.upper(),
        HEX[:32] + " " + HEX[32:],
        "\n".join(HEX[i : i + 16] for i in range(0, 64, 16)) + "\n",
        f"  {HEX}\r\n",
        B64,
        B64[:20] + "\n" + B64[20:] + "\n",
    ],
    ids=["hex-lower", "hex-upper", "hex-space", "hex-lines", "hex-crlf", "base64", "base64-wrapped"],
)
def test_decode_text_accepts_hex_and_base64(text: str) -> None:
    assert decode_text(text, WHERE).reveal() == MATERIAL


def test_64_hex_digits_are_read_as_hex_even_though_they_are_also_base64() -> None:
    assert decode_text("ab" * 32, WHERE).reveal() == b"\xab" * 32


@pytest.mark.parametrize("size", [0, 1, 15, 17, 24, 31, 33, 64], ids=lambda n: f"{n}-bytes")
def test_base64_of_the_wrong_size(size: int) -> None:
    text = base64.b64encode(b"\xfe" * size).decode()
    with pytest.raises(MaterialError) as info:
        decode_text(text, WHERE)

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: decodes to {size} bytes; {EXPECTED}"


@pytest.mark.parametrize(
    "text",
    [
        SM4_MATERIAL.hex(),
        SM4_MATERIAL.hex().upper(),
        f" {SM4_MATERIAL.hex()[:16]}\n{SM4_MATERIAL.hex()[16:]}\r\n",
        base64.b64encode(SM4_MATERIAL).decode(),
    ],
    ids=["hex-lower", "hex-upper", "hex-lines", "base64"],
)
def test_a_16_byte_material_decodes_from_hex_and_base64(text: str) -> None:
    material = decode_text(text, WHERE)

    assert material.reveal() == SM4_MATERIAL
    assert material.size == 16
    # a file of exactly 32 hex digits is ambiguous (32 raw bytes?); with its newline it is text
    assert decode_file(f"{text}\n".encode(), WHERE).reveal() == SM4_MATERIAL


def test_a_binary_16_byte_material_is_raw_and_both_sizes_say_their_size() -> None:
    assert decode_binary(SM4_MATERIAL, WHERE).size == 16
    assert decode_file(SM4_MATERIAL, WHERE).size == 16
    assert decode_binary(MATERIAL, WHERE).size == 32
    assert Material(MATERIAL).size == 32


def test_16_printable_bytes_without_an_encoding_are_ambiguous() -> None:
    text = "correct horse!!!"  # 16 printable bytes: a passphrase, or a raw 128-bit material?
    for decode in (decode_binary, decode_file):
        with pytest.raises(MaterialError) as info:
            decode(text.encode(), WHERE)
        assert info.value.code == "MaterialEncodingAmbiguous"
        assert info.value.message.startswith(f"{WHERE}: the 16 bytes are all printable ASCII")
    assert decode_binary(text.encode(), WHERE, RAW).reveal() == text.encode()


@pytest.mark.parametrize(
    "text",
    [
        HEX[:-1],  # 63 hex digits
        HEX + "0",  # 65 hex digits
        "0x" + HEX,
        HEX[:-1] + "!",
        base64.urlsafe_b64encode(MATERIAL).decode(),
        B64.rstrip("="),
        "not base64 at all!",
        "*" * 44,
    ],
    ids=["hex-63", "hex-65", "hex-0x", "hex-bang", "urlsafe-b64", "unpadded-b64", "prose", "stars"],
)
def test_text_that_is_neither_hex_nor_base64(text: str) -> None:
    with pytest.raises(MaterialError) as info:
        decode_text(text, WHERE)

    compact = "".join(text.split())
    assert info.value.code == "MaterialNotDecodable"
    assert info.value.message == (
        f"{WHERE}: text is neither 32 or 64 hex digits nor base64 ({len(compact)} characters)"
    )
    # The decoder's own message may quote the input: it is neither the cause nor the context.
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__ is True


def test_decode_binary_accepts_exactly_32_bytes() -> None:
    assert decode_binary(MATERIAL, WHERE).reveal() == MATERIAL


@pytest.mark.parametrize("size", [0, 15, 17, 24, 31, 33, 44, 64], ids=lambda n: f"{n}-bytes")
def test_decode_binary_of_the_wrong_size(size: int) -> None:
    with pytest.raises(MaterialError) as info:
        decode_binary(MATERIAL * 2 if size == 64 else (MATERIAL * 2)[:size], WHERE)

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: binary value is {size} bytes; {EXPECTED}"


@pytest.mark.parametrize("size", [0, 15, 17, 31, 33])
def test_material_constructor_checks_the_size(size: int) -> None:
    with pytest.raises(MaterialError) as info:
        Material((MATERIAL * 2)[:size])

    assert info.value.code == "InvalidMaterial"
    assert info.value.message == f"material is {size} bytes; {EXPECTED}"


# --- Encodings: never ambiguous (see renewer.materials.material's docstring) ---

RAW, HEX_, B64_ = Encoding.RAW, Encoding.HEX, Encoding.BASE64
KEY128_HEX = bytes(range(0xA0, 0xB0)).hex()  # a 128-bit key written as 32 hex digits: 32 printable bytes
B64_OF_24 = base64.b64encode(bytes(range(0xC0, 0xD8))).decode()  # 32 base64 characters of 24 bytes
PRINTABLE_32 = [KEY128_HEX, KEY128_HEX.upper(), B64_OF_24, "correct horse battery staple!!!!", "0" * 30 + "\r\n"]


@pytest.mark.parametrize("text", PRINTABLE_32, ids=["hex-128", "hex-128-upper", "base64-24", "passphrase", "crlf"])
@pytest.mark.parametrize("decode", [decode_binary, decode_file], ids=["binary", "file"])
def test_32_printable_bytes_without_an_encoding_are_ambiguous(decode: object, text: str) -> None:
    with pytest.raises(MaterialError) as info:
        decode(text.encode(), WHERE)  # type: ignore[operator]

    assert info.value.code == "MaterialEncodingAmbiguous"
    assert info.value.message == (
        f"{WHERE}: the 32 bytes are all printable ASCII: the raw material, or text encoding another? "
        "Set encoding: raw|hex|base64 on this source"
    )
    assert info.value.__cause__ is None and info.value.__context__ is None


@pytest.mark.parametrize("decode", [decode_binary, decode_file], ids=["binary", "file"])
def test_32_printable_bytes_with_encoding_raw_are_the_material(decode: object) -> None:
    assert decode(KEY128_HEX.encode(), WHERE, RAW).reveal() == KEY128_HEX.encode()  # type: ignore[operator]


@pytest.mark.parametrize("decode", [decode_binary, decode_file], ids=["binary", "file"])
def test_32_printable_bytes_read_as_text_are_what_they_encode(decode: object) -> None:
    # 32 hex digits are a 16-byte material; 32 base64 characters are 24 bytes, no material's size.
    assert decode(KEY128_HEX.encode(), WHERE, HEX_).reveal() == bytes.fromhex(KEY128_HEX)  # type: ignore[operator]
    with pytest.raises(MaterialError) as info:
        decode(B64_OF_24.encode(), WHERE, B64_)  # type: ignore[operator]

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: decodes to 24 bytes; {EXPECTED}"
    assert decode(B64_OF_24.encode(), WHERE, B64_, (24,)).reveal() == base64.b64decode(B64_OF_24)  # type: ignore[operator]


@pytest.mark.parametrize("decode", [decode_binary, decode_file], ids=["binary", "file"])
def test_32_bytes_that_are_not_all_printable_are_raw_without_an_encoding(decode: object) -> None:
    almost = KEY128_HEX.encode()[:-1] + b"\x00"

    assert decode(MATERIAL, WHERE).reveal() == MATERIAL  # type: ignore[operator]
    assert decode(almost, WHERE).reveal() == almost  # type: ignore[operator]


@pytest.mark.parametrize(
    ("data", "expected"),
    [(HEX.encode() + b"\n", MATERIAL), (B64.encode(), MATERIAL), (MATERIAL, MATERIAL)],
    ids=["hex-text", "base64-text", "raw"],
)
def test_a_file_without_an_encoding_reads_raw_or_text(data: bytes, expected: bytes) -> None:
    assert decode_file(data, WHERE).reveal() == expected


def test_a_binary_value_is_never_read_as_text_without_an_encoding() -> None:
    with pytest.raises(MaterialError) as info:
        decode_binary(HEX.encode(), WHERE)

    assert info.value.code == "MaterialWrongSize"
    assert decode_binary(HEX.encode(), WHERE, HEX_).reveal() == MATERIAL


@pytest.mark.parametrize("size", range(1, 65))
def test_hex_and_base64_never_both_read_as_size_bytes(size: int) -> None:
    hex_text = "ab" * size  # the only texts that hex reads as `size` bytes: 2 * size hex digits
    as_base64 = base64.b64decode(hex_text, validate=True) if len(hex_text) % 4 == 0 else None
    assert as_base64 is None or len(as_base64) != size
    b64_text = base64.b64encode(bytes([0xAB]) * size).decode()  # base64 of `size` bytes
    assert not (len(b64_text) == 2 * size and all(c in "0123456789abcdefABCDEF" for c in b64_text))


@pytest.mark.parametrize(
    ("text", "encoding", "code", "fragment"),
    [
        (HEX, B64_, "MaterialWrongSize", "decodes to 48 bytes"),  # 64 hex digits are base64 of 48 bytes
        (HEX, RAW, "MaterialWrongSize", "value is 64 bytes as UTF-8"),
        (B64, HEX_, "MaterialNotDecodable", "text is not an even number of hex digits (44 characters)"),
        (B64, RAW, "MaterialWrongSize", "value is 44 bytes as UTF-8"),
        (HEX[:-1], HEX_, "MaterialNotDecodable", "text is not an even number of hex digits (63 characters)"),
        ("ab" * 31, HEX_, "MaterialWrongSize", "decodes to 31 bytes"),
        (base64.urlsafe_b64encode(MATERIAL).decode(), B64_, "MaterialNotDecodable", "text is not base64 (44"),
        ("\ud800", RAW, "MaterialNotDecodable", "text cannot be encoded as UTF-8"),
    ],
    ids=[
        "hex-as-base64",
        "hex-as-raw",
        "base64-as-hex",
        "base64-as-raw",
        "hex-63",
        "hex-31-bytes",
        "urlsafe-as-base64",
        "raw-lone-surrogate",
    ],
)
def test_an_explicit_encoding_applies_exactly_that_decoding(
    text: str, encoding: Encoding, code: str, fragment: str
) -> None:
    with pytest.raises(MaterialError) as info:
        decode_text(text, WHERE, encoding)

    assert info.value.code == code
    assert info.value.message.startswith(f"{WHERE}: {fragment}")
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(HEX, HEX_), (f"  {HEX.upper()}\n", HEX_), (B64, B64_), (B64[:20] + "\n" + B64[20:], B64_)],
    ids=["hex", "hex-spaced-upper", "base64", "base64-wrapped"],
)
def test_an_explicit_encoding_reads_its_own_form(text: str, encoding: Encoding) -> None:
    assert decode_text(text, WHERE, encoding).reveal() == MATERIAL
    assert decode_binary(text.encode(), WHERE, encoding).reveal() == MATERIAL
    assert decode_file(text.encode(), WHERE, encoding).reveal() == MATERIAL


def test_raw_text_is_its_utf8_bytes() -> None:
    text = "é" * 16  # 32 bytes as UTF-8

    assert decode_text(text, WHERE, RAW).reveal() == text.encode()
    assert decode_text("x" * 32, WHERE, RAW).reveal() == b"x" * 32
    # A variable that is not UTF-8 comes as surrogate escapes: raw is the bytes the OS holds.
    assert decode_text("\udcff" * 32, WHERE, RAW).reveal() == b"\xff" * 32


def test_binary_value_that_is_not_ascii_with_a_text_encoding() -> None:
    with pytest.raises(MaterialError) as info:
        decode_binary(MATERIAL, WHERE, HEX_)

    assert info.value.code == "MaterialNotDecodable"
    assert info.value.message == f"{WHERE}: value is not ASCII text, so not hex"
    assert info.value.__cause__ is None and info.value.__suppress_context__ is True


@pytest.mark.parametrize("decode", [decode_text, decode_binary, decode_file], ids=["text", "binary", "file"])
def test_values_over_the_limit_are_refused_before_decoding(decode: object) -> None:
    value = "a" * (MAX_SOURCE_BYTES + 1)

    with pytest.raises(MaterialError) as info:
        decode(value if decode is decode_text else value.encode(), WHERE)  # type: ignore[operator]

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: holds more than 65536 bytes; material is a few dozen"


def test_the_sizes_are_a_parameter() -> None:
    sm4 = bytes(range(200, 216))

    assert decode_text(sm4.hex(), WHERE, sizes=(16,)).reveal() == sm4
    assert decode_text(base64.b64encode(sm4).decode(), WHERE, sizes=(16,)).reveal() == sm4
    assert decode_binary(sm4, WHERE, sizes=(16,)).reveal() == sm4
    with pytest.raises(MaterialError) as info:
        decode_text(HEX, WHERE, sizes=(16,))
    assert info.value.message == f"{WHERE}: decodes to 48 bytes; expected 16 bytes (128 bits)"
    with pytest.raises(MaterialError) as info:
        decode_binary(sm4, WHERE, sizes=(32,))
    assert info.value.message == f"{WHERE}: binary value is 16 bytes; expected 32 bytes (256 bits)"


def windows(text: str, width: int = 8) -> set[str]:
    """Every ``width``-character slice of ``text``: none may show up in a message."""
    return {text[i : i + width] for i in range(len(text) - width + 1)}


SECRET_BEARING = {
    "hex-63": HEX[:-1],
    "hex-65": HEX + "f",
    "hex-with-g": "g" + HEX[1:],
    "base64-31-bytes": base64.b64encode(MATERIAL[:31]).decode(),
    "base64-33-bytes": base64.b64encode(MATERIAL + b"\x00").decode(),
    "urlsafe": base64.urlsafe_b64encode(MATERIAL).decode(),
    "hex-0x": "0x" + HEX,
}


@pytest.mark.parametrize("encoding", [None, *Encoding], ids=["auto", *(e.value for e in Encoding)])
@pytest.mark.parametrize("text", list(SECRET_BEARING.values()), ids=list(SECRET_BEARING))
def test_material_error_never_quotes_the_input(text: str, encoding: Encoding | None) -> None:
    for decode, value in ((decode_text, text), (decode_binary, text.encode()), (decode_file, text.encode())):
        with pytest.raises(MaterialError) as info:
            decode(value, WHERE, encoding)  # type: ignore[operator]

        error = info.value
        shown = [str(error), repr(error), *(str(e) for e in (error.__cause__, error.__context__) if e is not None)]
        for message in shown:
            assert text not in message
            assert not {w for w in windows(text) if w in message}
            assert not {w for w in windows(HEX) | windows(B64) if w in message}


@pytest.mark.parametrize("text", PRINTABLE_32, ids=["hex-128", "hex-128-upper", "base64-24", "passphrase", "crlf"])
def test_ambiguous_error_never_quotes_the_input(text: str) -> None:
    with pytest.raises(MaterialError) as info:
        decode_file(text.encode(), WHERE)

    assert not {w for w in windows(text.strip(), 6) if w in str(info.value)}


@pytest.mark.parametrize("show", [repr, str, "{}".format, lambda m: f"{m!r}", lambda m: repr([m])])
def test_repr_and_str_are_redacted(show: object) -> None:
    shown = show(Material(MATERIAL))  # type: ignore[operator]

    assert "Material(<redacted>)" in shown
    for form in (HEX, HEX.upper(), B64, B64.rstrip("="), repr(MATERIAL), MATERIAL.hex(" ")):
        assert form not in shown
    assert not {w for w in windows(HEX) | windows(B64) if w in shown}


def test_material_has_no_instance_dict_to_dump() -> None:
    with pytest.raises(TypeError):
        vars(Material(MATERIAL))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_is_refused(protocol: int) -> None:
    with pytest.raises(TypeError, match="Material cannot be pickled"):
        pickle.dumps(Material(MATERIAL), protocol=protocol)


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy], ids=["copy", "deepcopy"])
def test_copying_is_refused_too(duplicate: object) -> None:
    with pytest.raises(TypeError, match="Material cannot be pickled"):
        duplicate(Material(MATERIAL))  # type: ignore[operator]


def test_kcv_of_the_all_zero_key_matches_an_independent_aes_computation() -> None:
    zero = bytes(32)

    expected = independent_kcv(zero)
    assert expected == "DC95C0"  # AES-256, zero key, zero block: DC95C078A2408989AD48A21492842087
    assert key_check_value(zero) == expected
    assert Material(zero).kcv() == expected


@pytest.mark.parametrize("material", [bytes(32), MATERIAL, bytes(range(32))], ids=["zero", "fixed", "counting"])
def test_kcv_is_upper_case_hex_of_the_first_three_bytes(material: bytes) -> None:
    assert Material(material).kcv() == independent_kcv(material)


@pytest.mark.parametrize("expected", ["DC95C0", "dc95c0", "Dc95C0", None], ids=["upper", "lower", "mixed", "none"])
def test_check_kcv_accepts_a_match_in_any_case_or_no_kcv(expected: str | None) -> None:
    check_kcv(Material(bytes(32)), expected, WHERE)


@pytest.mark.parametrize("expected", ["000000", "DC95C1", "C095DC"])
def test_check_kcv_mismatch(expected: str) -> None:
    with pytest.raises(MaterialError) as info:
        check_kcv(Material(bytes(32)), expected, WHERE)

    assert info.value.code == "KcvMismatch"
    found = Material(bytes(32)).kcv()  # DC95C0: both values are named, neither is secret
    assert info.value.message == f"{WHERE}: key check value {found} does not match the configured kcv {expected}"
