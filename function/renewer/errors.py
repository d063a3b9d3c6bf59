"""The function's own small error hierarchy. Every error carries a short ``code`` for the report
(the codes the function itself emits are listed in :mod:`renewer.codes`); a :class:`CloudError`
also carries a :class:`ErrorKind`, set by the adapter that translated it, which is all the flow and
the retry act on: no cloud's codes or message texts outside its adapter."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class ErrorKind(Enum):
    """What a failed cloud call means for the caller, whichever cloud said it."""

    @property
    def retried(self) -> bool:
        """Worth another attempt (:class:`renewer.run.retry.Caller` retries these): a transient
        failure or throttling. Test this, not ``is TRANSIENT``, wherever both mean "try again"."""
        return self in (ErrorKind.TRANSIENT, ErrorKind.THROTTLED)

    TRANSIENT = "transient"  # a 5xx, no connection: retried while the deadline allows
    # The service refused the rate (its request quota): retried like TRANSIENT, not counted against
    # max_attempts, and the budget of that call's operation group slows down (renewer.run.budget).
    THROTTLED = "throttled"
    STALE_IMPORT_TOKEN = "stale_import_token"  # noqa: S105 (a kind, not a token). Fetch new import parameters and import again
    EXPIRY_REJECTED = "expiry_rejected"  # the service refused the new expiry (earlier than its time)
    CREDENTIALS = "credentials"  # no, wrong or insufficient credentials
    NOT_FOUND = "not_found"  # no such key, alias or secret
    PERMANENT = "permanent"  # anything else: the same call would fail the same way


class RenewerError(Exception):
    """Base of every error the renewer raises on purpose."""

    code = "RenewerError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(RenewerError):
    """The configuration or the environment is invalid; nothing was touched."""

    code = "InvalidConfiguration"


class EventError(RenewerError):
    """The invocation event is malformed; nothing was touched."""

    code = "InvalidEvent"


class MaterialError(RenewerError):
    """A material could not be read, or is not 32 bytes, or fails its KCV; its keys get nothing."""

    code = "InvalidMaterial"


class KeyStateError(RenewerError):
    """A key cannot be renewed as it stands (not EXTERNAL, pending deletion, verification failed)."""

    code = "KeyNotRenewable"


class CloudError(RenewerError):
    """A cloud API call failed: the service's error ``code`` and ``message``, never request data.

    ``kind``: what it means (:class:`ErrorKind`), decided by the adapter that translated it.
    ``outcome_unknown``: the request was sent but no answer came (a read timeout): the service may
    have done it. Only idempotent calls are retried after such an error.
    ``retry_after``: seconds the service asked us to wait before the next call (a throttling
    answer's Retry-After), when it said so.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.PERMANENT,
        http_status: int | None = None,
        action: str = "",
        outcome_unknown: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.kind = kind
        self.http_status = http_status
        self.action = action
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after


def kind_from(table: Mapping[str, ErrorKind], code: str, status: int | None) -> ErrorKind:
    """An adapter's reading of a service code: its table first; else any 429 (HTTP's "Too Many
    Requests") is throttled, any 5xx transient and any other code permanent."""
    kind = table.get(code)
    if kind is not None:
        return kind
    if status == 429:
        return ErrorKind.THROTTLED
    return ErrorKind.TRANSIENT if (status or 0) >= 500 else ErrorKind.PERMANENT


#: A Retry-After longer than this is read as this: the deadline bounds every wait anyway, and a
#: bogus header (hours) must not park a budget for the rest of the run. The Alibaba Cloud SDK's own
#: retry caps it the same (darabonba's MAX_DELAY_TIME, 120 s).
MAX_RETRY_AFTER_SECONDS = 120.0


def retry_after(value: object, unit: float = 1.0) -> float | None:
    """A Retry-After as seconds: ``value`` (a number, or its text) times ``unit`` (seconds per unit:
    botocore hands over the HTTP header's seconds, the Alibaba Cloud SDK milliseconds); None when
    absent, not a number, or not positive. NOTE: the HTTP-date form of Retry-After is not read (no
    service we call is documented to send it); the budget's own back-off applies then."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(str(value).strip()) * unit
    except ValueError:
        return None
    if not seconds > 0:  # NaN, 0, negative
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


class RenewerBug(RenewerError):
    """An exception nobody raised on purpose: a bug in this function (never a service's fault)."""

    code = "RenewerBug"


class DeadlineExceeded(RenewerError):
    """Too little of the invocation's time is left for this call (or its wait for a slot, or its
    back-off): it was not started, or was abandoned unanswered. Never retried."""

    code = "DeadlineExceeded"


class RenewalFailedError(RenewerError):
    """Raised by the handler when any key failed, after metrics were sent; ``.report`` is the report."""

    code = "RenewalFailed"

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report
