"""The renewal flow for one key, in two steps:

* :func:`plan_key`: ``DescribeKey`` and decide (recover, renew, skip), or fail for a key that cannot
  take imported material. One API call; a skipped key costs nothing more.
* :func:`act_key`: read the material (once per run: :class:`~renewer.run.material_check.MaterialCache`),
  ``GetParametersForImport``, wrap, ``ImportKeyMaterial``, verify. Keys are acted on most urgent
  first (see :func:`urgency`).

Idempotent by checking state first (as the Secrets Manager rotation functions do): re-importing
the same material is harmless, so two runs, even at once, leave every key as good or better.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace

from renewer.clock import Clock
from renewer.clouds.targets import KeyInfo, KmsTarget, MaterialInfo
from renewer.config import MaterialSpec, Policy
from renewer.entry.events import Options
from renewer.errors import CloudError, ErrorKind, KeyStateError, RenewerBug, RenewerError
from renewer.materials.material import KeyMaterial
from renewer.materials.wrapping import WrappingAlgorithm, load_public_key
from renewer.once import OncePer
from renewer.redact import Redactor
from renewer.run.material_check import MaterialCache
from renewer.run.report import Cloud, Decision, Described, Done, Failure, KeyResult, Outcome, Via, iso

DAY = 86400
EXPIRY_TOLERANCE_SECONDS = 60  # two runs at once may each set an expiry a moment apart
CLOCK_SKEW_WARNING_SECONDS = 60  # beyond it, decisions use the service's clock
MAX_CLOCK_SKEW_SECONDS = 300  # beyond it, the region's keys fail (ClockSkew)
#: An expiry at a service maximum (AWS: ValidTo at most 365 days ahead of the service's time) is
#: set this much short of it, so seconds of skew or latency cannot have every key refused.
SERVICE_MAXIMUM_MARGIN_SECONDS = 15 * 60
MAX_VALIDITY_SECONDS = {"aws": 365 * DAY}
#: What a key may be after an accepted import, by what it was before: a disabled key stays
#: disabled; a recovered one is Enabled, or Disabled if an operator disabled it before its material
#: expired (the service keeps that decision; the renewer never enables a key an operator disabled).
STATES_AFTER_IMPORT = {"Disabled": {"Disabled"}, "PendingImport": {"Enabled", "Disabled"}}
IMPORT_ATTEMPTS = 3  # fresh import parameters for each, when the token went stale
#: Bytes of material each symmetric key spec takes. Alibaba Cloud's CreateKey: an EXTERNAL key is
#: Aliyun_AES_256 (256-bit) or Aliyun_SM4 (128-bit); AWS's SYMMETRIC_DEFAULT is 256-bit AES-GCM.
#: A key described without a spec (an older answer) is taken as 256-bit, as before SM4 keys existed.
MATERIAL_BYTES_FOR = {"Aliyun_AES_256": 32, "Aliyun_SM4": 16, "SYMMETRIC_DEFAULT": 32}


def material_bytes(key_spec: str | None) -> int:
    return MATERIAL_BYTES_FOR.get(key_spec or "Aliyun_AES_256", 32)


@dataclass
class ClockCheck:
    """The services' clocks, read from each response's ``Date`` header, per cloud and region.

    Expiry decisions and the new expiry use the service's time where it differs from the local
    clock by more than :data:`CLOCK_SKEW_WARNING_SECONDS` (fail safe: a clock behind would skip keys
    that are due); a difference over :data:`MAX_CLOCK_SKEW_SECONDS` is an error for the region's
    keys (``ClockSkew``): one of the two clocks is badly wrong and neither can be trusted.
    """

    clock: Clock
    warnings: list[str] = field(default_factory=list)
    _skew: dict[tuple[str, str], float] = field(default_factory=dict)
    _warned: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, cloud: str, region: str, server_time: float | None) -> None:
        """Record the service's time; raises ``ClockSkew`` when it is too far from ours."""
        if server_time is None:
            return
        skew = server_time - self.clock.now()
        side = "ahead of" if skew > 0 else "behind"
        text = f"KMS in {cloud}:{region} is {abs(skew):.0f} s {side} this function's clock (Date header)"
        with self._lock:
            self._skew[(cloud, region)] = skew
            noticeable = CLOCK_SKEW_WARNING_SECONDS < abs(skew) <= MAX_CLOCK_SKEW_SECONDS
            if noticeable and (cloud, region) not in self._warned:  # once per region, whenever it first shows
                self._warned.add((cloud, region))
                self.warnings.append(f"clock: {text}; expiry decisions use the service's time")
        if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
            raise KeyStateError(
                f"{text}, more than the {MAX_CLOCK_SKEW_SECONDS} s this renewer tolerates: fix the clock "
                "before renewing (an expiry decided on a wrong clock can let the key expire)",
                code="ClockSkew",
            )

    def skew(self, cloud: str, region: str) -> float:
        """Service time minus local time, as last seen (0 before any response)."""
        with self._lock:
            return self._skew.get((cloud, region), 0.0)

    def now(self, cloud: str, region: str) -> float:
        """The time expiry decisions use: the service's where the clocks differ noticeably."""
        skew = self.skew(cloud, region)
        return self.clock.now() + (skew if abs(skew) > CLOCK_SKEW_WARNING_SECONDS else 0.0)


