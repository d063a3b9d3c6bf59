"""The service's time format: ``yyyy-MM-ddTHH:mm:ssZ`` in UTC."""

from __future__ import annotations

import math
from datetime import datetime, timezone

#: The last time the format can show (year 9999); later (or non-finite) times are shown as it.
_LAST = 253_402_300_799


def iso(unix: float) -> str:
    """``unix`` formatted; never raises. A time the format cannot show (negative, past 9999, NaN)
    is clamped to 1970-01-01 or 9999-12-31T23:59:59Z, so no stored value (an expiry imported in
    milliseconds before the import refused them, say) can make a response fail."""
    if not isinstance(unix, (int, float)) or math.isnan(unix):
        unix = 0
    seconds = int(min(max(unix, 0), _LAST))
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
