"""KMS keys of one region: lifecycle, aliases, tags, listing, and envelope encryption.

Every rule lives here, so a direct call gets the same :class:`ServiceError` as a wire call. The
import actions are in :mod:`emulator.backend.imports`; this class mixes them in.

Key state is derived lazily against the injected clock: a key whose material expiry has passed
is ``PendingImport`` with its material gone (until the same material is imported again), and a
key whose deletion date has passed no longer exists, nor do its aliases.

Every read and every change happens under :attr:`KmsBackend.lock`, alias resolution included.
Callers get snapshots (:meth:`Key.snapshot`), never the stored records, so a key that expires or
is deleted by another request while a response is being built cannot change under it.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator import errors
from emulator.backend import key_filters
from emulator.backend.imports import ImportMixin, WrappingKeySource
from emulator.backend.model import (
    DISABLED,
    ENABLED,
    ORIGIN_EXTERNAL,
    ORIGIN_KMS,
    PENDING_DELETION,
    PENDING_IMPORT,
    Key,
)
from emulator.backend.rotations import RotationMixin
from emulator.backend.store import Store
from emulator.backend.unwrap import material_bytes
from emulator.clock import Clock

ALIAS_PREFIX = "alias/"
AWS_ACCOUNT_ID = "123456789012"
_BLOB_MAGIC = b"\x01EMU"
_ID_ALPHABET = string.ascii_lowercase + string.digits
PROTECTION_LEVELS = ("SOFTWARE", "HSM")
#: The symmetric ``KeySpec`` values the emulator models (CreateKey's reference lists more).
KEY_SPECS = ("Aliyun_AES_256", "Aliyun_SM4")
_GCM_TAG = 16


class KmsBackend(ImportMixin, RotationMixin):
    def __init__(
        self, region: str, account_id: str, clock: Clock, store: Store, wrapping_keys: WrappingKeySource | None = None
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.aws_account_id = AWS_ACCOUNT_ID
        self.clock = clock
        self.store = store
        self.lock = threading.RLock()
        self.keys: dict[str, Key] = {}
        self.aliases: dict[str, str] = {}  # alias/NAME -> key id
        super().__init__(wrapping_keys or WrappingKeySource())
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    def _load(self) -> None:
        for record in self.store.load(self.region, "key"):
            key = Key.from_record(record)
            self.keys[key.key_id] = key
        for record in self.store.load(self.region, "alias"):
            self.aliases[record["name"]] = record["key_id"]
        self._load_tokens()

    def save(self, key: Key) -> None:
        if self.store.enabled:
            self.store.save(self.region, "key", key.key_id, key.to_record())

    def reset(self) -> None:
        with self.lock:
            self.keys.clear()
            self.aliases.clear()
            self.tokens.clear()

    # ---- lookup ------------------------------------------------------------------------------
    def _refresh(self, key: Key) -> Key | None:
        """Apply what the clock says: expired material is gone; a deletion date passed deletes."""
        now = self.clock.now()
        if key.state == PENDING_DELETION and key.delete_at is not None and now >= key.delete_at:
            self._forget(key)
            return None
        if key.material is not None and key.material_expire and now >= key.material_expire:
            key.material = None
            if key.state == DISABLED:
                key.disabled_before_import = True
            if key.state != PENDING_DELETION:
                key.state = PENDING_IMPORT
            self.save(key)
        if key.other_materials and self._expire_others(key, now):
            self.save(key)
        return key

    def _forget(self, key: Key) -> None:
        del self.keys[key.key_id]
        self.store.delete(self.region, "key", key.key_id)
        for alias in [a for a, kid in self.aliases.items() if kid == key.key_id]:
            del self.aliases[alias]
            self.store.delete(self.region, "alias", alias)

    def _sweep(self) -> list[Key]:
        """Every key still alive, refreshed (lock held): also drops the aliases of deleted keys."""
        return [k for k in (self._refresh(k) for k in list(self.keys.values())) if k is not None]

    def _live(self, key_id: str | None, *, allow_alias: bool = True) -> Key:
        """The stored key named by id, ARN or (where allowed) ``alias/NAME``, refreshed.

        The caller holds :attr:`lock` and may change the key. An alias whose key has just been
        deleted is ``Forbidden.AliasNotFound``, as the alias went with the key.
        """
        if not key_id:
            raise errors.missing_parameter("KeyId")
        alias = None
        if key_id.startswith(ALIAS_PREFIX) or ":alias/" in key_id:
            if not allow_alias:
                raise errors.unsupported_alias()
            alias = key_id[key_id.index(ALIAS_PREFIX) :]
            if alias not in self.aliases:
                raise errors.alias_not_found(alias)
            key_id = self.aliases[alias]
        elif key_id.startswith(("acs:kms:", "arn:aws:kms:")):
            key_id = key_id.rsplit("/", 1)[-1]
        key = self.keys.get(key_id)
        key = self._refresh(key) if key is not None else None
        if key is None:
            raise errors.alias_not_found(alias) if alias else errors.key_not_found(key_id)
        return key

    def get_key(self, key_id: str | None, *, allow_alias: bool = True) -> Key:
        """A snapshot of the key named by id, ARN or (where allowed) ``alias/NAME``, taken under
        the lock; ``Forbidden.KeyNotFound`` / ``Forbidden.AliasNotFound`` else."""
        with self.lock:
            return self._live(key_id, allow_alias=allow_alias).snapshot()

    @staticmethod
    def require_state(key: Key, allowed: Iterable[str], reject: Callable[[str], errors.ServiceError]) -> None:
        if key.state not in allowed:
            raise reject(key.state)

    # ---- lifecycle ---------------------------------------------------------------------------
    def create_key(
        self,
        *,
        origin: str = ORIGIN_KMS,
        key_spec: str = "Aliyun_AES_256",
        key_usage: str = "ENCRYPT/DECRYPT",
        protection_level: str = "SOFTWARE",
        description: str = "",
        tags: dict[str, str] | None = None,
        flavor: str = "alibaba",
    ) -> Key:
        if origin not in (ORIGIN_KMS, ORIGIN_EXTERNAL):
            raise errors.invalid_parameter("Origin", f"Expected {ORIGIN_KMS} or {ORIGIN_EXTERNAL}.")
        if key_spec not in KEY_SPECS:
            # NOTE: the real service offers more specs (RSA, EC); the emulator models the symmetric
            # AES-256 and SM4 keys that BYOK import supports.
            raise errors.invalid_parameter("KeySpec", "Only Aliyun_AES_256 and Aliyun_SM4 are supported.")
        if key_usage != "ENCRYPT/DECRYPT":
            raise errors.invalid_parameter("KeyUsage", f"{key_spec} keys support ENCRYPT/DECRYPT only.")
        if protection_level not in PROTECTION_LEVELS:
            raise errors.invalid_parameter("ProtectionLevel", "Expected SOFTWARE or HSM.")
        if flavor == "aws":
            key_id = str(uuid.uuid4())
            arn = f"arn:aws:kms:{self.region}:{self.aws_account_id}:key/{key_id}"
        else:
            suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))
            key_id = f"key-{self.region.split('-')[-1][:3]}{suffix}"
            arn = f"acs:kms:{self.region}:{self.account_id}:key/{key_id}"
        key = Key(
            key_id=key_id,
            arn=arn,
            flavor=flavor,
            origin=origin,
            state=PENDING_IMPORT if origin == ORIGIN_EXTERNAL else ENABLED,
            creation=self.clock.now(),
            creator=self.aws_account_id if flavor == "aws" else self.account_id,
            description=description,
            key_spec=key_spec,
            key_usage=key_usage,
            protection_level=protection_level,
            material=None if origin == ORIGIN_EXTERNAL else os.urandom(material_bytes(key_spec)),
            tags=dict(tags or {}),
            # botocore's kms model: KeyMetadata.CurrentKeyMaterialId (a 64-hex-digit id) names the
            # current material of a symmetric key; a key KMS made has one from the start.
            key_material_id=None if origin == ORIGIN_EXTERNAL else secrets.token_hex(32),
        )
        with self.lock:
            self.keys[key_id] = key
            self.save(key)
            return key.snapshot()

    def describe_key(self, key_id: str) -> Key:
        return self.get_key(key_id)

    def list_keys(self, filters: key_filters.Filters = None) -> list[Key]:
        """Every live key, oldest first, keeping only those that pass ``filters``: ``ListKeys``'
        ``Filters`` as JSON text, decoded, or as name -> values (:mod:`emulator.backend.key_filters`)."""
        accepted = key_filters.parse(filters)
        with self.lock:
            keys = [k.snapshot() for k in self._sweep()]
            aliases: dict[str, set[str]] = {}
            for alias, key_id in self.aliases.items():
                aliases.setdefault(key_id, set()).add(alias)
        if accepted:
            keys = [k for k in keys if key_filters.matches(k, frozenset(aliases.get(k.key_id, ())), accepted)]
        return sorted(keys, key=lambda k: k.creation)

    def enable_key(self, key_id: str) -> None:
        self._set_state(key_id, ENABLED)

    def disable_key(self, key_id: str) -> None:
        self._set_state(key_id, DISABLED)

    def _set_state(self, key_id: str, state: str) -> None:
        with self.lock:
            key = self._live(key_id)
            self.require_state(key, (ENABLED, DISABLED), errors.state_modify_failed)
            key.state = state
            self.save(key)

    def schedule_key_deletion(self, key_id: str, pending_window_days: int) -> None:
        if not 7 <= pending_window_days <= 366:
            raise errors.invalid_parameter("PendingWindowInDays", "Expected 7 to 366.")
        with self.lock:
            key = self._live(key_id)
            self.require_state(key, (ENABLED, DISABLED, PENDING_IMPORT), errors.state_modify_failed)
            key.state_before_deletion = key.state
            key.state = PENDING_DELETION
            key.delete_at = self.clock.now() + pending_window_days * 86400
            self.save(key)

    def cancel_key_deletion(self, key_id: str) -> None:
        with self.lock:
            key = self._live(key_id)
            self.require_state(key, (PENDING_DELETION,), errors.state_modify_failed)
            # Back to usable if it still has material, else it waits for an import again.
            key.state = ENABLED if key.material is not None else PENDING_IMPORT
            if key.state_before_deletion == DISABLED:
                if key.state == ENABLED:
                    key.state = DISABLED
                else:
                    key.disabled_before_import = True
            key.delete_at = None
            key.state_before_deletion = None
            self.save(key)

    # ---- aliases -----------------------------------------------------------------------------
    def create_alias(self, alias_name: str, key_id: str) -> None:
        if not alias_name.startswith(ALIAS_PREFIX) or len(alias_name) <= len(ALIAS_PREFIX):
            raise errors.invalid_parameter("AliasName", "An alias must start with alias/.")
        if alias_name.startswith("alias/acs/"):
            raise errors.invalid_parameter("AliasName", "The alias/acs/ prefix is reserved.")
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            self.require_state(key, (ENABLED, DISABLED, PENDING_IMPORT), errors.state_modify_failed)
            holder = self.keys.get(self.aliases.get(alias_name, ""))
            if holder is not None:
                self._refresh(holder)  # a key past its deletion date takes its alias with it
            if alias_name in self.aliases:
                # AliasAlreadyExists (HTTP 400): the code Alibaba's KMS error list gives for a duplicate
                # alias (REFERENCES.md, "Alibaba key states": the state table and the common error
                # list). CreateAlias's reference says aliases in a region must be unique and sends to
                # the service error codes for the rest
                # (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-createalias).
                raise errors.alias_already_exists(alias_name)
            self.aliases[alias_name] = key.key_id
            self.store.save(self.region, "alias", alias_name, {"name": alias_name, "key_id": key.key_id})

    def alias_arn(self, alias_name: str, flavor: str = "alibaba") -> str:
        if flavor == "aws":
            return f"arn:aws:kms:{self.region}:{self.aws_account_id}:{alias_name}"
        return f"acs:kms:{self.region}:{self.account_id}:{alias_name}"

    def list_aliases(self, key_id: str | None = None) -> list[tuple[str, str]]:
        """(alias, key id) pairs, optionally only those of one key."""
        with self.lock:
            target = self._live(key_id, allow_alias=False).key_id if key_id is not None else None
            self._sweep()  # aliases of keys past their deletion date are gone
            return sorted((a, k) for a, k in self.aliases.items() if target is None or k == target)

    # ---- tags --------------------------------------------------------------------------------
    def tag_resource(self, key_id: str, tags: dict[str, str]) -> None:
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            self.require_state(key, (ENABLED, DISABLED, PENDING_IMPORT), errors.rejected_state)
            key.tags.update(tags)
            self.save(key)

    def untag_resource(self, key_id: str, tag_keys: list[str]) -> None:
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            self.require_state(key, (ENABLED, DISABLED, PENDING_IMPORT), errors.rejected_state)
            for name in tag_keys:
                key.tags.pop(name, None)
            self.save(key)

    def list_resource_tags(self, key_id: str) -> dict[str, str]:
        """A copy of the key's tags, taken under the lock."""
        return self.get_key(key_id, allow_alias=False).tags

    # ---- cryptography ------------------------------------------------------------------------
    def encrypt(self, key_id: str, plaintext: bytes, context: dict[str, str] | None = None) -> tuple[Key, bytes]:
        """AES-256-GCM (SM4-GCM for ``Aliyun_SM4`` keys) under the key's material; the blob names
        the key and is bound to it.

        The key is checked and copied under the lock, so an expiry or deletion that lands while
        the data is sealed cannot take the material from under it.
        """
        key = self._usable(key_id, allow_alias=True)
        assert key.material is not None
        nonce = os.urandom(12)
        name = key.key_id.encode()
        sealed = _seal(key.key_spec, key.material, nonce, plaintext, _aad(name, context))
        return key, _BLOB_MAGIC + len(name).to_bytes(1, "big") + name + nonce + sealed

    def decrypt(self, blob: bytes, context: dict[str, str] | None = None) -> tuple[Key, bytes]:
        key, plaintext, _ = self.decrypt_material(blob, context)
        return key, plaintext

    def decrypt_material(self, blob: bytes, context: dict[str, str] | None = None) -> tuple[Key, bytes, str | None]:
        """:meth:`decrypt`, also naming the material that decrypted: the current one or, for an AWS key
        with several, any other still imported (a ``NON_CURRENT`` material decrypts only; botocore's
        KMS model, RotationsListEntry.KeyMaterialState). An ``Enabled`` key has every material imported.
        NOTE: the blob does not name its material; each imported one is tried (the GCM tag tells)."""
        if not blob.startswith(_BLOB_MAGIC) or len(blob) < len(_BLOB_MAGIC) + 1:
            raise errors.invalid_ciphertext()
        offset = len(_BLOB_MAGIC)
        size = blob[offset]
        name = blob[offset + 1 : offset + 1 + size]
        nonce = blob[offset + 1 + size : offset + 13 + size]
        sealed = blob[offset + 13 + size :]
        key = self._usable(name.decode(errors="replace"), allow_alias=False)
        assert key.material is not None
        candidates = [(key.key_material_id, key.material)]
        candidates += [(m.material_id, m.material) for m in key.other_materials if m.material is not None]
        for material_id, material in candidates:
            try:
                return key, _open(key.key_spec, material, nonce, sealed, _aad(name, context)), material_id
            except (InvalidTag, ValueError):
                continue
        raise errors.invalid_ciphertext()

    def _usable(self, key_id: str, *, allow_alias: bool) -> Key:
        """A snapshot of an ``Enabled`` key (checked under the lock); ``Rejected.<State>`` else."""
        with self.lock:
            key = self._live(key_id, allow_alias=allow_alias)
            self.require_state(key, (ENABLED,), errors.rejected_state)
            return key.snapshot()


def _seal(key_spec: str, material: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """GCM under ``material``: AES-256, or SM4 (GB/T 32907) for ``Aliyun_SM4``; ciphertext || tag."""
    if key_spec != "Aliyun_SM4":
        return AESGCM(material).encrypt(nonce, plaintext, aad)
    encryptor = Cipher(algorithms.SM4(material), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def _open(key_spec: str, material: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of :func:`_seal`; ``InvalidTag`` or ``ValueError`` when it does not open."""
    if key_spec != "Aliyun_SM4":
        return AESGCM(material).decrypt(nonce, sealed, aad)
    if len(sealed) < _GCM_TAG:
        raise ValueError("too short")
    decryptor = Cipher(algorithms.SM4(material), modes.GCM(nonce, sealed[-_GCM_TAG:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(sealed[:-_GCM_TAG]) + decryptor.finalize()


def _aad(key_name: bytes, context: dict[str, str] | None) -> bytes:
    """The key id and the encryption context, canonically encoded: both bind the ciphertext."""
    return key_name + b"\x00" + json.dumps(context or {}, sort_keys=True, separators=(",", ":")).encode()
