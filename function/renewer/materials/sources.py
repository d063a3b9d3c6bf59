"""Material sources: where each material is read from, once per run.

A source implements :class:`MaterialSource`. Errors are :class:`MaterialError`\\s that name the
source (the secret's name, the variable, the path; each clipped to a bounded excerpt), never its
contents. Each source decodes with its ``encoding`` (:class:`~renewer.materials.material.Encoding`) when the
configuration sets one, and refuses a value that could be read two ways when it does not (see
:mod:`renewer.materials.material`).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from renewer.config import SourceSpec
from renewer.errors import CloudError, MaterialError
from renewer.inputs import PATH_CHARS, InputError, TooLarge, clip, read_file
from renewer.materials.material import (
    MAX_SOURCE_BYTES,
    Encoding,
    KeyMaterial,
    Material,
    decode_binary,
    decode_file,
    decode_text,
)

T = TypeVar("T")


class MaterialSource(Protocol):
    def describe(self) -> str:
        """Where the material lives, for messages."""

    def fetch(self) -> KeyMaterial:
        """Read and decode the material (or, for an HSM, open its key); raises :class:`MaterialError`."""


class EnvSource:
    """A variable holding hex or base64 text (or, with ``encoding: raw``, the material itself)."""

    def __init__(self, var: str, environ: Mapping[str, str], encoding: Encoding | None = None) -> None:
        self.var = var
        self.environ = environ
        self.encoding = encoding

    def describe(self) -> str:
        return f"environment variable {clip(self.var)}"

    def fetch(self) -> Material:
        value = self.environ.get(self.var)
        if not value:
            raise MaterialError(f"{self.describe()} is not set", code="MaterialNotFound")
        return decode_text(value, self.describe(), self.encoding)


class FileSource:
    """A regular file of at most 64 KiB: 16 or 32 raw bytes, or hex/base64 text (see
    :func:`renewer.materials.material.decode_file`; 32 printable bytes need an ``encoding``)."""

    def __init__(self, path: str, encoding: Encoding | None = None) -> None:
        self.path = Path(path)
        self.encoding = encoding

    def describe(self) -> str:
        return f"file {clip(str(self.path), PATH_CHARS)}"

    def fetch(self) -> Material:
        try:
            data = read_file(self.path, MAX_SOURCE_BYTES)
        except OSError as exc:
            raise MaterialError(f"{self.describe()} cannot be read ({exc.strerror})", code="MaterialNotFound") from None
        except TooLarge as exc:
            raise MaterialError(f"{self.describe()} {exc.message}", code="MaterialWrongSize") from None
        except InputError as exc:  # not a regular file
            raise MaterialError(f"{self.describe()} {exc.message}", code="MaterialNotFound") from None
        return decode_file(data, self.describe(), self.encoding)


class SecretReader(Protocol):
    def get_secret_value(self, name: str, version_stage: str | None) -> tuple[str, str]: ...


class _CloudSecretSource:
    """A secret in a cloud's secret store: its name, region and stage, and the reader of that store."""

    label = "secret"

    def __init__(
        self,
        name: str,
        region: str,
        reader: Any,
        version_stage: str | None = None,
        encoding: Encoding | None = None,
    ) -> None:
        self.name = name
        self.region = region
        self.reader = reader
        self.version_stage = version_stage
        self.encoding = encoding

    def describe(self) -> str:
        return f"{self.label} {clip(self.name)} in {clip(self.region)}"

    def _read(self, read: Callable[[str, str | None], T]) -> T:
        """Call the store; a service error fails the material under the service's code."""
        try:
            return read(self.name, self.version_stage)
        except CloudError as exc:
            raise MaterialError(f"{self.describe()}: {exc.code}: {exc.message}", code=exc.code) from exc


class AlibabaSecretSource(_CloudSecretSource):
    """A KMS secret: ``text`` holding hex or base64, or ``binary`` holding the raw 16 or 32 bytes (or, with
    an ``encoding``, whatever it names)."""

    reader: SecretReader

    def fetch(self) -> Material:
        data, data_type = self._read(self.reader.get_secret_value)
        if data_type == "binary":
            try:
                raw = base64.b64decode(data or "", validate=True)
            except (binascii.Error, ValueError):
                raise MaterialError(
                    f"{self.describe()}: binary value is not base64", code="MaterialNotDecodable"
                ) from None
            return decode_binary(raw, self.describe(), self.encoding)
        return decode_text(data or "", self.describe(), self.encoding)


class AwsSecretReader(Protocol):
    def get_secret(self, name: str, version_stage: str | None) -> tuple[str | None, bytes | None]: ...


class AwsSecretSource(_CloudSecretSource):
    """An AWS Secrets Manager secret: ``SecretString`` holding hex or base64, or ``SecretBinary``
    holding the raw 16 or 32 bytes (or, with an ``encoding``, whatever it names)."""

    label = "AWS secret"
    reader: AwsSecretReader

    def fetch(self) -> Material:
        text, binary = self._read(self.reader.get_secret)
        if binary is not None:
            return decode_binary(binary, self.describe(), self.encoding)
        return decode_text(text or "", self.describe(), self.encoding)


class SecretReaders(Protocol):
    """Where the secret stores are: one reader per region and cloud."""

    def alibaba_secrets(self, region: str) -> SecretReader: ...

    def aws_secrets(self, region: str) -> AwsSecretReader: ...


def build_source(spec: SourceSpec, readers: SecretReaders, environ: Mapping[str, str] | None = None) -> MaterialSource:
    stage, encoding = spec.options.get("version_stage"), spec.encoding
    match spec.type:
        case "env":
            return EnvSource(spec.options["var"], os.environ if environ is None else environ, encoding)
        case "file":
            return FileSource(spec.options["path"], encoding)
        case "alibaba-secret":
            region = spec.options["region"]
            return AlibabaSecretSource(spec.options["name"], region, readers.alibaba_secrets(region), stage, encoding)
        case "aws-secret":
            region = spec.options["region"]
            return AwsSecretSource(spec.options["name"], region, readers.aws_secrets(region), stage, encoding)
        case "pkcs11":
            from renewer.materials.pkcs11 import Pkcs11Source  # python-pkcs11 only when configured

            options = spec.options
            return Pkcs11Source(
                options["library"], options["token_label"], options["key_label"], options["pin_env"], environ
            )
    raise MaterialError(f"unsupported source type {clip(spec.type)!r}")  # config validation prevents this
