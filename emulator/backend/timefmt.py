"""The service's time format: ``yyyy-MM-ddTHH:mm:ssZ`` in UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(unix: float) -> str:
    return datetime.fromtimestamp(int(unix), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
