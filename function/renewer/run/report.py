"""The run's report: a plain dict, returned by the handler as JSON and used by the CLI and tests.

``{"summary": {...counts...}, "keys": [{"material", "region", "key_id", "outcome", "state_before",
"expires_before", "expires_after", "error": {"code", "message"} | null, ...}], "run": {...,
"materials": [{"name", "source", "ok", "kcv", "error", "note"}]}}``; times are ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from renewer.codes import runbook


class _Named(str, Enum):
    """A str enum that prints as its value (``f"{Outcome.RENEWED}"`` is ``renewed`` on 3.10 and 3.12)."""

    def __str__(self) -> str:
        return str(self.value)

    def __hash__(self) -> int:  # equal to its value, so hashed like it (dict keys mix the two)
        return hash(self.value)


class Cloud(_Named):
    ALIBABA = "alibaba"
    AWS = "aws"


class Via(_Named):
    CONFIG = "config"  # listed in the configuration
    DISCOVERY = "discovery"  # found by its tag
    WITNESS = "witness"  # described only to compare ids (see renewer.run.identity); never acted on, never reported


class Decision(_Named):
    RECOVER = "recover"
    RENEW = "renew"
    SKIP = "skip"


class Outcome(_Named):
    """``unverified``: the service accepted the import, but the check after it failed: the key probably
    holds the new expiry (``expires_after``, with ``expires_after_verified`` false), and is reported as
    a problem until a later run verifies it."""

    RENEWED = "renewed"
    RECOVERED = "recovered"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    DRY_RUN = "dry_run"
    NOT_ATTEMPTED = "not_attempted"
    DELEGATED = "delegated"


OUTCOMES = tuple(o.value for o in Outcome)
PROBLEMS = (Outcome.FAILED, Outcome.UNVERIFIED)


def iso(unix: float | None) -> str | None:
    if unix is None:
        return None
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class KeyRef:
    """A key as the configuration (or discovery, or a shard) names it, under one material."""

    material: str
    cloud: Cloud
    region: str
    key_id: str
    via: Via = Via.CONFIG
    #: AWS: the key material of the key this material is (``keys[].key_material_id`` in the
    #: configuration); None: the key's only one. A key with several materials is one row per material.
    key_material_id: str | None = None


@dataclass(frozen=True)
class Described:
    """What the plan step learnt: the service's view of the key, and what it decided."""

    key_id: str  # the id the service resolved
    state: str | None = None
    expires: float | None = None
    material_id: str | None = None  # AWS: the key material this row renews (else the current one)
    decision: Decision | None = None  # None: described only (a witness)
    notes: tuple[str, ...] = ()
    #: AWS, a key's every key material id (ListKeyRotations); None where the service has no such list
    key_materials: tuple[str, ...] | None = None
    material_state: str | None = None  # AWS KeyMaterialState of ``material_id``: CURRENT, NON_CURRENT, ...
    material_imported: bool | None = None  # AWS: ``material_id``'s ImportState is IMPORTED (None: not listed)
    key_spec: str | None = None  # Aliyun_AES_256, Aliyun_SM4, SYMMETRIC_DEFAULT: what size of material it takes


@dataclass(frozen=True)
class Failure:
    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """``{"code", "message"}``, and ``runbook`` for a code of this function's own registry."""
        entry = {"code": self.code, "message": self.message}
        line = runbook(self.code)
        if line:
            entry["runbook"] = line
        return entry


@dataclass(frozen=True)
class Done:
    """A key's final outcome, and what it left the key as (``None`` fields: as described)."""

    outcome: Outcome
    state: str | None = None
    expires: float | None = None
    expires_set: bool = False  # True: ``expires`` is the key's expiry after this step (None = never)
    expires_verified: bool = True  # False: what the accepted import asked for, not seen since
    material_id: str | None = None
    error: Failure | None = None
    notes: tuple[str, ...] = ()

    @classmethod
    def failed(cls, code: str, message: str, *notes: str) -> Done:
        return cls(Outcome.FAILED, error=Failure(code, message), notes=notes)

    @classmethod
    def skipped(cls, *notes: str) -> Done:
        return cls(Outcome.SKIPPED, notes=notes)


