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
    """A cloud API call failed: the service's error ``code`` and ``message``, never request data."""

    def __init__(self, code: str, message: str, *, http_status: int | None = None, action: str = "") -> None:
        super().__init__(message, code=code)
        self.http_status = http_status
        self.action = action


class RenewalFailedError(RenewerError):
    """Raised by the handler when any key failed, after metrics were sent; ``.report`` is the report."""

    code = "RenewalFailed"

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report
