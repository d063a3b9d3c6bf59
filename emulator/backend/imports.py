"""The BYOK import actions: ``GetParametersForImport``, ``ImportKeyMaterial``, ``DeleteKeyMaterial``.

Semantics as the API reference states them: a new wrapping key (RSA_2048, or EC_SM2 for HSM keys)
and token on every call, bound to one key, valid 24 hours; the material must be exactly 256 bits
(128 for ``Aliyun_SM4`` keys) and, once a key has had
material, the same material every time after; ``KeyMaterialExpireUnix`` 0 or omitted means it
never expires, earlier than now is rejected.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator import errors
from emulator.backend import sm2
from emulator.backend.model import (
    DISABLED,
    ENABLED,
    ORIGIN_EXTERNAL,
    PENDING_DELETION,
    PENDING_IMPORT,
    ImportToken,
)
from emulator.backend.unwrap import (
    AWS_REFUSED,
    SM2_KEY_SPEC,
    SM2PKE,
    WRAPPING_KEY_SPECS,
    UnwrapError,
    alibaba_sm2_problem,
    material_bytes,
    offered,
    unwrap,
    unwrap_sm2,
)
from emulator.clock import LATEST

if TYPE_CHECKING:
    from emulator.backend.kms import KmsBackend
    from emulator.backend.model import Key

TOKEN_LIFETIME_SECONDS = 24 * 3600


class WrappingKeySource:
    """Fresh RSA-2048 key pairs, one per ``GetParametersForImport``, as the service does.

    With ``reuse`` the emulator hands out pairs from a small pool instead.
    NOTE: a deliberate deviation for benchmarks (``--reuse-wrapping-keys``): generating a 2048-bit
    key costs ~40 ms of CPU, which would otherwise dominate a 1,000-key run. Every token is still
    new and bound to its key, so a client cannot tell the difference.
    """

    POOL = 8

    def __init__(self, reuse: bool = False) -> None:
        self.reuse = reuse
        self._pools: dict[int, list[rsa.RSAPrivateKey]] = {}
        self._next = 0
        self._lock = threading.Lock()

    def next(self, bits: int = 2048) -> rsa.RSAPrivateKey:
        if not self.reuse:
            return rsa.generate_private_key(public_exponent=65537, key_size=bits)
        with self._lock:
            pool = self._pools.setdefault(bits, [])
            if len(pool) < self.POOL:
                pool.append(rsa.generate_private_key(public_exponent=65537, key_size=bits))
                return pool[-1]
            self._next = (self._next + 1) % self.POOL
            return pool[self._next]


class ImportMixin:
    """Import actions of :class:`~emulator.backend.kms.KmsBackend` (kept apart for size)."""

    def __init__(self, wrapping_keys: WrappingKeySource) -> None:
        self.wrapping_keys = wrapping_keys
        self.tokens: dict[str, ImportToken] = {}

    def _load_tokens(self: KmsBackend) -> None:
        for record in self.store.load(self.region, "token"):
            token = ImportToken.from_record(record)
            self.tokens[token.token] = token

    def _importable(self: KmsBackend, key_id: str, *, importing: bool = False) -> Key:
        """The stored key, if material may be imported into it (lock held).

        ``importing`` (``ImportKeyMaterial``): a key pending deletion is
        ``Rejected.StateModifiedFailed``, as Alibaba's "Impact of CMK status on API operations"
        table gives for ImportKeyMaterial
        (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/impact-of-cmk-status-on-api-operations);
        ``GetParametersForImport`` keeps ``Rejected.PendingDeletion``.
        """
        key = self._live(key_id, allow_alias=False)
        if key.origin != ORIGIN_EXTERNAL:
            raise errors.unsupported_origin(key.key_id)
        reject = errors.state_modify_failed if importing else errors.rejected_state
        self.require_state(key, (ENABLED, DISABLED, PENDING_IMPORT), reject)
        return key

    def get_parameters_for_import(
        self: KmsBackend, key_id: str, wrapping_algorithm: str, wrapping_key_spec: str
    ) -> ImportToken:
        with self.lock:
            key = self._importable(key_id).snapshot()
        accepted = offered(key.flavor, self.region)
        if key.flavor == "alibaba" and (wrapping_key_spec == SM2_KEY_SPEC or wrapping_algorithm == SM2PKE):
            if problem := alibaba_sm2_problem(wrapping_key_spec, wrapping_algorithm, key.protection_level):
                # NOTE: the reference gives the table, not the code for a pair outside it: InvalidParameter.
                raise errors.invalid_parameter("WrappingAlgorithm", problem)
            accepted = accepted | {SM2PKE}
        if key.flavor == "aws" and wrapping_algorithm in AWS_REFUSED and wrapping_algorithm not in accepted:
            # NOTE: the code AWS answers is not documented; UnsupportedOperationException is in the
            # operation's error list ("a specified parameter is not supported"), and the message is
            # AWS's own documentation sentence (see emulator/backend/unwrap.py).
            raise errors.ServiceError("UnsupportedOperationException", AWS_REFUSED[wrapping_algorithm], 400)
        if wrapping_algorithm not in accepted:
            raise errors.invalid_parameter("WrappingAlgorithm", f"Expected one of {', '.join(sorted(accepted))}.")
        if wrapping_key_spec not in WRAPPING_KEY_SPECS[key.flavor] and wrapping_algorithm != SM2PKE:
            specs = ", ".join(WRAPPING_KEY_SPECS[key.flavor])
            raise errors.invalid_parameter("WrappingKeySpec", f"Expected one of {specs}.")
        if wrapping_key_spec == SM2_KEY_SPEC:
            # The SM2 private key is kept as its 32-byte big-endian scalar.
            private_key = None
            private_der = sm2.generate_private_key().to_bytes(sm2.SIZE, "big")
        else:
            private_key = self.wrapping_keys.next(int(wrapping_key_spec.split("_")[1]))
            private_der = private_key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        token = ImportToken(
            token=base64.b64encode(secrets.token_bytes(48)).decode(),
            key_id=key.key_id,
            algorithm=wrapping_algorithm,
            private_key_der=private_der,
            expires=self.clock.now() + TOKEN_LIFETIME_SECONDS,
            _key=private_key,
        )
        with self.lock:
            self._prune_tokens()
            self.tokens[token.token] = token
            if self.store.enabled:
                self.store.save(self.region, "token", token.token, token.to_record())
        return token

    def _prune_tokens(self: KmsBackend) -> None:
        """Forget tokens a day past their expiry. Tokens are kept in issue order, which is expiry
        order, so this stops at the first one still kept: O(pruned), not O(tokens)."""
        now = self.clock.now()
        stale = []
        for name, token in self.tokens.items():
            if token.expires + TOKEN_LIFETIME_SECONDS >= now:
                break
            stale.append(name)
        for name in stale:
            del self.tokens[name]
            if self.store.enabled:
                self.store.delete(self.region, "token", name)

    def import_key_material(
        self: KmsBackend, key_id: str, encrypted_key_material: bytes, import_token: str, expire_unix: int
    ) -> Key:
        """Checked once before the (slow) unwrap and again under the lock before the key changes;
        returns a snapshot of the key."""
        key, material = self._unwrap_import(key_id, encrypted_key_material, import_token, expire_unix)
        fingerprint = hashlib.sha256(material).hexdigest()
        with self.lock:
            key = self._importable(key.key_id, importing=True)
            if key.material_fingerprint is not None and not secrets.compare_digest(
                key.material_fingerprint, fingerprint
            ):
                # NOTE: the reference names no separate code for this case; InvalidKeyMaterial is
                # what the service returns for material it will not accept.
                raise errors.invalid_key_material(
                    "it differs from the material previously imported into this key", "mismatch"
                )
            key.material = material
            key.key_material_id = key.key_material_id or secrets.token_hex(32)
            key.material_fingerprint = fingerprint
            key.material_expire = float(expire_unix) if expire_unix else None
            if key.state == PENDING_IMPORT:
                # NOTE: no reference found either way; our choice. A key an administrator disabled
                # stays Disabled when its expired material is imported again (Key.disabled_before_import):
                # an import renews material, it does not undo a DisableKey.
                key.state = DISABLED if key.disabled_before_import else ENABLED
            key.disabled_before_import = False
            self.save(key)
            return key.snapshot()

    def _unwrap_import(
        self: KmsBackend, key_id: str, encrypted_key_material: bytes, import_token: str, expire_unix: int
    ) -> tuple[Key, bytes]:
        """The checks of an import before the key changes (token, expiry, unwrap, size): a snapshot
        of the key and the unwrapped material. The caller checks the key again under the lock."""
        with self.lock:
            key = self._importable(key_id, importing=True).snapshot()
            token = self.tokens.get(import_token or "")
        if token is None:
            raise errors.invalid_import_token("unknown or malformed token")
        if token.key_id != key.key_id:
            raise errors.invalid_import_token("the token was issued for another key")
        now = self.clock.now()
        if now >= token.expires:
            raise errors.expired_import_token()
        if expire_unix < 0 or (expire_unix and expire_unix < now):
            raise errors.invalid_parameter("KeyMaterialExpireUnix", "The expiry must be 0 or later than now.")
        if expire_unix > LATEST:
            # Alibaba's ImportKeyMaterial reference: KeyMaterialExpireUnix is a Unix timestamp in
            # seconds
            # (https://www.alibabacloud.com/help/en/kms/key-management-service/developer-reference/api-kms-2016-01-20-importkeymaterial).
            # A value past the emulator's clock range (2099, emulator.clock.LATEST) is almost surely
            # milliseconds; refused as InvalidParameter instead of being stored.
            raise errors.invalid_parameter(
                "KeyMaterialExpireUnix", "The expiry is a Unix time in seconds, at most 4102444799 (2099-12-31)."
            )
        try:
            if token.algorithm == SM2PKE:
                material = unwrap_sm2(token.sm2_private_key(), encrypted_key_material)
            else:
                material = unwrap(token.private_key(), encrypted_key_material, token.algorithm)
        except UnwrapError as exc:
            raise errors.invalid_key_material(
                "it does not decrypt with the import token's wrapping key", "undecryptable"
            ) from exc
        if len(material) != material_bytes(key.key_spec):
            expected = material_bytes(key.key_spec) * 8
            raise errors.invalid_key_material(f"expected {expected} bits, got {len(material) * 8}", "size")
        return key, material

    def delete_key_material(self: KmsBackend, key_id: str) -> None:
        with self.lock:
            key = self._live(key_id, allow_alias=False)
            if key.origin != ORIGIN_EXTERNAL:
                raise errors.unsupported_origin(key.key_id)
            key.material = None
            key.material_expire = None
            if key.state == DISABLED:
                key.disabled_before_import = True
            if key.state != PENDING_DELETION:
                key.state = PENDING_IMPORT
            self.save(key)