@dataclass
class RunContext:
    options: Options
    kms_for: Callable[[str, str], KmsTarget]  # (cloud, region)
    materials: MaterialCache
    clock: Clock
    redactor: Redactor
    clock_check: ClockCheck
    #: One lock per key (cloud, region, id): the rows of a key with several key materials import one
    #: at a time, so no import token of the key is superseded while another is in use.
    key_locks: OncePer[tuple[str, str, str], threading.Lock] = field(
        default_factory=lambda: OncePer(lambda _: threading.Lock())
    )


def decide(
    info: KeyInfo, policy: Policy, force: bool, now: float, allow_shorter: bool = False
) -> tuple[Decision, str | None]:
    """(recover | renew | skip, a note or None). A forced renewal never shortens the expiry the key
    has, unless ``allow_shorter`` (the event's ``allowShorterExpiry``)."""
    if info.state == "PendingImport":
        note = "material expired or was never imported" if info.expires else "material never imported"
        return Decision.RECOVER, note
    if info.expires is None:
        return Decision.SKIP, "material never expires"
    left = info.expires - now
    if left <= policy.renew_before_days * DAY:
        return Decision.RENEW, None
    if force:
        if not allow_shorter and policy.validity_days and info.expires > now + policy.validity_days * DAY:
            return Decision.SKIP, (
                f"forced, but the material already expires {iso(info.expires)}, later than the "
                f"{policy.validity_days} days a renewal would set: not shortened (allowShorterExpiry shortens it)"
            )
        return Decision.RENEW, "forced"
    return Decision.SKIP, None


def urgency(result: KeyResult) -> tuple[int, float]:
    """Sort key, most urgent first: material already gone (soonest-gone first), then soonest expiry."""
    expires = result.expires_before if result.expires_before is not None else float("inf")
    return (0 if result.decision is Decision.RECOVER else 1, expires)


Step = Callable[[MaterialSpec, KeyResult, "RunContext"], KeyResult]


