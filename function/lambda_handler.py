"""AWS Lambda entry point (``Handler: lambda_handler.handler``): the same package, deployed as a
Lambda function and fired by an EventBridge schedule.

The event is an EventBridge scheduled event (``"detail-type": "Scheduled Event"``), whose
``detail`` may carry the options (``{"dryRun": true}``), or the options object itself for a
manual invoke. Credentials come from the default chains (the Lambda role for AWS; for Alibaba
Cloud targets, ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` or another provider of
``alibabacloud-credentials``). The deadline is the Lambda's remaining time.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from renewer import app, settings
from renewer.events import parse_event
from renewer.handler import raise_if_incomplete


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    event = event or {}
    if event.get("detail-type") == "Scheduled Event" or event.get("source") == "aws.events":
        options = parse_event(event.get("detail") or {})
        trigger = f"eventbridge:{','.join(event.get('resources') or []) or event.get('id', '')}"
    else:
        options = parse_event(event)
        trigger = "manual"
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = app.run(
        settings.from_environ(),
        replace(options, trigger=trigger),
        credentials=None,
        home_region=_region_of(getattr(context, "invoked_function_arn", "")),
        timeout=remaining() / 1000 if callable(remaining) else None,
    )
    raise_if_incomplete(report)
    return report


def _region_of(function_arn: str) -> str | None:
    """``arn:aws:lambda:REGION:ACCOUNT:function:NAME`` -> REGION."""
    parts = function_arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else None
