"""The AWS KMS wire format: JSON 1.1 requests named by ``X-Amz-Target``, and AWS's error shape.

A request is ``POST /`` with ``X-Amz-Target: TrentService.<Action>`` and a JSON object body;
blobs travel base64-encoded, timestamps as epoch seconds (botocore's ``JSONSerializer``). A
success is HTTP 200 with the action's fields; an error is ``{"__type": ..., "message": ...}`` with
the ``x-amzn-ErrorType`` header. Every response carries a fresh ``x-amzn-RequestId``.

The backend speaks in Alibaba-named :class:`~emulator.errors.ServiceError` codes; :func:`to_aws`
is the one table that names them as AWS does. Errors raised by the AWS layer itself are
:class:`AwsError` (already AWS-named) and pass through unchanged.

NOTE: the ``Content-Type`` and the method are not checked; botocore always sends ``POST`` and
``application/x-amz-json-1.1``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator.errors import ServiceError

TARGET_PREFIX = "TrentService."
CONTENT_TYPE = "application/x-amz-json-1.1"

#: Error shapes the service model marks ``"fault": true`` (server errors, HTTP 500); every other
#: modeled KMS error, and the common client errors, are HTTP 400.
FAULT_TYPES = frozenset({"KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"})

#: Backend code -> AWS error type. The backend's finer ``reason`` and the ``Rejected.`` prefix
#: are handled in :func:`to_aws`.
ERROR_TYPES: dict[str, str] = {
    "Forbidden.KeyNotFound": "NotFoundException",
    "Forbidden.AliasNotFound": "NotFoundException",
    "AliasAlreadyExists": "AlreadyExistsException",
    # Only Encrypt and Decrypt reject a Disabled key; the model names DisabledException for that.
    "Rejected.Disabled": "DisabledException",
    "Unsupported.Origin": "UnsupportedOperationException",
    "Unsupported.Alias": "UnsupportedOperationException",
    "InvalidImportToken": "InvalidImportTokenException",
    "ExpiredImportToken": "ExpiredImportTokenException",
    "InvalidCiphertext": "InvalidCiphertextException",
    "InvalidParameter": "ValidationException",  # includes an expiry earlier than the clock
    "MissingParameter": "ValidationException",
    "Throttling": "ThrottlingException",
    "Rejected.Throttling": "ThrottlingException",
    "ServiceUnavailableTemporary": "KMSInternalException",
    "InternalFailure": "KMSInternalException",
}
#: ``InvalidKeyMaterial`` by its reason.
KEY_MATERIAL_TYPES: dict[str, str] = {
    "mismatch": "IncorrectKeyMaterialException",
    "undecryptable": "InvalidCiphertextException",
    # NOTE: the model names no error for material of the wrong size; IncorrectKeyMaterialException
    # ("invalid, or does not meet expectations") is the closest.
    "size": "IncorrectKeyMaterialException",
}


class AwsError(ServiceError):
    """An error already named by its AWS type; HTTP 500 for fault types, else 400."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(error_type, message, 500 if error_type in FAULT_TYPES else 400)


def to_aws(error: ServiceError) -> AwsError:
    """The AWS error a backend (or fault) error becomes; an :class:`AwsError` is returned as is.

    NOTE: a code this table does not know keeps its name (a fault may inject an AWS type such as
    ``DependencyTimeoutException`` directly); an unknown code with a 5xx status becomes
    ``KMSInternalException``.
    """
    if isinstance(error, AwsError):
        return error
    if error.code == "InvalidKeyMaterial":
        error_type = KEY_MATERIAL_TYPES.get(error.reason, "IncorrectKeyMaterialException")
    elif error.code in ERROR_TYPES:
        error_type = ERROR_TYPES[error.code]
    elif error.code.startswith("Rejected."):
        error_type = "KMSInvalidStateException"
    elif error.http_status >= 500:
        error_type = "KMSInternalException"
    else:
        error_type = error.code
    return AwsError(error_type, error.message)