def guarded(step: Step, spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """Run one step for a key; any error fails that key (scrubbed of secrets), never the run. An
    exception nobody raised on purpose is this function's bug (``RenewerBug``), not the service's."""
    try:
        return step(spec, result, ctx)
    except RenewerError as exc:
        return result.fail(exc.code, ctx.redactor.scrub(exc.message))
    except Exception as exc:  # a bug must fail this key, not the run
        return result.fail(RenewerBug.code, ctx.redactor.scrub(f"{type(exc).__name__}: {exc}"))


def plan_key(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """Describe and decide: the key described (its decision in ``described``), and done only when
    no action is due (skipped) or it cannot take imported material (failed, with what was seen)."""
    kms = ctx.kms_for(result.cloud, result.region)
    info = kms.describe_key(result.key_id)
    seen = result.planned(Described(info.key_id, info.state, info.expires, info.material_id, key_spec=info.key_spec))
    try:
        return _decide(kms, spec, seen, info, ctx)
    except RenewerError as exc:  # the key was described: the failure keeps what was seen
        return seen.fail(exc.code, ctx.redactor.scrub(exc.message))


def _decide(kms: KmsTarget, spec: MaterialSpec, seen: KeyResult, info: KeyInfo, ctx: RunContext) -> KeyResult:
    ctx.clock_check.observe(seen.cloud, seen.region, info.server_time)
    # A discovered key is checked for its tag by a fan-out worker (the shard named it), and before a
    # key that may never have held material gets its first import (see renewer.run.discovery).
    first_import = info.state == "PendingImport" and info.expires is None
    if seen.via is Via.DISCOVERY and (ctx.options.shard is not None or first_import):
        _check_discovered(kms, spec, seen)
    if info.origin != "EXTERNAL" and seen.via is Via.DISCOVERY:
        return seen.finished(
            Done.skipped(f"tagged, but its origin is {info.origin}: discovery keeps EXTERNAL keys only")
        )
    if info.origin != "EXTERNAL":
        raise KeyStateError(
            f"key origin is {info.origin}; only EXTERNAL keys hold imported material", code="NotExternal"
        )
    if info.state == "PendingDeletion":
        raise KeyStateError("key is pending deletion; cancel the deletion first", code="PendingDeletion")
    _check_kind(spec, info)
    key_state = info.state
    if seen.cloud is Cloud.AWS and info.key_spec == "SYMMETRIC_DEFAULT":
        info, seen = _key_material(kms, seen, info)
    now = ctx.clock_check.now(seen.cloud, seen.region)
    decision, note = decide(info, spec.policy, ctx.options.force, now, ctx.options.allow_shorter_expiry)
    notes = (note,) if note else ()
    if key_state == "Disabled":
        notes += ("key is disabled; its material is renewed but it stays disabled",)
    assert seen.described is not None
    planned = seen.planned(replace(seen.described, decision=decision, notes=notes))
    return planned.finished(Done.skipped()) if decision is Decision.SKIP else planned


def _check_kind(spec: MaterialSpec, info: KeyInfo) -> None:
    """A key this renewer can import into with this material's algorithm: a symmetric key spec, and
    SM2PKE only for an Alibaba Cloud key the service offers it for (``ProtectionLevel`` HSM)."""
    if info.key_spec is not None and info.key_spec not in MATERIAL_BYTES_FOR:
        raise KeyStateError(
            f"key spec {info.key_spec} is not a symmetric key spec this renewer imports into "
            f"({', '.join(sorted(MATERIAL_BYTES_FOR))})",
            code="KeySpecUnsupported",
        )
    if spec.policy.wrapping_algorithm is WrappingAlgorithm.SM2PKE and info.protection_level not in (None, "HSM"):
        # GetParametersForImport (API 2016-01-20): WrappingKeySpec EC_SM2 / SM2PKE for HSM keys only.
        raise KeyStateError(
            f"SM2PKE wrapping is offered for keys with ProtectionLevel HSM only; this key's is "
            f"{info.protection_level}: use RSAES_OAEP_SHA_256 for it",
            code="WrappingUnsupported",
        )
    if spec.policy.wrapping_algorithm is WrappingAlgorithm.RSAES_OAEP_SHA_1 and info.instance_id:
        # GetParametersForImport (API 2016-01-20): a KMS instance (dedicated KMS) does not offer RSAES_OAEP_SHA_1.
        raise KeyStateError(
            f"key {info.key_id} is in KMS instance {info.instance_id}, which does not offer RSAES_OAEP_SHA_1: "
            "use RSAES_OAEP_SHA_256",
            code="WrappingUnsupported",
        )


def _key_material(kms: KmsTarget, seen: KeyResult, info: KeyInfo) -> tuple[KeyInfo, KeyResult]:
    """An AWS key's materials (``ListKeyRotations``): this row's own key material, as the key info
    the decision reads (its expiry; ``PendingImport`` when that material is not imported), and the
    row described with it. Each key material expires on its own: renewing only the current one would
    let an older one expire, and with it the key. The row's ``key_material_id`` names its material;
    without one the key must hold just one (or none yet: the first import)."""
    assert seen.described is not None
    materials: list[MaterialInfo] = kms.list_key_materials(info.key_id)  # type: ignore[attr-defined]
    ids = tuple(m.material_id for m in materials)
    wanted = seen.ref.key_material_id
    if not materials:
        if wanted is not None:
            raise KeyStateError(
                f"key {info.key_id} holds no key material yet, so not key material {wanted}; nothing imported",
                code="KeyMaterialIdNotFound",
            )
        return info, seen.planned(replace(seen.described, key_materials=()))
    if wanted is None:
        if len(materials) > 1:
            raise KeyStateError(
                f"key {info.key_id} holds {len(materials)} key materials ({', '.join(ids)}): list the key once per "
                "key material, each with its key_material_id under the material it was imported from; nothing imported",
                code="KeyMaterialUnconfigured",
            )
        target = materials[0]
    else:
        found = [m for m in materials if m.material_id == wanted]
        if not found:
            raise KeyStateError(
                f"key {info.key_id} holds no key material {wanted} (it holds {', '.join(ids)}); nothing imported",
                code="KeyMaterialIdNotFound",
            )
        target = found[0]
    # The decision reads the material's own import state: a key is PendingImport while any one of
    # its materials is, although this one may be imported and far from expiry.
    state = "PendingImport" if not target.imported else ("Enabled" if info.state == "PendingImport" else info.state)
    decided = replace(info, state=state, expires=target.expires, material_id=target.material_id)
    described = replace(
        seen.described,
        expires=target.expires,
        material_id=target.material_id,
        key_materials=ids,
        material_state=target.state,
        material_imported=target.imported,
    )
    return decided, seen.planned(described)


def _check_discovered(kms: KmsTarget, spec: MaterialSpec, result: KeyResult) -> None:
    """A fan-out worker's key found by discovery: this worker's own configuration must find it too
    (the material discovers in that region, and the key carries the tag) before anything is done."""
    found = spec.discover
    if found is None or result.region not in found.regions:
        raise KeyStateError(
            f"shard names key {result.key_id} as discovered by material {spec.name}, which does not discover "
            f"keys in {result.region}",
            code="ShardKeyRefused",
        )
    tags = kms.list_resource_tags(result.resolved_key_id or result.key_id)
    if tags.get(found.tag_key) != found.tag_value:
        raise KeyStateError(
            f"shard names key {result.key_id} as discovered by material {spec.name}, but it is not tagged "
            f"{found.describe()}",
            code="ShardKeyRefused",
        )


def witness_key(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """Describe a key only to learn its id (see :func:`renewer.run.identity.witnesses`). A transient
    failure leaves it unknown (``AmbiguityUnchecked``); any other (no such alias) means it names no
    key, and so not one of the shard's."""
    try:
        described = Described(ctx.kms_for(result.cloud, result.region).describe_key(result.key_id).key_id)
    except RenewerError as exc:
        if not isinstance(exc, CloudError) or exc.kind.retried:  # transient or throttled: unknown
            return result.fail("AmbiguityUnchecked", f"{exc.code}: {exc.message}")
        return result.finished(Done.skipped())
    return result.planned(described).finished(Done.skipped())


def act_key(spec: MaterialSpec, result: KeyResult, ctx: RunContext) -> KeyResult:
    """Read the material, then (unless a dry run) import it and verify."""
    material = ctx.materials.get(spec)
    key_spec = result.described.key_spec if result.described else None
    wanted = material_bytes(key_spec)
    if material.size != wanted:  # before any import: a 128-bit key cannot take 256 bits, nor the reverse
        return result.fail(
            "MaterialWrongSize",
            f"material {spec.name} holds {material.size} bytes; key spec {key_spec or 'Aliyun_AES_256'} takes {wanted}",
        )
    if ctx.options.dry_run:
        return result.finished(Done(Outcome.DRY_RUN))
    kms = ctx.kms_for(result.cloud, result.region)
    key_id = result.resolved_key_id or result.key_id
    expire, notes = new_expiry(spec.policy, result, ctx)
    if _would_shorten(expire, result) and not ctx.options.allow_shorter_expiry:
        return result.finished(
            Done.skipped(
                *notes,
                f"the material already expires {iso(result.expires_before)}, later than the {iso(float(expire))} "
                "this renewal would set: not shortened (allowShorterExpiry shortens it)",
            )
        )
    # One key material at a time per key (see RunContext.key_locks).
    with ctx.key_locks.get(result.identity) if result.by_material else nullcontext():
        return _import_and_verify(kms, key_id, material, spec, expire, result, ctx, list(notes))


def _import_and_verify(
    kms: KmsTarget,
    key_id: str,
    material: KeyMaterial,
    spec: MaterialSpec,
    expire: int,
    result: KeyResult,
    ctx: RunContext,
    notes_so_far: list[str],
) -> KeyResult:
    try:
        material_id = _import(kms, key_id, material, spec.policy.wrapping_algorithm, expire, result, ctx, notes_so_far)
    except MaterialIdChanged as exc:  # accepted: the key now holds what the service says, unverified
        failure = Failure(exc.code, exc.message)
        return result.finished(_accepted(Outcome.FAILED, expire, exc.material_id, failure, tuple(notes_so_far)))
    except RenewerError as exc:
        return result.finished(Done.failed(exc.code, ctx.redactor.scrub(exc.message), *notes_so_far))
    notes = tuple(notes_so_far)
    try:
        if result.by_material:
            after = _verify_material(kms, key_id, result, expire, spec.policy)
        else:
            after = _verify(kms, key_id, result.state_before, expire, spec.policy)
    except RenewerError as exc:  # the service took the import; the check after it did not work out
        failure = Failure(exc.code, ctx.redactor.scrub(f"imported, but not verified: {exc.message}"))
        return result.finished(_accepted(Outcome.UNVERIFIED, expire, material_id, failure, notes))
    outcome = Outcome.RECOVERED if result.decision is Decision.RECOVER else Outcome.RENEWED
    return result.finished(
        Done(outcome, after.state, after.expires, expires_set=True, material_id=material_id, notes=notes)
    )


def _accepted(outcome: Outcome, expire: int, material_id: str | None, error: Failure, notes: tuple[str, ...]) -> Done:
    """An import the service accepted but this run could not confirm: the key probably holds the
    expiry asked for (``expire``, 0 = never), reported as not verified."""
    return Done(
        outcome,
        expires=float(expire) if expire else None,
        expires_set=True,
        expires_verified=False,
        material_id=material_id,
        error=error,
        notes=notes,
    )


def new_expiry(policy: Policy, result: KeyResult, ctx: RunContext) -> tuple[int, tuple[str, ...]]:
    """Unix seconds of the new expiry (0 = never), from the service's time, and a note when it was
    capped: at a service maximum (AWS's 365 days) it stays :data:`SERVICE_MAXIMUM_MARGIN_SECONDS`
    short of it."""
    if not policy.validity_days:
        return 0, ()
    expire = int(ctx.clock_check.now(result.cloud, result.region)) + policy.validity_days * DAY
    maximum = MAX_VALIDITY_SECONDS.get(result.cloud)
    if maximum is not None:
        service_now = ctx.clock.now() + ctx.clock_check.skew(result.cloud, result.region)
        ceiling = int(service_now) + maximum - SERVICE_MAXIMUM_MARGIN_SECONDS
        if expire > ceiling:
            return ceiling, (f"expiry set {SERVICE_MAXIMUM_MARGIN_SECONDS // 60} min short of the service maximum",)
    return expire, ()


def _would_shorten(expire: int, result: KeyResult) -> bool:
    """Would importing with ``expire`` set an earlier expiry than the key's material already has?"""
    if result.material_gone or result.expires_before is None:
        return False  # gone or never imported; or never expires, which 'skip' keeps as it is
    return expire != 0 and expire < result.expires_before


def _import(
    kms: KmsTarget,
    key_id: str,
    material: KeyMaterial,
    algorithm: WrappingAlgorithm,
    expire: int,
    result: KeyResult,
    ctx: RunContext,
    notes: list[str],
) -> str | None:
    """Parameters, wrap, import; new parameters when the token went stale on the way (noted in
    ``notes``). Returns the key material id, where the service reports one."""
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        params = kms.get_parameters_for_import(key_id, algorithm.value)
        ctx.redactor.register(params.token)
        try:
            public_key = load_public_key(params.public_key, algorithm)
        except ValueError as exc:  # the service's answer, not our bug
            kind = "an SM2" if algorithm is WrappingAlgorithm.SM2PKE else "an RSA"
            raise KeyStateError(
                f"GetParametersForImport returned a public key that is not {kind} public key ({exc})",
                code="ImportParametersInvalid",
            ) from None
        wrapped = material.wrap(public_key, algorithm)
        ctx.redactor.register(wrapped)
        try:
            if result.by_material:  # re-import this key material by its id, never a new one
                which = result.material_id
                material_id = kms.import_key_material(key_id, wrapped, params.token, expire, material_id=which)
            else:
                material_id = kms.import_key_material(key_id, wrapped, params.token, expire)
        except CloudError as exc:
            if exc.kind is ErrorKind.STALE_IMPORT_TOKEN and attempt < IMPORT_ATTEMPTS:
                notes.append(f"import token rejected ({exc.code}); fetched new import parameters")
                continue
            if exc.kind is ErrorKind.EXPIRY_REJECTED:
                raise CloudError(
                    exc.code,
                    f"{exc.message} The service rejected the new expiry {iso(expire)} as earlier than its own "
                    "time: this function's clock is probably behind the service's.",
                    kind=exc.kind,
                    http_status=exc.http_status,
                    action=exc.action,
                ) from exc
            raise
        if material_id and result.material_id and material_id != result.material_id:
            raise MaterialIdChanged(result.material_id, material_id)
        return material_id or result.material_id
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


class MaterialIdChanged(KeyStateError):
    """The service accepted the import under another key material id than the key had."""

    code = "KeyMaterialIdChanged"

    def __init__(self, before: str, after: str) -> None:
        super().__init__(f"the key material id changed from {before} to {after}: this is not the material the key had")
        self.material_id = after


def _verify_material(kms: KmsTarget, key_id: str, result: KeyResult, expire: int, policy: Policy) -> KeyInfo:
    """An AWS key material after its import: listed as imported, with the new expiry. The key itself
    is as :func:`_verify` expects, except that it stays ``PendingImport`` while another of its key
    materials is not imported (that material's own row recovers it, or reports why not)."""
    after = kms.describe_key(key_id)
    materials: list[MaterialInfo] = kms.list_key_materials(key_id)  # type: ignore[attr-defined]
    mine = [m for m in materials if m.material_id == result.material_id]
    others_gone = [m.material_id for m in materials if m.material_id != result.material_id and not m.imported]
    expected = set(STATES_AFTER_IMPORT.get(result.state_before or "", {"Enabled"}))
    if others_gone and result.state_before != "Disabled":
        expected.add("PendingImport")
    if after.state not in expected:
        raise KeyStateError(
            f"after import the key is {after.state}, expected {' or '.join(sorted(expected))}",
            code="VerificationFailed",
        )
    if not mine or not mine[0].imported:
        raise KeyStateError(
            f"after import key material {result.material_id} is not listed as imported", code="VerificationFailed"
        )
    _check_expiry(mine[0].expires, expire)
    if policy.verify == "canary" and after.state == "Enabled":
        _canary(kms, key_id)
    return replace(after, expires=mine[0].expires, material_id=mine[0].material_id)


def _check_expiry(expires: float | None, expire: int) -> None:
    good = expires is None if expire == 0 else expires is not None and expires >= expire - EXPIRY_TOLERANCE_SECONDS
    if not good:
        raise KeyStateError(
            f"after import the material expires {iso(expires) or 'never'}, "
            f"expected {iso(float(expire)) if expire else 'never'}",
            code="VerificationFailed",
        )


def _canary(kms: KmsTarget, key_id: str) -> None:
    probe = os.urandom(24)
    if kms.canary(key_id, probe) != probe:
        raise KeyStateError("canary Encrypt/Decrypt round trip returned different data", code="VerificationFailed")


def _verify(kms: KmsTarget, key_id: str, state_before: str | None, expire: int, policy: Policy) -> KeyInfo:
    """The key is usable (or still disabled) with the new expiry; with ``canary`` it also round-trips.

    An expiry later than ours is accepted: another run may have renewed the key a moment after us.
    """
    after = kms.describe_key(key_id)
    expected = STATES_AFTER_IMPORT.get(state_before or "", {"Enabled"})
    if after.state not in expected:
        raise KeyStateError(
            f"after import the key is {after.state}, expected {' or '.join(sorted(expected))}",
            code="VerificationFailed",
        )
    _check_expiry(after.expires, expire)
    if policy.verify == "canary" and after.state == "Enabled":
        _canary(kms, key_id)
    return after
