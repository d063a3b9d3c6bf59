"""The invocation event: a Function Compute timer event, or the options object itself; and an AWS
Lambda event (:func:`parse_lambda_event`).

A timer event is ``{"triggerTime", "triggerName", "payload"}`` whose ``payload`` string, when
non-empty, is JSON options. Options are ``{"dryRun": bool, "force": bool, "allowShorterExpiry": bool,
"materials": [names]}``. An event is at most :data:`MAX_EVENT_BYTES` as JSON, and its JSON is read by
:mod:`renewer.inputs` (duplicate keys, nesting deeper than 64 levels, integers of more than 30 digits
and ``NaN`` are refused); an event handed over as a dict is held to the same rules through its JSON.
Anything else is an :class:`EventError` (``InvalidEvent``), raised before anything is touched, whose
message quotes at most an excerpt of the event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from renewer.errors import EventError
from renewer.inputs import InputError, clip, load_json

TIMER_FIELDS = {"triggerTime", "triggerName", "payload"}
OPTION_TYPES: dict[str, type] = {
    "dryRun": bool,
    "force": bool,
    "allowShorterExpiry": bool,
    "materials": list,
    "shard": dict,
}
SHARD_KEY_FIELDS = ("material", "region", "key_id")
# Function Compute takes 32 MB synchronous and 128 KB asynchronous payloads (AWS Lambda 6 MB and
# 256 KB). Options need a few hundred bytes, a fan-out shard of 500 keys about 50 KB: an event (or a
# timer's payload) larger than this is refused before it is parsed.
MAX_EVENT_BYTES = 256 * 1024
MAX_TRIGGER_NAME = 128  # Function Compute's limit for a trigger's name


@dataclass(frozen=True)
class ShardKey:
    material: str
    region: str
    key_id: str
    cloud: str = "alibaba"
    via: str = "config"  # "config": listed under the material; "discovery": found by its tag
    key_material_id: str | None = None  # AWS: the key material of the key (keys[].key_material_id)

    def to_json(self) -> dict[str, str]:
        return {
            "material": self.material,
            "cloud": self.cloud,
            "region": self.region,
            "key_id": self.key_id,
            "via": self.via,
            **({"key_material_id": self.key_material_id} if self.key_material_id else {}),
        }


@dataclass(frozen=True)
class Shard:
    """Part of a fleet a coordinator hands to one worker invocation (see :mod:`renewer.run.fanout`)."""

    id: int
    of: int
    keys: tuple[ShardKey, ...]
    #: The part of the function's request budgets this worker may use (0 < share <= 1): its
    #: coordinator gives each of its N shards 1/N, since asynchronous shards may all run at once. The
    #: worker multiplies its own ``limits.quota_share`` by it (see :mod:`renewer.run.budget`), so an
    #: event can only lower a budget, never raise it. 1 for an event without one.
    share: float = 1.0

    def to_json(self) -> dict[str, Any]:
        keys = [k.to_json() for k in self.keys]
        return {"id": self.id, "of": self.of, "keys": keys, "share": self.share}


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    force: bool = False
    # The explicit consent for a renewal (in practice a forced one) to set an expiry earlier than the
    # one the key already has; without it a renewal never shortens an expiry.
    allow_shorter_expiry: bool = False
    materials: tuple[str, ...] | None = None  # None = every material
    trigger: str = "manual"
    shard: Shard | None = None  # set: this invocation is a fan-out worker for these keys only


def parse_event(event: bytes | str | dict[str, Any] | None) -> Options:
    document = _decode(event)
    if TIMER_FIELDS & set(document):
        unknown = sorted(set(document) - TIMER_FIELDS)
        if unknown:
            raise EventError(f"timer event has unknown field(s): {_names(unknown)}")
        name = document.get("triggerName", "")
        if not isinstance(name, str) or len(name) > MAX_TRIGGER_NAME:
            raise EventError(f"timer event 'triggerName' must be a string of at most {MAX_TRIGGER_NAME} characters")
        payload = document.get("payload", "")
        if payload is None:
            payload = ""
        if not isinstance(payload, str):
            raise EventError("timer event 'payload' must be a string (JSON options or empty)")
        options = _decode(payload, what="timer payload") if payload.strip() else {}
        return _options(options, trigger=f"timer:{name}")
    return _options(document, trigger="manual")


def parse_lambda_event(event: object) -> Options:
    """An AWS Lambda event: an EventBridge scheduled event (``"detail-type": "Scheduled Event"`` or
    ``"source": "aws.events"``) whose ``detail``, a JSON object, may carry the options; or, for a
    manual invoke, what :func:`parse_event` takes. The runtime hands over decoded JSON, so anything
    but an object (or nothing) is refused."""
    if event is not None and not isinstance(event, dict):
        raise EventError(f"event must be a JSON object, got {type(event).__name__}")
    document = _decode(event)
    if document.get("detail-type") != "Scheduled Event" and document.get("source") != "aws.events":
        return replace(parse_event(document), trigger="manual")
    detail = document.get("detail")
    if detail is not None and not isinstance(detail, dict):
        raise EventError(f"EventBridge event 'detail' must be a JSON object (the options), got {_type(detail)}")
    resources = document.get("resources")
    if resources is not None and not (isinstance(resources, list) and all(isinstance(r, str) for r in resources)):
        raise EventError("EventBridge event 'resources' must be a list of ARNs")
    source = ",".join(resources or []) or str(document.get("id", ""))
    return replace(_options(detail or {}, trigger="eventbridge"), trigger=f"eventbridge:{clip(source, 256)}")


def _type(value: object) -> str:
    """A JSON value's type, in JSON's words."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _names(names: list[Any]) -> str:
    """At most 5 names, each an excerpt."""
    shown = ", ".join(clip(str(n)) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _decode(event: object, what: str = "event") -> dict[str, Any]:
    if event is None:
        return {}
    if isinstance(event, dict):
        event = _dump(event, what)  # the same bounds and rules as text
    if isinstance(event, (bytes, bytearray)):
        _check_size(len(event), what)
        try:
            event = bytes(event).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"{what} is not UTF-8 text") from exc
    elif isinstance(event, str):
        _check_size(len(event), what)
        _check_size(len(event.encode("utf-8", "surrogatepass")), what)
    else:
        raise EventError(f"{what} must be a JSON object, got {type(event).__name__}")
    if not event.strip():
        return {}
    try:
        document = load_json(event)
    except json.JSONDecodeError as exc:
        raise EventError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except InputError as exc:
        raise EventError(f"{what}: {exc.message}") from exc
    if not isinstance(document, dict):
        raise EventError(f"{what} must be a JSON object")
    return document


