"""AWS Lambda entry point (``Handler: lambda_handler.handler``): the same package, deployed as a
Lambda function and fired by an EventBridge schedule.

The event is an EventBridge scheduled event (``"detail-type": "Scheduled Event"``), whose
``detail`` may carry the options (``{"dryRun": true}``), or the options object itself for a
manual invoke; anything else (a list, a string, a ``detail`` that is not an object) is an
``EventError`` (``InvalidEvent``), raised before anything is touched (see
:func:`renewer.entry.events.parse_lambda_event`). Credentials come from the default chains (the Lambda
role for AWS; for Alibaba Cloud targets, ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET`` or another
provider of ``alibabacloud-credentials``). The deadline is the Lambda's remaining time
(``context.get_remaining_time_in_millis()``); a context without it gets Lambda's maximum timeout,
:data:`LAMBDA_MAX_TIMEOUT_SECONDS` (900 s), as the bound, never no deadline at all.
"""

from __future__ import annotations

from typing import Any

from renewer import logs, settings
from renewer.entry.events import parse_lambda_event
from renewer.entry.handler import raise_if_incomplete
from renewer.run import app

LAMBDA_MAX_TIMEOUT_SECONDS = 900  # the most a Lambda function may be configured to run


def handler(event: dict[str, Any] | None, context: Any) -> dict[str, Any]:
    with logs.invocation(getattr(context, "aws_request_id", None) or None):
        options = parse_lambda_event(event)  # malformed: raises before anything is touched
        report = app.run(
            settings.from_environ(),
            options,
            credentials=None,
            home_region=_region_of(getattr(context, "invoked_function_arn", "")),
            timeout=_timeout(context),
        )
        raise_if_incomplete(report)
        return report


def _timeout(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if callable(remaining) else LAMBDA_MAX_TIMEOUT_SECONDS


def _region_of(function_arn: object) -> str | None:
    """``arn:aws:lambda:REGION:ACCOUNT:function:NAME`` -> REGION."""
    parts = function_arn.split(":") if isinstance(function_arn, str) else []
    return parts[3] if len(parts) > 3 and parts[3] else None
