"""Unit tests for :mod:`renewer.material`: decoding, sizes, redaction, pickling and the KCV."""

from __future__ import annotations

import base64
import copy
import pickle

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from renewer.errors import MaterialError
from renewer.material import Material, check_kcv, decode_binary, decode_text
from renewer.wrapping import key_check_value

MATERIAL = bytes([0xFB, 0xFF, 0xBF]) * 10 + b"\x01\x02"  # base64 holds '+' and '/', so urlsafe differs
HEX = MATERIAL.hex()
B64 = base64.b64encode(MATERIAL).decode()
WHERE = "environment variable PAYMENTS_MATERIAL"


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


@pytest.mark.parametrize("size", [0, 1, 16, 31, 33, 64], ids=lambda n: f"{n}-bytes")
def test_base64_of_the_wrong_size(size: int) -> None:
    text = base64.b64encode(b"\xfe" * size).decode()
    with pytest.raises(MaterialError) as info:
        decode_text(text, WHERE)

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: decodes to {size} bytes; expected exactly 32 (256 bits)"


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
    assert info.value.message == f"{WHERE}: text is neither 64 hex digits nor base64 ({len(compact)} characters)"
    # The decoder's own message may quote the input: it is neither the cause nor the context.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__ is True


def test_decode_binary_accepts_exactly_32_bytes() -> None:
    assert decode_binary(MATERIAL, WHERE).reveal() == MATERIAL


@pytest.mark.parametrize("size", [0, 31, 33, 44, 64], ids=lambda n: f"{n}-bytes")
def test_decode_binary_of_the_wrong_size(size: int) -> None:
    with pytest.raises(MaterialError) as info:
        decode_binary(MATERIAL * 2 if size == 64 else (MATERIAL * 2)[:size], WHERE)

    assert info.value.code == "MaterialWrongSize"
    assert info.value.message == f"{WHERE}: binary value is {size} bytes; expected exactly 32 (256 bits)"


def test_material_constructor_checks_the_size() -> None:
    with pytest.raises(MaterialError) as info:
        Material(MATERIAL[:31])

    assert info.value.code == "InvalidMaterial"
    assert info.value.message == "material is 31 bytes; expected exactly 32 (256 bits)"


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


@pytest.mark.parametrize("text", list(SECRET_BEARING.values()), ids=list(SECRET_BEARING))
def test_material_error_never_quotes_the_input(text: str) -> None:
    with pytest.raises(MaterialError) as info:
        decode_text(text, WHERE)

    message = str(info.value)
    assert text not in message
    assert not {w for w in windows(text) if w in message}
    assert not {w for w in windows(HEX) | windows(B64) if w in message}


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
    assert info.value.message == f"{WHERE}: key check value does not match the configured kcv"
