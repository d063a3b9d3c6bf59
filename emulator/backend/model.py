"""Records the backend keeps: keys, import tokens, secret versions. Plain data with (de)serialisers
for the optional sqlite store; bytes are kept as base64 there."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.backend import sm2

ENABLED = "Enabled"
DISABLED = "Disabled"
PENDING_DELETION = "PendingDeletion"
PENDING_IMPORT = "PendingImport"

ORIGIN_KMS = "Aliyun_KMS"
ORIGIN_EXTERNAL = "EXTERNAL"


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@dataclass
class Key:
    key_id: str
    arn: str
    origin: str
    state: str
    creation: float
    creator: str
    description: str = ""
    key_spec: str = "Aliyun_AES_256"
    key_usage: str = "ENCRYPT/DECRYPT"
    protection_level: str = "SOFTWARE"
    material: bytes | None = None  # present only while usable
    material_fingerprint: str | None = None  # SHA-256 of the first material ever imported; kept forever
    material_expire: float | None = None  # unix seconds; 0 or None = never
    delete_at: float | None = None
    state_before_deletion: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    flavor: str = "alibaba"  # "alibaba" or "aws": id and ARN formats, wrapping choices
    key_material_id: str | None = None  # AWS: stays the same for every import of the same material
    disabled_before_import: bool = False  # Disabled when its material went: an import keeps it Disabled
    # AWS keys with several materials (emulator/backend/rotations.py); the fields above are the CURRENT one.
    material_description: str = ""  # AWS KeyMaterialDescription of the current material
    material_rotated: float | None = None  # when the current material became current by a rotation
    other_materials: list[KeyMaterial] = field(default_factory=list)  # NON_CURRENT, then PENDING_ROTATION

    def snapshot(self) -> Key:
        """A copy for a reader (tags copied too): what the key was when the backend's lock was held.
        Changing it changes nothing stored."""
        return replace(self, tags=dict(self.tags), other_materials=[replace(m) for m in self.other_materials])

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["material"] = _b64(self.material)
        record["other_materials"] = [m.to_record() for m in self.other_materials]
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Key:
        """A stored key; a record written before keys had several materials loads with none other."""
        others = [KeyMaterial.from_record(m) for m in record.get("other_materials") or []]
        return cls(**{**record, "material": _unb64(record.get("material")), "other_materials": others})


@dataclass
class KeyMaterial:
    """An AWS key's material that is not the current one: ``NON_CURRENT`` (decrypts only) or
    ``PENDING_ROTATION`` (imported, current after ``RotateKeyOnDemand``). ``material`` is None
    while it is not imported (expired or deleted); the fingerprint is kept to match a re-import."""

    material_id: str
    fingerprint: str
    state: str
    material: bytes | None = None
    valid_to: float | None = None  # unix seconds; None = never expires
    description: str = ""
    rotated: float | None = None  # when it became current by a rotation; None for the first material

    def to_record(self) -> dict[str, Any]:
        return {**asdict(self), "material": _b64(self.material)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KeyMaterial:
        return cls(**{**record, "material": _unb64(record.get("material"))})


@dataclass
class ImportToken:
    token: str
    key_id: str
    algorithm: str
    private_key_der: bytes
    expires: float
    _key: rsa.RSAPrivateKey | None = field(default=None, repr=False, compare=False)

    def private_key(self) -> rsa.RSAPrivateKey:
        """The wrapping key, parsed once. It is the emulator's own, so the ~30 ms RSA consistency
        check that loading an untrusted key deserves is skipped."""
        if self._key is None:
            key = serialization.load_der_private_key(
                self.private_key_der, password=None, unsafe_skip_rsa_key_validation=True
            )
            assert isinstance(key, rsa.RSAPrivateKey)
            self._key = key
        return self._key

    def sm2_private_key(self) -> int:
        """An ``SM2PKE`` token's wrapping key: its ``private_key_der`` is the 32-byte scalar."""
        return int.from_bytes(self.private_key_der, "big")

    def public_key_b64(self) -> str:
        """The ``PublicKey`` the service returns: base64 DER SubjectPublicKeyInfo (for ``SM2PKE``,
        an ``id-ecPublicKey`` on the SM2 curve, OID 1.2.156.10197.1.301)."""
        if self.algorithm == "SM2PKE":
            return base64.b64encode(sm2.public_key_der(sm2.public_key(self.sm2_private_key()))).decode()
        der = (
            self.private_key()
            .public_key()
            .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        return base64.b64encode(der).decode()

    def to_record(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "private_key_der": _b64(self.private_key_der),
            "expires": self.expires,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ImportToken:
        return cls(**{**record, "private_key_der": _unb64(record["private_key_der"])})


@dataclass
class SecretVersion:
    version_id: str
    data: bytes
    data_type: str  # "text" | "binary"
    created: float
    stages: list[str] = field(default_factory=list)

    def snapshot(self) -> SecretVersion:
        return replace(self, stages=list(self.stages))


@dataclass
class Secret:
    name: str
    arn: str
    created: float
    description: str = ""
    encryption_key_id: str = ""
    versions: dict[str, SecretVersion] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def snapshot(self) -> Secret:
        """A copy for a reader, versions and tags included. Changing it changes nothing stored."""
        versions = {vid: version.snapshot() for vid, version in self.versions.items()}
        return replace(self, versions=versions, tags=dict(self.tags))

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["versions"] = {vid: {**asdict(v), "data": _b64(v.data)} for vid, v in self.versions.items()}
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Secret:
        versions = {
            vid: SecretVersion(**{**v, "data": _unb64(v["data"])}) for vid, v in record.get("versions", {}).items()
        }
        return cls(**{**record, "versions": versions})
