"""What the flow needs from a KMS, whichever cloud: the :class:`KmsTarget` protocol and the plain
data it returns. Neutral ground, so neither cloud's SDK is imported for the other's sake. It speaks
bytes: each adapter owns its service's wire encoding (Alibaba Cloud's base64 text, AWS's blobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Protocol


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    arn: str
    origin: str
    state: str
    expires: float | None  # unix seconds; None = never expires (or never imported)
    server_time: float | None = None  # the response's Date header, for the clock sanity check
    material_id: str | None = None  # AWS: CurrentKeyMaterialId
    key_spec: str | None = None  # Aliyun_AES_256, Aliyun_SM4; AWS: SYMMETRIC_DEFAULT, ...
    protection_level: str | None = None  # Alibaba Cloud: SOFTWARE or HSM
    instance_id: str | None = None  # Alibaba Cloud: the KMS instance (DKMSInstanceId) the key lives in


@dataclass(frozen=True)
class MaterialInfo:
    """One key material of an AWS key (``ListKeyRotations`` with ``IncludeKeyMaterial``
    ``ALL_KEY_MATERIAL``): each was imported on its own and expires on its own."""

    material_id: str
    imported: bool  # ImportState IMPORTED; False: PENDING_IMPORT (expired, deleted, or never imported)
    state: str | None  # KeyMaterialState: CURRENT, NON_CURRENT, PENDING_ROTATION
    expires: float | None  # ValidTo; None: does not expire (or not imported)


@dataclass(frozen=True)
class ImportParameters:
    key_id: str
    public_key: bytes  # DER SubjectPublicKeyInfo
    token: bytes  # opaque; only ever handed back to import_key_material
    token_expires: float | None

    def __repr__(self) -> str:
        return f"ImportParameters(key_id={self.key_id!r}, token=<redacted>)"


def parse_http_date(headers: dict[str, str] | None) -> float | None:
    value = (headers or {}).get("date") or (headers or {}).get("Date")
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def parse_time(text: str | None) -> float | None:
    """``yyyy-MM-ddTHH:mm:ssZ`` (empty = none) to unix seconds."""
    if not text:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


class KmsTarget(Protocol):
    """The KMS calls the flow makes in one region (:class:`renewer.clouds.alibaba.AlibabaKms`,
    :class:`renewer.clouds.aws.AwsKms`)."""

    def describe_key(self, key_id: str) -> KeyInfo: ...

    def get_parameters_for_import(self, key_id: str, algorithm: str) -> ImportParameters: ...

    def import_key_material(
        self, key_id: str, wrapped: bytes, token: bytes, expire_unix: int, material_id: str | None = None
    ) -> str | None:
        """Returns the key material id where the service reports one (AWS), else None. With
        ``material_id`` (AWS): re-import that key material (``EXISTING_KEY_MATERIAL``), never a new one."""

    def canary(self, key_id: str, plaintext: bytes) -> bytes:
        """Encrypt then decrypt ``plaintext`` under the key; returns what came back."""

    def list_resource_tags(self, key_id: str) -> dict[str, str]:
        """The key's tags (checked for a fan-out worker's discovered keys)."""


class MaterialsTarget(Protocol):
    """What a KMS whose keys hold several key materials (AWS) adds to :class:`KmsTarget`."""

    def list_key_materials(self, key_id: str) -> list[MaterialInfo]:
        """Every key material of the key, oldest first."""