# --- errors the AWS layer raises itself ---


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def constraint(name: str, value: Any, rule: str) -> AwsError:
    """AWS's wording for a member that breaks the model: ``1 validation error detected: ...``."""
    shown = "null" if value is None else f"'{value}'"
    member = name[:1].lower() + name[1:]
    return validation(f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {rule}")


def serialization(message: str) -> AwsError:
    return AwsError("SerializationException", message)


def unknown_operation() -> AwsError:
    return AwsError("UnknownOperationException", "")


# --- requests ---


@dataclass(frozen=True)
class AwsRequest:
    """One request as SigV4 sees it: the path and query as sent, header names lower-cased.

    A header sent twice arrives joined by ``,`` (the WSGI server does it), as SigV4 joins them.
    """

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes

    @property
    def action(self) -> str:
        """The ``<Action>`` of ``X-Amz-Target: TrentService.<Action>``, ``""`` without one."""
        target = self.headers.get("x-amz-target", "")
        return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""


def is_aws(request: Request) -> bool:
    """Whether a request is an AWS KMS call (it names a ``TrentService`` target)."""
    return request.headers.get("X-Amz-Target", "").startswith(TARGET_PREFIX)


def parse(request: Request) -> AwsRequest:
    """Decode a werkzeug request, keeping the path and query string exactly as the client sent them."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    raw_path, _, raw_query = raw_uri.partition("?")
    return AwsRequest(
        method=request.method.upper(),
        raw_path=raw_path or "/",
        raw_query=raw_query,
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.get_data(cache=True),
    )


def document(request: AwsRequest) -> dict[str, Any]:
    """The JSON body as an object (an empty body is ``{}``); ``SerializationException`` otherwise."""
    if not request.body.strip():
        return {}
    try:
        value = json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise serialization("The request body is not valid JSON.") from exc
    if not isinstance(value, dict):
        raise serialization("The request body must be a JSON object.")
    return value


def key_id_of(request: AwsRequest) -> str | None:
    """The ``KeyId`` member, for the calls log; ``None`` when absent or the body does not parse."""
    try:
        value = document(request).get("KeyId")
    except AwsError:
        return None
    return value if isinstance(value, str) else None


# --- members: JSON 1.1 types out of the body ---


def string(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise constraint(name, None, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise serialization(f"{name} must be a string.")
    return value


def required_string(body: Mapping[str, Any], name: str) -> str:
    value = string(body, name, required=True)
    assert value is not None
    return value


def enum(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    """A string member that must be one of ``allowed`` (the model's enum, or the part served)."""
    value = string(body, name)
    if value is None:
        return default
    if value not in allowed:
        raise constraint(name, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return value


def blob(body: Mapping[str, Any], name: str, *, required: bool = False) -> bytes | None:
    """A base64 member, decoded."""
    value = string(body, name, required=required)
    if value is None:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise serialization(f"{name} is not valid base64.") from exc


def timestamp(body: Mapping[str, Any], name: str) -> float | None:
    """Epoch seconds (botocore sends a float with milliseconds)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise serialization(f"{name} must be a timestamp in epoch seconds.")
    return float(value)


def integer(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise serialization(f"{name} must be an integer.")
    if not low <= value <= high:
        raise constraint(name, value, f"Member must have value between {low} and {high}")
    return value


def string_map(body: Mapping[str, Any], name: str) -> dict[str, str]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise serialization(f"{name} must be a map of strings.")
    return dict(value)


def boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise serialization(f"{name} must be a boolean.")
    return bool(value)


# --- responses ---


def new_request_id() -> str:
    """A fresh ``x-amzn-RequestId``: a lower-case UUID, as AWS returns."""
    return str(uuid.uuid4())


def success(fields: Mapping[str, Any]) -> Response:
    """HTTP 200 with the action's fields; an action without output gets an empty body."""
    body = json.dumps(fields, separators=(",", ":")) if fields else ""
    return _response(body, 200)


def failure(error: ServiceError) -> Response:
    """AWS's JSON error shape, its status, and ``x-amzn-ErrorType``."""
    aws_error = to_aws(error)
    body = json.dumps({"__type": aws_error.code, "message": aws_error.message}, separators=(",", ":"))
    response = _response(body, aws_error.http_status)
    response.headers["x-amzn-ErrorType"] = aws_error.code
    return response


def _response(body: str, status: int) -> Response:
    response = Response(body, status=status, content_type=CONTENT_TYPE)
    response.headers["x-amzn-RequestId"] = new_request_id()
    return response
