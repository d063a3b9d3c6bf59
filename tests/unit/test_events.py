"""Unit tests for :mod:`renewer.entry.events`: timer events, options objects, every input type, the errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from renewer.entry.events import MAX_EVENT_BYTES, Options, parse_event, parse_lambda_event
from renewer.errors import EventError

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
    (
        "unknown-option",
        {"colour": 1},
        "unknown option(s): colour; expected dryRun, force, allowShorterExpiry, materials",
    ),
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

    assert error.message == "unknown option(s): colour; expected dryRun, force, allowShorterExpiry, materials"


# --- Issue #10: allowShorterExpiry, and events that are nested, huge, or say a key twice. ---


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"allowShorterExpiry": True}, Options(allow_shorter_expiry=True)),
        ({"allowShorterExpiry": False}, Options()),
        ({"force": True, "allowShorterExpiry": True}, Options(force=True, allow_shorter_expiry=True)),
        ({}, Options(allow_shorter_expiry=False)),
    ],
    ids=["true", "false", "with-force", "default"],
)
def test_allow_shorter_expiry(options: dict[str, Any], expected: Options) -> None:
    assert parse_event(options) == expected
    assert parse_event(json.dumps(options).encode()) == expected
    assert parse_event(timer(json.dumps(options))) == replace(expected, trigger="timer:daily")


@pytest.mark.parametrize("value", ["true", 1, None, [True]], ids=["string", "int", "null", "list"])
def test_allow_shorter_expiry_must_be_a_bool(value: Any) -> None:
    error = rejects({"allowShorterExpiry": value})

    assert error.message == f"option 'allowShorterExpiry' must be a bool, got {type(value).__name__}"


@pytest.mark.parametrize(
    "event",
    [
        '{"dryRun": true, "dryRun": false}',
        b'{"dryRun": true, "dryRun": false}',
        timer('{"force": false, "force": true}'),
        '{"shard": {"id": 1, "of": 1, "id": 2, "keys": []}}',
    ],
    ids=["str", "bytes", "timer-payload", "nested"],
)
def test_duplicate_keys_are_refused(event: Any) -> None:
    message = rejects(event).message

    assert "duplicate key" in message and " at line 1 column " in message


def test_duplicate_key_message_names_the_key_and_place() -> None:
    assert rejects('{"dryRun": true, "dryRun": false}').message == (
        "event: duplicate key 'dryRun' in the object at line 1 column 1"
    )


def nested(depth: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return {"materials": value}


@pytest.mark.parametrize(
    "event",
    [
        "[" * 100_000,
        '{"materials": ' + "[" * 5_000 + "]" * 5_000 + "}",
        nested(5_000),
        nested(100),
        timer('{"materials": ' + "[" * 5_000 + "]" * 5_000 + "}"),
    ],
    ids=["unclosed", "str", "dict", "dict-100", "timer-payload"],
)
def test_deeply_nested_events_are_invalid_events(event: Any) -> None:
    assert "nested" in rejects(event).message


@pytest.mark.parametrize(
    "event",
    ['{"shard": {"id": ' + "1" * 10_000 + ', "of": 1, "keys": []}}', {"shard": {"id": 10**10_000 // 7}}],
    ids=["str", "dict"],
)
def test_a_10000_digit_integer_is_an_invalid_event(event: Any) -> None:
    message = rejects(event).message

    assert "digits (at most 30)" in message or "integer string conversion" in message
    assert len(message) < 200


@pytest.mark.parametrize(
    "event",
    [
        json.dumps({"materials": ["x" * MAX_EVENT_BYTES]}),
        json.dumps({"materials": ["x" * MAX_EVENT_BYTES]}).encode(),
        {"materials": ["x" * MAX_EVENT_BYTES]},
        timer(json.dumps({"materials": ["é" * (MAX_EVENT_BYTES // 2 + 1)]})),
        " " * (MAX_EVENT_BYTES + 1),
    ],
    ids=["str", "bytes", "dict", "timer", "blank"],
)
def test_events_over_256_kib_are_refused(event: Any) -> None:
    assert rejects(event).message.endswith("is larger than 262144 bytes (256 KiB)")


def test_an_event_just_under_the_bound_is_read() -> None:
    name = "m" * (MAX_EVENT_BYTES - 100)

    assert parse_event({"materials": [name]}).materials == (name,)


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ([{"dryRun": True}], "event must be a JSON object, got list"),
        (42, "event must be a JSON object, got int"),
        ({"dryRun": float("nan")}, "event is not JSON data (Out of range float values are not JSON compliant)"),
        ({"dryRun": b"yes"}, "event is not JSON data (Object of type bytes is not JSON serializable)"),
        ('{"dryRun": NaN}', "event: NaN is not a JSON value"),
        ({1: True}, "unknown option(s): 1"),
        ({"dryRun": True, (1, 2): 3}, "event is not JSON data (keys must be str, int, float, bool or None"),
    ],
    ids=["list", "int", "nan", "bytes-value", "json-nan", "int-key", "tuple-key"],
)
def test_events_that_are_not_json_objects(event: Any, fragment: str) -> None:
    assert fragment in rejects(event).message


def test_a_circular_dict_event_is_an_invalid_event() -> None:
    event: dict[str, Any] = {"materials": []}
    event["materials"].append(event)

    assert rejects(event).message == "event is not JSON data (Circular reference detected)"


def test_unknown_options_are_listed_as_excerpts() -> None:
    message = rejects({f"{'x' * 5000}{i}": 1 for i in range(9)}).message

    assert "x" * 81 not in message
    assert message.startswith("unknown option(s): ") and " and 4 more; expected dryRun" in message
    assert len(message) < 600


@pytest.mark.parametrize("name", ["d" * 129, 7, None], ids=["long", "number", "null"])
def test_a_trigger_name_must_be_a_short_string(name: Any) -> None:
    message = rejects({"triggerTime": "t", "triggerName": name, "payload": ""}).message

    assert message == "timer event 'triggerName' must be a string of at most 128 characters"


# --- AWS Lambda events ---

SCHEDULED = json.loads((EVENTS_DIR / "eventbridge-scheduled.json").read_text())
RULE = "eventbridge:arn:aws:events:us-east-1:123456789012:rule/byok-renewer-daily"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (SCHEDULED, Options(trigger=RULE)),
        ({**SCHEDULED, "detail": {"dryRun": True}}, Options(dry_run=True, trigger=RULE)),
        ({**SCHEDULED, "detail": None}, Options(trigger=RULE)),
        ({**SCHEDULED, "resources": []}, Options(trigger=f"eventbridge:{SCHEDULED['id']}")),
        ({"dryRun": True}, Options(dry_run=True)),
        (None, Options()),
        ({}, Options()),
    ],
    ids=["scheduled", "detail-options", "detail-null", "no-resources", "manual", "none", "empty"],
)
def test_lambda_events(event: Any, expected: Options) -> None:
    assert parse_lambda_event(event) == expected


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([SCHEDULED], "event must be a JSON object, got list"),
        ("{}", "event must be a JSON object, got str"),
        (7, "event must be a JSON object, got int"),
        ({**SCHEDULED, "detail": []}, "EventBridge event 'detail' must be a JSON object (the options), got array"),
        ({**SCHEDULED, "detail": "x"}, "EventBridge event 'detail' must be a JSON object (the options), got string"),
        ({**SCHEDULED, "resources": "arn"}, "EventBridge event 'resources' must be a list of ARNs"),
        ({**SCHEDULED, "resources": [1]}, "EventBridge event 'resources' must be a list of ARNs"),
        ({**SCHEDULED, "detail": {"colour": 1}}, "unknown option(s): colour"),
        ({**SCHEDULED, "detail": nested(5_000)["materials"]}, "event is nested too deeply"),
    ],
    ids=["list", "str", "int", "detail-list", "detail-str", "resources-str", "resources-int", "detail-bad", "deep"],
)
def test_malformed_lambda_events(event: Any, message: str) -> None:
    with pytest.raises(EventError) as info:
        parse_lambda_event(event)

    assert info.value.code == CODE
    assert info.value.message.startswith(message)


def test_a_long_eventbridge_resource_is_clipped_in_the_trigger() -> None:
    options = parse_lambda_event({**SCHEDULED, "resources": ["arn:" + "r" * 5000]})

    assert len(options.trigger) < 300