@dataclass(frozen=True)
class KeyResult:
    """One key's journey: what names it, what the plan step described (``described``), what was done
    (``done``: None while it still needs action), and what it cost. Immutable: each step returns a
    new one (:meth:`planned`, :meth:`finished`); the report is built from these values."""

    ref: KeyRef
    described: Described | None = None
    done: Done | None = None
    retries: int = 0
    seconds: float = 0.0

    @classmethod
    def new(
        cls,
        material: str,
        region: str,
        key_id: str,
        *,
        cloud: str = "alibaba",
        via: str = "config",
        key_material_id: str | None = None,
    ) -> KeyResult:
        return cls(KeyRef(material, Cloud(cloud), region, key_id, Via(via), key_material_id))

    def planned(self, described: Described) -> KeyResult:
        return replace(self, described=described)

    def finished(self, done: Done) -> KeyResult:
        return replace(self, done=done)

    def fail(self, code: str, message: str) -> KeyResult:
        return self.finished(Done.failed(code, message))

    def with_cost(self, retries: int, seconds: float) -> KeyResult:
        return replace(self, retries=self.retries + retries, seconds=self.seconds + seconds)

    # What the report, the metrics and the log read.
    material = property(lambda self: self.ref.material)
    cloud = property(lambda self: self.ref.cloud)
    region = property(lambda self: self.ref.region)
    key_id = property(lambda self: self.ref.key_id)
    via = property(lambda self: self.ref.via)

    @property
    def outcome(self) -> Outcome | None:
        return self.done.outcome if self.done else None

    @property
    def decision(self) -> Decision | None:
        return self.described.decision if self.described else None

    @property
    def resolved_key_id(self) -> str | None:
        return self.described.key_id if self.described else None

    @property
    def state_before(self) -> str | None:
        return self.described.state if self.described else None

    @property
    def expires_before(self) -> float | None:
        return self.described.expires if self.described else None

    @property
    def material_state(self) -> str | None:
        return self.described.material_state if self.described else None

    @property
    def material_gone(self) -> bool:
        """The material this row renews is not in the key: expired, deleted or never imported (for an
        AWS key with several key materials, that one material; otherwise the key is ``PendingImport``)."""
        if self.described is not None and self.described.material_imported is not None:
            return not self.described.material_imported
        return self.state_before == "PendingImport"

    @property
    def by_material(self) -> bool:
        """AWS: this row renews one listed key material of its key (imported by its id, verified in the list)."""
        return bool(self.described is not None and self.described.key_materials and self.described.material_id)

    @property
    def state_after(self) -> str | None:
        if self.done is not None and self.done.state is not None:
            return self.done.state
        return self.state_before

    @property
    def expires_after(self) -> float | None:
        if self.done is not None and self.done.expires_set:
            return self.done.expires
        return self.expires_before

    @property
    def expires_after_verified(self) -> bool:
        return self.done.expires_verified if self.done else True

    @property
    def material_id(self) -> str | None:
        if self.done is not None and self.done.material_id:
            return self.done.material_id
        return self.described.material_id if self.described else None

    @property
    def error_code(self) -> str | None:
        return self.done.error.code if self.done and self.done.error else None

    @property
    def error_message(self) -> str | None:
        return self.done.error.message if self.done and self.done.error else None

    @property
    def notes(self) -> tuple[str, ...]:
        return (*(self.described.notes if self.described else ()), *(self.done.notes if self.done else ()))

    @property
    def identity(self) -> tuple[str, str, str]:
        """(cloud, region, key id): the id the service resolved, once described; else as named."""
        return (self.cloud, self.region, self.resolved_key_id or self.key_id)

    def to_dict(self) -> dict[str, Any]:
        error = self.done.error.to_dict() if self.done is not None and self.done.error is not None else None
        return {
            "material": self.material,
            "cloud": str(self.cloud),
            "region": self.region,
            "key_id": self.key_id,
            "resolved_key_id": self.resolved_key_id,
            "via": str(self.via),
            "outcome": str(self.outcome) if self.outcome is not None else None,
            "decision": str(self.decision) if self.decision is not None else None,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "expires_before": iso(self.expires_before),
            "expires_after": iso(self.expires_after),
            "expires_after_verified": self.expires_after_verified,
            "error": error,
            "notes": list(self.notes),
            "retries": self.retries,
            **({"key_material_id": self.material_id} if self.material_id else {}),
            **({"key_material_state": self.material_state} if self.material_state else {}),
        }


@dataclass(frozen=True)
class MaterialCheck:
    """One material as this run found it (``run.materials``): read, by a key that needed it or by the
    check every run makes (see :mod:`renewer.run.material_check`), and whether that worked (``ok``);
    or not read (``ok`` None, ``note`` says why). ``source`` is where the material lives, as the
    configuration says, never what it holds. ``kcv`` is the key check value of what the source
    holds, on a ``KcvMismatch`` too, so an operator can tell which material is there: it is not
    secret (3 bytes of an AES encryption of zeros; it is made to be written down and compared)."""

    name: str
    source: str
    ok: bool | None
    kcv: str | None = None
    error: Failure | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "ok": self.ok,
            "kcv": self.kcv,
            "error": self.error.to_dict() if self.error is not None else None,
            "note": self.note,
        }


def summarize(results: list[KeyResult]) -> dict[str, int]:
    summary = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        summary[str(result.outcome or Outcome.NOT_ATTEMPTED)] += 1
    return summary


def build(
    results: list[KeyResult],
    *,
    dry_run: bool,
    trigger: str,
    started: float,
    finished: float,
    warnings: list[str],
    metrics: dict[str, Any],
    api: dict[str, Any] | None = None,
    shards: list[dict[str, Any]] | None = None,
    materials: list[MaterialCheck] | None = None,
    backlog: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "summary": summarize(results),
        "keys": [r.to_dict() for r in results],
        "run": {
            "trigger": trigger,
            "dry_run": dry_run,
            "started": iso(started),
            "finished": iso(finished),
            "warnings": list(warnings),
            "metrics": metrics,
            "api": dict(api or {}),
            **({"materials": [m.to_dict() for m in materials]} if materials is not None else {}),
            **({"shards": shards} if shards is not None else {}),
            **({"backlog": backlog} if backlog else {}),
        },
    }
