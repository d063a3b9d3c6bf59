"""AWS keys with several imported materials: ``ImportKeyMaterial`` with ``ImportType``,
``RotateKeyOnDemand``, ``ListKeyRotations``, ``DeleteImportedKeyMaterial`` with ``KeyMaterialId``.

The rules, as botocore's KMS model (2014-11-01) documents them:

- ``ImportType`` defaults to ``NEW_KEY_MATERIAL`` when no material was ever imported, to
  ``EXISTING_KEY_MATERIAL`` after that (ImportKeyMaterialRequest.ImportType).
- A ``KeyMaterialId`` cannot be given with ``NEW_KEY_MATERIAL``; with ``EXISTING_KEY_MATERIAL`` KMS
  computes the id of the bytes and matches it against the id given, which must belong to the key
  (ImportKeyMaterialRequest.KeyMaterialId).
- New material imported into a key that has material is ``PENDING_ROTATION`` until
  ``RotateKeyOnDemand`` makes it ``CURRENT``; the old one becomes ``NON_CURRENT``, which decrypts only
  (RotationsListEntry.KeyMaterialState; RotateKeyOnDemand: "you must have already imported new key
  material and that key material's state should be PENDING_ROTATION").
- Each material expires on its own ``ValidTo``, and the key is unusable (``PendingImport``) until the
  same material is imported again (ImportKeyMaterialRequest.ValidTo: "When the key material expires,
  KMS deletes the key material from the KMS key. Without its key material, the KMS key is unusable").
- A ``PENDING_ROTATION`` material "is not permanently associated with the KMS key. You can delete this
  key material and import different key material in its place" (AWS SDK docs, KeyMaterialState).
- ``KeyMaterialDescription`` omitted on a re-import keeps the last one given
  (ImportKeyMaterialRequest.KeyMaterialDescription).

The current material lives in the key's single-material fields (:class:`~emulator.backend.model.Key`),
which the Alibaba protocol uses alone; the others in ``Key.other_materials``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from emulator import errors
from emulator.backend.model import DISABLED, ENABLED, ORIGIN_EXTERNAL, PENDING_DELETION, PENDING_IMPORT, KeyMaterial

if TYPE_CHECKING:
    from emulator.backend.kms import KmsBackend
    from emulator.backend.model import Key

NEW_MATERIAL, EXISTING_MATERIAL = "NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"
CURRENT, NON_CURRENT, PENDING_ROTATION = "CURRENT", "NON_CURRENT", "PENDING_ROTATION"


def _unsupported(message: str) -> errors.ServiceError:
    return errors.ServiceError("UnsupportedOperationException", message, 400)


def _incorrect(message: str) -> errors.ServiceError:
    return errors.invalid_key_material(message, "mismatch")


def listing(key: Key) -> list[KeyMaterial]:
    """Every material of a key, oldest first: ``NON_CURRENT``, the ``CURRENT`` one, ``PENDING_ROTATION``."""
    if key.material_fingerprint is None or key.key_material_id is None:
        return list(key.other_materials)
    current = KeyMaterial(
        material_id=key.key_material_id,
        fingerprint=key.material_fingerprint,
        state=CURRENT,
        material=key.material,
        valid_to=key.material_expire or None,
        description=key.material_description,
        rotated=key.material_rotated,
    )
    older = [m for m in key.other_materials if m.state == NON_CURRENT]
    return [*older, current, *(m for m in key.other_materials if m.state != NON_CURRENT)]


def _lose(key: Key) -> None:
    """A material of the key went: the key waits for an import (a Disabled key stays Disabled after)."""
    if key.state == DISABLED:
        key.disabled_before_import = True
    if key.state != PENDING_DELETION:
        key.state = PENDING_IMPORT


def _all_imported(key: Key) -> bool:
    """ "All key materials of the key must be imported for it to be Enabled" (issue #14, from the
    KMS developer guide's "Rotate imported key material")."""
    return key.material is not None and all(m.material is not None for m in key.other_materials)


class RotationMixin:
    """Multi-material actions of :class:`~emulator.backend.kms.KmsBackend` (kept apart for size)."""

    def _expire_others(self: KmsBackend, key: Key, now: float) -> bool:
        """Drop the bytes of every other material past its ``ValidTo`` (lock held); True if any went."""
        gone = [m for m in key.other_materials if m.material is not None and m.valid_to and now >= m.valid_to]
        for material in gone:
            material.material = None
        if gone:
            _lose(key)
        return bool(gone)

    def import_material_of_type(
        self: KmsBackend,
        key_id: str,
        encrypted_key_material: bytes,
        import_token: str,
        expire_unix: int,
        *,
        import_type: str | None = None,
        material_id: str | None = None,
        description: str | None = None,
    ) -> tuple[Key, str]:
        """``ImportKeyMaterial`` with AWS's ``ImportType``: a snapshot of the key and the id of the
        material imported."""
        if import_type not in (None, NEW_MATERIAL, EXISTING_MATERIAL):
            raise errors.invalid_parameter("ImportType", f"Expected {NEW_MATERIAL} or {EXISTING_MATERIAL}.")
        if import_type == NEW_MATERIAL and material_id is not None:
            raise errors.invalid_parameter("KeyMaterialId", "It cannot be specified with ImportType NEW_KEY_MATERIAL.")
        key, material = self._unwrap_import(key_id, encrypted_key_material, import_token, expire_unix)
        fingerprint = hashlib.sha256(material).hexdigest()
        valid_to = float(expire_unix) if expire_unix else None
        with self.lock:
            key = self._importable(key.key_id, importing=True)
            known = listing(key)
            kind = import_type or (NEW_MATERIAL if not known else EXISTING_MATERIAL)
            if kind == NEW_MATERIAL:
                imported = self._import_new(key, known, material, fingerprint, valid_to, description or "")
            else:
                imported = self._reimport(key, known, material, fingerprint, valid_to, material_id, description)
            if key.state == PENDING_IMPORT and _all_imported(key):
                # NOTE: as for one material (emulator/backend/imports.py), a key disabled before its
                # material went stays Disabled: our choice.
                key.state = DISABLED if key.disabled_before_import else ENABLED
                key.disabled_before_import = False
            self.save(key)
            return key.snapshot(), imported

    def _import_new(
        self: KmsBackend,
        key: Key,
        known: list[KeyMaterial],
        material: bytes,
        fingerprint: str,
        valid_to: float | None,
        description: str,
    ) -> str:
        if any(secrets.compare_digest(m.fingerprint, fingerprint) for m in known):
            # NOTE: AWS documents no code for new material equal to one the key has; the id is computed
            # from the key and the bytes (ImportKeyMaterialRequest.KeyMaterialId), so it is not new:
            # IncorrectKeyMaterialException, our choice.
            raise _incorrect("this key material is already associated with the key; use EXISTING_KEY_MATERIAL")
        material_id = secrets.token_hex(32)
        if not known:  # the first material: current at once
            key.material, key.material_fingerprint, key.key_material_id = material, fingerprint, material_id
            key.material_expire, key.material_description = valid_to, description
            return material_id
        if any(m.state == PENDING_ROTATION for m in key.other_materials):
            # NOTE: one material waits for rotation at a time (delete it to import another in its place,
            # per the KeyMaterialState documentation); the code is our choice.
            raise _unsupported("The key already has key material in PENDING_ROTATION state.")
        key.other_materials.append(
            KeyMaterial(material_id, fingerprint, PENDING_ROTATION, material, valid_to, description)
        )
        return material_id

    def _reimport(
        self: KmsBackend,
        key: Key,
        known: list[KeyMaterial],
        material: bytes,
        fingerprint: str,
        valid_to: float | None,
        material_id: str | None,
        description: str | None,
    ) -> str:
        if material_id is not None:
            target = next((m for m in known if m.material_id == material_id), None)
            if target is None:
                raise _incorrect(f"Key material {material_id} is not associated with this key.")
        else:
            target = next((m for m in known if secrets.compare_digest(m.fingerprint, fingerprint)), None)
            if target is None:
                raise _incorrect("it differs from every key material previously imported into this key")
        if not secrets.compare_digest(target.fingerprint, fingerprint):
            raise _incorrect(f"it is not the key material {target.material_id}")
        if target.state == CURRENT:
            key.material, key.material_expire = material, valid_to
            if description is not None:
                key.material_description = description
        else:
            stored = next(m for m in key.other_materials if m.material_id == target.material_id)
            stored.material, stored.valid_to = material, valid_to
            if description is not None:
                stored.description = description
        return target.material_id

    def rotate_key_on_demand(self: KmsBackend, key_id: str) -> Key:
        """The ``PENDING_ROTATION`` material becomes ``CURRENT``, the current one ``NON_CURRENT``."""
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            self.require_state(key, (ENABLED,), errors.rejected_state)
            if key.origin != ORIGIN_EXTERNAL:
                # NOTE: the emulator rotates imported material only; AWS_KMS keys are not rotated.
                raise _unsupported("The emulator rotates keys with imported key material only.")
            pending = next((m for m in key.other_materials if m.state == PENDING_ROTATION), None)
            if pending is None or pending.material is None:
                # NOTE: the code is our choice; the requirement is RotateKeyOnDemand's documentation.
                raise _unsupported("Import new key material (ImportType NEW_KEY_MATERIAL) before rotating.")
            assert key.key_material_id is not None and key.material_fingerprint is not None
            old = KeyMaterial(
                key.key_material_id,
                key.material_fingerprint,
                NON_CURRENT,
                key.material,
                key.material_expire or None,
                key.material_description,
                key.material_rotated,
            )
            key.other_materials = [m for m in key.other_materials if m is not pending] + [old]
            key.other_materials.sort(key=lambda m: m.state != NON_CURRENT)  # stable: older first
            key.material, key.material_fingerprint = pending.material, pending.fingerprint
            key.key_material_id, key.material_expire = pending.material_id, pending.valid_to
            key.material_description, key.material_rotated = pending.description, self.clock.now()
            self.save(key)
            return key.snapshot()

    def list_key_materials(self: KmsBackend, key_id: str) -> tuple[Key, list[KeyMaterial]]:
        """A snapshot of the key and its materials, oldest first (``listing``)."""
        with self.lock:
            key = self._live(key_id, allow_alias=False).snapshot()
        return key, listing(key)

    def delete_material_by_id(self: KmsBackend, key_id: str, material_id: str | None) -> str:
        """``DeleteImportedKeyMaterial``: the current material when no id is given; a
        ``PENDING_ROTATION`` one is dropped; a ``NON_CURRENT`` one loses its bytes and the key waits
        for its import. Returns the id of the material deleted."""
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            if key.origin != ORIGIN_EXTERNAL:
                raise errors.unsupported_origin(key.key_id)
            if material_id is None or material_id == key.key_material_id:
                current = key.key_material_id or ""
                self.delete_key_material(key.key_id)
                return current
            other = next((m for m in key.other_materials if m.material_id == material_id), None)
            if other is None:
                # NOTE: a KeyMaterialId the key does not have is NotFoundException (our reading).
                raise errors.ServiceError("NotFoundException", f"Key material {material_id} does not exist.", 400)
            if other.state == PENDING_ROTATION:
                key.other_materials.remove(other)
            else:
                other.material = None
                _lose(key)
            self.save(key)
            return material_id
