"""Unit tests for :mod:`renewer.events`: timer events, options objects, every input type, the errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from renewer.errors import EventError
from renewer.events import Options, parse_event

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
CODE = "InvalidEvent"
OPTIONS = {"dryRun": True, "force": True, "materials": ["payments", "ledger"]}
PARSED = Options(dry_run=True, force=True, materials=("payments", "ledger"), trigger="manual")


def timer(payload: Any = "", **extra: Any) -> dict[str, Any]:
    return {"triggerTime": "2026-11-29T03:00:00Z", "triggerName": "daily", "payload": payload, **extra}


def rejects(event: Any) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(event)
    assert info.value.code == CODE
    return info.value


@pytest.mark.parametrize(
    "event",
    [None, "", "   \n", b"", b"{}", "{}", {}],
    ids=["none", "empty-str", "blank-str", "empty-bytes", "bytes-object", "str-object", "dict"],
)
def test_nothing_means_every_default(event: Any) -> None:
    assert parse_event(event) == Options(dry_run=False, force=False, materials=None, trigger="manual")


@pytest.mark.parametrize(
    "event",
    [json.dumps(OPTIONS).encode(), json.dumps(OPTIONS), json.dumps(OPTIONS, indent=2), dict(OPTIONS)],
    ids=["bytes", "str", "str-indented", "dict"],
)
def test_options_object_in_every_input_type(event: Any) -> None:
    assert parse_event(event) == PARSED


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"dryRun": True}, Options(dry_run=True)),
        ({"force": False}, Options()),
        ({"materials": []}, Options(materials=())),
        ({"materials": ["payments"]}, Options(materials=("payments",))),
    ],
    ids=["dry-run", "force-false", "no-materials", "one-material"],
)
def test_single_options(options: dict[str, Any], expected: Options) -> None:
    assert parse_event(options) == expected


@pytest.mark.parametrize("payload", ["", "{}", "  ", None], ids=["empty", "empty-object", "blank", "null"])
def test_timer_event_without_options(payload: Any) -> None:
    assert parse_event(timer(payload)) == Options(trigger="timer:daily")


@pytest.mark.parametrize("form", [dict, json.dumps, lambda e: json.dumps(e).encode()], ids=["dict", "str", "bytes"])
def test_timer_event_with_options_payload(form: Any) -> None:
    assert parse_event(form(timer(json.dumps(OPTIONS)))) == Options(
        dry_run=True, force=True, materials=("payments", "ledger"), trigger="timer:daily"
    )


def test_timer_event_without_payload_or_name() -> None:
    assert parse_event({"triggerTime": "2026-11-29T03:00:00Z"}) == Options(trigger="timer:")


ERRORS: list[tuple[str, Any, str]] = [
    ("not-json-bytes", b"{dryRun: true}", "event is not valid JSON: Expecting property name enclosed in double quotes"),
    ("not-json-str", "dryRun=true", "event is not valid JSON: Expecting value at line 1 column 1"),
    ("truncated-json", '{"dryRun": true', "event is not valid JSON: "),
    ("array", "[1, 2]", "event must be a JSON object"),
    ("string", '"run"', "event must be a JSON object"),
    ("number", b"42", "event must be a JSON object"),
    ("null", "null", "event must be a JSON object"),
    ("non-utf8", b'\xff\xfe{"dryRun": true}', "event is not UTF-8 text"),
    ("unknown-option", {"colour": 1}, "unknown option(s): colour; expected dryRun, force, materials"),
    ("snake-case-option", {"dry_run": True}, "unknown option(s): dry_run"),
    ("dry-run-string", {"dryRun": "yes"}, "option 'dryRun' must be a bool, got str"),
    ("dry-run-int", {"dryRun": 1}, "option 'dryRun' must be a bool, got int"),
    ("force-null", {"force": None}, "option 'force' must be a bool, got NoneType"),
    ("materials-string", {"materials": "payments"}, "option 'materials' must be a list, got str"),
    ("materials-non-string", {"materials": ["payments", 1]}, "option 'materials' must be a list of material names"),
    ("materials-empty-name", {"materials": [""]}, "option 'materials' must be a list of material names"),
    ("materials-nested", {"materials": [["payments"]]}, "option 'materials' must be a list of material names"),
    ("payload-object", timer({"dryRun": True}), "timer event 'payload' must be a string (JSON options or empty)"),
    ("payload-number", timer(1), "timer event 'payload' must be a string (JSON options or empty)"),
    ("timer-extra-field", timer("", dryRun=True), "timer event has unknown field(s): dryRun"),
    ("timer-two-extra", timer("", b=1, a=2), "timer event has unknown field(s): a, b"),
    ("payload-invalid-json", timer("{dryRun}"), "timer payload is not valid JSON: "),
    ("payload-array", timer("[]"), "timer payload must be a JSON object"),
    ("payload-unknown-option", timer('{"colour": 1}'), "unknown option(s): colour"),
    ("payload-wrong-type", timer('{"force": "true"}'), "option 'force' must be a bool, got str"),
]


@pytest.mark.parametrize(("event", "fragment"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_malformed_events_are_rejected(event: Any, fragment: str) -> None:
    assert fragment in rejects(event).message


@pytest.mark.parametrize(
    ("event", "cause"),
    [("{", json.JSONDecodeError), (b"\xff", UnicodeDecodeError), (timer("{"), json.JSONDecodeError)],
    ids=["json", "utf8", "payload-json"],
)
def test_decode_errors_chain_their_cause(event: Any, cause: type[Exception]) -> None:
    assert isinstance(rejects(event).__cause__, cause)


def test_json_error_names_line_and_column() -> None:
    assert rejects('{\n  "dryRun": tru\n}').message.endswith("at line 2 column 13")


@pytest.mark.parametrize("payload", [0, False, [], {}], ids=["zero", "false", "list", "object"])
def test_falsy_non_string_payload_is_rejected(payload: Any) -> None:
    assert "timer event 'payload' must be a string" in rejects(timer(payload)).message


EXPECTED_FILES: dict[str, Options] = {
    "timer.json": Options(trigger="timer:daily"),
    "timer-dry-run.json": Options(dry_run=True, trigger="timer:daily"),
    "manual.json": Options(),
    "dry-run.json": Options(dry_run=True),
    "force-one-material.json": Options(force=True, materials=("payments",)),
}


def test_every_event_file_is_covered_here() -> None:
    # eventbridge-scheduled.json is the Lambda handler's (tests/function/test_aws.py).
    assert {p.name for p in EVENTS_DIR.glob("*.json")} == {
        *EXPECTED_FILES,
        "malformed.json",
        "eventbridge-scheduled.json",
    }


@pytest.mark.parametrize(("name", "expected"), list(EXPECTED_FILES.items()), ids=list(EXPECTED_FILES))
def test_event_file_parses_to_the_expected_options(name: str, expected: Options) -> None:
    raw = (EVENTS_DIR / name).read_bytes()

    assert parse_event(raw) == expected
    assert parse_event(raw.decode()) == expected
    assert parse_event(json.loads(raw)) == expected


def test_malformed_event_file_is_rejected() -> None:
    error = rejects((EVENTS_DIR / "malformed.json").read_bytes())

    assert error.message == "unknown option(s): colour; expected dryRun, force, materials"
