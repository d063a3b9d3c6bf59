"""Structured logging: one JSON object per line, built lazily, on the ``byok_renewer`` logger.

Every line leads with ``time`` (UTC, milliseconds), ``level`` and ``requestId`` (the invocation's,
set by the entry point with :func:`invocation`), as Function Compute's own log lines carry them,
then ``event`` and the event's fields.

NOTE: the request id is process-wide, not per thread: a run's worker threads log under it without
passing it along. An instance serves one invocation at a time (``instanceConcurrency: 1``); with
more, concurrent invocations' lines would share the id last set.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

LOGGER_NAME = "byok_renewer"


_request_id: str | None = None


@contextmanager
def invocation(request_id: str | None) -> Iterator[None]:
    """Log lines within carry ``request_id`` (restored afterwards)."""
    global _request_id
    previous, _request_id = _request_id, request_id
    try:
        yield
    finally:
        _request_id = previous


class _JsonLine:
    """Serialised only if the record is actually emitted."""

    def __init__(self, event: str, fields: dict[str, Any]) -> None:
        self.event = event
        self.fields = fields

    def render(self, created: float, level: str) -> str:
        stamp = datetime.fromtimestamp(created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = {"time": stamp, "level": level, "requestId": _request_id, "event": self.event, **self.fields}
        return json.dumps(line, sort_keys=False, default=str)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        args = record.args
        if isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], _JsonLine):
            return args[0].render(record.created, record.levelname)
        return super().format(record)


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
        handler.setFormatter(_JsonFormatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    get_logger().log(level, "%s", _JsonLine(event, fields))


def to_stderr() -> None:
    _StdoutHandler.use_stderr = True


# ---- the SDKs' own loggers ---------------------------------------------------------------------
#: Loggers of the libraries a run calls through. At DEBUG they write request URLs and bodies: the
#: Alibaba Cloud SDK puts the import token and the wrapped material in the query string, botocore
#: logs every parameter, urllib3 every URL, aliyun-fc2 the request headers (the STS token).
SDK_LOGGERS = (
    "botocore",
    "boto3",
    "urllib3",
    "requests",
    "s3transfer",
    "alibabacloud",
    "alibabacloud_credentials",
    "alibabacloud_tea_openapi",
    "alibabacloud_kms20160120",
    "alibabacloud_cms20190101",
    "darabonba",
    "Tea",
    "aliyunsdkcore",
    "fc2",
)
_scrubbers: list[Any] = []  # the redactors of the runs in progress (anything with .scrub(str) -> str)
_guard_lock = threading.Lock()
_installed = False


def _is_sdk(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in SDK_LOGGERS)


def _guard(record: logging.LogRecord) -> logging.LogRecord:
    """Nothing below WARNING leaves an SDK logger; what does is scrubbed, without its traceback."""
    if not _is_sdk(record.name):
        return record
    if record.levelno < logging.WARNING:
        record.msg, record.args = "%s: SDK debug output withheld (it can carry secrets)", (record.name,)
    else:
        try:
            text = record.getMessage()
        except Exception:  # a malformed SDK log call must not break the run
            text = str(record.msg)
        with _guard_lock:
            scrubbers = list(_scrubbers)
        for scrubber in scrubbers:
            text = scrubber.scrub(text)
        if record.exc_info and record.exc_info[0] is not None:
            text += f" ({record.exc_info[0].__name__})"
        record.msg, record.args = text, ()
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    return record


def _install() -> None:
    global _installed
    with _guard_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return _guard(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True


@contextmanager
def sdk_logs_guarded(scrubber: Any) -> Iterator[None]:
    """While a run is in progress: the SDKs' loggers with no level of their own are set to WARNING,
    and any record they make anyway (a logger set to DEBUG by hand) is withheld below WARNING and
    scrubbed above, whatever level the function's logging is set to."""
    _install()
    for name in SDK_LOGGERS:
        sdk_logger = logging.getLogger(name)
        if sdk_logger.level == logging.NOTSET:  # a level set by hand stays: the guard withholds
            sdk_logger.setLevel(logging.WARNING)
    with _guard_lock:
        _scrubbers.append(scrubber)
    try:
        yield
    finally:
        with _guard_lock:
            _scrubbers.remove(scrubber)
