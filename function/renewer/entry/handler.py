"""The Function Compute handler: parse the event and context, build settings, run, report.

``index.handler`` is this :func:`handler`. It returns the report as a JSON string; if any key failed
it raises :class:`RenewalFailedError` (carrying the report) after the metrics were sent, so the
invocation shows as failed; so it does when the deadline left keys ``not_attempted``.
"""

from __future__ import annotations

import json
from typing import Any

from renewer import logs, settings
from renewer.credentials import Credentials
from renewer.entry.events import parse_event
from renewer.errors import RenewalFailedError
from renewer.run import app

# The deadline when the context carries no ``function.timeout``: template.yml's Timeout, so a run
# is never without one.
DEFAULT_TIMEOUT_SECONDS = 600


def credentials_from_context(context: Any) -> Credentials | None:
    """The service role's STS credentials, when Function Compute passes them; else None (default chain)."""
    creds = getattr(context, "credentials", None)
    key_id = getattr(creds, "access_key_id", None) or getattr(creds, "accessKeyId", None)
    secret = getattr(creds, "access_key_secret", None) or getattr(creds, "accessKeySecret", None)
    if not key_id or not secret:
        return None
    token = getattr(creds, "security_token", None) or getattr(creds, "securityToken", None)
    return Credentials(key_id, secret, token or None)


def handler(event: bytes | str | dict[str, Any] | None, context: Any) -> str:
    with logs.invocation(getattr(context, "request_id", None) or None):
        options = parse_event(event)  # malformed: raises before anything is touched
        current = settings.from_environ()
        report = app.run(
            current,
            options,
            credentials=credentials_from_context(context),
            home_region=getattr(context, "region", None) or None,
            account_id=getattr(context, "account_id", None) or None,
            timeout=getattr(getattr(context, "function", None), "timeout", None) or DEFAULT_TIMEOUT_SECONDS,
        )
        raise_if_incomplete(report)
        return json.dumps(report)


def raise_if_incomplete(report: dict[str, Any]) -> None:
    """Failed keys, keys the deadline left undone, or a material whose source failed its read (the
    check every run makes, see :mod:`renewer.run.material_check`) fail the invocation (after metrics
    were sent): Function Compute then shows it; the next run (or a manual one) picks up what is left (the
    deployments turn asynchronous retries off: a replayed failure would only repeat its alerts)."""
    summary = report["summary"]
    failed, undone = summary["failed"] + summary.get("unverified", 0), summary["not_attempted"]
    sources = [m for m in report.get("run", {}).get("materials", ()) if m["ok"] is False]
    if not failed and not undone and not sources:
        return
    parts = []
    if failed:
        codes = sorted({k["error"]["code"] for k in report["keys"] if k["error"]})
        parts.append(f"{failed} of {len(report['keys'])} keys failed ({', '.join(codes)})")
    if undone:
        parts.append(f"{undone} keys not attempted before the deadline")
    if sources:
        named = ", ".join(f"{m['name']} ({m['error']['code']})" for m in sources[:5])
        more = f" and {len(sources) - 5} more" if len(sources) > 5 else ""
        parts.append(f"the source of material(s) {named}{more} failed")
    raise RenewalFailedError("; ".join(parts), report)
