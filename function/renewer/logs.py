"""Structured logging: one JSON object per line, built lazily, on the ``byok_renewer`` logger."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOGGER_NAME = "byok_renewer"


class _JsonLine:
    """Serialised only if the record is actually emitted."""

    def __init__(self, event: str, fields: dict[str, Any]) -> None:
        self.event = event
        self.fields = fields

    def __str__(self) -> str:
        return json.dumps({"event": self.event, **self.fields}, sort_keys=False, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (Function Compute and pytest both swap it),
    or to ``sys.stderr`` once :func:`to_stderr` was called (the CLI keeps stdout for the report)."""

    use_stderr = False

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr if self.use_stderr else sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def get_logger() -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        handler = _StdoutHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    get_logger().log(level, "%s", _JsonLine(event, fields))


def to_stderr() -> None:
    _StdoutHandler.use_stderr = True
