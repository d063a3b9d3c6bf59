"""Errors named by their wire code.

Every rule the emulator enforces raises a :class:`ServiceError`; only the protocol layer
renders it (as the JSON error envelope the service returns). A direct backend call gets the
same error as a wire call.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error the real service would return: its ``Code``, ``Message`` and HTTP status."""

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The input parameter {name} that is mandatory for processing this request is not supplied.", 400)


def invalid_parameter(name: str, detail: str = "") -> ServiceError:
    suffix = f" {detail}" if detail else ""
    return ServiceError("InvalidParameter", f"The specified parameter {name} is not valid.{suffix}", 400)


def key_not_found(key_id: str) -> ServiceError:
    return ServiceError("Forbidden.KeyNotFound", f"The specified Key {key_id} is not found.", 404)


def alias_not_found(alias: str) -> ServiceError:
    return ServiceError("Forbidden.AliasNotFound", f"The specified Alias {alias} is not found.", 404)


def rejected_state(state: str) -> ServiceError:
    """The documented ``Rejected.<State>`` result (HTTP 409) for a key in the wrong state."""
    return ServiceError(f"Rejected.{state}", f"The request is rejected because the key is in {state} state.", 409)


def state_modify_failed(state: str) -> ServiceError:
    return ServiceError("Rejected.StateModifiedFailed", f"The key state cannot be modified from {state}.", 409)


def throttling() -> ServiceError:
    return ServiceError("Throttling", "Request was denied due to request throttling.", 400)
