"""The invocation event: a Function Compute timer event, or the options object itself.

A timer event is ``{"triggerTime", "triggerName", "payload"}`` whose ``payload`` string, when
non-empty, is JSON options. Options are ``{"dryRun": bool, "force": bool, "materials": [names]}``.
Anything else is an :class:`EventError`, raised before anything is touched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from renewer.errors import EventError

TIMER_FIELDS = {"triggerTime", "triggerName", "payload"}
OPTION_TYPES: dict[str, type] = {"dryRun": bool, "force": bool, "materials": list, "shard": dict}
SHARD_KEY_FIELDS = ("material", "region", "key_id")


@dataclass(frozen=True)
class ShardKey:
    material: str
    region: str
    key_id: str
    cloud: str = "alibaba"


@dataclass(frozen=True)
class Shard:
    """Part of a fleet a coordinator hands to one worker invocation (see :mod:`renewer.fanout`)."""

    id: int
    of: int
    keys: tuple[ShardKey, ...]

    def to_json(self) -> dict[str, Any]:
        keys = [{"material": k.material, "cloud": k.cloud, "region": k.region, "key_id": k.key_id} for k in self.keys]
        return {"id": self.id, "of": self.of, "keys": keys}


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    force: bool = False
    materials: tuple[str, ...] | None = None  # None = every material
    trigger: str = "manual"
    shard: Shard | None = None  # set: this invocation is a fan-out worker for these keys only


def parse_event(event: bytes | str | dict[str, Any] | None) -> Options:
    document = _decode(event)
    if TIMER_FIELDS & set(document):
        unknown = sorted(set(document) - TIMER_FIELDS)
        if unknown:
            raise EventError(f"timer event has unknown field(s): {', '.join(unknown)}")
        payload = document.get("payload", "")
        if payload is None:
            payload = ""
        if not isinstance(payload, str):
            raise EventError("timer event 'payload' must be a string (JSON options or empty)")
        options = _decode(payload, what="timer payload") if payload.strip() else {}
        return _options(options, trigger=f"timer:{document.get('triggerName', '')}")
    return _options(document, trigger="manual")


def _decode(event: bytes | str | dict[str, Any] | None, what: str = "event") -> dict[str, Any]:
    if event is None:
        return {}
    if isinstance(event, dict):
        return event
    if isinstance(event, bytes):
        try:
            event = event.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"{what} is not UTF-8 text") from exc
    if not event.strip():
        return {}
    try:
        document = json.loads(event)
    except json.JSONDecodeError as exc:
        raise EventError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise EventError(f"{what} must be a JSON object")
    return document


def _options(document: dict[str, Any], trigger: str) -> Options:
    unknown = sorted(set(document) - set(OPTION_TYPES))
    if unknown:
        public = ", ".join(name for name in OPTION_TYPES if name != "shard")  # shard: set by a coordinator
        raise EventError(f"unknown option(s): {', '.join(unknown)}; expected {public}")
    for name, kind in OPTION_TYPES.items():
        if name in document and not isinstance(document[name], kind):
            raise EventError(f"option {name!r} must be a {kind.__name__}, got {type(document[name]).__name__}")
    materials = document.get("materials")
    if materials is not None and not all(isinstance(m, str) and m for m in materials):
        raise EventError("option 'materials' must be a list of material names")
    shard = _shard(document["shard"]) if "shard" in document else None
    return Options(
        dry_run=document.get("dryRun", False),
        force=document.get("force", False),
        materials=tuple(materials) if materials is not None else None,
        trigger=f"shard:{shard.id}/{shard.of}" if shard else trigger,
        shard=shard,
    )


def _shard(raw: dict[str, Any]) -> Shard:
    ids = raw.get("id"), raw.get("of")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in ids) or ids[0] > ids[1]:
        raise EventError("option 'shard' needs whole numbers 'id' and 'of', 1 <= id <= of")
    keys = raw.get("keys")
    if set(raw) - {"id", "of", "keys"} or not isinstance(keys, list) or not keys:
        raise EventError("option 'shard' must be {id, of, keys: [{material, region, key_id}, ...]}")
    for key in keys:
        if (
            not isinstance(key, dict)
            or not set(SHARD_KEY_FIELDS) <= set(key) <= {*SHARD_KEY_FIELDS, "cloud"}
            or not all(isinstance(v, str) and v for v in key.values())
        ):
            raise EventError(
                "each key of option 'shard' must be {material, region, key_id, cloud?} (non-empty strings)"
            )
    return Shard(
        ids[0],
        ids[1],
        tuple(ShardKey(k["material"], k["region"], k["key_id"], k.get("cloud", "alibaba")) for k in keys),
    )
