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
OPTION_TYPES: dict[str, type] = {"dryRun": bool, "force": bool, "materials": list}


@dataclass(frozen=True)
class Options:
    dry_run: bool = False
    force: bool = False
    materials: tuple[str, ...] | None = None  # None = every material
    trigger: str = "manual"


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
        raise EventError(f"unknown option(s): {', '.join(unknown)}; expected {', '.join(OPTION_TYPES)}")
    for name, kind in OPTION_TYPES.items():
        if name in document and not isinstance(document[name], kind):
            raise EventError(f"option {name!r} must be a {kind.__name__}, got {type(document[name]).__name__}")
    materials = document.get("materials")
    if materials is not None and not all(isinstance(m, str) and m for m in materials):
        raise EventError("option 'materials' must be a list of material names")
    return Options(
        dry_run=document.get("dryRun", False),
        force=document.get("force", False),
        materials=tuple(materials) if materials is not None else None,
        trigger=trigger,
    )
