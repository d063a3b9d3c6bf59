"""The renewal flow, per key: describe, decide, read the material, import, verify.

Idempotent by checking state first (as the Secrets Manager rotation functions do): a key that is
not due is skipped after one call, and re-importing the same material is harmless, so running
twice, or twice at once, leaves every key as good or better.
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from renewer.alibaba import ImportParameters, KeyInfo
from renewer.clock import Clock
from renewer.config import MaterialSpec, Policy
from renewer.errors import KeyStateError, MaterialError, RenewerError
from renewer.events import Options
from renewer.logs import log_event
from renewer.material import Material
from renewer.redact import Redactor
from renewer.report import KeyResult, iso
from renewer.sources import MaterialSource
from renewer.wrapping import load_public_key, wrap

DAY = 86400
EXPIRY_TOLERANCE_SECONDS = 1


class KmsTarget(Protocol):
    """The KMS calls the flow makes in one region (see :class:`renewer.alibaba.AlibabaKms`)."""

    def describe_key(self, key_id: str) -> KeyInfo: ...

    def get_parameters_for_import(self, key_id: str, algorithm: str) -> ImportParameters: ...

    def import_key_material(self, key_id: str, wrapped_b64: str, token: str, expire_unix: int) -> None: ...

    def canary(self, key_id: str, plaintext: str) -> str: ...


@dataclass
class RunContext:
    options: Options
    kms_for: Callable[[str], KmsTarget]
    materials: MaterialCache
    clock: Clock
    redactor: Redactor


class MaterialCache:
    """Reads each material at most once per run, however many keys use it (failures included)."""

    def __init__(self, source_for: Callable[[MaterialSpec], MaterialSource], redactor: Redactor) -> None:
        self._source_for = source_for
        self._redactor = redactor
        self._results: dict[str, Material | MaterialError] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.reads = 0

    def get(self, spec: MaterialSpec) -> Material:
        with self._guard:
            lock = self._locks.setdefault(spec.name, threading.Lock())
        with lock:
            if spec.name not in self._results:
                self._results[spec.name] = self._read(spec)
        result = self._results[spec.name]
        if isinstance(result, MaterialError):
            raise result
        return result

    def _read(self, spec: MaterialSpec) -> Material | MaterialError:
        self.reads += 1
        try:
            source = self._source_for(spec)
            material = source.fetch()
            self._redactor.register(material.reveal())
            material.check_kcv(spec.kcv, f"material {spec.name} ({source.describe()})")
            return material
        except MaterialError as exc:
            return exc


def decide(info: KeyInfo, policy: Policy, force: bool, now: float) -> tuple[str, str | None]:
    """(``recover`` | ``renew`` | ``skip``, a note or None)."""
    if info.state == "PendingImport":
        return "recover", "material expired or was never imported" if info.expires else "material never imported"
    if info.expires is None:
        return "skip", "material never expires"
    left = info.expires - now
    if left <= policy.renew_before_days * DAY:
        return "renew", None
    if force:
        return "renew", "forced"
    return "skip", None


def process_key(spec: MaterialSpec, key_id: str, region: str, ctx: RunContext) -> KeyResult:
    result = KeyResult(spec.name, region, key_id)
    try:
        _process(spec, result, ctx)
    except RenewerError as exc:
        result.fail(exc.code, ctx.redactor.scrub(exc.message))
    except Exception as exc:  # a bug must fail this key, not the run
        result.fail("InternalError", ctx.redactor.scrub(f"{type(exc).__name__}: {exc}"))
    log_event(
        "key",
        material=result.material,
        region=result.region,
        key_id=result.key_id,
        outcome=result.outcome,
        decision=result.decision,
        state_before=result.state_before,
        expires_before=iso(result.expires_before),
        expires_after=iso(result.expires_after),
        error=result.error_code,
        message=result.error_message,
    )
    return result


def _process(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> None:
    kms = ctx.kms_for(result.region)
    info = kms.describe_key(result.key_id)
    result.resolved_key_id = info.key_id
    result.state_before = info.state
    result.state_after = info.state
    result.expires_before = info.expires
    result.expires_after = info.expires
    if info.origin != "EXTERNAL":
        raise KeyStateError(
            f"key origin is {info.origin}; only EXTERNAL keys hold imported material", code="NotExternal"
        )
    if info.state == "PendingDeletion":
        raise KeyStateError("key is pending deletion; cancel the deletion first", code="PendingDeletion")
    decision, note = decide(info, spec.policy, ctx.options.force, ctx.clock.now())
    result.decision = decision
    if note:
        result.notes.append(note)
    if info.state == "Disabled":
        result.notes.append("key is disabled; its material is renewed but it stays disabled")
    if decision == "skip":
        result.outcome = "skipped"
        return
    material = ctx.materials.get(spec)
    if ctx.options.dry_run:
        result.outcome = "dry_run"
        return
    expire = int(ctx.clock.now()) + spec.policy.validity_days * DAY if spec.policy.validity_days else 0
    _import(kms, info.key_id, material, spec.policy, expire, ctx.redactor)
    after = _verify(kms, info, expire, spec.policy)
    result.state_after = after.state
    result.expires_after = after.expires
    result.outcome = "recovered" if decision == "recover" else "renewed"


def _import(kms: KmsTarget, key_id: str, material: Material, policy: Policy, expire: int, redactor: Redactor) -> None:
    params = kms.get_parameters_for_import(key_id, policy.wrapping_algorithm.value)
    redactor.register(params.token)
    wrapped = base64.b64encode(wrap(load_public_key(params.public_key), material.reveal(), policy.wrapping_algorithm))
    redactor.register(wrapped.decode())
    kms.import_key_material(key_id, wrapped.decode(), params.token, expire)


def _verify(kms: KmsTarget, before: KeyInfo, expire: int, policy: Policy) -> KeyInfo:
    """The key is usable (or still disabled) with the new expiry; with ``canary`` it also round-trips."""
    after = kms.describe_key(before.key_id)
    expected_state = "Disabled" if before.state == "Disabled" else "Enabled"
    if after.state != expected_state:
        raise KeyStateError(
            f"after import the key is {after.state}, expected {expected_state}", code="VerificationFailed"
        )
    expected = float(expire) if expire else None
    if expected != after.expires and (
        expected is None or after.expires is None or abs(after.expires - expected) > EXPIRY_TOLERANCE_SECONDS
    ):
        raise KeyStateError(
            f"after import the material expires {iso(after.expires) or 'never'}, expected {iso(expected) or 'never'}",
            code="VerificationFailed",
        )
    if policy.verify == "canary" and after.state == "Enabled":
        probe = base64.b64encode(os.urandom(24)).decode()
        if kms.canary(before.key_id, probe) != probe:
            raise KeyStateError("canary Encrypt/Decrypt round trip returned different data", code="VerificationFailed")
    return after
