"""The run's report: a plain dict, returned by the handler as JSON and used by the CLI and tests.

``{"summary": {...counts...}, "keys": [{"material", "region", "key_id", "outcome", "state_before",
"expires_before", "expires_after", "error": {"code", "message"} | null, ...}]}``; times are ISO 8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

#: ``unverified``: the service accepted the import, but the check after it failed: the key probably
#: holds the new expiry (``expires_after``, with ``expires_after_verified`` false), and is reported as
#: a problem until a later run verifies it.
OUTCOMES = ("renewed", "recovered", "skipped", "failed", "unverified", "dry_run", "not_attempted", "delegated")
PROBLEMS = ("failed", "unverified")


def iso(unix: float | None) -> str | None:
    if unix is None:
        return None
    return datetime.fromtimestamp(unix, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KeyResult:
    material: str
    region: str
    key_id: str
    outcome: str | None = None  # one of OUTCOMES once the key is done
    via: str = "config"  # "config" (listed) or "discovery" (found by tag)
    cloud: str = "alibaba"
    decision: str | None = None  # renew | recover | skip, once decided
    resolved_key_id: str | None = None  # the key id behind an alias
    state_before: str | None = None
    state_after: str | None = None
    expires_before: float | None = None
    expires_after: float | None = None
    expires_after_verified: bool = True  # False: what the accepted import asked for, not seen since
    error_code: str | None = None
    error_message: str | None = None
    notes: list[str] = field(default_factory=list)
    material_id: str | None = None  # AWS KeyMaterialId, where the service reports one
    retries: list[int] = field(default_factory=lambda: [0])  # a cell the retry wrapper counts into
    seconds: float = 0.0

    @property
    def identity(self) -> tuple[str, str, str]:
        """(cloud, region, key id): the id the service resolved, once described; else as named."""
        return (self.cloud, self.region, self.resolved_key_id or self.key_id)

    def fail(self, code: str, message: str) -> None:
        self.outcome = "failed"
        self.error_code = code
        self.error_message = message

    def unverified(self, expires: float | None, code: str, message: str) -> None:
        """The import was accepted (asking for ``expires``), but verifying it failed."""
        self.outcome = "unverified"
        self.expires_after = expires
        self.expires_after_verified = False
        self.error_code = code
        self.error_message = message

    def to_dict(self) -> dict[str, Any]:
        return {
            "material": self.material,
            "cloud": self.cloud,
            "region": self.region,
            "key_id": self.key_id,
            "resolved_key_id": self.resolved_key_id,
            "via": self.via,
            "outcome": self.outcome,
            "decision": self.decision,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "expires_before": iso(self.expires_before),
            "expires_after": iso(self.expires_after),
            "expires_after_verified": self.expires_after_verified,
            "error": {"code": self.error_code, "message": self.error_message} if self.error_code else None,
            "notes": list(self.notes),
            "retries": self.retries[0],
            **({"key_material_id": self.material_id} if self.material_id else {}),
        }


def summarize(results: list[KeyResult]) -> dict[str, int]:
    summary = dict.fromkeys(OUTCOMES, 0)
    for result in results:
        summary[result.outcome or "not_attempted"] += 1
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
            **({"shards": shards} if shards is not None else {}),
        },
    }
