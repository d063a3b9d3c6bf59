"""Unit tests for :mod:`renewer.materials.sources`: each source applies its configured ``encoding``, refuses
ambiguous values without one, and reads files within bounds."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from renewer.config import SourceSpec
from renewer.errors import CloudError, MaterialError
from renewer.materials.material import Encoding
from renewer.materials.sources import build_source

MATERIAL = bytes(range(0x80, 0xA0))  # not printable: raw without an encoding
KEY128_HEX = bytes(range(0xA0, 0xB0)).hex()  # 32 printable bytes: a 128-bit key written as hex


class Readers:
    """Secret stores holding one value each: Alibaba ``(data, type)``, AWS ``(string, binary)``."""

    def __init__(self, alibaba: tuple[str, str] = ("", "text"), aws: tuple[Any, Any] = (None, None)) -> None:
        self.alibaba, self.aws = alibaba, aws

    def alibaba_secrets(self, region: str) -> Readers:
        return self

    def aws_secrets(self, region: str) -> Readers:
        return self

    def get_secret_value(self, name: str, version_stage: str | None) -> tuple[str, str]:
        return self.alibaba

    def get_secret(self, name: str, version_stage: str | None) -> tuple[Any, Any]:
        return self.aws


def fetch(kind: str, options: dict[str, str], encoding: Encoding | None = None, **readers: Any) -> bytes:
    environ = readers.pop("environ", {})
    source = build_source(SourceSpec(kind, options, encoding), Readers(**readers), environ=environ)
    return source.fetch().reveal()  # type: ignore[attr-defined]


def refused(kind: str, options: dict[str, str], encoding: Encoding | None = None, **readers: Any) -> MaterialError:
    with pytest.raises(MaterialError) as info:
        fetch(kind, options, encoding, **readers)
    return info.value


def test_a_file_of_32_printable_bytes_is_ambiguous_without_an_encoding(tmp_path: Path) -> None:
    path = tmp_path / "material"
    path.write_text(KEY128_HEX)  # no newline: exactly 32 bytes

    error = refused("file", {"path": str(path)})

    assert error.code == "MaterialEncodingAmbiguous"
    assert error.message.startswith(f"file {path}: the 32 bytes are all printable ASCII")
    assert "set encoding: raw|hex|base64".lower() in error.message.lower()
    assert KEY128_HEX[:8] not in error.message


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [(Encoding.RAW, KEY128_HEX.encode()), (Encoding.HEX, bytes.fromhex(KEY128_HEX)), (Encoding.BASE64, None)],
    ids=["raw", "hex", "base64"],
)
def test_a_file_with_an_encoding_is_read_exactly_so(tmp_path: Path, encoding: Encoding, expected: Any) -> None:
    path = tmp_path / "material"
    path.write_text(KEY128_HEX)

    if expected is not None:
        assert fetch("file", {"path": str(path)}, encoding) == expected
    else:
        assert refused("file", {"path": str(path)}, encoding).code == "MaterialWrongSize"


@pytest.mark.parametrize(
    "content",
    [MATERIAL, MATERIAL.hex().encode(), MATERIAL.hex().encode() + b"\n", base64.b64encode(MATERIAL) + b"\n"],
    ids=["raw", "hex", "hex-newline", "base64"],
)
def test_a_file_without_an_encoding_still_reads_raw_hex_or_base64(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "material"
    path.write_bytes(content)

    assert fetch("file", {"path": str(path)}) == MATERIAL


def test_a_file_larger_than_64_kib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "material"
    path.write_bytes(MATERIAL.hex().encode() + b" " * 65536)

    error = refused("file", {"path": str(path)})

    assert (error.code, error.message) == ("MaterialWrongSize", f"file {path} is larger than 65536 bytes")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_not_read(device: str) -> None:
    error = refused("file", {"path": device})

    assert (error.code, error.message) == ("MaterialNotFound", f"file {device} is not a regular file")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    errors: list[MaterialError] = []
    reader = threading.Thread(target=lambda: errors.append(refused("file", {"path": str(fifo)})), daemon=True)

    reader.start()
    reader.join(timeout=10)

    assert not reader.is_alive(), "the file source blocked on a FIFO"
    assert errors[0].code == "MaterialNotFound"


def test_a_missing_file(tmp_path: Path) -> None:
    error = refused("file", {"path": str(tmp_path / "missing")})

    assert (error.code, error.message) == (
        "MaterialNotFound",
        f"file {tmp_path / 'missing'} cannot be read (No such file or directory)",
    )


def test_a_long_path_is_clipped_in_messages() -> None:
    path = "/" + "d" * 5000

    message = refused("file", {"path": path}).message

    assert len(message) < 300 and message.startswith("file /ddd")


@pytest.mark.parametrize(
    ("encoding", "value", "expected"),
    [
        (None, MATERIAL.hex(), MATERIAL),
        (Encoding.HEX, MATERIAL.hex(), MATERIAL),
        (Encoding.BASE64, base64.b64encode(MATERIAL).decode(), MATERIAL),
        (Encoding.RAW, "k" * 32, b"k" * 32),
    ],
    ids=["auto", "hex", "base64", "raw"],
)
def test_env_source_applies_its_encoding(encoding: Encoding | None, value: str, expected: bytes) -> None:
    assert fetch("env", {"var": "M"}, encoding, environ={"M": value}) == expected


def test_env_source_with_the_wrong_encoding() -> None:
    error = refused("env", {"var": "M"}, Encoding.BASE64, environ={"M": MATERIAL.hex()})

    assert (error.code, error.message) == (
        "MaterialWrongSize",
        "environment variable M: decodes to 48 bytes; expected 16 or 32 bytes (128 or 256 bits)",
    )


SECRET = {"name": "byok/p", "region": "cn-hangzhou"}
AWS_SECRET = {"name": "byok/p", "region": "us-east-1"}
PRINTABLE = KEY128_HEX.encode()


@pytest.mark.parametrize(
    ("kind", "options", "readers"),
    [
        ("alibaba-secret", SECRET, {"alibaba": (base64.b64encode(PRINTABLE).decode(), "binary")}),
        ("aws-secret", AWS_SECRET, {"aws": (None, PRINTABLE)}),
    ],
    ids=["alibaba-binary", "aws-binary"],
)
def test_a_binary_secret_of_32_printable_bytes_is_ambiguous_without_an_encoding(
    kind: str, options: dict[str, str], readers: dict[str, Any]
) -> None:
    error = refused(kind, options, **readers)

    assert error.code == "MaterialEncodingAmbiguous"
    assert "byok/p" in error.message and "Set encoding: raw|hex|base64" in error.message
    assert fetch(kind, options, Encoding.RAW, **readers) == PRINTABLE
    assert fetch(kind, options, Encoding.HEX, **readers) == bytes.fromhex(KEY128_HEX)  # a 16-byte material


@pytest.mark.parametrize(
    ("kind", "options", "readers", "expected"),
    [
        ("alibaba-secret", SECRET, {"alibaba": (base64.b64encode(MATERIAL).decode(), "binary")}, MATERIAL),
        ("alibaba-secret", SECRET, {"alibaba": (MATERIAL.hex(), "text")}, MATERIAL),
        ("aws-secret", AWS_SECRET, {"aws": (None, MATERIAL)}, MATERIAL),
        ("aws-secret", AWS_SECRET, {"aws": (base64.b64encode(MATERIAL).decode(), None)}, MATERIAL),
    ],
    ids=["alibaba-binary", "alibaba-text", "aws-binary", "aws-string"],
)
def test_secrets_without_an_encoding_read_as_before(
    kind: str, options: dict[str, str], readers: dict[str, Any], expected: bytes
) -> None:
    assert fetch(kind, options, **readers) == expected


@pytest.mark.parametrize(
    ("kind", "options", "readers"),
    [
        ("alibaba-secret", SECRET, {"alibaba": (MATERIAL.hex(), "text")}),
        ("aws-secret", AWS_SECRET, {"aws": (MATERIAL.hex(), None)}),
    ],
    ids=["alibaba-text", "aws-string"],
)
def test_text_secrets_apply_their_encoding(kind: str, options: dict[str, str], readers: dict[str, Any]) -> None:
    assert fetch(kind, options, Encoding.HEX, **readers) == MATERIAL
    assert refused(kind, options, Encoding.BASE64, **readers).message.endswith(
        "decodes to 48 bytes; expected 16 or 32 bytes (128 or 256 bits)"
    )


def test_a_secret_store_error_keeps_its_code() -> None:
    class Failing(Readers):
        def get_secret_value(self, name: str, version_stage: str | None) -> tuple[str, str]:
            raise CloudError("Forbidden.ResourceNotFound", "not found")

    source = build_source(SourceSpec("alibaba-secret", SECRET), Failing())
    with pytest.raises(MaterialError) as info:
        source.fetch()

    assert info.value.code == "Forbidden.ResourceNotFound"
