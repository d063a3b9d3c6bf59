"""The RPC wire format: decoding a request, rendering a response.

Alibaba Cloud RPC-style APIs (KMS 2016-01-20, CloudMonitor 2019-01-01) take every parameter as
a flat string, in the query string and/or an ``application/x-www-form-urlencoded`` body, and
name the action either in the ``Action``/``Version`` parameters (signature v1) or in the
``x-acs-action``/``x-acs-version`` headers (ACS3). The response is JSON: the action's fields plus
a ``RequestId``, or the error envelope ``{RequestId, HostId, Code, Message, Recommend}``.

NOTE: only JSON is served. A request with ``Format=XML`` gets JSON all the same; the official
SDKs used here (``alibabacloud_kms20160120`` and ``aliyun-python-sdk-core``) always ask for JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from emulator import errors
from emulator.errors import ServiceError

CONTENT_TYPE = "application/json;charset=utf-8"
CLOUDMONITOR_VERSION = "2019-01-01"

#: Parameters that belong to the protocol (signature, format), not to the action.
COMMON_PARAMETERS = frozenset(
    {
        "Action",
        "Version",
        "Format",
        "AccessKeyId",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "SignatureType",
        "Timestamp",
        "SecurityToken",
        "BearerToken",
    }
)


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request as the signature check sees it: decoded, header names lower-cased."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together; a form value wins over a query value of the same name."""
        return {**self.query, **self.form}


@dataclass(frozen=True)
class RpcCall:
    """What the backend is asked to do: the action, its version and its own parameters."""

    action: str
    version: str
    params: dict[str, str] = field(default_factory=dict)


def parse(request: Request) -> WireRequest:
    """Decode a werkzeug request. A repeated parameter keeps its first value."""
    body = request.get_data(cache=True)  # cached, so ``request.form`` below still parses it
    return WireRequest(
        method=request.method.upper(),
        path=request.path or "/",
        query=request.args.to_dict(),
        form=request.form.to_dict(),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )


def action_of(wire: WireRequest) -> tuple[str, str]:
    """The ``(action, version)`` the request names, ``""`` where it names none.

    The ``x-acs-*`` headers (ACS3) win over the ``Action``/``Version`` parameters (v1).
    """
    params = wire.params
    action = wire.headers.get("x-acs-action") or params.get("Action", "")
    version = wire.headers.get("x-acs-version") or params.get("Version", "")
    return action, version


def call_of(wire: WireRequest) -> RpcCall:
    """The call a request makes; raises ``MissingParameter`` without an action or a version."""
    action, version = action_of(wire)
    if not action:
        raise errors.missing_parameter("Action")
    if not version:
        raise errors.missing_parameter("Version")
    params = {name: value for name, value in wire.params.items() if name not in COMMON_PARAMETERS}
    return RpcCall(action=action, version=version, params=params)


def new_request_id() -> str:
    """A fresh request id: an upper-case UUID, as the service returns."""
    return str(uuid.uuid4()).upper()


def host_id(region: str, version: str) -> str:
    """The ``HostId`` of an error: the endpoint of the product the version belongs to."""
    product = "metrics" if version == CLOUDMONITOR_VERSION else "kms"
    return f"{product}.{region}.aliyuncs.com"


def recommend_url(code: str, version: str) -> str:
    """The diagnosis link the service puts in ``Recommend``."""
    product = "Cms" if version == CLOUDMONITOR_VERSION else "Kms"
    return f"https://api.aliyun.com/troubleshoot?q={code}&product={product}"


def success(fields: Mapping[str, Any]) -> Response:
    """HTTP 200 with the action's fields and a fresh ``RequestId``."""
    request_id = new_request_id()
    return _json_response({"RequestId": request_id, **fields}, 200, request_id)


def failure(error: ServiceError, region: str, version: str) -> Response:
    """The service's error envelope, with the error's HTTP status."""
    request_id = new_request_id()
    envelope = {
        "RequestId": request_id,
        "HostId": host_id(region, version),
        "Code": error.code,
        "Message": error.message,
        "Recommend": recommend_url(error.code, version),
    }
    return _json_response(envelope, error.http_status, request_id)


def _json_response(document: Mapping[str, Any], status: int, request_id: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, status=status, content_type=CONTENT_TYPE)
    response.headers["x-acs-request-id"] = request_id
    return response
