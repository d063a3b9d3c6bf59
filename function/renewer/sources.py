"""Material sources: where each material is read from, once per run.

A source implements :class:`MaterialSource`. Errors are :class:`MaterialError`\\s that name the
source (the secret's name, the variable, the path), never its contents.
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
from renewer.material import MATERIAL_BYTES, KeyMaterial, Material, decode_binary, decode_text

T = TypeVar("T")


class MaterialSource(Protocol):
    def describe(self) -> str:
        """Where the material lives, for messages."""

    def fetch(self) -> KeyMaterial:
        """Read and decode the material (or, for an HSM, open its key); raises :class:`MaterialError`."""


class EnvSource:
    def __init__(self, var: str, environ: Mapping[str, str]) -> None:
        self.var = var
        self.environ = environ

    def describe(self) -> str:
        return f"environment variable {self.var}"

    def fetch(self) -> Material:
        value = self.environ.get(self.var)
        if not value:
            raise MaterialError(f"{self.describe()} is not set", code="MaterialNotFound")
        return decode_text(value, self.describe())


class FileSource:
    """A file of exactly 32 raw bytes, or text: 64 hex digits or base64."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"file {self.path}"

    def fetch(self) -> Material:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise MaterialError(f"{self.describe()} cannot be read ({exc.strerror})", code="MaterialNotFound") from None
        if len(data) == MATERIAL_BYTES:
            return decode_binary(data, self.describe())
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise MaterialError(
                f"{self.describe()}: {len(data)} bytes that are neither 32 raw bytes nor hex/base64 text",
                code="MaterialNotDecodable",
            ) from None
        return decode_text(text, self.describe())


class SecretReader(Protocol):
    def get_secret_value(self, name: str, version_stage: str | None) -> tuple[str, str]: ...


class _CloudSecretSource:
    """A secret in a cloud's secret store: its name, region and stage, and the reader of that store."""

    label = "secret"

    def __init__(self, name: str, region: str, reader: Any, version_stage: str | None = None) -> None:
        self.name = name
        self.region = region
        self.reader = reader
        self.version_stage = version_stage

    def describe(self) -> str:
        return f"{self.label} {self.name} in {self.region}"

    def _read(self, read: Callable[[str, str | None], T]) -> T:
        """Call the store; a service error fails the material under the service's code."""
        try:
            return read(self.name, self.version_stage)
        except CloudError as exc:
            raise MaterialError(f"{self.describe()}: {exc.code}: {exc.message}", code=exc.code) from exc


class AlibabaSecretSource(_CloudSecretSource):
    """A KMS secret: ``text`` holding hex or base64, or ``binary`` holding the raw 32 bytes."""

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
            return decode_binary(raw, self.describe())
        return decode_text(data or "", self.describe())


class AwsSecretReader(Protocol):
    def get_secret(self, name: str, version_stage: str | None) -> tuple[str | None, bytes | None]: ...


class AwsSecretSource(_CloudSecretSource):
    """An AWS Secrets Manager secret: ``SecretString`` holding hex or base64, or ``SecretBinary``
    holding the raw 32 bytes."""

    label = "AWS secret"
    reader: AwsSecretReader

    def fetch(self) -> Material:
        text, binary = self._read(self.reader.get_secret)
        if binary is not None:
            return decode_binary(binary, self.describe())
        return decode_text(text or "", self.describe())


class SecretReaders(Protocol):
    """Where the secret stores are: one reader per region and cloud."""

    def alibaba_secrets(self, region: str) -> SecretReader: ...

    def aws_secrets(self, region: str) -> AwsSecretReader: ...


def build_source(spec: SourceSpec, readers: SecretReaders, environ: Mapping[str, str] | None = None) -> MaterialSource:
    stage = spec.options.get("version_stage")
    match spec.type:
        case "env":
            return EnvSource(spec.options["var"], os.environ if environ is None else environ)
        case "file":
            return FileSource(spec.options["path"])
        case "alibaba-secret":
            region = spec.options["region"]
            return AlibabaSecretSource(spec.options["name"], region, readers.alibaba_secrets(region), stage)
        case "aws-secret":
            region = spec.options["region"]
            return AwsSecretSource(spec.options["name"], region, readers.aws_secrets(region), stage)
        case "pkcs11":
            from renewer.pkcs11_source import Pkcs11Source  # python-pkcs11 only when configured

            options = spec.options
            return Pkcs11Source(
                options["library"], options["token_label"], options["key_label"], options["pin_env"], environ
            )
    raise MaterialError(f"unsupported source type {spec.type!r}")  # config validation prevents this
