"""The function's own small error hierarchy. Every error carries a short ``code`` for the report."""

from __future__ import annotations

from typing import Any


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

    ``outcome_unknown``: the request was sent but no answer came (a read timeout): the service may
    have done it. Only idempotent calls are retried after such an error.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        http_status: int | None = None,
        action: str = "",
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.http_status = http_status
        self.action = action
        self.outcome_unknown = outcome_unknown


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
