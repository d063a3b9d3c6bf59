"""CloudMonitor custom metrics: ``PutCustomMetric`` entries recorded for later inspection."""

from __future__ import annotations

import threading
from typing import Any

from emulator import errors

MAX_ENTRIES_PER_CALL = 21


class MetricsBackend:
    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def put_custom_metric(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            raise errors.missing_parameter("MetricList")
        if len(entries) > MAX_ENTRIES_PER_CALL:
            raise errors.invalid_parameter("MetricList", f"At most {MAX_ENTRIES_PER_CALL} entries per call.")
        for index, entry in enumerate(entries, start=1):
            for name in ("GroupId", "MetricName", "Values", "Dimensions"):
                if entry.get(name) in (None, ""):
                    raise errors.missing_parameter(f"MetricList.{index}.{name}")
        with self._lock:
            self._entries.extend({**entry, "region": self.region} for entry in entries)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