def _check_size(size: int, what: str) -> None:
    if size > MAX_EVENT_BYTES:
        raise EventError(f"{what} is larger than {MAX_EVENT_BYTES} bytes (256 KiB)")


def _dump(event: dict[Any, Any], what: str) -> str:
    try:
        return json.dumps(event, ensure_ascii=False, allow_nan=False)
    except RecursionError:
        raise EventError(f"{what} is nested too deeply") from None
    except (TypeError, ValueError) as exc:  # not JSON types, circular, NaN, an integer over Python's limit
        # The first sentence of json's message only: what follows it differs between Python versions.
        reason = str(exc).split(":", 1)[0] if "float values" in str(exc) else str(exc)
        raise EventError(f"{what} is not JSON data ({clip(reason)})") from None


def _options(document: dict[str, Any], trigger: str) -> Options:
    unknown = sorted(set(document) - set(OPTION_TYPES), key=str)
    if unknown:
        public = ", ".join(name for name in OPTION_TYPES if name != "shard")  # shard: set by a coordinator
        raise EventError(f"unknown option(s): {_names(unknown)}; expected {public}")
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
        allow_shorter_expiry=document.get("allowShorterExpiry", False),
        materials=tuple(materials) if materials is not None else None,
        trigger=f"shard:{shard.id}/{shard.of}" if shard else trigger,
        shard=shard,
    )


def _shard(raw: dict[str, Any]) -> Shard:
    ids = raw.get("id"), raw.get("of")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in ids) or ids[0] > ids[1]:
        raise EventError("option 'shard' needs whole numbers 'id' and 'of', 1 <= id <= of")
    keys = raw.get("keys")
    if set(raw) - {"id", "of", "keys", "share"} or not isinstance(keys, list) or not keys:
        raise EventError("option 'shard' must be {id, of, keys: [{material, region, key_id}, ...], share?}")
    share = raw.get("share", 1.0)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise EventError(f"option 'shard': 'share' must be a number > 0 and <= 1, got {clip(str(share))}")
    for key in keys:
        if (
            not isinstance(key, dict)
            or not set(SHARD_KEY_FIELDS) <= set(key) <= {*SHARD_KEY_FIELDS, "cloud", "via", "key_material_id"}
            or not all(isinstance(v, str) and v for v in key.values())
        ):
            raise EventError(
                "each key of option 'shard' must be {material, region, key_id, cloud?, via?, key_material_id?} "
                "(non-empty strings)"
            )
    return Shard(
        ids[0],
        ids[1],
        tuple(
            ShardKey(
                k["material"],
                k["region"],
                k["key_id"],
                k.get("cloud", "alibaba"),
                k.get("via", "config"),
                k.get("key_material_id"),
            )
            for k in keys
        ),
        float(share),
    )
