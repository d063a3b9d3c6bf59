"""Unit tests for the entry points' input: ``lambda_handler.handler`` refuses events that are not
objects, and both handlers always give the run a deadline, whatever the context lacks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from renewer.entry import handler as fc_handler
from renewer.errors import EventError

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lambda_handler", ROOT / "function" / "lambda_handler.py")
assert _spec is not None and _spec.loader is not None
lambda_handler = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lambda_handler)

SUMMARY = {"failed": 0, "not_attempted": 0}


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """``app.run``'s keyword arguments, per call; settings are never read from the environment."""
    calls: list[dict[str, Any]] = []

    def run(settings: object, options: object, **kwargs: Any) -> dict[str, Any]:
        calls.append({"options": options, **kwargs})
        return {"summary": SUMMARY, "keys": []}

    monkeypatch.setattr("renewer.run.app.run", run)
    monkeypatch.setattr("renewer.settings.from_environ", lambda: object())
    return calls


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([{"detail-type": "Scheduled Event"}], "event must be a JSON object, got list"),
        ("not an object", "event must be a JSON object, got str"),
        (
            {"detail-type": "Scheduled Event", "source": "aws.events", "detail": ["dryRun"]},
            "EventBridge event 'detail' must be a JSON object (the options), got array",
        ),
        (
            {"source": "aws.events", "detail": "dryRun"},
            "EventBridge event 'detail' must be a JSON object (the options), got string",
        ),
        ({"source": "aws.events", "resources": [1, 2]}, "EventBridge event 'resources' must be a list of ARNs"),
    ],
    ids=["list", "string", "detail-list", "detail-string", "resources"],
)
def test_lambda_handler_refuses_what_is_not_an_object(runs: list[dict[str, Any]], event: Any, message: str) -> None:
    with pytest.raises(EventError) as info:
        lambda_handler.handler(event, SimpleNamespace())

    assert (info.value.code, info.value.message) == ("InvalidEvent", message)
    assert runs == []


@pytest.mark.parametrize(
    ("context", "timeout"),
    [
        (SimpleNamespace(get_remaining_time_in_millis=lambda: 300_000), 300.0),
        (SimpleNamespace(), 900),
        (None, 900),
        (SimpleNamespace(get_remaining_time_in_millis=300_000), 900),
    ],
    ids=["remaining-time", "no-method", "no-context", "not-callable"],
)
def test_lambda_handler_always_has_a_deadline(runs: list[dict[str, Any]], context: Any, timeout: float) -> None:
    lambda_handler.handler({"detail-type": "Scheduled Event", "detail": {}}, context)

    assert runs[0]["timeout"] == timeout
    assert lambda_handler.LAMBDA_MAX_TIMEOUT_SECONDS == 900


def test_lambda_handler_with_a_context_arn_of_the_wrong_type(runs: list[dict[str, Any]]) -> None:
    lambda_handler.handler({}, SimpleNamespace(invoked_function_arn=None))

    assert runs[0]["home_region"] is None


@pytest.mark.parametrize(
    ("context", "timeout"),
    [
        (SimpleNamespace(function=SimpleNamespace(timeout=120)), 120),
        (SimpleNamespace(function=SimpleNamespace()), 600),
        (SimpleNamespace(), 600),
        (None, 600),
    ],
    ids=["function-timeout", "no-timeout", "no-function", "no-context"],
)
def test_function_compute_handler_always_has_a_deadline(runs: list[dict[str, Any]], context: Any, timeout: int) -> None:
    fc_handler.handler(b"{}", context)

    assert runs[0]["timeout"] == timeout
    assert fc_handler.DEFAULT_TIMEOUT_SECONDS == 600


def test_the_default_timeout_is_the_templates() -> None:
    template = (ROOT / "template.yml").read_text(encoding="utf-8")

    assert f"Timeout: {fc_handler.DEFAULT_TIMEOUT_SECONDS}\n" in template
